#include "agent/executor.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <sstream>
#include <utility>

#include "agent/flink/flink_parse.h"
#include "agent/flink/json_reader.h"
#include "rules/job_status.h"

namespace flinkguard {
namespace {

// The phases of a recovery, in the order they usually run. The names are journaled.
enum class Phase {
  kStop,              // POST /jobs/:id/stop (stop-with-savepoint)
  kPollStop,          // GET /jobs/:id/savepoints/:trigger
  kCancel,            // PATCH /jobs/:id?mode=cancel
  kWaitTerminal,      // GET /jobs/:id until FAILED/CANCELED/FINISHED
  kLastCheckpoint,    // GET /jobs/:id/checkpoints of the stopped instance (a newer checkpoint?)
  kCheckDuplicates,   // GET /jobs/overview on every cluster
  kCheckJar,          // GET /jars on the target (only with a jar id uploaded earlier)
  kUpload,            // POST /jars/upload
  kCheckSubmitted,    // GET /jobs/:new-id (was it submitted before a restart?)
  kSubmit,            // POST /jars/:jar/run
  kVerify,            // GET /jobs/:new-id until all tasks RUNNING
  kVerifyCheckpoint,  // GET /jobs/:new-id/checkpoints until one completed
};

constexpr Phase kAllPhases[] = {
    Phase::kStop,           Phase::kPollStop,        Phase::kCancel,   Phase::kWaitTerminal,
    Phase::kLastCheckpoint, Phase::kCheckDuplicates, Phase::kCheckJar, Phase::kUpload,
    Phase::kCheckSubmitted, Phase::kSubmit,          Phase::kVerify,   Phase::kVerifyCheckpoint};

const char* PhaseName(Phase p) {
  switch (p) {
    case Phase::kStop: return "stop-with-savepoint";
    case Phase::kPollStop: return "wait-savepoint";
    case Phase::kCancel: return "cancel";
    case Phase::kWaitTerminal: return "wait-terminal";
    case Phase::kLastCheckpoint: return "last-checkpoint";
    case Phase::kCheckDuplicates: return "check-duplicates";
    case Phase::kCheckJar: return "check-jar";
    case Phase::kUpload: return "upload-jar";
    case Phase::kCheckSubmitted: return "check-submitted";
    case Phase::kSubmit: return "submit";
    case Phase::kVerify: return "verify";
    case Phase::kVerifyCheckpoint: return "verify-checkpoint";
  }
  return "?";
}

std::optional<Phase> ParsePhase(std::string_view s) {
  for (Phase p : kAllPhases) {
    if (s == PhaseName(p)) return p;
  }
  return std::nullopt;
}

std::optional<Strategy> ParseStrategy(std::string_view s) {
  for (Strategy v : {Strategy::kCheckpoint, Strategy::kSavepoint, Strategy::kFresh}) {
    if (s == StrategyName(v)) return v;
  }
  return std::nullopt;
}

std::uint64_t Fnv1a(std::string_view s, std::uint64_t seed) {
  std::uint64_t h = seed;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  return h;
}

std::string Hex64(std::uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string Basename(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

bool Contains(std::string_view hay, std::string_view needle) {
  return hay.find(needle) != std::string_view::npos;
}

std::string FormatSeconds(std::int64_t ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1fs", static_cast<double>(ms) / 1000.0);
  return buf;
}

}  // namespace

// One recovery in flight: the journal record and the resumable progress.
struct Executor::Run {
  RecoveryRecord record;
  // --- progress (journaled) ---
  Phase phase = Phase::kCheckDuplicates;
  int step_seq = -1;
  std::int64_t step_started_ms = 0;
  std::int64_t phase_deadline_ms = 0;
  std::string stop_job_id;   // the live instance to stop; "" = none
  std::string stop_cluster;  // where it runs
  Strategy strategy = Strategy::kCheckpoint;
  std::string restore_path;
  bool allow_non_restored_state = false;
  bool has_fallback = false;  // if stop-with-savepoint fails: cancel and restore from these
  Strategy fallback_strategy = Strategy::kCheckpoint;
  std::string fallback_path;
  std::string jar;  // local path of the jar to submit (the catalog's, or an update's new one)
  std::string jar_id;
  std::string new_job_id;
  bool submitted = false;
  std::int64_t submitted_ms = 0;
  int uploads = 0;
  std::vector<std::string> presumed_down;  // failover: silent clusters the duplicate check allows
  bool stop_only = false;                  // a stale copy: stop it and end there
  // --- in memory only ---
  std::int64_t next_at_ms = 0;
  int retries = 0;
  int polls = 0;                 // polls in the current phase
  bool journal_blocked = false;  // the last journal write failed: nothing is sent until it works
  std::string detail;            // what happened in the current step, for its record
  std::vector<std::pair<std::string, Result<HttpResponse>>> replies;  // (cluster, reply)
};

Executor::Executor(HttpTransport& transport, std::vector<FlinkEndpoint> clusters,
                   std::map<std::string, JobSubmission> jobs, RecoveryJournal& journal,
                   RestorePointCatalog& catalog, EventLog& events, ActionFence& fence,
                   ExecutorOptions options)
    : transport_(transport),
      jobs_(std::move(jobs)),
      journal_(journal),
      catalog_(catalog),
      events_(events),
      fence_(fence),
      options_(options) {
  for (FlinkEndpoint& e : clusters) {
    std::string name = e.cluster;
    never_seen_.insert(name);
    clusters_.emplace(std::move(name), FlinkRestClient(std::move(e)));
  }
}

Executor::~Executor() = default;

std::string Executor::DerivedJobId(const std::string& recovery_id) {
  return Hex64(Fnv1a(recovery_id, 14695981039346656037ULL)) +
         Hex64(Fnv1a(recovery_id, 0x9e3779b97f4a7c15ULL));
}

namespace {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

void KeyString(JsonWriter& w, const char* key, const std::string& value) {
  w.Key(key);
  w.String(value.c_str(), static_cast<rapidjson::SizeType>(value.size()));
}

std::string ProgressJson(const Executor::Run& r) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  auto str = [&w](const char* k, const std::string& v) { KeyString(w, k, v); };
  w.StartObject();
  str("phase", PhaseName(r.phase));
  w.Key("step_seq");
  w.Int(r.step_seq);
  w.Key("step_started_ms");
  w.Int64(r.step_started_ms);
  w.Key("phase_deadline_ms");
  w.Int64(r.phase_deadline_ms);
  str("stop_job_id", r.stop_job_id);
  str("stop_cluster", r.stop_cluster);
  str("strategy", StrategyName(r.strategy));
  str("restore_path", r.restore_path);
  w.Key("allow_non_restored_state");
  w.Bool(r.allow_non_restored_state);
  w.Key("has_fallback");
  w.Bool(r.has_fallback);
  str("fallback_strategy", StrategyName(r.fallback_strategy));
  str("fallback_path", r.fallback_path);
  str("jar", r.jar);
  str("jar_id", r.jar_id);
  str("new_job_id", r.new_job_id);
  w.Key("submitted");
  w.Bool(r.submitted);
  w.Key("submitted_ms");
  w.Int64(r.submitted_ms);
  w.Key("uploads");
  w.Int(r.uploads);
  if (!r.presumed_down.empty()) {
    w.Key("presumed_down");
    w.StartArray();
    for (const std::string& c : r.presumed_down) w.String(c.c_str());
    w.EndArray();
  }
  if (r.stop_only) {
    w.Key("stop_only");
    w.Bool(true);
  }
  w.EndObject();
  return buf.GetString();
}

Result<void> LoadProgress(const std::string& text, const std::string& context, Executor::Run& r) {
  auto doc = ParseJsonBody(text, context);
  if (!doc) return Fail(doc.error());
  JsonReader j(context);
  auto phase = j.String(*doc, "phase", "$", true);
  auto seq = j.Int(*doc, "step_seq", "$", true);
  auto started = j.Int(*doc, "step_started_ms", "$", true);
  auto deadline = j.Int(*doc, "phase_deadline_ms", "$", true);
  auto stop_id = j.String(*doc, "stop_job_id", "$", true);
  auto stop_cluster = j.String(*doc, "stop_cluster", "$", true);
  auto strategy = j.String(*doc, "strategy", "$", true);
  auto path = j.String(*doc, "restore_path", "$", true);
  auto anrs = j.Bool(*doc, "allow_non_restored_state", "$", true);
  auto has_fb = j.Bool(*doc, "has_fallback", "$", true);
  auto fb_strategy = j.String(*doc, "fallback_strategy", "$", true);
  auto fb_path = j.String(*doc, "fallback_path", "$", true);
  auto jar_path = j.String(*doc, "jar", "$", true);
  auto jar = j.String(*doc, "jar_id", "$", true);
  auto new_id = j.String(*doc, "new_job_id", "$", true);
  auto submitted = j.Bool(*doc, "submitted", "$", true);
  auto submitted_ms = j.Int(*doc, "submitted_ms", "$", true);
  auto uploads = j.Int(*doc, "uploads", "$", true);
  auto stop_only = j.Bool(*doc, "stop_only", "$");
  std::vector<std::string> presumed_down;
  if (const rapidjson::Value* down = j.Array(*doc, "presumed_down", "$")) {
    for (const auto& c : down->GetArray()) {
      if (c.IsString()) presumed_down.emplace_back(c.GetString(), c.GetStringLength());
    }
  }
  if (!j.ok()) return Fail(j.ToError());
  auto p = ParsePhase(*phase);
  auto s = ParseStrategy(*strategy);
  auto fs = ParseStrategy(*fb_strategy);
  if (!p || !s || !fs) {
    return Fail(Error::Invalid(context + ": unknown phase or strategy in the saved progress"));
  }
  r.phase = *p;
  r.step_seq = static_cast<int>(*seq);
  r.step_started_ms = *started;
  r.phase_deadline_ms = *deadline;
  r.stop_job_id = *stop_id;
  r.stop_cluster = *stop_cluster;
  r.strategy = *s;
  r.restore_path = *path;
  r.allow_non_restored_state = *anrs;
  r.has_fallback = *has_fb;
  r.fallback_strategy = *fs;
  r.fallback_path = *fb_path;
  r.jar = *jar_path;
  r.jar_id = *jar;
  r.new_job_id = *new_id;
  r.submitted = *submitted;
  r.submitted_ms = *submitted_ms;
  r.uploads = static_cast<int>(*uploads);
  r.stop_only = stop_only.value_or(false);
  r.presumed_down = std::move(presumed_down);
  return {};
}

std::string PlanJson(const RecoveryPlan& plan) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  auto str = [&w](const char* k, const std::string& v) { KeyString(w, k, v); };
  w.StartObject();
  str("job", plan.job);
  str("cluster", plan.cluster);
  str("stop_job_id", plan.stop_job_id);
  str("strategy", StrategyName(plan.strategy));
  if (plan.restore_point) {
    str("restore_path", plan.restore_point->path);
    w.Key("restore_id");
    w.Int64(plan.restore_point->id);
    str("restore_kind",
        plan.restore_point->kind == RestorePoint::Kind::kSavepoint ? "savepoint" : "checkpoint");
    w.Key("restore_trigger_ms");
    w.Int64(plan.restore_point->trigger_ms);
  }
  w.Key("steps");
  w.StartArray();
  for (StepKind k : plan.steps) w.String(StepKindName(k));
  w.EndArray();
  w.Key("allow_non_restored_state");
  w.Bool(plan.allow_non_restored_state);
  w.Key("restore_from_stop_savepoint");
  w.Bool(plan.restore_from_stop_savepoint);
  str("reason", plan.reason);
  w.EndObject();
  return buf.GetString();
}

std::string JoinRules(const std::vector<std::string>& rules) {
  std::string out;
  for (const std::string& r : rules) out += (out.empty() ? "" : ",") + r;
  return out;
}

// A multipart/form-data body with one file field "jarfile", as Flink's JarUploadHandler wants.
std::string MultipartBody(const std::string& boundary, const std::string& file_name,
                          const std::string& content) {
  std::string body;
  body.reserve(content.size() + 256);
  body += "--" + boundary + "\r\n";
  body += "Content-Disposition: form-data; name=\"jarfile\"; filename=\"" + file_name + "\"\r\n";
  body += "Content-Type: application/x-java-archive\r\n\r\n";
  body += content;
  body += "\r\n--" + boundary + "--\r\n";
  return body;
}

// `version`: the target cluster's Flink version as observed ("" = unknown).
std::string RunBody(const JobSubmission& s, const Executor::Run& r, const std::string& version) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  auto str = [&w](const char* k, const std::string& v) { KeyString(w, k, v); };
  w.StartObject();
  if (!s.entry_class.empty()) str("entryClass", s.entry_class);
  if (!s.args.empty()) {
    w.Key("programArgsList");
    w.StartArray();
    for (const std::string& a : s.args)
      w.String(a.c_str(), static_cast<rapidjson::SizeType>(a.size()));
    w.EndArray();
  }
  if (s.parallelism) {
    w.Key("parallelism");
    w.Int(*s.parallelism);
  }
  str("jobId", r.new_job_id);
  if (r.strategy != Strategy::kFresh && !r.restore_path.empty()) {
    str("savepointPath", r.restore_path);
    w.Key("allowNonRestoredState");
    w.Bool(r.allow_non_restored_state);
    // NO_CLAIM, always: the restored snapshot stays the user's. Under CLAIM (a cluster default
    // some set) Flink would own it and delete it once subsumed, and the restore-point catalog
    // would point at files that are gone. claimMode from 1.20 (restoreMode is deprecated
    // there), restoreMode from 1.15; older versions know neither (and reject unknown fields).
    if (auto v = ParseFlinkVersion(version)) {
      if (v->AtLeast(1, 20)) {
        str("claimMode", "NO_CLAIM");
      } else if (v->AtLeast(1, 15)) {
        str("restoreMode", "NO_CLAIM");
      }
    }
  }
  w.EndObject();
  return buf.GetString();
}

std::string StopBody(const JobSubmission& s, const std::string& trigger_id) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("drain");
  w.Bool(false);
  if (!s.savepoint_dir.empty()) {
    w.Key("targetDirectory");
    w.String(s.savepoint_dir.c_str());
  }
  w.Key("triggerId");
  w.String(trigger_id.c_str());
  w.EndObject();
  return buf.GetString();
}

