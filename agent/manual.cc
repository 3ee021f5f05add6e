#include "agent/manual.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <thread>

#include "agent/cli_support.h"
#include "agent/executor.h"
#include "agent/explain.h"
#include "agent/flink/flink_parse.h"
#include "agent/ha/zk_coordinator.h"
#include "agent/local_lock.h"
#include "agent/savepoints.h"
#include "agent/wiring.h"
#include "rules/job_status.h"
#include "rules/planner.h"
#include "storage/history_store.h"

namespace flinkguard {
namespace {

// The history a command acts with: the daemon's, in state_dir. Without it nothing is done.
std::unique_ptr<SqliteHistoryStore> OpenHistory(const Config& config, const CliContext& ctx) {
  std::error_code ec;
  std::filesystem::create_directories(config.agent.state_dir, ec);
  auto store = SqliteHistoryStore::Open(config.agent.state_dir + "/history.db");
  if (!store) {
    ctx.err << "flinkguard: the history (" << config.agent.state_dir
            << "/history.db) cannot be opened, and flinkguard does not act without its journal: "
            << store.error().message << "\n";
    return nullptr;
  }
  return std::move(*store);
}

// The live (not globally terminal) instance of `job` with the newest start, or nullptr.
const JobSnapshot* LiveInstance(const Observation& o, const std::string& job) {
  const JobSnapshot* best = nullptr;
  for (const JobSnapshot& s : o.jobs) {
    if (s.name != job) continue;
    if (s.status.known() && IsGloballyTerminal(*s.status.value)) continue;
    if (best == nullptr || s.start_time_ms > best->start_time_ms) best = &s;
  }
  return best;
}

std::string PlanText(const RecoveryPlan& p) {
  std::string out = "plan for " + p.job + " on " + p.cluster + ": " + StrategyName(p.strategy);
  if (p.restore_point) out += " " + p.restore_point->path;
  if (p.restore_from_stop_savepoint) out += " (the savepoint the stop takes)";
  out += "\n  steps:";
  for (StepKind k : p.steps) out += std::string(" ") + StepKindName(k);
  out += "\n  why: " + p.reason + "\n";
  return out;
}

// Ticks `executor` until it is idle or a stop was requested. Returns the ended recoveries.
std::vector<EndedRecovery> RunToEnd(Executor& executor, Coordinator* coordinator = nullptr) {
  std::vector<EndedRecovery> ended;
  while (!executor.Idle() && !g_stop_requested.load()) {
    if (coordinator != nullptr) coordinator->Poll(WallMs());
    executor.Tick(WallMs());
    for (EndedRecovery& e : executor.TakeEnded()) ended.push_back(std::move(e));
    InterruptibleSleep(std::chrono::milliseconds(100));
  }
  for (EndedRecovery& e : executor.TakeEnded()) ended.push_back(std::move(e));
  return ended;
}

int Report(const std::vector<EndedRecovery>& ended, Executor& executor, RecoveryJournal& journal,
           const CliContext& ctx) {
  if (ended.empty()) {
    ctx.err << "interrupted: the recovery stays in the journal ("
            << (executor.InProgress().empty() ? "" : executor.InProgress().front())
            << ") and is finished by the next `flinkguard run` start\n";
    return kExitFailure;
  }
  const EndedRecovery& e = ended.front();
  if (auto steps = journal.Steps(e.record.id); steps) {
    for (const StepRecord& s : *steps) {
      ctx.out << "  " << s.kind << ": " << s.status;
      if (s.ended_ms) ctx.out << " (" << (*s.ended_ms - s.started_ms) << " ms)";
      if (!s.detail.empty()) ctx.out << " — " << s.detail;
      ctx.out << "\n";
    }
  }
  if (e.record.outcome == RecoveryAttempt::Outcome::kSucceeded) {
    ctx.out << "recovery " << e.record.id << " succeeded: " << e.new_job_id << " RUNNING on "
            << e.record.cluster << " from "
            << (e.record.strategy == Strategy::kFresh ? std::string("fresh state")
                                                      : e.record.restore_path)
            << "\n";
    return kExitOk;
  }
  ctx.out << "recovery " << e.record.id << " failed: " << e.record.error << "\n";
  return kExitFailure;
}

// Runs `plan` with the daemon's executor, journal and per-job locks, waits for the outcome and
// prints each step. `command` names the command in messages ("recover", "update").
// Records where a moved job lives now: with `ha:` shared through ZooKeeper first (fenced on the
// job's lock, waiting a bounded time while the leader holds it), then in the history.
bool RecordMovedPlacement(const Placement& p, ZooKeeperCoordinator* zk, SqliteHistoryStore& store,
                          const std::string& command, const CliContext& ctx) {
  if (zk != nullptr) {
    Result<void> shared = Fail(Error::Transient("not tried"));
    for (int i = 0; i < 300 && !g_stop_requested.load(); ++i) {  // at most 30 s
      zk->Poll(WallMs());
      shared = zk->PublishPlacement(p);
      if (shared || shared.error().kind != ErrorKind::kTransient) break;
      InterruptibleSleep(std::chrono::milliseconds(100));
    }
    if (!shared) {
      ctx.err << "flinkguard " << command << ": moved, but the new placement was not shared "
              << "through ZooKeeper: " << shared.error().message
              << "; the replicas still think " << p.job << " lives elsewhere — run the command "
              << "again or record it by hand\n";
      return false;
    }
  }
  if (auto ok = store.SetPlacement(p); !ok) {
    ctx.err << "flinkguard " << command << ": moved, but the new placement was not recorded: "
            << ok.error().message << "\n";
    return false;
  }
  return true;
}

int Execute(const Config& config, SqliteHistoryStore& store, const Observation& o,
            const RecoveryPlan& plan, const std::string& trigger, const std::string& jar,
            const std::string& command, const CliContext& ctx,
            const std::optional<Placement>& place_on_success = std::nullopt) {
  CurlTransport transport(TransportOptionsFor(config));
  LocalJobFence local_fence(config.agent.state_dir);
  ActionFence* fence = &local_fence;
  // With `ha:` the job's ZooKeeper lock fences every step, as the replicas' do (so the leader
  // and this command never act on one job at once); this process does not compete to lead.
  std::unique_ptr<ZooKeeperCoordinator> zk;
  if (config.ha) {
    ZooKeeperOptions zo;
    zo.connect_string = config.ha->connect_string;
    zo.root = config.ha->root;
    zo.session_timeout_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(config.ha->session_timeout).count();
    if (config.ha->digest_auth) zo.digest_auth = config.ha->digest_auth->Reveal();
    zo.instance_id = config.agent.instance_id + "/" + command;
    zo.compete = false;
    zk = std::make_unique<ZooKeeperCoordinator>(std::move(zo));
    for (int i = 0; i < 150 && !zk->Connected() && !g_stop_requested.load(); ++i) {
      zk->Poll(WallMs());
      InterruptibleSleep(std::chrono::milliseconds(100));
    }
    if (!zk->Connected()) {
      ctx.err << "flinkguard: " << command << " not started: ZooKeeper "
              << config.ha->connect_string
              << " is not reachable, and with ha: configured no step is taken without the job's "
                 "lock there\n";
      return kExitFailure;
    }
    fence = &zk->Fence();
  }
  Executor executor(transport, FlinkEndpointsFrom(config), JobSubmissionsFrom(config), store, store,
                    store, *fence);
  executor.UpdateView(o);
  auto id = executor.Start(plan, trigger, WallMs(), jar);
  if (!id) {
    ctx.err << "flinkguard: " << command << " not started: " << id.error().message << "\n";
    return kExitFailure;
  }
  ctx.out << command << " " << *id << " started\n";
  ctx.out.flush();
  const int code = Report(RunToEnd(executor, zk.get()), executor, store, ctx);
  if (code != kExitOk || !place_on_success) return code;
  if (!RecordMovedPlacement(*place_on_success, zk.get(), store, command, ctx)) return kExitFailure;
  ctx.out << place_on_success->job << " now lives on " << place_on_success->cluster << "\n";
  return kExitOk;
}

// The start every acting command shares: a valid config naming `job` in its catalog, signal
// handlers, and the history. Returns false (having said why) when one is missing.
bool PrepareToAct(const ManualOptions& options, std::optional<LogLevel> log_level_flag,
                  const std::string& command, const CliContext& ctx, std::optional<Config>& config,
                  std::unique_ptr<SqliteHistoryStore>& store) {
  config = LoadValidConfig(options.config_path, log_level_flag, ctx);
  if (!config) return false;
  if (config->FindJob(options.job) == nullptr) {
    ctx.err << "flinkguard " << command << ": job '" << options.job
            << "' is not in the catalog (jobs:), so there is nothing to resubmit\n";
    return false;
  }
  InstallSignalHandlers(/*reload=*/false);
  store = OpenHistory(*config, ctx);
  return store != nullptr;
}

struct Decided {
  std::optional<RecoveryPlan> plan;
  std::optional<Refusal> refusal;
};

// Plans a recovery of `job` as if a rule asked for it now, with the daemon's rails and history.
Decided PlanFor(const Config& config, const Observation& o, SqliteHistoryStore& store,
                const std::string& job, const std::string& from, bool stop_with_savepoint) {
  const JobSnapshot* live = LiveInstance(o, job);
  Finding f;
  f.rule = "manual";
  f.job = job;
  f.severity = Severity::kCritical;
  f.action = Action::kRecover;
  f.firing_since_ms = o.at_ms;
  f.reason = "asked for by hand";
  if (live != nullptr) {
    f.cluster = live->cluster;
    f.job_id = live->job_id;
  } else {
    for (const JobSnapshot& s : o.jobs) {
      if (s.name == job) {
        f.cluster = s.cluster;
        f.job_id = s.job_id;
      }
    }
  }
  std::vector<CatalogJob> catalog = CatalogFrom(config);
  for (CatalogJob& c : catalog) {
    if (c.name != job) continue;
    if (from == "fresh") c.policy.allow_fresh_state = true;  // a person asked for it explicitly
    c.policy.stop_with_savepoint = stop_with_savepoint || c.policy.stop_with_savepoint;
  }
  std::vector<KnownRestorePoint> points;
  if (auto p = store.RestorePoints(job); p) points = std::move(*p);
  std::vector<JobSnapshot> snapshots = o.jobs;
  auto keep = [&](const RestorePoint& p) {
    if (from == "checkpoint") return p.kind == RestorePoint::Kind::kCheckpoint;
    if (from == "savepoint") return p.kind == RestorePoint::Kind::kSavepoint;
    if (from == "fresh") return false;
    return true;
  };
  points.erase(std::remove_if(points.begin(), points.end(),
                              [&](const KnownRestorePoint& k) { return !keep(k.point); }),
               points.end());
  for (JobSnapshot& s : snapshots) {
    if (s.last_checkpoint.known() && !keep(*s.last_checkpoint.value))
      s.last_checkpoint.SetAbsent(o.at_ms);
    if (s.last_savepoint.known() && !keep(*s.last_savepoint.value))
      s.last_savepoint.SetAbsent(o.at_ms);
  }
  std::vector<RecoveryAttempt> attempts;
  if (auto a = store.Attempts(o.at_ms - 7LL * 24 * 3'600'000); a) attempts = std::move(*a);
  std::vector<Finding> findings = {f};
  PlanInput in;
  in.now_ms = o.at_ms;
  in.settings.max_concurrent_recoveries = config.agent.max_concurrent_recoveries;
  in.findings = findings;
  in.catalog = catalog;
  in.snapshots = snapshots;
  in.clusters = o.clusters;
  in.restore_points = points;
  in.attempts = attempts;
  Planner planner([] { return 0.5; });
  PlanOutput out = planner.Plan(in);
  Decided d;
  if (!out.plans.empty()) d.plan = out.plans.front();
  if (!out.refusals.empty()) d.refusal = out.refusals.front();
  return d;
}

}  // namespace

ManualDecision PlanManualRecovery(const Config& config, const Observation& o,
                                  SqliteHistoryStore& store, const std::string& job,
                                  const std::string& from) {
  Decided d = PlanFor(config, o, store, job, from, false);
  return ManualDecision{std::move(d.plan), std::move(d.refusal)};
}

int RunRecover(const ManualOptions& options, std::optional<LogLevel> log_level_flag,
               const CliContext& ctx) {
  std::optional<Config> config;
  std::unique_ptr<SqliteHistoryStore> store;
  if (!PrepareToAct(options, log_level_flag, "recover", ctx, config, store)) return kExitFailure;
  ObserveStack observe(*config, SnapshotOptions());
  const Observation o = observe.ObserveTwice().back();
  Decided d = PlanFor(*config, o, *store, options.job, options.from, false);
  if (!d.plan) {
    ctx.err << "flinkguard recover: not recovering " << options.job << " ("
            << (d.refusal ? RefusalCauseName(d.refusal->cause) : "no plan")
            << "): " << (d.refusal ? d.refusal->reason : "") << "\n";
    return kExitFailure;
  }
  ctx.out << PlanText(*d.plan);
  if (options.dry_run) {
    ctx.out << "dry run: nothing was done\n";
    return kExitOk;
  }
  return Execute(*config, *store, o, *d.plan, "manual", "", "recovery", ctx);
}

namespace {

// Stop `live` with a savepoint and submit on `cluster` from the location that savepoint
// returns (the jar: `jar`, or the catalog's when empty). A failed savepoint ends it there and
// the old instance keeps running (no fallback). Shared by update, deploy and move.
int StopAndResubmit(const Config& config, SqliteHistoryStore& store, const Observation& o,
                    const JobSnapshot& live, const std::string& cluster, const std::string& jar,
                    const std::string& command, const std::string& what, const CliContext& ctx,
                    const std::optional<Placement>& place_on_success = std::nullopt) {
  RecoveryPlan plan;
  plan.job = live.name;
  plan.cluster = cluster;
  plan.stop_job_id = live.job_id;
  plan.strategy = Strategy::kSavepoint;
  plan.restore_from_stop_savepoint = true;
  plan.steps = {StepKind::kStopWithSavepoint, StepKind::kWaitTerminal, StepKind::kSubmit,
                StepKind::kVerify};
  plan.severity = Severity::kInfo;
  plan.rules = {command};
  plan.allow_non_restored_state = config.FindJob(live.name)->recovery.allow_non_restored_state;
  plan.reason = what + ": stop-with-savepoint of " + live.job_id + " on " + live.cluster +
                ", then submit on " + cluster + " from that savepoint; if the savepoint fails, " +
                "the old job keeps running";
  ctx.out << PlanText(plan);
  return Execute(config, store, o, plan, command, jar, command, ctx, place_on_success);
}

bool CheckJar(const std::string& jar, const std::string& command, const CliContext& ctx) {
  std::error_code ec;
  if (jar.empty() || std::filesystem::is_regular_file(jar, ec)) return true;
  ctx.err << "flinkguard " << command << ": --jar " << jar << " is not a readable file\n";
  return false;
}

bool Running(const JobSnapshot* s) {
  return s != nullptr && s->status.known() && *s->status.value == JobStatus::kRunning;
}

}  // namespace

int RunUpdate(const ManualOptions& options, std::optional<LogLevel> log_level_flag,
              const CliContext& ctx) {
  if (!CheckJar(options.jar, "update", ctx)) return kExitFailure;
  std::optional<Config> config;
  std::unique_ptr<SqliteHistoryStore> store;
  if (!PrepareToAct(options, log_level_flag, "update", ctx, config, store)) return kExitFailure;
  ObserveStack observe(*config, SnapshotOptions());
  const Observation o = observe.ObserveTwice().back();
  const JobSnapshot* live = LiveInstance(o, options.job);
  if (!Running(live)) {
    ctx.err << "flinkguard update: " << options.job
            << " has no RUNNING instance to take a savepoint of; use `flinkguard deploy` or "
               "`flinkguard recover` to start it\n";
    return kExitFailure;
  }
  return StopAndResubmit(*config, *store, o, *live, live->cluster, options.jar, "update",
                         "update to " + options.jar, ctx);
}

int RunDeploy(const ManualOptions& options, std::optional<LogLevel> log_level_flag,
              const CliContext& ctx) {
  if (!CheckJar(options.jar, "deploy", ctx)) return kExitFailure;
  std::optional<Config> config;
  std::unique_ptr<SqliteHistoryStore> store;
  if (!PrepareToAct(options, log_level_flag, "deploy", ctx, config, store)) return kExitFailure;
  ObserveStack observe(*config, SnapshotOptions());
  const Observation o = observe.ObserveTwice().back();
  const std::string jar_text = options.jar.empty() ? "the catalog's jar" : options.jar;
  int live_count = 0;
  for (const JobSnapshot& s : o.jobs) {
    if (s.name == options.job && s.status.known() && !IsGloballyTerminal(*s.status.value)) {
      ++live_count;
    }
  }
  if (live_count > 1) {
    ctx.err << "flinkguard deploy: " << options.job << " has " << live_count
            << " live instances; not deploying until only one is left\n";
    return kExitFailure;
  }
  const JobSnapshot* live = LiveInstance(o, options.job);
  if (Running(live)) {
    return StopAndResubmit(*config, *store, o, *live, live->cluster, options.jar, "deploy",
                           "deploy of " + jar_text, ctx);
  }
  if (live != nullptr) {
    ctx.err << "flinkguard deploy: " << options.job << " is " << JobStatusName(*live->status.value)
            << " (" << live->job_id << " on " << live->cluster
            << "), neither RUNNING nor stopped; not deploying over it\n";
    return kExitFailure;
  }
  // Nothing runs: start from the newest restore point (or fresh when the policy allows it).
  Decided d = PlanFor(*config, o, *store, options.job, "auto", false);
  if (!d.plan) {
    ctx.err << "flinkguard deploy: not starting " << options.job << " ("
            << (d.refusal ? RefusalCauseName(d.refusal->cause) : "no plan")
            << "): " << (d.refusal ? d.refusal->reason : "") << "\n";
    return kExitFailure;
  }
  d.plan->reason = "deploy of " + jar_text + " (no instance running): " + d.plan->reason;
  ctx.out << PlanText(*d.plan);
  return Execute(*config, *store, o, *d.plan, "deploy", options.jar, "deploy", ctx);
}

int RunMove(const ManualOptions& options, std::optional<LogLevel> log_level_flag,
            const CliContext& ctx) {
  std::optional<Config> config;
  std::unique_ptr<SqliteHistoryStore> store;
  if (!PrepareToAct(options, log_level_flag, "move", ctx, config, store)) return kExitFailure;
  if (config->FindCluster(options.to) == nullptr) {
    ctx.err << "flinkguard move: --to " << options.to << " is not a configured cluster\n";
    return kExitFailure;
  }
  ObserveStack observe(*config, SnapshotOptions());
  const Observation o = observe.ObserveTwice().back();
  const JobSnapshot* live = LiveInstance(o, options.job);
  if (!Running(live)) {
    ctx.err << "flinkguard move: " << options.job << " has no RUNNING instance to move\n";
    return kExitFailure;
  }
  if (live->cluster == options.to) {
    ctx.err << "flinkguard move: " << options.job << " already runs on " << options.to << "\n";
    return kExitFailure;
  }
  for (const ClusterSnapshot& c : o.clusters) {
    if (c.name == options.to && !c.reachable) {
      ctx.err << "flinkguard move: " << options.to << " does not answer (" << c.error << ")\n";
      return kExitFailure;
    }
  }
  return StopAndResubmit(*config, *store, o, *live, options.to, "", "move",
                         "move to " + options.to, ctx,
                         Placement{options.job, options.to, WallMs(),
                                   "moved by hand from " + live->cluster});
}

int RunSavepoint(const ManualOptions& options, std::optional<LogLevel> log_level_flag,
                 const CliContext& ctx) {
  const std::optional<Config> config = LoadValidConfig(options.config_path, log_level_flag, ctx);
  if (!config) return kExitFailure;
  InstallSignalHandlers(/*reload=*/false);
  std::unique_ptr<SqliteHistoryStore> store = OpenHistory(*config, ctx);
  if (!store) return kExitFailure;
  ObserveStack observe(*config, SnapshotOptions());
  const Observation o = observe.observer.RunCycle(WallMs());
  const JobSnapshot* live = LiveInstance(o, options.job);
  if (live == nullptr || !live->status.known() || *live->status.value != JobStatus::kRunning) {
    ctx.err << "flinkguard savepoint: " << options.job << " has no RUNNING instance\n";
    return kExitFailure;
  }
  const JobConfig* jc = config->FindJob(options.job);
  LocalJobFence fence(config->agent.state_dir);
  SavepointDriver driver(observe.transport, FlinkEndpointsFrom(*config), *store, *store, &fence);
  SavepointRequest req;
  req.job = options.job;
  req.cluster = live->cluster;
  req.job_id = live->job_id;
  req.origin = "manual";
  if (jc != nullptr) {
    req.target_directory = jc->savepoint_dir;
    req.timeout_ms = std::chrono::duration_cast<std::chrono::milliseconds>(jc->savepoints.timeout)
                         .count();
  }
  if (auto id = driver.Start(req, WallMs()); !id) {
    ctx.err << "flinkguard savepoint: " << id.error().message << "\n";
    return kExitFailure;
  }
  ctx.out << "savepoint of " << options.job << " (" << live->job_id << " on " << live->cluster
          << ") requested\n";
  ctx.out.flush();
  // The driver's own deadline (jobs[].savepoints.timeout) bounds this loop.
  while (!g_stop_requested.load() && !driver.Idle()) {
    driver.Tick(WallMs());
    for (const SavepointRecord& r : driver.TakeEnded()) {
      if (r.status == "completed") {
        ctx.out << "savepoint completed: " << r.path << "\n";
        return kExitOk;
      }
      ctx.out << "savepoint failed: " << r.error << "\n";
      return kExitFailure;
    }
    if (auto due = driver.NextDue()) {
      InterruptibleSleep(std::chrono::milliseconds(std::clamp<std::int64_t>(*due - WallMs(), 0, 1000)));
    }
  }
  ctx.err << "flinkguard savepoint: interrupted; the request stays recorded as pending\n";
  return kExitFailure;
}

}  // namespace flinkguard
