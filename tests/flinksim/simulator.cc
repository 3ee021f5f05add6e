#include "tests/flinksim/simulator.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <iostream>
#include <string_view>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "tests/flinksim/java_errors.h"
#include "tests/flinksim/json_out.h"
#include "tests/flinksim/prometheus_text.h"

namespace flinksim {
namespace {

// Typed reading of action arguments; values may be JSON numbers/booleans or strings (YAML
// scalars arrive as strings).
class Args {
 public:
  explicit Args(const rapidjson::Value& v) : v_(v) {}
  bool Has(const char* key) const {
    return v_.IsObject() && v_.HasMember(key) && !v_[key].IsNull();
  }
  std::string Str(const char* key, const std::string& fallback = "") const {
    if (!Has(key)) return fallback;
    const auto& x = v_[key];
    if (x.IsString()) return std::string(x.GetString(), x.GetStringLength());
    if (x.IsBool()) return x.GetBool() ? "true" : "false";
    if (x.IsInt64()) return std::to_string(x.GetInt64());
    if (x.IsNumber()) return JavaDoubleToString(x.GetDouble());
    return fallback;
  }
  std::optional<double> Num(const char* key) const {
    if (!Has(key)) return std::nullopt;
    const auto& x = v_[key];
    if (x.IsNumber()) return x.GetDouble();
    try {
      return std::stod(Str(key));
    } catch (...) {
      throw std::invalid_argument(std::string("argument `") + key + "` must be a number");
    }
  }
  bool Bool(const char* key, bool fallback = false) const {
    if (!Has(key)) return fallback;
    const auto& x = v_[key];
    if (x.IsBool()) return x.GetBool();
    std::string s = ToLower(Str(key));
    if (s == "true" || s == "yes" || s == "1") return true;
    if (s == "false" || s == "no" || s == "0") return false;
    throw std::invalid_argument(std::string("argument `") + key + "` must be a boolean");
  }
  // Durations: a JSON number is milliseconds; strings like "30s" are parsed.
  std::optional<int64_t> Duration(const char* key) const {
    if (!Has(key)) return std::nullopt;
    const auto& x = v_[key];
    if (x.IsNumber()) return static_cast<int64_t>(std::llround(x.GetDouble()));
    auto ms = ParseDurationMs(Str(key));
    if (!ms)
      throw std::invalid_argument(std::string("argument `") + key +
                                  "` must be a duration like 30s");
    return ms;
  }