// Flink's trigger ids are 32 hex digits; derived so a repeated stop is the same operation.
std::string DerivedTriggerId(const std::string& recovery_id) {
  return Hex64(Fnv1a(recovery_id + "/stop", 14695981039346656037ULL)) +
         Hex64(Fnv1a(recovery_id + "/stop", 0x9e3779b97f4a7c15ULL));
}

void SetHeader(HttpRequest& req, const std::string& name, const std::string& value) {
  for (auto& [k, v] : req.headers) {
    if (k == name) {
      v = value;
      return;
    }
  }
  req.headers.emplace_back(name, value);
}

bool AllVerticesRunning(const JobDetails& d) {
  if (d.vertices.empty()) return false;
  for (const VertexInfo& v : d.vertices) {
    int total = 0;
    int ok = 0;
    for (const auto& [state, n] : v.tasks) {
      total += n;
      if (state == "RUNNING" || state == "FINISHED") ok += n;
    }
    if (total == 0) {
      if (v.status != "RUNNING") return false;
    } else if (ok != total) {
      return false;
    }
  }
  return true;
}

}  // namespace

Result<int> Executor::Resume(std::int64_t now_ms) {
  auto open = journal_.UnfinishedRecoveries();
  if (!open) return Fail(open.error());
  int resumed = 0;
  for (RecoveryRecord& rec : *open) {
    if (rec.dry_run) {
      (void)journal_.EndRecovery(rec.id, RecoveryAttempt::Outcome::kSucceeded, now_ms, "");
      continue;
    }
    auto run = std::make_unique<Run>();
    run->record = rec;
    if (auto ok = LoadProgress(rec.progress, "recovery " + rec.id + " progress", *run); !ok) {
      // Unreadable progress: we cannot know what was done; close it failed and say so. The
      // planner's duplicate check still guards the next recovery.
      const std::string why = "cannot resume: " + ok.error().message;
      spdlog::error("recovery {} of {}: {}", rec.id, rec.job, why);
      (void)journal_.EndRecovery(rec.id, RecoveryAttempt::Outcome::kFailed, now_ms, why);
      continue;
    }
    if (!clusters_.count(rec.cluster) || !jobs_.count(rec.job)) {
      const std::string why = "cannot resume: job or cluster no longer configured";
      (void)journal_.EndRecovery(rec.id, RecoveryAttempt::Outcome::kFailed, now_ms, why);
      continue;
    }
    // A destructive request may or may not have been sent before the restart: the phases are
    // idempotent (see the header), and a submit restarts at the "was it submitted" check.
    if (run->phase == Phase::kSubmit) run->phase = Phase::kCheckSubmitted;
    // Give the resumed phase a fresh deadline: the time the agent was down is not Flink's fault.
    run->phase_deadline_ms = now_ms + options_.phase_timeout_ms;
    if (run->submitted &&
        (run->phase == Phase::kVerify || run->phase == Phase::kVerifyCheckpoint)) {
      run->submitted_ms = std::max(run->submitted_ms, now_ms - 1);
    }
    run->next_at_ms = now_ms;
    run->detail = "resumed after a restart of the agent";
    spdlog::warn("recovery {} of {}: resuming at {} after a restart", rec.id, rec.job,
                 PhaseName(run->phase));
    runs_.push_back(std::move(run));
    ++resumed;
  }
  return resumed;
}

