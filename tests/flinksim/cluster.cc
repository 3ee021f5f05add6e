#include "tests/flinksim/cluster.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>
#include <system_error>

#include "tests/flinksim/java_errors.h"

namespace flinksim {
namespace fs = std::filesystem;

namespace {

constexpr const char* kJobStatusNames[kNumJobStatuses] = {
    "INITIALIZING", "CREATED",  "RUNNING",    "FAILING",   "FAILED",     "CANCELLING",
    "CANCELED",     "FINISHED", "RESTARTING", "SUSPENDED", "RECONCILING"};
constexpr const char* kExecStateNames[kNumExecStates] = {
    "CREATED",   "SCHEDULED", "DEPLOYING", "RUNNING",     "FINISHED",
    "CANCELING", "CANCELED",  "FAILED",    "RECONCILING", "INITIALIZING"};

// Simulated durations of the lifecycle steps (ms). Together a fresh job is fully RUNNING
// about 0.9 s after submission.
constexpr int64_t kInitializeMs = 200;
constexpr int64_t kScheduleMs = 200;
constexpr int64_t kDeployMs = 200;
constexpr int64_t kTaskInitMs = 300;
constexpr int64_t kTaskRestoreMs = 500;
constexpr int64_t kTaskCancelMs = 100;
constexpr int64_t kCancelMs = 300;
constexpr int64_t kSlotRequestTimeoutMs = 300'000;
constexpr int64_t kAsyncStoreMs = 300'000;    // rest.async.store-duration
constexpr size_t kHistorySize = 10;           // web.checkpoints.history
constexpr size_t kExceptionHistorySize = 16;  // web.exception-history-size
constexpr size_t kSummaryWindow = 10'000;
constexpr double kBytesPerRecord = 32.0;

size_t Index(JobStatus s) { return static_cast<size_t>(s); }
size_t Index(ExecState s) { return static_cast<size_t>(s); }

// Key spellings: {1.20+ name, 1.18 name}.
struct KeyAlias {
  const char* modern;
  const char* legacy;
};
constexpr KeyAlias kAliases[] = {
    {"execution.checkpointing.dir", "state.checkpoints.dir"},
    {"execution.checkpointing.savepoint-dir", "state.savepoints.dir"},
    {"execution.checkpointing.num-retained", "state.checkpoints.num-retained"},
    {"execution.state-recovery.claim-mode", "execution.savepoint-restore-mode"},
};

std::string CanonicalKey(const std::string& key, FlinkVersion v) {
  for (const auto& a : kAliases) {
    if (key == a.modern || key == a.legacy) {
      return AtLeast(v, FlinkVersion::k1_20) ? a.modern : a.legacy;
    }
  }
  return key;
}

void AppendCapped(std::vector<int64_t>& v, int64_t value) {
  if (v.size() >= kSummaryWindow) v.erase(v.begin());
  v.push_back(value);
}

}  // namespace

// ---------------------------------------------------------------------------------------------

std::optional<FlinkVersion> ParseFlinkVersion(std::string_view text) {
  std::string t = Trim(text);
  if (t == "1.18" || StartsWith(t, "1.18.")) return FlinkVersion::k1_18;
  if (t == "1.20" || StartsWith(t, "1.20.")) return FlinkVersion::k1_20;
  if (t == "2.0" || StartsWith(t, "2.0.")) return FlinkVersion::k2_0;
  return std::nullopt;
}

std::string DefaultVersionString(FlinkVersion v) {
  switch (v) {
    case FlinkVersion::k1_18: return "1.18.1";
    case FlinkVersion::k1_20: return "1.20.1";
    case FlinkVersion::k2_0: return "2.0.0";
  }
  return "1.20.1";
}

const char* Name(JobStatus s) { return kJobStatusNames[Index(s)]; }
JobStatus JobStatusAt(size_t index) { return static_cast<JobStatus>(index); }
bool IsGloballyTerminal(JobStatus s) {
  return s == JobStatus::kFailed || s == JobStatus::kCanceled || s == JobStatus::kFinished;
}
const char* Name(ExecState s) { return kExecStateNames[Index(s)]; }
ExecState ExecStateAt(size_t index) { return static_cast<ExecState>(index); }
bool IsTerminal(ExecState s) {
  return s == ExecState::kFinished || s == ExecState::kCanceled || s == ExecState::kFailed;
}

int Job::MaxParallelism() const {
  int m = 1;
  for (const auto& v : vertices) m = std::max(m, v.parallelism);
  return m;
}

int Job::TotalSubtasks() const {
  int n = 0;
  for (const auto& v : vertices) n += v.parallelism;
  return n;
}

ExecState Job::SubtaskState(size_t vertex, int subtask) const {
  if (failed_vertex >= 0 && static_cast<size_t>(failed_vertex) == vertex && subtask == 0 &&
      (task_state == ExecState::kCanceled || task_state == ExecState::kCanceling)) {
    return ExecState::kFailed;
  }
  return task_state;
}

int TaskManager::FreeSlots() const {
  return static_cast<int>(std::count(slot_owner.begin(), slot_owner.end(), std::string()));
}

// ---------------------------------------------------------------------------------------------

Cluster::Cluster(ClusterOptions options, int64_t now_ms)
    : options_(std::move(options)), now_(now_ms), rng_(options_.seed) {
  version_string_ = options_.version_string.empty() ? DefaultVersionString(options_.version)
                                                    : options_.version_string;
  std::error_code ec;
  fs::create_directories(options_.data_dir, ec);
  upload_dir_ = options_.data_dir + "/flink-web-" + rng_.Uuid() + "/flink-web-upload";
  fs::create_directories(upload_dir_, ec);

  const bool modern = AtLeast(options_.version, FlinkVersion::k1_20);
  auto set = [&](const std::string& k, const std::string& v) {
    config_[CanonicalKey(k, options_.version)] = v;
  };
  set("jobmanager.rpc.address", "localhost");
  set("jobmanager.rpc.port", "6123");
  set("jobmanager.bind-host", "localhost");
  set("jobmanager.memory.process.size", "1600m");
  set("taskmanager.memory.process.size", "1728m");
  set("taskmanager.numberOfTaskSlots", std::to_string(options_.slots_per_tm));
  set("parallelism.default", "1");
  set("rest.address", options_.rest_address);
  set("rest.bind-address", options_.rest_address);
  set("rest.port", std::to_string(options_.rest_port));
  set("web.submit.enable", "true");
  set("web.cancel.enable", "true");
  set("web.upload.dir",
      upload_dir_.substr(0, upload_dir_.size() - std::string("/flink-web-upload").size()));
  set("web.checkpoints.history", "10");
  set("web.exception-history-size", "16");
  set("jobstore.expiration-time", "3600");
  set("blob.server.port", "6124");
  set("state.backend.type", "hashmap");
  set("state.checkpoints.dir", FileUri(options_.data_dir + "/checkpoints"));
  set("state.savepoints.dir", FileUri(options_.data_dir + "/savepoints"));
  set("state.checkpoints.num-retained", "1");
  set("execution.checkpointing.interval", "10 s");
  set("execution.checkpointing.timeout", "10 min");
  set("execution.checkpointing.tolerable-failed-checkpoints", "3");
  set("execution.checkpointing.externalized-checkpoint-retention",
      modern ? "RETAIN_ON_CANCELLATION" : "RETAIN_ON_CANCELLATION");
  set("execution.savepoint-restore-mode", "NO_CLAIM");
  set("restart-strategy.type", "fixed-delay");
  set("restart-strategy.fixed-delay.attempts", "3");
  set("restart-strategy.fixed-delay.delay", "1 s");
  for (const auto& [k, v] : options_.config) SetConfig(k, v);

  for (int i = 0; i < std::max(1, options_.taskmanagers); ++i) {
    TaskManager tm;
    int rpc_port = static_cast<int>(rng_.Between(32768, 60999));
    tm.host = "localhost";
    tm.id = "localhost:" + std::to_string(rpc_port) + "-" + rng_.Hex(6);
    tm.path = "pekko.tcp://flink@localhost:" + std::to_string(rpc_port) + "/user/rpc/taskmanager_0";
    tm.data_port = static_cast<int>(rng_.Between(32768, 60999));
    tm.slots = std::max(1, options_.slots_per_tm);
    tm.slot_owner.assign(static_cast<size_t>(tm.slots), "");
    tm.registered_at = now_;
    taskmanagers_.push_back(std::move(tm));
  }
}

std::vector<std::pair<std::string, std::string>> Cluster::Configuration() const {
  return {config_.begin(), config_.end()};
}

void Cluster::SetConfig(const std::string& key, const std::string& value) {
  std::string k = CanonicalKey(key, options_.version);
  if (value.empty()) {
    config_.erase(k);
  } else {
    config_[k] = value;
  }
}

std::optional<std::string> Cluster::ConfigValue(
    const std::map<std::string, std::string>& job_config,
    std::initializer_list<const char*> keys) const {
  for (const char* key : keys) {
    for (const auto& candidate : {std::string(key), CanonicalKey(key, FlinkVersion::k1_18),
                                  CanonicalKey(key, FlinkVersion::k1_20)}) {
      auto it = job_config.find(candidate);
      if (it != job_config.end()) return it->second;
    }
  }
  for (const char* key : keys) {
    auto it = config_.find(CanonicalKey(key, options_.version));
    if (it != config_.end()) return it->second;
  }
  return std::nullopt;
}

JobSettings Cluster::ResolveSettings(const std::map<std::string, std::string>& jc) const {
  JobSettings s;
  auto dur = [&](std::initializer_list<const char*> keys, int64_t fallback) {
    auto v = ConfigValue(jc, keys);
    if (!v) return fallback;
    auto ms = ParseDurationMs(*v);
    return ms ? *ms : fallback;
  };
  auto num = [&](std::initializer_list<const char*> keys, int fallback) {
    auto v = ConfigValue(jc, keys);
    if (!v) return fallback;
    try {
      return std::stoi(*v);
    } catch (...) {
      return fallback;
    }
  };
  s.checkpoint_interval_ms = dur({"execution.checkpointing.interval"}, 10'000);
  s.checkpointing = s.checkpoint_interval_ms > 0;
  s.checkpoint_timeout_ms = dur({"execution.checkpointing.timeout"}, 600'000);
  s.min_pause_ms = dur({"execution.checkpointing.min-pause"}, 0);
  s.num_retained = std::max(1, num({"execution.checkpointing.num-retained"}, 1));
  s.tolerable_failed = num({"execution.checkpointing.tolerable-failed-checkpoints"}, 0);
  std::string strategy = ToLower(
      ConfigValue(jc, {"restart-strategy.type", "restart-strategy"}).value_or("fixed-delay"));
  s.restart_strategy =
      (strategy == "none" || strategy == "off" || strategy == "disable") ? "none" : "fixed-delay";
  s.restart_attempts = num({"restart-strategy.fixed-delay.attempts"}, 3);
  s.restart_delay_ms = dur({"restart-strategy.fixed-delay.delay"}, 1000);
  s.checkpoint_dir = LocalPathFromUri(ConfigValue(jc, {"execution.checkpointing.dir"})
                                          .value_or(options_.data_dir + "/checkpoints"));
  auto sp = ConfigValue(jc, {"execution.checkpointing.savepoint-dir"});
  s.savepoint_dir = sp ? LocalPathFromUri(*sp) : "";
  s.claim_mode =
      ToUpper(ConfigValue(jc, {"execution.state-recovery.claim-mode"}).value_or("NO_CLAIM"));
  return s;
}

// ---------------------------------------------------------------------------------------------
// Jars

SimResult<Jar> Cluster::UploadJar(const std::string& file_name, std::string_view content) {
  std::string base = fs::path(file_name).filename().string();
  if (!EndsWith(base, ".jar"))
    return tl::make_unexpected(SimError{ErrorKind::kBadRequest, java::UploadNotJar()});
  Jar jar;
  jar.name = base;
  jar.id = rng_.Uuid() + "_" + base;
  jar.path = upload_dir_ + "/" + jar.id;
  jar.uploaded = now_;
  if (!WriteWholeFile(jar.path, content)) {
    return tl::make_unexpected(
        SimError{ErrorKind::kInternal,
                 JavaStackTrace("java.io.IOException",
                                "Could not move uploaded jar file to " + jar.path, {})});
  }
  auto line_value = [&](std::string_view marker) -> std::optional<std::string> {
    size_t pos = content.find(marker);
    if (pos == std::string_view::npos) return std::nullopt;
    size_t start = pos + marker.size();
    size_t end = content.find_first_of("\r\n", start);
    if (end == std::string_view::npos) end = content.size();
    return Trim(content.substr(start, end - start));
  };
  jar.entry_class = line_value("Main-Class:").value_or("");
  if (auto ops = line_value("flinksim-operators:")) jar.operator_uids = Split(*ops, ',');
  jar.job_name = line_value("flinksim-job-name:").value_or("");
  if (auto p = line_value("flinksim-parallelism:")) {
    try {
      jar.parallelism = std::max(1, std::stoi(*p));
    } catch (...) {
    }
  }
  if (auto iv = line_value("flinksim-checkpoint-interval:"))
    jar.checkpoint_interval_ms = ParseDurationMs(*iv);
  jars_.push_back(jar);
  return jar;
}

bool Cluster::DeleteJar(const std::string& jar_id) {
  auto it = std::find_if(jars_.begin(), jars_.end(), [&](const Jar& j) { return j.id == jar_id; });
  if (it == jars_.end()) return false;
  std::error_code ec;
  fs::remove(it->path, ec);
  jars_.erase(it);
  return true;
}

// ---------------------------------------------------------------------------------------------
// Job submission

SimResult<std::string> Cluster::RunJar(const std::string& jar_id, const RunRequest& request) {
  auto jar_it =
      std::find_if(jars_.begin(), jars_.end(), [&](const Jar& j) { return j.id == jar_id; });
  if (jar_it == jars_.end()) {
    return tl::make_unexpected(
        SimError{ErrorKind::kBadRequest, java::JarNotFound(upload_dir_ + "/" + jar_id)});
  }
  const Jar jar = *jar_it;
  std::string job_name = jar.job_name;
  if (job_name.empty()) {
    job_name = jar.name.substr(0, jar.name.size() - 4);
  }
  std::string job_id;
  if (request.job_id) {
    job_id = ToLower(*request.job_id);
    if (used_job_ids_.count(job_id) != 0) {
      // Dispatcher.submitJob: a running job or one in the JobResultStore (which keeps clean
      // entries forever in a session cluster without HA) -> DuplicateJobSubmissionException,
      // which JarRunHandler turns into 400 "Could not execute application.".
      return tl::make_unexpected(
          SimError{ErrorKind::kBadRequest,
                   java::CouldNotExecuteApplication(job_name, java::DuplicateJobSubmission())});
    }
  } else {
    do {
      job_id = rng_.Hex(32);
    } while (used_job_ids_.count(job_id) != 0);
  }
  Job& job = CreateJob(jar, request, job_id);
  job.name = job_name;
  return job.id;
}

Job& Cluster::CreateJob(const Jar& jar, const RunRequest& request, const std::string& job_id) {
  auto job = std::make_unique<Job>();
  job->id = job_id;
  job->jar_id = jar.id;
  job->entry_class = request.entry_class.empty() ? jar.entry_class : request.entry_class;
  job->program_args = request.program_args;
  job->job_config = request.flink_configuration;
  std::map<std::string, std::string> effective = request.flink_configuration;
  if (jar.checkpoint_interval_ms && effective.count("execution.checkpointing.interval") == 0) {
    effective["execution.checkpointing.interval"] = std::to_string(*jar.checkpoint_interval_ms);
  }
  job->settings = ResolveSettings(effective);
  if (request.claim_mode) job->settings.claim_mode = ToUpper(*request.claim_mode);

  std::vector<std::pair<std::string, std::string>> ops;
  if (jar.operator_uids.empty()) {
    ops = {
        {"events-source", "Source: Events"}, {"enrich-map", "Map"}, {"print-sink", "Sink: Print"}};
  } else {
    for (const auto& token : jar.operator_uids) {
      size_t eq = token.find('=');
      if (eq == std::string::npos) {
        ops.emplace_back(token, token);
      } else {
        ops.emplace_back(Trim(token.substr(0, eq)), Trim(token.substr(eq + 1)));
      }
    }
  }
  int parallelism =
      request.parallelism && *request.parallelism > 0 ? *request.parallelism : jar.parallelism;
  for (size_t i = 0; i < ops.size(); ++i) {
    Operator op{ops[i].first, ops[i].second, StableHex32("operator-uid:" + ops[i].first)};
    Vertex v;
    v.id = op.id;
    v.name = op.name;
    v.metric_name = MetricOperatorName(op.name);
    v.slot_sharing_group_id = StableHex32("slot-sharing-group:default");
    v.parallelism = parallelism;
    v.is_source = i == 0;
    v.is_sink = i + 1 == ops.size() && ops.size() > 1;
    v.busy_ms = v.is_source ? std::nan("") : 0.0;
    job->operators.push_back(op);
    job->vertices.push_back(v);
  }
  job->status = JobStatus::kInitializing;
  job->timestamps[Index(JobStatus::kInitializing)] = now_;
  job->start_time = now_;
  job->last_modification = now_;
  job->integrated_to = now_;
  job->traffic.qps = static_cast<double>(rng_.Between(500, 1500));
  if (request.savepoint_path) {
    job->restore_path = *request.savepoint_path;
    job->restore_allow_non_restored = request.allow_non_restored_state;
  }
  job->phase = Phase::kInitialize;
  job->phase_at = now_ + kInitializeMs;
  used_job_ids_[job_id] = true;
  jobs_.push_back(std::move(job));
  return *jobs_.back();
}

std::string Cluster::StartDefaultJob(const std::string& name, int64_t checkpoint_interval_ms) {
  std::string content =
      "Manifest-Version: 1.0\nMain-Class: com.example.streaming.StreamingJob\n"
      "flinksim-job-name: " +
      name +
      "\nflinksim-parallelism: 2\n"
      "flinksim-checkpoint-interval: " +
      std::to_string(checkpoint_interval_ms) + "ms\n";
  auto jar = UploadJar(name + ".jar", content);
  if (!jar) return "";
  RunRequest req;
  auto id = RunJar(jar->id, req);
  return id ? *id : "";
}

// ---------------------------------------------------------------------------------------------
// Time

int64_t Cluster::NextEventTime(const Job& job) const {
  int64_t t = job.phase_at;
  if (job.status == JobStatus::kRunning && job.task_state == ExecState::kRunning &&
      job.settings.checkpointing && !job.pending_checkpoint) {
    t = std::min(t, job.next_checkpoint_at);
  }
  auto due = [&](int64_t id) {
    const auto& rec = job.checkpoints.at(id);
    int64_t expire = rec.trigger_ts + job.settings.checkpoint_timeout_ms;
    if (job.faults.checkpoint_mode == CheckpointFaultMode::kStall) return expire;
    return std::min(expire, rec.trigger_ts + rec.planned_duration);
  };
  if (job.pending_checkpoint) t = std::min(t, due(*job.pending_checkpoint));
  for (int64_t id : job.pending_savepoints) t = std::min(t, due(id));
  if (job.faults.restart_loop) t = std::min(t, job.faults.restart_loop_fail_at);
  return t;
}

void Cluster::AdvanceTo(int64_t target, bool settle) {
  if (target < now_) target = now_;
  // Next event time per job, recomputed only for jobs whose state changed. Each iteration
  // consumes at least one due event, so the loop is bounded by the number of events.
  std::vector<int64_t>& next_at = next_at_;
  next_at.resize(jobs_.size());
  for (size_t i = 0; i < jobs_.size(); ++i) next_at[i] = NextEventTime(*jobs_[i]);
  for (int guard = 0; guard < 10'000'000; ++guard) {
    int64_t next = kNever;
    for (int64_t t : next_at) next = std::min(next, t);
    if (next > target) break;
    now_ = std::max(now_, next);
    others_changed_ = false;
    const size_t count = jobs_.size();
    for (size_t i = 0; i < count; ++i) {
      if (next_at[i] > now_) continue;
      ProcessDue(*jobs_[i]);
      next_at[i] = NextEventTime(*jobs_[i]);
    }
    if (others_changed_ || jobs_.size() != next_at.size()) {
      next_at.resize(jobs_.size());
      for (size_t i = 0; i < jobs_.size(); ++i) next_at[i] = NextEventTime(*jobs_[i]);
    }
  }
  now_ = target;
  if (settle) Settle();
  for (auto& j : jobs_) SyncDisk(*j);
}

void Cluster::Settle(const std::string* job_id) {
  if (job_id != nullptr) {
    if (Job* job = FindJob(*job_id)) IntegrateTo(*job);
  } else {
    for (auto& j : jobs_) IntegrateTo(*j);
  }
  ExpireJobs();
}

void Cluster::IntegrateTo(Job& job) {
  if (job.integrated_to < now_) {
    Integrate(job, job.integrated_to, now_);
    job.integrated_to = now_;
  }
}

void Cluster::Integrate(Job& job, int64_t from, int64_t to) {
  if (to <= from) return;
  IntegrateSeconds(job, static_cast<double>(to - from) / 1000.0);
}

void Cluster::IntegrateSeconds(Job& job, double dt) {
  Traffic& tr = job.traffic;
  if (job.status != JobStatus::kRunning || job.task_state != ExecState::kRunning) {
    // A job that ran before and is down (restarting, redeploying) reads nothing while its input
    // keeps arriving; it resumes from its last checkpoint. A first deployment starts at the end.
    if (job.num_restarts > 0 && !IsGloballyTerminal(job.status)) tr.lag_records += tr.qps * dt;
    return;
  }
  const double extra = std::max(10.0, tr.qps * 0.5);  // catch-up capacity above the input rate
  double records = 0;
  double lag = tr.lag_records;  // at the end of the span; the rates below are those of its start
  if (tr.backpressure > 0) {
    records = tr.qps * (1.0 - tr.backpressure) * dt;
    lag += tr.qps * tr.backpressure * dt;
  } else if (tr.lag_records > 0) {
    const double drain_s = tr.lag_records / extra;
    if (dt > drain_s) {
      IntegrateSeconds(job, drain_s);
      tr.lag_records = 0;
      IntegrateSeconds(job, dt - drain_s);
      return;
    }
    records = (tr.qps + extra) * dt;
    lag = std::max(0.0, lag - extra * dt);
  } else {
    records = tr.qps * dt;
  }
  for (size_t i = 0; i < job.vertices.size(); ++i) {
    Vertex& v = job.vertices[i];
    SubtaskRates r = Rates(job, i);
    const double p = static_cast<double>(v.parallelism);
    if (!v.is_source) {
      v.records_in += records;
      v.bytes_in += records * kBytesPerRecord;
    }
    if (!v.is_sink) {
      v.records_out += records;
      v.bytes_out += records * kBytesPerRecord;
    }
    if (!v.is_source) v.busy_ms += r.busy_ms_per_s * p * dt;
    v.idle_ms += r.idle_ms_per_s * p * dt;
    v.backpressured_ms += r.backpressured_ms_per_s * p * dt;
  }
  tr.lag_records = lag;
}

SubtaskRates Cluster::Rates(const Job& job, size_t vi) const {
  SubtaskRates r;
  const Vertex& v = job.vertices[vi];
  if (v.is_source) r.busy_ms_per_s = std::nan("");
  if (job.status != JobStatus::kRunning || job.task_state != ExecState::kRunning) {
    if (!v.is_source) r.idle_ms_per_s = 0;
    return r;
  }
  const Traffic& tr = job.traffic;
  double throughput = tr.qps;
  if (tr.backpressure > 0) {
    throughput = tr.qps * (1.0 - tr.backpressure);
  } else if (tr.lag_records > 0) {
    throughput = tr.qps + std::max(10.0, tr.qps * 0.5);
  }
  const double p = static_cast<double>(v.parallelism);
  const double per = throughput / p;
  const double load = std::min(0.6, 0.05 + throughput / (p * 10'000.0));
  const double bp_ms = v.is_sink ? 0.0 : std::clamp(tr.backpressure, 0.0, 1.0) * 1000.0;
  r.backpressured_ms_per_s = bp_ms;
  if (v.is_source) {
    r.records_out_per_s = per;
    r.idle_ms_per_s = std::max(0.0, 1000.0 - bp_ms - load * 1000.0);
  } else if (v.is_sink) {
    r.records_in_per_s = per;
    r.busy_ms_per_s = std::min(1000.0, 1000.0 * (load + 0.8 * tr.backpressure));
    r.idle_ms_per_s = 1000.0 - r.busy_ms_per_s;
  } else {
    r.records_in_per_s = per;
    r.records_out_per_s = per;
    r.busy_ms_per_s = std::min(1000.0 - bp_ms, load * 1000.0);
    r.idle_ms_per_s = std::max(0.0, 1000.0 - bp_ms - r.busy_ms_per_s);
  }
  return r;
}

double Cluster::PendingRecordsPerSubtask(const Job& job) const {
  if (job.vertices.empty()) return 0;
  double total = job.traffic.lag_records + job.traffic.qps * 0.05;
  return std::floor(total / static_cast<double>(job.vertices.front().parallelism));
}

bool Cluster::TasksHaveMetrics(const Job& job) {
  return job.status == JobStatus::kRunning &&
         (job.task_state == ExecState::kRunning || job.task_state == ExecState::kInitializing);
}

// ---------------------------------------------------------------------------------------------
// State machine

void Cluster::SetStatus(Job& job, JobStatus status) {
  IntegrateTo(job);
  job.status = status;
  job.timestamps[Index(status)] = now_;
  job.last_modification = now_;
}

void Cluster::SetTaskState(Job& job, ExecState state) {
  IntegrateTo(job);
  job.task_state = state;
  job.task_timestamps[Index(state)] = now_;
  if (state == ExecState::kDeploying) job.deploy_time = now_;
  job.last_modification = now_;
}

void Cluster::EnterPhase(Job& job, Phase phase, int64_t at) {
  job.phase = phase;
  job.phase_at = at;
}

void Cluster::ProcessDue(Job& job) {
  for (int guard = 0; guard < 64; ++guard) {
    if (job.phase_at <= now_) {
      Phase phase = job.phase;
      EnterPhase(job, Phase::kNone, kNever);
      switch (phase) {
        case Phase::kInitialize:
          if (job.restore_path) ApplyRestore(job);
          if (!job.init_failure.empty()) {
            // The JobMaster could not start: the job goes from INITIALIZING to FAILED and
            // only the (1.x) root exception shows it; the exception history stays empty.
            job.root_failure = std::make_pair(job.init_failure, now_);
            Terminate(job, JobStatus::kFailed);
          } else {
            SetStatus(job, JobStatus::kCreated);
            EnterPhase(job, Phase::kSchedule, now_ + kScheduleMs);
          }
          break;
        case Phase::kSchedule:
        case Phase::kRestart:
          if (phase == Phase::kRestart) ++job.attempt;
          SetStatus(job, JobStatus::kRunning);
          job.task_timestamps.fill(0);
          job.deploy_time = -1;
          job.failed_vertex = -1;
          for (auto& v : job.vertices) {
            v.records_in = v.records_out = v.bytes_in = v.bytes_out = 0;
            v.idle_ms = v.backpressured_ms = 0;
            v.busy_ms = v.is_source ? std::nan("") : 0.0;
          }
          SetTaskState(job, ExecState::kCreated);
          SetTaskState(job, ExecState::kScheduled);
          job.next_checkpoint_at = now_ + job.settings.checkpoint_interval_ms;
          TryDeploy(job);
          break;
        case Phase::kDeployed:
          SetTaskState(job, ExecState::kInitializing);
          EnterPhase(job, Phase::kTasksRunning,
                     now_ + (job.restored ? kTaskRestoreMs : kTaskInitMs));
          break;
        case Phase::kTasksRunning:
          SetTaskState(job, ExecState::kRunning);
          OnTasksRunning(job);
          break;
        case Phase::kRestartCanceled:
          SetTaskState(job, ExecState::kCanceled);
          EnterPhase(job, Phase::kRestart, std::max(now_, job.restart_at));
          break;
        case Phase::kFailed:
          SetTaskState(job, ExecState::kCanceled);
          Terminate(job, JobStatus::kFailed);
          break;
        case Phase::kCanceled:
          if (job.task_state != ExecState::kCreated && job.task_state != ExecState::kScheduled) {
            SetTaskState(job, ExecState::kCanceled);
          }
          Terminate(job, JobStatus::kCanceled);
          break;
        case Phase::kSlotTimeout:
          HandleFailure(
              job, "org.apache.flink.runtime.jobmanager.scheduler.NoResourceAvailableException",
              java::NoResourceAvailable(), /*global=*/true, /*terminal=*/false, -1);
          break;
        case Phase::kFinished:
        case Phase::kNone: break;
      }
      continue;
    }
    auto snapshot_due = [&](int64_t id) {
      const auto& rec = job.checkpoints.at(id);
      int64_t expire = rec.trigger_ts + job.settings.checkpoint_timeout_ms;
      if (now_ >= expire) return 2;  // expired
      if (job.faults.checkpoint_mode == CheckpointFaultMode::kStall) return 0;
      return now_ >= rec.trigger_ts + rec.planned_duration ? 1 : 0;
    };
    bool progressed = false;
    if (job.pending_checkpoint) {
      int64_t id = *job.pending_checkpoint;
      int d = snapshot_due(id);
      if (d == 2) {
        FailSnapshot(job, id, "Checkpoint expired before completing.", true);
        progressed = true;
      } else if (d == 1) {
        if (job.faults.checkpoint_mode == CheckpointFaultMode::kFail) {
          FailSnapshot(job, id, job.faults.checkpoint_fail_message, true);
        } else {
          CompleteSnapshot(job, id);
        }
        progressed = true;
      }
    }
    if (progressed) continue;
    for (int64_t id : std::vector<int64_t>(job.pending_savepoints)) {
      int d = snapshot_due(id);
      if (d == 2) {
        FailSnapshot(job, id, "Checkpoint expired before completing.", false);
        progressed = true;
      } else if (d == 1) {
        if (job.faults.checkpoint_mode == CheckpointFaultMode::kFail) {
          FailSnapshot(job, id, job.faults.checkpoint_fail_message, false);
        } else {
          CompleteSnapshot(job, id);
        }
        progressed = true;
      }
      if (progressed) break;
    }
    if (progressed) continue;
    if (job.status == JobStatus::kRunning && job.task_state == ExecState::kRunning &&
        job.settings.checkpointing && !job.pending_checkpoint && job.next_checkpoint_at <= now_) {
      TriggerCheckpoint(job);
      continue;
    }
    if (job.faults.restart_loop && job.faults.restart_loop_fail_at <= now_) {
      job.faults.restart_loop_fail_at = kNever;
      if (job.faults.restart_loop_remaining > 0) --job.faults.restart_loop_remaining;
      if (job.faults.restart_loop_remaining == 0) job.faults.restart_loop = false;
      const auto& e = job.faults.restart_loop_exception;
      HandleFailure(job, e.class_name, java::UserTaskException(e.class_name, e.message), false,
                    false, static_cast<int>(std::min<size_t>(1, job.vertices.size() - 1)));
      continue;
    }
    break;
  }
}

void Cluster::OnTasksRunning(Job& job) {
  if (job.faults.restart_loop) {
    job.faults.restart_loop_fail_at = now_ + job.faults.restart_loop_after_ms;
  }
}

bool Cluster::AllocateSlots(Job& job) {
  if (job.slots_allocated) return true;
  const int need = job.MaxParallelism();
  if (FreeSlots() < need) return false;
  job.slot_tm.clear();
  for (size_t t = 0; t < taskmanagers_.size() && static_cast<int>(job.slot_tm.size()) < need; ++t) {
    for (auto& owner : taskmanagers_[t].slot_owner) {
      if (static_cast<int>(job.slot_tm.size()) >= need) break;
      if (owner.empty()) {
        owner = job.id;
        job.slot_tm.push_back(t);
      }
    }
  }
  job.slots_allocated = true;
  return true;
}

void Cluster::ReleaseSlots(Job& job) {
  for (auto& tm : taskmanagers_) {
    for (auto& owner : tm.slot_owner) {
      if (owner == job.id) owner.clear();
    }
  }
  job.slots_allocated = false;
}

void Cluster::TryDeploy(Job& job) {
  if (AllocateSlots(job)) {
    SetTaskState(job, ExecState::kDeploying);
    EnterPhase(job, Phase::kDeployed, now_ + kDeployMs);
  } else if (job.phase != Phase::kSlotTimeout) {
    EnterPhase(job, Phase::kSlotTimeout, now_ + kSlotRequestTimeoutMs);
  }
}

void Cluster::TryDeployWaitingJobs() {
  for (auto& j : jobs_) {
    if (j->status == JobStatus::kRunning && j->task_state == ExecState::kScheduled &&
        j->phase == Phase::kSlotTimeout && !j->slots_allocated) {
      TryDeploy(*j);
      others_changed_ = true;
    }
  }
}

void Cluster::Terminate(Job& job, JobStatus final_status) {
  AbortPendingSnapshots(job, "Checkpoint Coordinator is suspending.");
  if (final_status == JobStatus::kFailed && job.timestamps[Index(JobStatus::kFailing)] == 0) {
    job.timestamps[Index(JobStatus::kFailing)] = now_;
  }
  SetStatus(job, final_status);
  job.end_time = now_;
  EnterPhase(job, Phase::kNone, kNever);
  job.next_checkpoint_at = kNever;
  job.faults.restart_loop = false;
  job.faults.restart_loop_fail_at = kNever;
  ReleaseSlots(job);
  if (final_status == JobStatus::kFinished) {
    // Retained (externalized) checkpoints survive cancellation and failure, but a job that
    // finishes discards them (CheckpointProperties.discardOnJobFinished).
    DiscardRetained(job);
  }
  TryDeployWaitingJobs();
}

// ---------------------------------------------------------------------------------------------
// Failures

ExceptionRecord Cluster::MakeExceptionRecord(const Job& job, const std::string& class_name,
                                             const std::string& stacktrace, bool global,
                                             int vertex) const {
  ExceptionRecord r;
  r.class_name = class_name;
  r.stacktrace = stacktrace;
  r.timestamp = now_;
  r.global = global || vertex < 0 || !job.slots_allocated || job.slot_tm.empty();
  if (!r.global) {
    const Vertex& v = job.vertices[static_cast<size_t>(vertex)];
    r.task_name = v.name + " (1/" + std::to_string(v.parallelism) + ") - execution #" +
                  std::to_string(job.attempt);
    const TaskManager& tm = taskmanagers_[job.slot_tm[0]];
    r.endpoint = tm.host + ":" + std::to_string(tm.data_port);
    r.tm_id = tm.id;
  }
  return r;
}

void Cluster::RecordException(Job& job, ExceptionRecord record) {
  job.exceptions.push_back(std::move(record));
  if (job.exceptions.size() > kExceptionHistorySize) job.exceptions.erase(job.exceptions.begin());
}

void Cluster::HandleFailure(Job& job, const std::string& class_name, const std::string& stacktrace,
                            bool global, bool terminal, int vertex) {
  ExceptionRecord record = MakeExceptionRecord(job, class_name, stacktrace, global, vertex);
  RecordException(job, record);
  AbortPendingSnapshots(job, "Checkpoint Coordinator is suspending.");
  job.next_checkpoint_at = kNever;
  job.faults.restart_loop_fail_at = kNever;
  const JobSettings& s = job.settings;
  const bool can_restart =
      !terminal && s.restart_strategy == "fixed-delay" && job.num_restarts < s.restart_attempts;
  if (can_restart) {
    job.root_failure = std::make_pair(stacktrace, now_);
    SetStatus(job, JobStatus::kRestarting);
    ++job.num_restarts;
    SetTaskState(job, ExecState::kCanceling);
    job.restart_at = now_ + s.restart_delay_ms;
    EnterPhase(job, Phase::kRestartCanceled, now_ + kTaskCancelMs);
    return;
  }
  std::string strategy = s.restart_strategy == "fixed-delay"
                             ? "FixedDelayRestartBackoffTimeStrategy(maxNumberRestartAttempts=" +
                                   std::to_string(s.restart_attempts) +
                                   ", backoffTimeMS=" + std::to_string(s.restart_delay_ms) + ")"
                             : "NoRestartBackoffTimeStrategy";
  job.root_failure = std::make_pair(java::RecoverySuppressed(strategy, stacktrace), now_);
  if (!record.global) {
    job.failed_task_exception = record;
    job.failed_vertex = vertex;
  }
  SetStatus(job, JobStatus::kFailing);
  if (terminal) {
    SetTaskState(job, ExecState::kCanceled);
    Terminate(job, JobStatus::kFailed);
  } else {
    SetTaskState(job, ExecState::kCanceling);
    EnterPhase(job, Phase::kFailed, now_ + kTaskCancelMs);
  }
}

SimResult<void> Cluster::FailJob(const std::string& job_id, const ExceptionSpec& exception,
                                 bool terminal) {
  Job* job = FindJob(job_id);
  if (job == nullptr)
    return tl::make_unexpected(SimError{ErrorKind::kNotFound, "unknown job " + job_id});
  const bool can_fail = terminal
                            ? !IsGloballyTerminal(job->status) && job->status != JobStatus::kFailing
                            : job->status == JobStatus::kRunning;
  if (!can_fail) {
    return tl::make_unexpected(SimError{
        ErrorKind::kConflict,
        std::string("job ") + job->id + " is " + Name(job->status) + " and cannot fail now"});
  }
  int vertex = static_cast<int>(std::min<size_t>(1, job->vertices.size() - 1));
  HandleFailure(*job, exception.class_name,
                java::UserTaskException(exception.class_name, exception.message), false, terminal,
                vertex);
  return {};
}

void Cluster::SetRestartLoop(const std::string& job_id, int64_t after_ms, int times,
                             const ExceptionSpec& exception) {
  Job* job = FindJob(job_id);
  if (job == nullptr) return;
  job->faults.restart_loop = times != 0;
  job->faults.restart_loop_remaining = times;
  job->faults.restart_loop_after_ms = std::max<int64_t>(0, after_ms);
  job->faults.restart_loop_exception = exception;
  job->faults.restart_loop_fail_at = kNever;
  if (job->status == JobStatus::kRunning && job->task_state == ExecState::kRunning) {
    job->faults.restart_loop_fail_at = now_ + job->faults.restart_loop_after_ms;
  }
}

void Cluster::ClearRestartLoop(const std::string& job_id) {
  if (Job* job = FindJob(job_id)) {
    job->faults.restart_loop = false;
    job->faults.restart_loop_fail_at = kNever;
  }
}

void Cluster::SetCheckpointMode(const std::string& job_id, CheckpointFaultMode mode,
                                const std::string& message) {
  if (Job* job = FindJob(job_id)) {
    job->faults.checkpoint_mode = mode;
    if (!message.empty()) job->faults.checkpoint_fail_message = message;
  }
}

void Cluster::SetTraffic(const std::string& job_id, std::optional<double> qps,
                         std::optional<double> backpressure,
                         std::optional<LagMetric> lag_metric) {
  if (Job* job = FindJob(job_id)) {
    IntegrateTo(*job);
    if (qps) job->traffic.qps = std::max(0.0, *qps);
    if (backpressure) job->traffic.backpressure = std::clamp(*backpressure, 0.0, 1.0);
    if (lag_metric) job->traffic.lag_metric = *lag_metric;
  }
}

// ---------------------------------------------------------------------------------------------
// Cancel / savepoints

SimResult<void> Cluster::CancelJob(const std::string& job_id) {
  Job* job = FindJob(job_id);
  if (job == nullptr)
    return tl::make_unexpected(SimError{ErrorKind::kNotFound, java::CancelJobNotFound(job_id)});
  if (job->status == JobStatus::kCanceled || job->status == JobStatus::kCancelling) return {};
  if (IsGloballyTerminal(job->status)) {
    return tl::make_unexpected(
        SimError{ErrorKind::kConflict, java::CancelConflict(job->id, Name(job->status))});
  }
  AbortPendingSnapshots(*job, "Checkpoint Coordinator is suspending.");
  job->next_checkpoint_at = kNever;
  job->faults.restart_loop = false;
  job->faults.restart_loop_fail_at = kNever;
  SetStatus(*job, JobStatus::kCancelling);
  if (job->task_state != ExecState::kCreated && job->task_state != ExecState::kScheduled &&
      !IsTerminal(job->task_state)) {
    SetTaskState(*job, ExecState::kCanceling);
  }
  EnterPhase(*job, Phase::kCanceled, now_ + kCancelMs);
  return {};
}

SimResult<std::string> Cluster::TriggerSavepoint(const std::string& job_id,
                                                 const SavepointRequest& req) {
  std::string target;
  if (req.target_directory && !req.target_directory->empty()) {
    target = LocalPathFromUri(*req.target_directory);
  } else {
    auto configured = ConfigValue({}, {"execution.checkpointing.savepoint-dir"});
    if (!configured || configured->empty()) {
      return tl::make_unexpected(SimError{
          ErrorKind::kBadRequest,
          java::SavepointDirectoryMissing(CanonicalKey("state.savepoints.dir", options_.version),
                                          req.stop ? "targetDirectory" : "target-directory")});
    }
    target = LocalPathFromUri(*configured);
    if (const Job* job = FindJob(job_id); job != nullptr && !job->settings.savepoint_dir.empty()) {
      target = job->settings.savepoint_dir;
    }
  }
  std::string trigger = req.trigger_id ? ToLower(*req.trigger_id) : NewTriggerId();
  const std::string key = ToLower(job_id) + "/" + trigger;
  if (savepoint_ops_.count(key) != 0) return trigger;  // idempotent retry

  SavepointOperation op;
  op.trigger_id = trigger;
  op.created = now_;
  op.stop = req.stop;
  op.drain = req.drain;
  op.cancel_job = req.cancel_job;
  op.target_dir = target;
  op.format = req.format;
  Job* job = FindJob(job_id);
  auto fail_now = [&](const std::string& cls, const std::string& stack) {
    op.done = true;
    op.done_at = now_;
    op.failure_class = cls;
    op.failure_stack = stack;
    savepoint_ops_[key] = op;
  };
  if (job == nullptr || IsGloballyTerminal(job->status)) {
    fail_now("org.apache.flink.runtime.messages.FlinkJobNotFoundException",
             java::FlinkJobNotFound(ToLower(job_id)));
    return trigger;
  }
  if (job->status == JobStatus::kInitializing) {
    fail_now("org.apache.flink.runtime.dispatcher.UnavailableDispatcherOperationException",
             JavaStackTrace(
                 "org.apache.flink.runtime.dispatcher.UnavailableDispatcherOperationException",
                 "Unable to get JobMasterGateway for initializing job. The requested "
                 "operation is not available while the JobManager is initializing.",
                 {"org.apache.flink.runtime.dispatcher.Dispatcher.getJobMasterGateway(Dispatcher."
                  "java:1460)"}));
    return trigger;
  }
  if (job->status != JobStatus::kRunning || job->task_state != ExecState::kRunning) {
    const Vertex& v = job->vertices.front();
    std::string reason =
        java::TasksNotRunning(v.name + " (1/" + std::to_string(v.parallelism) + ")", job->id);
    fail_now("java.util.concurrent.CompletionException", java::CheckpointExceptionWrapped(reason));
    return trigger;
  }
  op.checkpoint_id = StartSnapshot(*job, true, req.stop ? "SYNC_SAVEPOINT" : "SAVEPOINT",
                                   req.format, trigger, target);
  savepoint_ops_[key] = op;
  return trigger;
}

const SavepointOperation* Cluster::FindSavepointOperation(const std::string& job_id,
                                                          const std::string& trigger_id) const {
  auto it = savepoint_ops_.find(ToLower(job_id) + "/" + ToLower(trigger_id));
  if (it == savepoint_ops_.end()) return nullptr;
  if (it->second.done && it->second.done_at + kAsyncStoreMs < now_) return nullptr;
  return &it->second;
}

// ---------------------------------------------------------------------------------------------
// Snapshots

void Cluster::TriggerCheckpoint(Job& job) { StartSnapshot(job, false, "CHECKPOINT", "", "", ""); }

int64_t Cluster::StartSnapshot(Job& job, bool is_savepoint, const std::string& type,
                               const std::string& format, const std::string& trigger_id,
                               const std::string& target_dir) {
  CheckpointRecord rec;
  rec.state = CheckpointRecord::State::kInProgress;
  rec.id = job.next_checkpoint_id++;
  rec.is_savepoint = is_savepoint;
  rec.savepoint_format = is_savepoint ? format : "";
  rec.type = type;
  rec.trigger_ts = now_;
  rec.num_subtasks = job.TotalSubtasks();
  rec.num_acked = 0;
  // State grows slowly with the job's age; savepoints are full snapshots and larger.
  int64_t base = 8'000 + static_cast<int64_t>(job.vertices.size()) * 4'000;
  rec.state_size = base + rng_.Between(0, 20'000) + (is_savepoint ? 10'000 : 0);
  rec.checkpointed_size = rec.state_size;
  rec.processed_data = rng_.Between(0, 1'500);
  rec.planned_duration = is_savepoint ? rng_.Between(300, 800) : rng_.Between(20, 250);
  rec.trigger_id = trigger_id;
  if (is_savepoint) {
    rec.local_dir = target_dir + "/savepoint-" + job.id.substr(0, 6) + "-" + rng_.Hex(12);
  } else {
    rec.local_dir = job.settings.checkpoint_dir + "/" + job.id + "/chk-" + std::to_string(rec.id);
  }
  const int64_t id = rec.id;
  job.checkpoints[id] = rec;
  if (is_savepoint) {
    job.pending_savepoints.push_back(id);
  } else {
    job.pending_checkpoint = id;
  }
  AddToHistory(job, id);
  return id;
}

void Cluster::AddToHistory(Job& job, int64_t id) {
  job.history.push_front(id);
  while (job.history.size() > kHistorySize) job.history.pop_back();
}

std::string Cluster::SnapshotMetadata(const Job& job, const CheckpointRecord& rec) const {
  std::string out = "flinksim-metadata 1\n";
  out += "job-id: " + job.id + "\n";
  out += "job-name: " + job.name + "\n";
  out += "checkpoint-id: " + std::to_string(rec.id) + "\n";
  out += std::string("kind: ") + (rec.is_savepoint ? "savepoint" : "checkpoint") + "\n";
  out += "type: " + rec.type + "\n";
  out += "format: " +
         (rec.savepoint_format.empty() ? std::string("CANONICAL") : rec.savepoint_format) + "\n";
  out += "timestamp: " + std::to_string(rec.trigger_ts) + "\n";
  for (const auto& op : job.operators) out += "operator: " + op.id + " " + op.uid + "\n";
  return out;
}

void Cluster::CompleteSnapshot(Job& job, int64_t id) {
  CheckpointRecord& rec = job.checkpoints.at(id);
  rec.state = CheckpointRecord::State::kCompleted;
  rec.ack_ts = now_;
  rec.num_acked = rec.num_subtasks;
  rec.external_path = FileUri(rec.local_dir);
  ++job.count_completed;
  job.last_completed_any = id;
  AppendCapped(job.completed_sizes, rec.state_size);
  AppendCapped(job.completed_durations, rec.ack_ts - rec.trigger_ts);
  AppendCapped(job.completed_processed, rec.processed_data);
  if (rec.is_savepoint) {
    job.pending_savepoints.erase(
        std::remove(job.pending_savepoints.begin(), job.pending_savepoints.end(), id),
        job.pending_savepoints.end());
    job.latest_savepoint = id;
    rec.written = WriteWholeFile(rec.local_dir + "/_metadata", SnapshotMetadata(job, rec));
    std::string trigger = rec.trigger_id;
    std::string location = rec.external_path;
    auto it = savepoint_ops_.find(job.id + "/" + trigger);
    bool stop = false;
    bool cancel = false;
    if (it != savepoint_ops_.end()) {
      it->second.done = true;
      it->second.done_at = now_;
      it->second.location = location;
      stop = it->second.stop;
      cancel = it->second.cancel_job;
    }
    if (stop) {
      SetTaskState(job, ExecState::kFinished);
      Terminate(job, JobStatus::kFinished);
    } else if (cancel) {
      (void)CancelJob(job.id);
    }
  } else {
    job.pending_checkpoint.reset();
    job.latest_completed = id;
    job.consecutive_failures = 0;
    job.retained.push_back(id);
    job.disk_dirty = true;
    while (static_cast<int>(job.retained.size()) > job.settings.num_retained) {
      int64_t old = job.retained.front();
      job.retained.pop_front();
      auto oit = job.checkpoints.find(old);
      if (oit == job.checkpoints.end()) continue;
      oit->second.discarded = true;
      if (oit->second.written) {
        std::error_code ec;
        fs::remove_all(oit->second.local_dir, ec);
      }
    }
    job.next_checkpoint_at = std::max(rec.trigger_ts + job.settings.checkpoint_interval_ms,
                                      now_ + job.settings.min_pause_ms);
  }
  PruneRecords(job);
}

void Cluster::FailSnapshot(Job& job, int64_t id, const std::string& message,
                           bool count_for_tolerance) {
  CheckpointRecord& rec = job.checkpoints.at(id);
  rec.state = CheckpointRecord::State::kFailed;
  rec.failure_ts = now_;
  rec.failure_message = message;
  rec.num_acked = rec.num_subtasks > 1 ? rec.num_subtasks / 2 : 0;
  ++job.count_failed;
  job.latest_failed = id;
  if (rec.is_savepoint) {
    job.pending_savepoints.erase(
        std::remove(job.pending_savepoints.begin(), job.pending_savepoints.end(), id),
        job.pending_savepoints.end());
    auto it = savepoint_ops_.find(job.id + "/" + rec.trigger_id);
    if (it != savepoint_ops_.end()) {
      it->second.done = true;
      it->second.done_at = now_;
      it->second.failure_class = "java.util.concurrent.CompletionException";
      it->second.failure_stack = java::CheckpointExceptionWrapped(message);
    }
    PruneRecords(job);
    return;
  }
  job.pending_checkpoint.reset();
  job.next_checkpoint_at = std::max(rec.trigger_ts + job.settings.checkpoint_interval_ms,
                                    now_ + job.settings.min_pause_ms);
  PruneRecords(job);
  if (count_for_tolerance) {
    ++job.consecutive_failures;
    if (job.consecutive_failures > job.settings.tolerable_failed) {
      job.consecutive_failures = 0;
      HandleFailure(job, "org.apache.flink.util.FlinkRuntimeException",
                    java::TolerableCheckpointFailureExceeded(message), true, false, -1);
    }
  }
}

void Cluster::AbortPendingSnapshots(Job& job, const std::string& message) {
  if (job.pending_checkpoint) FailSnapshot(job, *job.pending_checkpoint, message, false);
  for (int64_t id : std::vector<int64_t>(job.pending_savepoints))
    FailSnapshot(job, id, message, false);
}

void Cluster::PruneRecords(Job& job) {
  std::set<int64_t> keep(job.history.begin(), job.history.end());
  keep.insert(job.retained.begin(), job.retained.end());
  for (const auto& o : {job.latest_completed, job.latest_savepoint, job.latest_failed,
                        job.pending_checkpoint, job.last_completed_any}) {
    if (o) keep.insert(*o);
  }
  keep.insert(job.pending_savepoints.begin(), job.pending_savepoints.end());
  for (auto it = job.checkpoints.begin(); it != job.checkpoints.end();) {
    it = keep.count(it->first) != 0 ? std::next(it) : job.checkpoints.erase(it);
  }
}

void Cluster::DiscardRetained(Job& job) {
  for (int64_t id : job.retained) {
    auto it = job.checkpoints.find(id);
    if (it == job.checkpoints.end()) continue;
    it->second.discarded = true;
    if (it->second.written) {
      std::error_code ec;
      fs::remove_all(it->second.local_dir, ec);
    }
  }
  job.retained.clear();
  PruneRecords(job);
}

void Cluster::SyncDisk(Job& job) {
  if (!job.disk_dirty) return;
  for (int64_t id : job.retained) {
    auto it = job.checkpoints.find(id);
    if (it == job.checkpoints.end() || it->second.written) continue;
    it->second.written =
        WriteWholeFile(it->second.local_dir + "/_metadata", SnapshotMetadata(job, it->second));
    it->second.written = true;  // never rewrite, even if the write failed or it is deleted later
  }
  job.disk_dirty = false;
}

bool Cluster::DeleteSnapshotDirectory(const std::string& path_or_uri) {
  std::string local = LocalPathFromUri(path_or_uri);
  if (local.empty() || local == "/") return false;
  std::error_code ec;
  bool existed = fs::exists(local, ec);
  fs::remove_all(local, ec);
  return existed;
}

// ---------------------------------------------------------------------------------------------
// Restore

void Cluster::ApplyRestore(Job& job) {
  const std::string pointer = *job.restore_path;
  std::string local = LocalPathFromUri(pointer);
  std::error_code ec;
  std::string dir = local;
  std::string metadata_file;
  if (fs::is_regular_file(local, ec)) {
    metadata_file = local;
    dir = fs::path(local).parent_path().string();
  } else if (fs::is_directory(local, ec)) {
    metadata_file = local + "/_metadata";
    if (!fs::is_regular_file(metadata_file, ec)) {
      job.init_failure = java::JobInitializationFailed(java::MetadataNotFound(pointer));
      return;
    }
  } else {
    job.init_failure = java::JobInitializationFailed(java::SnapshotNotFound(pointer));
    return;
  }
  auto content = ReadWholeFile(metadata_file);
  if (!content || !StartsWith(*content, "flinksim-metadata")) {
    job.init_failure = java::JobInitializationFailed(
        JavaStackTrace("java.io.IOException",
                       "Unexpected magic number in checkpoint metadata file " + metadata_file,
                       {"org.apache.flink.runtime.checkpoint.Checkpoints.loadCheckpointMetadata("
                        "Checkpoints.java:113)"}));
    return;
  }
  int64_t id = 0;
  bool is_savepoint = false;
  std::vector<std::string> operator_ids;
  for (const auto& line : Split(*content, '\n')) {
    if (StartsWith(line, "checkpoint-id:")) {
      try {
        id = std::stoll(Trim(line.substr(14)));
      } catch (...) {
      }
    } else if (StartsWith(line, "kind:")) {
      is_savepoint = Trim(line.substr(5)) == "savepoint";
    } else if (StartsWith(line, "operator:")) {
      auto parts = Split(line.substr(9), ' ');
      if (!parts.empty()) operator_ids.push_back(parts[0]);
    }
  }
  if (!job.restore_allow_non_restored) {
    for (const auto& op_id : operator_ids) {
      bool mapped = std::any_of(job.operators.begin(), job.operators.end(),
                                [&](const Operator& op) { return op.id == op_id; });
      if (!mapped) {
        job.init_failure = java::JobInitializationFailed(java::CannotMapState(pointer, op_id));
        return;
      }
    }
  }
  RestoredInfo info;
  info.id = id;
  info.restore_ts = now_;
  info.is_savepoint = is_savepoint;
  info.external_path = FileUri(dir);
  info.claim_mode = job.settings.claim_mode;
  info.allow_non_restored_state = job.restore_allow_non_restored;
  job.restored = info;
  job.next_checkpoint_id = id + 1;
  if (job.settings.claim_mode == "CLAIM") {
    // CLAIM: the job owns the restored snapshot and deletes it once subsumed.
    CheckpointRecord rec;
    rec.state = CheckpointRecord::State::kCompleted;
    rec.id = id;
    rec.is_savepoint = is_savepoint;
    rec.type = is_savepoint ? "SAVEPOINT" : "CHECKPOINT";
    rec.local_dir = dir;
    rec.external_path = FileUri(dir);
    rec.written = true;
    job.checkpoints[id] = rec;
    job.retained.push_back(id);
  }
}

// ---------------------------------------------------------------------------------------------
// Lookup / housekeeping

Job* Cluster::FindJob(const std::string& job_id) {
  std::string id = ToLower(job_id);
  for (auto& j : jobs_) {
    if (j->id == id) return j.get();
  }
  return nullptr;
}

const Job* Cluster::FindJob(const std::string& job_id) const {
  std::string id = ToLower(job_id);
  for (const auto& j : jobs_) {
    if (j->id == id) return j.get();
  }
  return nullptr;
}

Job* Cluster::ResolveJob(const std::string& ref) {
  if (Job* j = FindJob(ref)) return j;
  Job* newest = nullptr;
  for (auto it = jobs_.rbegin(); it != jobs_.rend(); ++it) {
    if ((*it)->name != ref) continue;
    if (!IsGloballyTerminal((*it)->status)) return it->get();
    if (newest == nullptr) newest = it->get();
  }
  return newest;
}

int Cluster::TotalSlots() const {
  int n = 0;
  for (const auto& tm : taskmanagers_) n += tm.slots;
  return n;
}

int Cluster::FreeSlots() const {
  int n = 0;
  for (const auto& tm : taskmanagers_) n += tm.FreeSlots();
  return n;
}

void Cluster::ExpireJobs() {
  const bool any_finished = std::any_of(jobs_.begin(), jobs_.end(), [](const auto& j) {
    return IsGloballyTerminal(j->status) && j->end_time >= 0;
  });
  if (!any_finished) return;
  int64_t expiration_s = 3600;
  if (auto it = config_.find("jobstore.expiration-time"); it != config_.end()) {
    auto ms = ParseDurationMs(it->second);
    // A bare number is seconds for this key.
    bool bare = !it->second.empty() && std::all_of(it->second.begin(), it->second.end(), ::isdigit);
    if (ms) expiration_s = bare ? *ms : *ms / 1000;
  }
  jobs_.erase(std::remove_if(jobs_.begin(), jobs_.end(),
                             [&](const std::unique_ptr<Job>& j) {
                               return IsGloballyTerminal(j->status) && j->end_time >= 0 &&
                                      j->end_time + expiration_s * 1000 < now_;
                             }),
              jobs_.end());
  for (auto it = savepoint_ops_.begin(); it != savepoint_ops_.end();) {
    bool expired = it->second.done && it->second.done_at + kAsyncStoreMs < now_;
    it = expired ? savepoint_ops_.erase(it) : std::next(it);
  }
}

}  // namespace flinksim