 private:
  const rapidjson::Value& v_;
};

std::string ErrorJson(const std::string& message) {
  JsonOut j;
  j.BeginObject().KV("error", message).EndObject();
  return j.str();
}

HttpResponse JsonResponse(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

const char* CheckpointModeName(CheckpointFaultMode m) {
  switch (m) {
    case CheckpointFaultMode::kOk: return "ok";
    case CheckpointFaultMode::kFail: return "fail";
    case CheckpointFaultMode::kStall: return "stall";
  }
  return "ok";
}

std::string Normalize(const std::string& path) {
  if (path == "/v1" || StartsWith(path, "/v1/")) return path.substr(3);
  return path;
}

// The job id of "/jobs/<32 hex digits>" and "/jobs/<32 hex digits>/...", "" for other paths.
std::string JobIdOfPath(const std::string& path) {
  constexpr std::string_view kPrefix = "/jobs/";
  constexpr size_t kIdLength = 32;
  if (path.size() < kPrefix.size() + kIdLength || path.compare(0, kPrefix.size(), kPrefix) != 0) {
    return "";
  }
  const size_t end = kPrefix.size() + kIdLength;
  if (path.size() > end && path[end] != '/') return "";
  for (size_t i = kPrefix.size(); i < end; ++i) {
    if (!std::isxdigit(static_cast<unsigned char>(path[i]))) return "";
  }
  return path.substr(kPrefix.size(), kIdLength);
}

}  // namespace

Simulator::Simulator(SimulatorOptions options, SimClock& clock)
    : clock_(clock),
      start_ms_(clock.NowMs()),
      cluster_(options.cluster, start_ms_),
      api_(cluster_, "http://" + options.cluster.rest_address + ":" +
                         std::to_string(options.cluster.rest_port)),
      scenario_(std::move(options.scenario)) {
  for (int i = 0; i < options.initial_jobs; ++i) {
    cluster_.StartDefaultJob("job-" + std::to_string(i), options.checkpoint_interval_ms);
  }
}

void Simulator::SetEndpoints(const std::string& rest, const std::string& prometheus,
                             const std::string& control) {
  std::lock_guard<std::mutex> lock(mu_);
  rest_endpoint_ = rest;
  prometheus_endpoint_ = prometheus;
  control_endpoint_ = control;
  if (!rest.empty()) api_.set_rest_base_url("http://" + rest);
}

void Simulator::AdvanceLocked(bool settle) {
  const int64_t now = clock_.NowMs();
  // Run due scenario steps at their own simulated time, in order.
  while (next_step_ < scenario_.size() && start_ms_ + scenario_[next_step_].at_ms <= now) {
    const ScenarioStep& step = scenario_[next_step_++];
    cluster_.AdvanceTo(start_ms_ + step.at_ms);
    int status = 200;
    std::string result = ApplyActionLocked(*step.action, &status);
    if (status != 200) {
      scenario_errors_.push_back(step.description + ": " + result);
      std::cerr << "flinksim: " << step.description << " failed: " << result << std::endl;
    }
  }
  cluster_.AdvanceTo(clock_.NowMs(), settle);
}

void Simulator::Tick() {
  std::lock_guard<std::mutex> lock(mu_);
  AdvanceLocked();
}

bool Simulator::RestShouldListen() {
  std::lock_guard<std::mutex> lock(mu_);
  AdvanceLocked(/*settle=*/false);
  return faults_.Down(cluster_.now()) != DownMode::kRefuse;
}

bool Simulator::Hanging() {
  std::lock_guard<std::mutex> lock(mu_);
  AdvanceLocked(/*settle=*/false);
  return faults_.Down(cluster_.now()) == DownMode::kHang;
}

RestOutcome Simulator::HandleRest(const HttpRequest& request, bool record) {
  std::lock_guard<std::mutex> lock(mu_);
  RestOutcome out;
  const std::string normalized = Normalize(request.path);
  const bool mutating =
      request.method != "GET" && request.method != "HEAD" && request.method != "OPTIONS";
  // A read of one job's endpoints (GET /jobs/<32 hex>/...) integrates only that job's traffic:
  // no other job's counters are in its answer. Everything else brings every job up to date.
  AdvanceLocked(/*settle=*/false);
  const std::string read_job = mutating ? std::string() : JobIdOfPath(normalized);
  cluster_.Settle(read_job.empty() ? nullptr : &read_job);
  if (StartsWith(normalized, "/_sim/") || normalized == "/_sim") {
    out.response = ControlLocked(request);
    return out;
  }
  int64_t seq = 0;
  if (record && mutating) {
    LoggedRequest entry;
    entry.sim_time = cluster_.now();
    entry.method = request.method;
    entry.path = request.path;
    entry.query = request.query;
    entry.body = request.body.size() > 65'536 ? request.body.substr(0, 65'536) : request.body;
    if (StartsWith(ToLower(request.Header("Content-Type")), "multipart/"))
      entry.body = "<multipart upload>";
    entry.user_agent = request.Header("User-Agent");
    entry.instance = request.Header("X-Flinkguard-Instance");
    seq = log_.Add(std::move(entry));
  }
  FaultDecision d = faults_.Decide(request.path, normalized, cluster_.now());
  if (d.hang) {
    out.hang = true;
    return out;
  }
  out.delay_ms = d.delay_ms;
  switch (d.body) {
    case FaultDecision::Body::kLeaderElection:
      out.response = ErrorResponse(
          503,
          {"Service temporarily unavailable due to an ongoing leader election. Please refresh."});
      break;
    case FaultDecision::Body::kServerError:
      out.response = ErrorResponse(
          500,
          {"Internal server error.",
           java::ServerSideException(JavaStackTrace(
               "java.util.concurrent.CompletionException",
               "org.apache.flink.runtime.rpc.exceptions.RecipientUnreachableException: Could not "
               "send message [RemoteFencedMessage] from sender [unknown] to recipient "
               "[pekko.tcp://flink@localhost:6123/user/rpc/dispatcher_1], because the recipient is "
               "unreachable. This can either mean that the recipient has been terminated or that "
               "the remote RpcService is currently not reachable.",
               {"java.base/"
                "java.util.concurrent.CompletableFuture.encodeRelay(CompletableFuture.java:368)",
                "org.apache.flink.runtime.rpc.pekko.PekkoInvocationHandler.lambda$invokeRpc$1("
                "PekkoInvocationHandler.java:260)"}))});
      break;
    case FaultDecision::Body::kGarbage:
      out.response.status = 200;
      out.response.body =
          "<html><head><title>502 Bad Gateway</title></head><body>upstream sent garbage \x01\x02 "
          "{{{";
      break;
    case FaultDecision::Body::kTruncated: {
      out.response = api_.Handle(request);
      const size_t keep = out.response.body.size() > 1 ? out.response.body.size() / 2 : 0;
      out.response.body.resize(keep);
      break;
    }
    case FaultDecision::Body::kNormal: out.response = api_.Handle(request); break;
  }
  if (seq != 0) log_.SetStatus(seq, out.response.status);
  return out;
}

HttpResponse Simulator::HandleControl(const HttpRequest& request) {
  std::lock_guard<std::mutex> lock(mu_);
  AdvanceLocked();
  const std::string normalized = Normalize(request.path);
  if (!(StartsWith(normalized, "/_sim/") || normalized == "/_sim")) {
    return ErrorResponse(404, {"Not found: " + request.Uri()});
  }
  return ControlLocked(request);
}

std::string Simulator::Prometheus() {
  std::lock_guard<std::mutex> lock(mu_);
  AdvanceLocked();
  return PrometheusExposition(cluster_);
}

std::string Simulator::ApplyAction(const rapidjson::Value& action, int* status) {
  std::lock_guard<std::mutex> lock(mu_);
  AdvanceLocked();
  return ApplyActionLocked(action, status);
}

HttpResponse Simulator::ControlLocked(const HttpRequest& request) {
  std::string path = Normalize(request.path);
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  const std::string& m = request.method;
  if (m == "GET" && (path == "/_sim" || path == "/_sim/state"))
    return JsonResponse(200, StateJsonLocked());
  if (m == "GET" && path == "/_sim/jobs") return JsonResponse(200, JobsJsonLocked());
  if (m == "GET" && path == "/_sim/requests") return JsonResponse(200, RequestsJsonLocked());
  if (m == "DELETE" && path == "/_sim/requests") {
    log_.Clear();
    return JsonResponse(200, "{\"ok\":true}");
  }
  if (m == "POST" && StartsWith(path, "/_sim/")) {
    rapidjson::Document doc;
    std::string body = Trim(request.body).empty() ? "{}" : request.body;
    doc.Parse(body.c_str(), body.size());
    if (doc.HasParseError() || !(doc.IsObject() || doc.IsArray())) {
      return JsonResponse(400, ErrorJson("body must be a JSON object (or an array of them)"));
    }
    std::string name = path.substr(6);
    if (name != "action" && name != "actions") {
      // POST /_sim/<action> with the arguments as body.
      if (!doc.IsObject()) return JsonResponse(400, ErrorJson("body must be a JSON object"));
      doc.RemoveMember("action");
      doc.AddMember("action", rapidjson::Value(name.c_str(), doc.GetAllocator()),
                    doc.GetAllocator());
    }
    if (doc.IsArray()) {
      std::string results = "[";
      for (rapidjson::SizeType i = 0; i < doc.Size(); ++i) {
        int status = 200;
        std::string r = ApplyActionLocked(doc[i], &status);
        if (status != 200) return JsonResponse(status, r);
        results += (i ? "," : "") + r;
      }
      return JsonResponse(200, results + "]");
    }
    int status = 200;
    std::string r = ApplyActionLocked(doc, &status);
    return JsonResponse(status, r);
  }
  return JsonResponse(404, ErrorJson("unknown control endpoint " + m + " " + path));
}

std::string Simulator::ApplyActionLocked(const rapidjson::Value& action, int* status) {
  *status = 200;
  if (!action.IsObject() || !action.HasMember("action") || !action["action"].IsString()) {
    *status = 400;
    return ErrorJson("an action is a JSON object with a string field \"action\"");
  }
  Args a(action);
  const std::string name = a.Str("action");
  const int64_t now = cluster_.now();
  auto until = [&]() -> int64_t {
    auto d = a.Duration("duration");
    return d ? now + *d : kNever;
  };
  auto job_or_error = [&](Job** out) -> bool {
    std::string ref = a.Str("job");
    *out = ref.empty() ? nullptr : cluster_.ResolveJob(ref);
    if (*out == nullptr) {
      *status = 404;
      return false;
    }
    return true;
  };
  auto exception = [&](const char* fallback) {
    if (a.Has("exception_class")) return ExceptionSpec{a.Str("exception_class"), a.Str("message")};
    return ParseExceptionSpec(a.Str("exception", fallback));
  };
  auto ok = [&](JsonOut& j) { return j.str(); };
  try {
    JsonOut j;
    j.BeginObject().KV("ok", true).KV("action", name);
    if (name == "fail_job") {
      Job* job = nullptr;
      if (!job_or_error(&job)) return ErrorJson("unknown job '" + a.Str("job") + "'");
      auto r = cluster_.FailJob(job->id, exception("java.lang.RuntimeException: Injected failure"),
                                a.Bool("terminal"));
      if (!r) {
        *status = 409;
        return ErrorJson(r.error().text);
      }
      j.KV("job", job->id).KV("status", Name(job->status));
    } else if (name == "restart_loop") {
      Job* job = nullptr;
      if (!job_or_error(&job)) return ErrorJson("unknown job '" + a.Str("job") + "'");
      int times = static_cast<int>(a.Num("times").value_or(-1));
      cluster_.SetRestartLoop(job->id, a.Duration("after").value_or(5000), times,
                              exception("java.lang.RuntimeException: Injected restart loop"));
      j.KV("job", job->id);
    } else if (name == "clear_restart_loop") {
      Job* job = nullptr;
      if (!job_or_error(&job)) return ErrorJson("unknown job '" + a.Str("job") + "'");
      cluster_.ClearRestartLoop(job->id);
    } else if (name == "checkpoints") {
      std::string mode = ToLower(a.Str("mode", "ok"));
      CheckpointFaultMode m = CheckpointFaultMode::kOk;
      if (mode == "fail") {
        m = CheckpointFaultMode::kFail;
      } else if (mode == "stall") {
        m = CheckpointFaultMode::kStall;
      } else if (mode != "ok" && mode != "resume") {
        *status = 400;
        return ErrorJson("checkpoints: mode must be ok|fail|stall");
      }
      std::vector<Job*> targets;
      if (a.Has("job")) {
        Job* job = nullptr;
        if (!job_or_error(&job)) return ErrorJson("unknown job '" + a.Str("job") + "'");
        targets.push_back(job);
      } else {
        for (const auto& jp : cluster_.jobs()) targets.push_back(jp.get());
      }
      for (Job* t : targets) {
        cluster_.SetCheckpointMode(t->id, m, a.Str("message"));
        if (a.Has("tolerable"))
          t->settings.tolerable_failed = static_cast<int>(*a.Num("tolerable"));
      }
    } else if (name == "set_traffic") {
      Job* job = nullptr;
      if (!job_or_error(&job)) return ErrorJson("unknown job '" + a.Str("job") + "'");
      std::optional<LagMetric> lag_metric;
      if (a.Has("lag_metric")) {
        const std::string m = a.Str("lag_metric");
        if (m == "pendingRecords") {
          lag_metric = LagMetric::kPendingRecords;
        } else if (m == "records-lag-max" && !AtLeast(cluster_.version(), FlinkVersion::k2_0)) {
          lag_metric = LagMetric::kRecordsLagMax;
        } else if (m == "none") {
          lag_metric = LagMetric::kNone;
        } else {
          *status = 400;
          return ErrorJson("set_traffic: lag_metric must be pendingRecords|none" +
                           std::string(AtLeast(cluster_.version(), FlinkVersion::k2_0)
                                           ? " (Flink 2.0 has no legacy Kafka consumer)"
                                           : "|records-lag-max"));
        }
      }
      cluster_.SetTraffic(job->id, a.Num("qps"), a.Num("backpressure"), lag_metric);
      j.KV("job", job->id);
    } else if (name == "cluster_down") {
      std::string mode = ToLower(a.Str("mode", "refuse"));
      if (mode != "refuse" && mode != "hang") {
        *status = 400;
        return ErrorJson("cluster_down: mode must be refuse|hang");
      }
      faults_.SetDown(mode == "hang" ? DownMode::kHang : DownMode::kRefuse, until());
    } else if (name == "cluster_up") {
      faults_.SetUp();
    } else if (name == "leader_election") {
      int requests = a.Has("requests") ? static_cast<int>(*a.Num("requests")) : -1;
      faults_.SetLeaderElection(until(), requests);
    } else if (name == "slow") {
      faults_.SetSlow(a.Duration("delay_ms").value_or(a.Duration("delay").value_or(1000)),
                      a.Str("path_prefix"), until());
    } else if (name == "garbage") {
      faults_.SetGarbage(a.Str("path_prefix"), until());
    } else if (name == "truncate") {
      faults_.SetTruncate(a.Str("path_prefix"), until());
    } else if (name == "error_500" || name == "http_500") {
      faults_.SetServerError(a.Str("path_prefix"), until());
    } else if (name == "clear_faults") {
      faults_.Clear();
      for (const auto& jp : cluster_.jobs()) {
        cluster_.SetCheckpointMode(jp->id, CheckpointFaultMode::kOk, "");
        cluster_.ClearRestartLoop(jp->id);
      }
    } else if (name == "advance_time") {
      int64_t by = a.Duration("by").value_or(a.Duration("ms").value_or(0));
      if (by < 0) {
        *status = 400;
        return ErrorJson("advance_time: cannot go backwards");
      }
      clock_.Advance(by);
      AdvanceLocked();
      j.KV("now", cluster_.now());
    } else if (name == "delete_checkpoint") {
      std::string path = a.Str("path");
      if (path.empty()) {
        Job* job = nullptr;
        if (!job_or_error(&job))
          return ErrorJson("delete_checkpoint: give `path`, or `job` (and `checkpoint`)");
        std::string which = ToLower(a.Str("checkpoint", "latest"));
        std::optional<int64_t> id;
        if (which == "latest") {
          id = job->latest_completed;
        } else if (which == "latest_savepoint" || which == "savepoint") {
          id = job->latest_savepoint;
        } else {
          id = static_cast<int64_t>(std::stoll(which));
        }
        auto it = id ? job->checkpoints.find(*id) : job->checkpoints.end();
        if (it == job->checkpoints.end()) {
          *status = 404;
          return ErrorJson("delete_checkpoint: no such checkpoint on job " + job->id);
        }
        path = it->second.local_dir;
      }
      bool existed = cluster_.DeleteSnapshotDirectory(path);
      j.KV("path", LocalPathFromUri(path)).KV("existed", existed);
    } else if (name == "clear_requests") {
      log_.Clear();
    } else if (name == "start_job") {
      std::string job_name = a.Str("name", "job-" + std::to_string(cluster_.jobs().size()));
      std::string id =
          cluster_.StartDefaultJob(job_name, a.Duration("checkpoint_interval").value_or(10'000));
      j.KV("job", id);
    } else if (name == "cancel_job") {
      Job* job = nullptr;
      if (!job_or_error(&job)) return ErrorJson("unknown job '" + a.Str("job") + "'");
      auto r = cluster_.CancelJob(job->id);
      if (!r) {
        *status = 409;
        return ErrorJson(r.error().text);
      }
    } else if (name == "set_config") {
      if (!a.Has("key")) {
        *status = 400;
        return ErrorJson("set_config: missing `key`");
      }
      cluster_.SetConfig(a.Str("key"), a.Str("value"));
    } else {
      *status = 400;
      return ErrorJson("unknown action '" + name + "'");
    }
    j.EndObject();
    return ok(j);
  } catch (const std::exception& e) {
    *status = 400;
    return ErrorJson(name + ": " + e.what());
  }
}

std::string Simulator::JobsJsonLocked() {
  JsonOut j;
  j.BeginObject().Key("jobs").BeginArray();
  for (const auto& jp : cluster_.jobs()) {
    const Job& job = *jp;
    j.BeginObject();
    j.KV("id", job.id)
        .KV("name", job.name)
        .KV("status", Name(job.status))
        .KV("task_state", Name(job.task_state));
    j.KV("jar_id", job.jar_id).KV("attempt", job.attempt).KV("num_restarts", job.num_restarts);
    j.KV("start_time", job.start_time).KV("end_time", job.end_time);
    j.Key("operators").BeginArray();
    for (const auto& op : job.operators)
      j.BeginObject().KV("uid", op.uid).KV("name", op.name).KV("id", op.id).EndObject();
    j.EndArray();
    j.KV("parallelism", job.MaxParallelism());
    j.Key("settings").BeginObject();
    j.KV("checkpoint_interval_ms", job.settings.checkpoint_interval_ms);
    j.KV("num_retained", job.settings.num_retained)
        .KV("tolerable_failed_checkpoints", job.settings.tolerable_failed);
    j.KV("restart_strategy", job.settings.restart_strategy)
        .KV("restart_attempts", job.settings.restart_attempts);
    j.KV("restart_delay_ms", job.settings.restart_delay_ms)
        .KV("checkpoint_dir", job.settings.checkpoint_dir);
    j.KV("savepoint_dir", job.settings.savepoint_dir).KV("claim_mode", job.settings.claim_mode);
    j.EndObject();
    j.Key("flink_configuration").BeginObject();
    for (const auto& [k, v] : job.job_config) j.KV(k, v);
    j.EndObject();
    j.Key("program_args").BeginArray();
    for (const auto& arg : job.program_args) j.Str(arg);
    j.EndArray();
    j.Key("restored_from");
    if (job.restored) {
      j.BeginObject().KV("path", job.restored->external_path).KV("checkpoint_id", job.restored->id);
      j.KV("is_savepoint", job.restored->is_savepoint).KV("claim_mode", job.restored->claim_mode);
      j.KV("allow_non_restored_state", job.restored->allow_non_restored_state);
      j.KV("restore_timestamp", job.restored->restore_ts).EndObject();
    } else {
      j.Null();
    }
    j.Key("restore_request");
    if (job.restore_path) {
      j.BeginObject()
          .KV("savepoint_path", *job.restore_path)
          .KV("allow_non_restored_state", job.restore_allow_non_restored);
      j.KV("failed", !job.init_failure.empty()).EndObject();
    } else {
      j.Null();
    }
    j.Key("checkpoints").BeginObject();
    j.KV("completed", job.count_completed).KV("failed", job.count_failed);
    j.KV("consecutive_failures", job.consecutive_failures).KV("next_id", job.next_checkpoint_id);
    j.KV("mode", CheckpointModeName(job.faults.checkpoint_mode));
    j.Key("retained_on_disk").BeginArray();
    for (int64_t id : job.retained) {
      auto it = job.checkpoints.find(id);
      if (it != job.checkpoints.end()) j.Str(it->second.external_path);
    }
    j.EndArray();
    auto path_of = [&](const std::optional<int64_t>& id) -> std::string {
      if (!id) return "";
      auto it = job.checkpoints.find(*id);
      return it == job.checkpoints.end() ? "" : it->second.external_path;
    };
    j.KV("latest_completed", path_of(job.latest_completed))
        .KV("latest_savepoint", path_of(job.latest_savepoint));
    j.EndObject();
    j.Key("traffic").BeginObject();
    j.Key("qps").Double(job.traffic.qps).Key("backpressure").Double(job.traffic.backpressure);
    j.KV("pending_records",
         static_cast<int64_t>(cluster_.PendingRecordsPerSubtask(job) *
                              (job.vertices.empty() ? 1 : job.vertices.front().parallelism)));
    j.KV("lag_metric", job.traffic.lag_metric == LagMetric::kPendingRecords ? "pendingRecords"
                       : job.traffic.lag_metric == LagMetric::kRecordsLagMax
                           ? "KafkaConsumer.records-lag-max"
                           : "none");
    j.EndObject();
    j.Key("restart_loop");
    if (job.faults.restart_loop) {
      j.BeginObject()
          .KV("remaining", job.faults.restart_loop_remaining)
          .KV("after_ms", job.faults.restart_loop_after_ms);
      j.KV("exception", job.faults.restart_loop_exception.class_name + ": " +
                            job.faults.restart_loop_exception.message);
      j.EndObject();
    } else {
      j.Null();
    }
    j.KV("exceptions", static_cast<int64_t>(job.exceptions.size()));
    j.EndObject();
  }
  j.EndArray().EndObject();
  return j.str();
}

std::string Simulator::RequestsJsonLocked() {
  JsonOut j;
  j.BeginObject().Key("requests").BeginArray();
  for (const auto& r : log_.entries()) {
    j.BeginObject();
    j.KV("seq", r.seq).KV("sim_time", r.sim_time).KV("method", r.method).KV("path", r.path);
    j.KV("query", r.query).KV("body", r.body).KV("user_agent", r.user_agent);
    j.KV("instance", r.instance).KV("status", r.status);
    j.EndObject();
  }
  j.EndArray().EndObject();
  return j.str();
}

std::string Simulator::StateJsonLocked() {
  JsonOut j;
  j.BeginObject();
  j.KV("now", cluster_.now()).KV("start", start_ms_);
  j.Key("time_scale").Double(clock_.scale());
  j.KV("flink_version", cluster_.version_string()).KV("data_dir", cluster_.options().data_dir);
  j.KV("rest", rest_endpoint_)
      .KV("prometheus", prometheus_endpoint_)
      .KV("control", control_endpoint_);
  j.Key("faults");
  faults_.Describe(j, cluster_.now());
  j.KV("scenario_steps", static_cast<int64_t>(scenario_.size()));
  j.KV("scenario_steps_done", static_cast<int64_t>(next_step_));
  j.Key("scenario_errors").BeginArray();
  for (const auto& e : scenario_errors_) j.Str(e);
  j.EndArray();
  j.EndObject();
  return j.str();
}

}  // namespace flinksim