Result<std::string> Executor::Start(const RecoveryPlan& plan, const std::string& trigger,
                                    std::int64_t now_ms, const std::string& jar) {
  if (!jobs_.count(plan.job)) {
    return Fail(Error::Invalid("job " + plan.job + " is not in the catalog"));
  }
  if (!clusters_.count(plan.cluster)) {
    return Fail(Error::Invalid("cluster " + plan.cluster + " is not configured"));
  }
  for (const auto& r : runs_) {
    if (r->record.job == plan.job) {
      return Fail(Error::Conflict("a recovery of " + plan.job + " is already under way (" +
                                  r->record.id + ")"));
    }
  }
  auto run = std::make_unique<Run>();
  RecoveryRecord& rec = run->record;
  rec.id = "r" + std::to_string(now_ms) + "-" +
           Hex64(Fnv1a(plan.job, 14695981039346656037ULL)).substr(0, 8) + "-" +
           std::to_string(++sequence_);
  rec.job = plan.job;
  rec.cluster = plan.cluster;
  rec.trigger = trigger;
  rec.started_ms = now_ms;
  rec.strategy = plan.strategy;
  rec.restore_path = plan.restore_point ? plan.restore_point->path : "";
  rec.cooldown_ms = plan.cooldown_after_ms;
  rec.dry_run = plan.dry_run;
  rec.reason = plan.reason;
  rec.rules = JoinRules(plan.rules);
  rec.severity = plan.severity;
  rec.plan = PlanJson(plan);

  Run& r = *run;
  r.stop_job_id = plan.stop_job_id;
  r.strategy = plan.strategy;
  r.restore_path = rec.restore_path;
  r.allow_non_restored_state = plan.allow_non_restored_state;
  r.presumed_down = plan.presumed_down;
  r.stop_only = plan.stop_only;
  if (plan.if_stop_fails) {
    r.has_fallback = true;
    r.fallback_strategy = plan.if_stop_fails->strategy;
    r.fallback_path = plan.if_stop_fails->point ? plan.if_stop_fails->point->path : "";
  }
  r.new_job_id = DerivedJobId(rec.id);
  r.jar = jar.empty() ? jobs_.at(plan.job).jar : jar;
  // The instance to stop lives on the cluster the plan names unless the plan moves the job;
  // the planner's stop instance is the live one it saw, which is on plan.cluster or elsewhere.
  r.stop_cluster = plan.cluster;
  const StepKind first = plan.steps.empty() ? StepKind::kSubmit : plan.steps.front();
  if (r.stop_job_id.empty()) {
    r.phase = Phase::kCheckDuplicates;
  } else if (first == StepKind::kStopWithSavepoint) {
    r.phase = Phase::kStop;
  } else if (first == StepKind::kCancel) {
    r.phase = Phase::kCancel;
  } else {
    r.phase = Phase::kWaitTerminal;
  }
  if (auto it = stop_hosts_.find(r.stop_job_id); it != stop_hosts_.end())
    r.stop_cluster = it->second;
  r.step_seq = 0;
  r.step_started_ms = now_ms;
  r.phase_deadline_ms = now_ms + options_.phase_timeout_ms;
  rec.progress = ProgressJson(r);

  if (auto ok = journal_.BeginRecovery(rec); !ok) {
    return Fail(Error{ok.error().kind, "cannot journal the recovery of " + plan.job +
                                           ", so it is not started: " + ok.error().message});
  }
  if (!plan.escalates_attempt_id.empty()) {
    if (auto ok = journal_.MarkDidNotStick(plan.escalates_attempt_id); !ok) {
      spdlog::warn("recovery {}: cannot mark {} as did-not-stick: {}", rec.id,
                   plan.escalates_attempt_id, ok.error().message);
    }
  }
  if (plan.dry_run) {
    const std::string why = "dry run: would have " + plan.reason;
    (void)journal_.RecordStep(StepRecord{rec.id, 0, "dry-run", now_ms, now_ms, "skipped", why, {}});
    (void)journal_.EndRecovery(rec.id, RecoveryAttempt::Outcome::kSucceeded, now_ms, "");
    rec.ended_ms = now_ms;
    ended_.push_back(EndedRecovery{rec, ""});
    return rec.id;
  }
  (void)journal_.RecordStep(
      StepRecord{rec.id, 0, PhaseName(r.phase), now_ms, std::nullopt, "started", "", std::nullopt});
  r.next_at_ms = now_ms;
  spdlog::info("recovery {} of {} on {}: {}", rec.id, rec.job, rec.cluster, rec.reason);
  const std::string id = rec.id;
  runs_.push_back(std::move(run));
  return id;
}

void Executor::UpdateView(const Observation& observation) {
  unreachable_live_.clear();
  for (const ClusterSnapshot& c : observation.clusters) {
    if (c.reachable || c.last_ok_ms > 0) never_seen_.erase(c.name);
    if (!c.reachable) unreachable_live_[c.name];
    if (c.flink_version.value) versions_[c.name] = *c.flink_version.value;
  }
  stop_hosts_.clear();
  for (const JobSnapshot& s : observation.jobs) {
    stop_hosts_[s.job_id] = s.cluster;
    auto it = unreachable_live_.find(s.cluster);
    if (it == unreachable_live_.end()) continue;
    const bool terminal = s.status.known() && IsGloballyTerminal(*s.status.value);
    if (!terminal) it->second.insert(s.name);
  }
}

std::vector<std::string> Executor::InProgress() const {
  std::vector<std::string> out;
  for (const auto& r : runs_) out.push_back(r->record.job);
  return out;
}

bool Executor::Idle() const { return runs_.empty(); }

std::optional<std::int64_t> Executor::NextDue() const {
  std::optional<std::int64_t> due;
  for (const auto& r : runs_) {
    if (!due || r->next_at_ms < *due) due = r->next_at_ms;
  }
  return due;
}

std::vector<EndedRecovery> Executor::TakeEnded() {
  std::vector<EndedRecovery> out;
  out.swap(ended_);
  return out;
}

// Builds the requests of one run's current phase and handles their replies.
class Executor::Stepper {
 public:
  Stepper(Executor& ex, Run& run, std::int64_t now) : ex_(ex), r_(run), now_(now) {}

  // The requests to send now, as (cluster, request). Empty when the phase needs none (it then
  // moved on by itself) or the run ended.
  std::vector<std::pair<std::string, HttpRequest>> Build();
  void Handle();

 private:
  const JobSubmission& Job() const { return ex_.jobs_.at(r_.record.job); }
  const FlinkRestClient& Client(const std::string& cluster) const {
    return ex_.clusters_.at(cluster);
  }
  const FlinkRestClient& Target() const { return Client(r_.record.cluster); }
  const FlinkRestClient& StopHost() const {
    auto it = ex_.clusters_.find(r_.stop_cluster);
    return it == ex_.clusters_.end() ? Target() : it->second;
  }

  // Ends the current step with `status` and enters `next` (journaled before anything is sent).
  void Enter(Phase next, const std::string& status = "done");
  // Polls again later in the same phase: every 250 ms for the first 2 s (most waits are short:
  // a cancel takes a few hundred ms, tasks start in about a second), then every
  // poll_interval_ms.
  void PollLater() {
    const std::int64_t soon = r_.polls < 8 ? 250 : ex_.options_.poll_interval_ms;
    r_.next_at_ms = now_ + std::min(soon, ex_.options_.poll_interval_ms);
    ++r_.polls;
  }
  // A transient failure: retry with backoff until the phase deadline, then fail.
  void RetryOrFail(const std::string& what);
  void Fail(const std::string& error) {
    ex_.Finish(r_, RecoveryAttempt::Outcome::kFailed, error, now_);
  }
  void Succeed() { ex_.Finish(r_, RecoveryAttempt::Outcome::kSucceeded, "", now_); }
  bool FenceOk(const std::string& action);

  void HandleStop(const Result<HttpResponse>& reply);
  void HandlePollStop(const Result<HttpResponse>& reply);
  void HandleCancel(const Result<HttpResponse>& reply);
  void HandleWaitTerminal(const Result<HttpResponse>& reply);
  void HandleLastCheckpoint(const Result<HttpResponse>& reply);
  void HandleDuplicates();
  void HandleCheckJar(const Result<HttpResponse>& reply);
  void HandleUpload(const Result<HttpResponse>& reply);
  void HandleCheckSubmitted(const Result<HttpResponse>& reply);
  void HandleSubmit(const Result<HttpResponse>& reply);
  void HandleVerify(const Result<HttpResponse>& reply);
  void HandleVerifyCheckpoint(const Result<HttpResponse>& reply);
  void StopFailed(const std::string& why);

  Executor& ex_;
  Run& r_;
  std::int64_t now_;
};

void Executor::Stepper::Enter(Phase next, const std::string& status) {
  const StepRecord done{r_.record.id, r_.step_seq, PhaseName(r_.phase), r_.step_started_ms,
                        now_,         status,      r_.detail,           r_.record.fencing_token};
  const Phase prev = r_.phase;
  const int prev_seq = r_.step_seq;
  const std::int64_t prev_started = r_.step_started_ms;
  const std::int64_t prev_deadline = r_.phase_deadline_ms;
  r_.phase = next;
  r_.step_seq = prev_seq + 1;
  r_.step_started_ms = now_;
  r_.phase_deadline_ms = now_ + ex_.options_.phase_timeout_ms;
  r_.retries = 0;
  r_.polls = 0;
  const StepRecord started{r_.record.id, r_.step_seq, PhaseName(next), now_, std::nullopt,
                           "started",    "",          std::nullopt};
  Result<void> ok = ex_.journal_.RecordStep(done);
  if (ok) ok = ex_.journal_.SaveProgress(r_.record.id, ProgressJson(r_), r_.record.fencing_token);
  if (ok) ok = ex_.journal_.RecordStep(started);
  if (!ok) {
    // Without the journal the next step is not taken: stay where we are and try again.
    r_.phase = prev;
    r_.step_seq = prev_seq;
    r_.step_started_ms = prev_started;
    r_.phase_deadline_ms = prev_deadline;
    r_.journal_blocked = true;
    r_.next_at_ms = now_ + ex_.options_.poll_interval_ms;
    spdlog::error("recovery {} of {}: cannot write the journal, not taking the next step ({}): {}",
                  r_.record.id, r_.record.job, PhaseName(next), ok.error().message);
    return;
  }
  r_.journal_blocked = false;
  r_.detail.clear();
  r_.next_at_ms = now_;
}

void Executor::Stepper::RetryOrFail(const std::string& what) {
  r_.detail = what;
  if (now_ >= r_.phase_deadline_ms) {
    Fail(std::string(PhaseName(r_.phase)) + ": " + what + " (gave up after " +
         FormatSeconds(now_ - r_.step_started_ms) + ")");
    return;
  }
  const int shift = std::min(r_.retries, 3);
  r_.next_at_ms = now_ + (ex_.options_.retry_base_ms << shift);
  ++r_.retries;
}

bool Executor::Stepper::FenceOk(const std::string& action) {
  RecoveryRecord now = r_.record;
  now.progress = ProgressJson(r_);
  auto token = ex_.fence_.CheckStep(now, action);
  if (!token && token.error().kind == ErrorKind::kTransient) {
    // Not now (a lock held elsewhere, a suspended coordination session): the step waits.
    RetryOrFail("fencing check before " + action + ": " + token.error().message);
    return false;
  }
  if (!token) {
    Fail("fencing check before " + action +
         " failed, the step was not taken: " + token.error().message);
    return false;
  }
  if (*token && r_.record.fencing_token != *token) {
    r_.record.fencing_token = *token;
    if (auto ok = ex_.journal_.SaveProgress(r_.record.id, ProgressJson(r_), *token); !ok) {
      r_.journal_blocked = true;
      r_.next_at_ms = now_ + ex_.options_.poll_interval_ms;
      return false;
    }
  }
  return true;
}

std::vector<std::pair<std::string, HttpRequest>> Executor::Stepper::Build() {
  std::vector<std::pair<std::string, HttpRequest>> out;
  if (r_.journal_blocked) {
    // Retry the journal write of the last transition by saving the progress again.
    if (auto ok =
            ex_.journal_.SaveProgress(r_.record.id, ProgressJson(r_), r_.record.fencing_token);
        !ok) {
      r_.next_at_ms = now_ + ex_.options_.poll_interval_ms;
      return out;
    }
    r_.journal_blocked = false;
  }
  const std::string& stop = r_.stop_job_id;
  switch (r_.phase) {
    case Phase::kStop:
      if (!FenceOk("stop")) return out;
      out.emplace_back(r_.stop_cluster,
                       StopHost().Request("POST", "/jobs/" + stop + "/stop",
                                          StopBody(Job(), DerivedTriggerId(r_.record.id))));
      break;
    case Phase::kPollStop:
      out.emplace_back(r_.stop_cluster,
                       StopHost().Request("GET", "/jobs/" + stop + "/savepoints/" +
                                                     DerivedTriggerId(r_.record.id)));
      break;
    case Phase::kCancel:
      if (!FenceOk("cancel")) return out;
      out.emplace_back(r_.stop_cluster,
                       StopHost().Request("PATCH", "/jobs/" + stop + "?mode=cancel"));
      break;
    case Phase::kWaitTerminal:
      out.emplace_back(r_.stop_cluster, StopHost().Request("GET", "/jobs/" + stop));
      break;
    case Phase::kLastCheckpoint:
      out.emplace_back(r_.stop_cluster,
                       StopHost().Request("GET", "/jobs/" + stop + "/checkpoints"));
      break;
    case Phase::kCheckDuplicates:
      for (const auto& [name, client] : ex_.clusters_) {
        out.emplace_back(name, client.Request("GET", "/jobs/overview"));
      }
      break;
    case Phase::kCheckJar: {
      auto it = ex_.jar_ids_.find({r_.record.cluster, r_.jar});
      if (it == ex_.jar_ids_.end()) {
        Enter(Phase::kUpload, "skipped");
        return out;
      }
      r_.jar_id = it->second;
      out.emplace_back(r_.record.cluster, Target().Request("GET", "/jars"));
      break;
    }
    case Phase::kUpload: {
      std::ifstream in(r_.jar, std::ios::binary);
      std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (!in.good() && !in.eof()) {
        Fail("cannot read the jar " + r_.jar);
        return out;
      }
      if (content.empty()) {
        Fail("the jar " + r_.jar + " is missing or empty");
        return out;
      }
      if (!FenceOk("upload")) return out;
      const std::string boundary = "flinkguard" + r_.new_job_id;
      HttpRequest req = Target().Request("POST", "/jars/upload",
                                         MultipartBody(boundary, Basename(r_.jar), content));
      SetHeader(req, "Content-Type", "multipart/form-data; boundary=" + boundary);
      out.emplace_back(r_.record.cluster, std::move(req));
      break;
    }
    case Phase::kCheckSubmitted:
      out.emplace_back(r_.record.cluster, Target().Request("GET", "/jobs/" + r_.new_job_id));
      break;
    case Phase::kSubmit: {
      if (!FenceOk("submit")) return out;
      auto version = ex_.versions_.find(r_.record.cluster);
      HttpRequest req = Target().Request(
          "POST", "/jars/" + r_.jar_id + "/run",
          RunBody(Job(), r_, version == ex_.versions_.end() ? "" : version->second));
      out.emplace_back(r_.record.cluster, std::move(req));
      break;
    }
    case Phase::kVerify:
      out.emplace_back(r_.record.cluster, Target().Request("GET", "/jobs/" + r_.new_job_id));
      break;
    case Phase::kVerifyCheckpoint:
      out.emplace_back(r_.record.cluster,
                       Target().Request("GET", "/jobs/" + r_.new_job_id + "/checkpoints"));
      break;
  }
  return out;
}

void Executor::Stepper::Handle() {
  if (r_.replies.empty()) return;
  if (r_.phase == Phase::kCheckDuplicates) {
    HandleDuplicates();
    return;
  }
  const Result<HttpResponse>& reply = r_.replies.front().second;
  switch (r_.phase) {
    case Phase::kStop: HandleStop(reply); break;
    case Phase::kPollStop: HandlePollStop(reply); break;
    case Phase::kCancel: HandleCancel(reply); break;
    case Phase::kWaitTerminal: HandleWaitTerminal(reply); break;
    case Phase::kLastCheckpoint: HandleLastCheckpoint(reply); break;
    case Phase::kCheckDuplicates: break;
    case Phase::kCheckJar: HandleCheckJar(reply); break;
    case Phase::kUpload: HandleUpload(reply); break;
    case Phase::kCheckSubmitted: HandleCheckSubmitted(reply); break;
    case Phase::kSubmit: HandleSubmit(reply); break;
    case Phase::kVerify: HandleVerify(reply); break;
    case Phase::kVerifyCheckpoint: HandleVerifyCheckpoint(reply); break;
  }
}

namespace {

// "503", "connection refused ..." — what went wrong with a reply, for step details.
std::string ReplyText(const FlinkRestClient& client, const std::string& method,
                      const std::string& path, const Result<HttpResponse>& reply) {
  if (!reply) return reply.error().message;
  if (reply->status >= 200 && reply->status < 300) {
    return client.Context(method, path) + ": " + std::to_string(reply->status);
  }
  return FlinkRestClient::StatusError(client.Context(method, path), *reply).message;
}

bool Transient(const Result<HttpResponse>& reply) {
  if (!reply) return reply.error().kind == ErrorKind::kTransient;
  return reply->status >= 500 || reply->status == 408 || reply->status == 429;
}

bool Ok(const Result<HttpResponse>& reply) {
  return reply && reply->status >= 200 && reply->status < 300;
}

}  // namespace

void Executor::Stepper::StopFailed(const std::string& why) {
  if (r_.has_fallback) {
    r_.detail =
        why + "; cancelling instead and restoring from " +
        (r_.fallback_strategy == Strategy::kFresh ? std::string("fresh state") : r_.fallback_path);
    r_.strategy = r_.fallback_strategy;
    r_.restore_path = r_.fallback_path;
    r_.record.strategy = r_.strategy;
    r_.record.restore_path = r_.restore_path;
    (void)ex_.journal_.SetRestore(r_.record.id, r_.strategy, r_.restore_path);
    Enter(Phase::kCancel, "failed");
    return;
  }
  Fail(why + "; nothing else to restore from, so the job is left running");
}

void Executor::Stepper::HandleStop(const Result<HttpResponse>& reply) {
  const std::string path = "/jobs/" + r_.stop_job_id + "/stop";
  if (Ok(reply)) {
    r_.detail = "POST " + path + ": " + std::to_string(reply->status) + ", trigger " +
                DerivedTriggerId(r_.record.id);
    Enter(Phase::kPollStop);
    return;
  }
  if (Transient(reply)) {
    RetryOrFail(ReplyText(StopHost(), "POST", path, reply));
    return;
  }
  if (reply && reply->status == 404) {
    // The instance is gone already: there is no savepoint to take.
    StopFailed("the instance to stop no longer exists (404)");
    return;
  }
  StopFailed("stop-with-savepoint refused: " + ReplyText(StopHost(), "POST", path, reply));
}

void Executor::Stepper::HandlePollStop(const Result<HttpResponse>& reply) {
  const std::string path =
      "/jobs/" + r_.stop_job_id + "/savepoints/" + DerivedTriggerId(r_.record.id);
  if (Transient(reply)) {
    RetryOrFail(ReplyText(StopHost(), "GET", path, reply));
    return;
  }
  if (!Ok(reply)) {
    StopFailed("savepoint status unknown: " + ReplyText(StopHost(), "GET", path, reply));
    return;
  }
  auto status = ParseSavepointStatus(reply->body, StopHost().Context("GET", path));
  if (!status) {
    StopFailed(status.error().message);
    return;
  }
  if (status->in_progress) {
    if (now_ >= r_.phase_deadline_ms) {
      StopFailed("the savepoint did not complete within " +
                 FormatSeconds(ex_.options_.phase_timeout_ms));
      return;
    }
    PollLater();
    return;
  }
  if (status->failure_class || !status->location) {
    // Flink reports a failed savepoint as COMPLETED with a failure cause.
    StopFailed("the savepoint failed: " + status->failure_class.value_or("no location returned"));
    return;
  }
  r_.strategy = Strategy::kSavepoint;
  r_.restore_path = *status->location;
  r_.record.strategy = r_.strategy;
  r_.record.restore_path = r_.restore_path;
  (void)ex_.journal_.SetRestore(r_.record.id, r_.strategy, r_.restore_path);
  SavepointRecord sp;
  sp.job = r_.record.job;
  sp.cluster = r_.stop_cluster;
  sp.job_id = r_.stop_job_id;
  sp.trigger_id = DerivedTriggerId(r_.record.id);
  sp.origin = "stop";
  sp.requested_ms = r_.step_started_ms;
  sp.completed_ms = now_;
  sp.status = "completed";
  sp.path = r_.restore_path;
  (void)ex_.events_.RecordSavepoint(sp);
  KnownRestorePoint kp;
  kp.job = r_.record.job;
  kp.cluster = r_.stop_cluster;
  kp.job_id = r_.stop_job_id;
  kp.point.kind = RestorePoint::Kind::kSavepoint;
  kp.point.path = r_.restore_path;
  kp.point.trigger_ms = r_.step_started_ms;
  kp.point.completed_ms = now_;
  (void)ex_.catalog_.UpsertRestorePoint(kp, RestorePointOrigin::kTaken, now_);
  r_.detail = "savepoint completed at " + r_.restore_path;
  Enter(Phase::kWaitTerminal);
}

void Executor::Stepper::HandleCancel(const Result<HttpResponse>& reply) {
  const std::string path = "/jobs/" + r_.stop_job_id + "?mode=cancel";
  if (Ok(reply) || (reply && reply->status == 409)) {
    // 409: the job is FAILED or FINISHED already; either way it is stopping or stopped.
    r_.detail = "PATCH " + path + ": " + std::to_string(reply->status);
    Enter(Phase::kWaitTerminal);
    return;
  }
  if (reply && reply->status == 404) {
    r_.detail = "PATCH " + path + ": 404, the instance is gone";
    Enter(Phase::kCheckDuplicates);
    return;
  }
  if (Transient(reply)) {
    RetryOrFail(ReplyText(StopHost(), "PATCH", path, reply));
    return;
  }
  Fail("cancel failed: " + ReplyText(StopHost(), "PATCH", path, reply));
}

void Executor::Stepper::HandleWaitTerminal(const Result<HttpResponse>& reply) {
  const std::string path = "/jobs/" + r_.stop_job_id;
  if (reply && reply->status == 404) {
    r_.detail = "the instance is gone (404)";
    Enter(Phase::kCheckDuplicates);
    return;
  }
  if (!Ok(reply)) {
    RetryOrFail(ReplyText(StopHost(), "GET", path, reply));
    return;
  }
  auto details = ParseJobDetails(reply->body, StopHost().Context("GET", path));
  if (!details) {
    RetryOrFail(details.error().message);
    return;
  }
  if (details->state && IsGloballyTerminal(*details->state)) {
    r_.detail = r_.stop_job_id + " is " + details->state_text;
    if (r_.stop_only) {
      Succeed();
      return;
    }
    Enter(r_.strategy == Strategy::kCheckpoint ? Phase::kLastCheckpoint : Phase::kCheckDuplicates);
    return;
  }
  if (now_ >= r_.phase_deadline_ms) {
    Fail("the instance " + r_.stop_job_id + " is still " + details->state_text + " after " +
         FormatSeconds(now_ - r_.step_started_ms) + "; not submitting another");
    return;
  }
  r_.detail = r_.stop_job_id + " is " + details->state_text;
  PollLater();
}

void Executor::Stepper::HandleLastCheckpoint(const Result<HttpResponse>& reply) {
  // The instance kept checkpointing between the plan and its end, and each new checkpoint may
  // have subsumed (deleted) the planned one: restore from the newest it completed.
  const std::string path = "/jobs/" + r_.stop_job_id + "/checkpoints";
  if (Transient(reply) && now_ < r_.phase_deadline_ms) {
    RetryOrFail(ReplyText(StopHost(), "GET", path, reply));
    return;
  }
  if (!Ok(reply)) {
    r_.detail =
        "keeping " + r_.restore_path + " (" + ReplyText(StopHost(), "GET", path, reply) + ")";
    Enter(Phase::kCheckDuplicates);
    return;
  }
  auto stats = ParseCheckpointStats(reply->body, StopHost().Context("GET", path));
  if (!stats || !stats->latest_completed || !stats->latest_completed->ExternallyAddressable() ||
      stats->latest_completed->discarded || stats->latest_completed->is_savepoint) {
    r_.detail = "keeping " + r_.restore_path;
    Enter(Phase::kCheckDuplicates);
    return;
  }
  const CheckpointEntry& latest = *stats->latest_completed;
  if (latest.external_path == r_.restore_path) {
    r_.detail = "the planned checkpoint " + r_.restore_path + " is still the newest";
    Enter(Phase::kCheckDuplicates);
    return;
  }
  KnownRestorePoint kp;
  kp.job = r_.record.job;
  kp.cluster = r_.stop_cluster;
  kp.job_id = r_.stop_job_id;
  kp.point.kind = RestorePoint::Kind::kCheckpoint;
  kp.point.id = latest.id;
  kp.point.path = latest.external_path;
  kp.point.trigger_ms = latest.trigger_timestamp;
  kp.point.completed_ms = latest.latest_ack_timestamp.value_or(0);
  (void)ex_.catalog_.UpsertRestorePoint(kp, RestorePointOrigin::kObserved, now_);
  r_.detail = "checkpoint " + std::to_string(latest.id) +
              " completed after the plan; restoring from " + latest.external_path + " instead of " +
              r_.restore_path;
  r_.restore_path = latest.external_path;
  r_.record.restore_path = r_.restore_path;
  (void)ex_.journal_.SetRestore(r_.record.id, r_.strategy, r_.restore_path);
  Enter(Phase::kCheckDuplicates);
}

void Executor::Stepper::HandleDuplicates() {
  std::vector<std::string> unanswered;
  std::vector<std::string> tolerated;
  for (const auto& [cluster, reply] : r_.replies) {
    const FlinkRestClient& client = Client(cluster);
    Result<Parsed<JobOverview>> jobs =
        Ok(reply) ? ParseJobsOverview(reply->body, client.Context("GET", "/jobs/overview"))
                  : Result<Parsed<JobOverview>>(flinkguard::Fail(
                        Error::Transient(ReplyText(client, "GET", "/jobs/overview", reply))));
    if (!jobs || !jobs->problems.empty()) {
      const bool known_clear =
          (!ex_.never_seen_.count(cluster) && ex_.unreachable_live_.count(cluster) &&
           !ex_.unreachable_live_.at(cluster).count(r_.record.job) &&
           cluster != r_.record.cluster) ||
          (cluster != r_.record.cluster &&
           std::find(r_.presumed_down.begin(), r_.presumed_down.end(), cluster) !=
               r_.presumed_down.end());
      if (known_clear) {
        tolerated.push_back(cluster);
      } else {
        unanswered.push_back(cluster + " (" +
                             (jobs ? std::string("unreadable job list") : jobs.error().message) +
                             ")");
      }
      continue;
    }
    for (const JobOverview& j : jobs->items) {
      if (j.name != r_.record.job) continue;
      const bool terminal = j.state && IsGloballyTerminal(*j.state);
      if (terminal) continue;
      if (j.id == r_.new_job_id && cluster == r_.record.cluster) {
        // Ours, submitted before a restart of the agent.
        r_.submitted = true;
        if (r_.submitted_ms == 0) r_.submitted_ms = now_;
        r_.detail = "already submitted as " + j.id + " (" + j.state_text + ")";
        Enter(Phase::kVerify);
        return;
      }
      Fail("another live instance of " + r_.record.job + " exists: " + j.id + " on " + cluster +
           " (" + j.state_text + "); not submitting a second one");
      return;
    }
  }
  if (!unanswered.empty()) {
    std::string list;
    for (const std::string& u : unanswered) list += (list.empty() ? "" : ", ") + u;
    RetryOrFail("cannot confirm that no other instance is live: no job list from " + list);
    return;
  }
  r_.detail = "no live instance of " + r_.record.job + " on " +
              std::to_string(r_.replies.size() - tolerated.size()) + " clusters";
  if (!tolerated.empty()) {
    r_.detail += "; not answering but last seen without it:";
    for (const std::string& t : tolerated) r_.detail += " " + t;
  }
  Enter(Phase::kCheckJar);
}

void Executor::Stepper::HandleCheckJar(const Result<HttpResponse>& reply) {
  if (Transient(reply)) {
    RetryOrFail(ReplyText(Target(), "GET", "/jars", reply));
    return;
  }
  if (Ok(reply)) {
    auto jars = ParseJars(reply->body, Target().Context("GET", "/jars"));
    if (jars) {
      for (const JarInfo& j : jars->items) {
        if (j.id == r_.jar_id) {
          r_.detail = "jar " + r_.jar_id + " is on the cluster";
          Enter(Phase::kCheckSubmitted);
          return;
        }
      }
    }
  }
  ex_.jar_ids_.erase({r_.record.cluster, r_.jar});
  r_.detail = "jar " + r_.jar_id + " is gone; uploading again";
  r_.jar_id.clear();
  Enter(Phase::kUpload);
}

void Executor::Stepper::HandleUpload(const Result<HttpResponse>& reply) {
  if (Transient(reply)) {
    RetryOrFail(ReplyText(Target(), "POST", "/jars/upload", reply));
    return;
  }
  if (!Ok(reply)) {
    Fail("jar upload failed: " + ReplyText(Target(), "POST", "/jars/upload", reply));
    return;
  }
  auto id = ParseJarUploadId(reply->body, Target().Context("POST", "/jars/upload"));
  if (!id) {
    Fail("jar upload: " + id.error().message);
    return;
  }
  ++r_.uploads;
  r_.jar_id = *id;
  ex_.jar_ids_[{r_.record.cluster, r_.jar}] = *id;
  r_.detail = "uploaded " + r_.jar + " as " + *id;
  Enter(Phase::kCheckSubmitted);
}

void Executor::Stepper::HandleCheckSubmitted(const Result<HttpResponse>& reply) {
  const std::string path = "/jobs/" + r_.new_job_id;
  if (Ok(reply)) {
    r_.submitted = true;
    if (r_.submitted_ms == 0) r_.submitted_ms = now_;
    r_.detail = r_.new_job_id + " exists already (submitted before a restart)";
    Enter(Phase::kVerify);
    return;
  }
  if (reply && reply->status == 404) {
    if (r_.jar_id.empty()) {
      r_.detail = "no jar id; uploading";
      Enter(Phase::kUpload);
      return;
    }
    r_.detail = r_.new_job_id + " not submitted yet";
    Enter(Phase::kSubmit);
    return;
  }
  RetryOrFail(ReplyText(Target(), "GET", path, reply));
}

void Executor::Stepper::HandleSubmit(const Result<HttpResponse>& reply) {
  const std::string path = "/jars/" + r_.jar_id + "/run";
  if (Ok(reply)) {
    auto id = ParseJarRunJobId(reply->body, Target().Context("POST", path));
    r_.submitted = true;
    r_.submitted_ms = now_;
    r_.detail = "POST " + path + ": " + std::to_string(reply->status) + ", job " +
                (id ? *id : r_.new_job_id) +
                (r_.strategy == Strategy::kFresh ? std::string(" from fresh state")
                                                 : " from " + r_.restore_path);
    Enter(Phase::kVerify);
    return;
  }
  const std::string text = ReplyText(Target(), "POST", path, reply);
  if (reply && reply->status == 400 &&
      (Contains(reply->body, "DuplicateJobSubmission") ||
       Contains(reply->body, "already been submitted"))) {
    // A submit that reached Flink before a restart (or a lost reply): it is ours.
    r_.submitted = true;
    if (r_.submitted_ms == 0) r_.submitted_ms = now_;
    r_.detail = r_.new_job_id + " was submitted already";
    Enter(Phase::kVerify);
    return;
  }
  if (reply && (reply->status == 404 ||
                (reply->status == 400 && Contains(reply->body, "Jar file") &&
                 Contains(reply->body, "does not exist")) ||
                (reply->status == 400 && Contains(reply->body, "jar") &&
                 Contains(reply->body, "not found")))) {
    ex_.jar_ids_.erase({r_.record.cluster, r_.jar});
    if (r_.uploads < 2) {
      r_.detail = "the jar is gone (" + text + "); uploading again";
      r_.jar_id.clear();
      Enter(Phase::kUpload, "failed");
      return;
    }
  }
  if (Transient(reply)) {
    // The submit may or may not have reached Flink: ask before sending it again.
    r_.detail = text;
    if (now_ >= r_.phase_deadline_ms) {
      Fail("submit: " + text);
      return;
    }
    Enter(Phase::kCheckSubmitted, "failed");
    return;
  }
  Fail("submit refused: " + text);
}

void Executor::Stepper::HandleVerify(const Result<HttpResponse>& reply) {
  const std::string path = "/jobs/" + r_.new_job_id;
  const std::int64_t deadline = r_.submitted_ms + Job().verify_timeout_ms;
  auto give_up = [&](const std::string& state) {
    Fail("the job did not get all tasks RUNNING within " + FormatSeconds(Job().verify_timeout_ms) +
         " (" + state + ")");
  };
  if (!Ok(reply)) {
    r_.detail = ReplyText(Target(), "GET", path, reply);
    if (now_ >= deadline) {
      give_up(r_.detail);
      return;
    }
    PollLater();
    return;
  }
  auto details = ParseJobDetails(reply->body, Target().Context("GET", path));
  if (!details) {
    r_.detail = details.error().message;
    if (now_ >= deadline)
      give_up(r_.detail);
    else
      PollLater();
    return;
  }
  if (details->state && IsGloballyTerminal(*details->state)) {
    std::string why = "the new instance " + r_.new_job_id + " is " + details->state_text;
    if (r_.strategy != Strategy::kFresh && !r_.restore_path.empty()) {
      if (auto ok = ex_.catalog_.MarkRestoreFailed(r_.record.job, r_.restore_path); ok) {
        why += "; restore point " + r_.restore_path + " marked as failed";
      }
    }
    Fail(why);
    return;
  }
  if (details->state == JobStatus::kRunning && AllVerticesRunning(*details)) {
    r_.detail = "all tasks RUNNING " + FormatSeconds(now_ - r_.submitted_ms) + " after the submit";
    if (Job().verify_checkpoint) {
      Enter(Phase::kVerifyCheckpoint);
    } else {
      Succeed();
    }
    return;
  }
  r_.detail = r_.new_job_id + " is " + details->state_text;
  if (now_ >= deadline) {
    give_up(details->state_text);
    return;
  }
  PollLater();
}

void Executor::Stepper::HandleVerifyCheckpoint(const Result<HttpResponse>& reply) {
  const std::string path = "/jobs/" + r_.new_job_id + "/checkpoints";
  const std::int64_t deadline = r_.submitted_ms + Job().verify_timeout_ms;
  if (Ok(reply)) {
    auto stats = ParseCheckpointStats(reply->body, Target().Context("GET", path));
    if (stats && stats->completed > 0) {
      r_.detail =
          "checkpoint completed " + FormatSeconds(now_ - r_.submitted_ms) + " after the submit";
      Succeed();
      return;
    }
  } else {
    r_.detail = ReplyText(Target(), "GET", path, reply);
  }
  if (now_ >= deadline) {
    Fail("no checkpoint completed within " + FormatSeconds(Job().verify_timeout_ms) +
         " of the submit");
    return;
  }
  PollLater();
}

void Executor::Finish(Run& run, RecoveryAttempt::Outcome outcome, const std::string& error,
                      std::int64_t now_ms) {
  const bool ok = outcome == RecoveryAttempt::Outcome::kSucceeded;
  const StepRecord last{run.record.id,
                        run.step_seq,
                        PhaseName(run.phase),
                        run.step_started_ms,
                        now_ms,
                        ok ? "done" : "failed",
                        run.detail.empty() ? error : run.detail,
                        run.record.fencing_token};
  Result<void> w = journal_.RecordStep(last);
  if (w) w = journal_.SaveProgress(run.record.id, ProgressJson(run), run.record.fencing_token);
  if (w) w = journal_.EndRecovery(run.record.id, outcome, now_ms, error);
  if (!w) {
    // The outcome is not on disk: keep the run and try to record it on the next tick. Until
    // then the job counts as in recovery, so nothing else is started for it.
    spdlog::error("recovery {} of {}: cannot record its outcome: {}", run.record.id, run.record.job,
                  w.error().message);
    run.journal_blocked = true;
    run.next_at_ms = now_ms + options_.poll_interval_ms;
    run.detail = "finishing";
    pending_finish_[run.record.id] = {outcome, error};
    return;
  }
  fence_.Release(run.record.job);
  run.record.outcome = outcome;
  run.record.ended_ms = now_ms;
  run.record.error = error;
  if (ok) {
    spdlog::info("recovery {} of {} succeeded: {} running on {}", run.record.id, run.record.job,
                 run.new_job_id, run.record.cluster);
  } else {
    spdlog::warn("recovery {} of {} failed: {}", run.record.id, run.record.job, error);
  }
  ended_.push_back(EndedRecovery{run.record, run.submitted ? run.new_job_id : ""});
  run.phase_deadline_ms = -1;  // marks the run as ended; removed after the tick
}

void Executor::Tick(std::int64_t now_ms) {
  RequestBatch batch;
  std::vector<Run*> sent;
  for (auto& run_ptr : runs_) {
    Run& run = *run_ptr;
    if (run.next_at_ms > now_ms || run.phase_deadline_ms < 0) continue;
    if (auto it = pending_finish_.find(run.record.id); it != pending_finish_.end()) {
      auto [outcome, error] = it->second;
      pending_finish_.erase(it);
      Finish(run, outcome, error, now_ms);
      continue;
    }
    Stepper stepper(*this, run, now_ms);
    auto requests = stepper.Build();
    if (requests.empty()) continue;
    run.replies.clear();
    run.replies.reserve(requests.size());
    for (auto& [cluster, req] : requests) {
      run.replies.emplace_back(cluster, flinkguard::Fail(Error::Transient("no reply")));
    }
    for (std::size_t i = 0; i < requests.size(); ++i) {
      batch.Add(std::move(requests[i].second), [&run, i](Result<HttpResponse> reply) {
        run.replies[i].second = std::move(reply);
      });
    }
    sent.push_back(&run);
  }
  if (!sent.empty()) transport_.Run(batch);
  for (Run* run : sent) {
    Stepper stepper(*this, *run, now_ms);
    stepper.Handle();
    run->replies.clear();
  }
  runs_.erase(
      std::remove_if(runs_.begin(), runs_.end(),
                     [](const std::unique_ptr<Run>& r) { return r->phase_deadline_ms < 0; }),
      runs_.end());
}

}  // namespace flinkguard
