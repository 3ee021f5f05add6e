#include "agent/daemon.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <random>

#include "agent/admin/admin_loop.h"
#include "agent/agent_loop.h"
#include "agent/alert_wiring.h"
#include "agent/allocator.h"
#include "agent/cli_support.h"
#include "agent/ha/coordinator.h"
#include "agent/ha/zk_coordinator.h"
#include "agent/local_lock.h"
#include "agent/sd_notify.h"
#include "agent/version.h"
#include "agent/wiring.h"

namespace flinkguard {
namespace {

std::int64_t Ms(Duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

// Everything built from one config: rebuilt on reload.
struct Stack {
  ObserveStack observe;
  CurlTransport act_transport;
  std::unique_ptr<Executor> executor;
  std::unique_ptr<SavepointDriver> savepoints;
  std::unique_ptr<AgentLoop> loop;
  std::mt19937_64 rng{std::random_device{}()};

  // `acting`: this replica leads (see Coordinator); a standby observes and builds no executor.
  Stack(const Config& config, SqliteHistoryStore* store, ActionFence& fence, bool acting = true)
      : observe(config, ObserverOptions{}), act_transport(TransportOptionsFor(config)) {
    if (store != nullptr && acting) {
      executor =
          std::make_unique<Executor>(act_transport, FlinkEndpointsFrom(config),
                                     JobSubmissionsFrom(config), *store, *store, *store, fence);
    }
    loop = std::make_unique<AgentLoop>(config, observe.observer, executor.get(), store, [this] {
      return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
    });
    if (store != nullptr && !acting) {
      loop->SetStandby("this replica stands by (another one leads, or the ZooKeeper session is "
                       "not established)");
    }
    if (store != nullptr && acting) {
      savepoints = std::make_unique<SavepointDriver>(act_transport, FlinkEndpointsFrom(config),
                                                     *store, *store, &fence);
      loop->SetSavepointDriver(savepoints.get());
    }
  }
};

void LogEnded(Executor& executor, AdminLoop& admin, AlertPlanner& alerts,
              SqliteHistoryStore* store) {
  for (const EndedRecovery& e : executor.TakeEnded()) {
    admin.RecoveryEnded(e);
    if (store != nullptr) {
      const std::int64_t at = e.record.ended_ms.value_or(WallMs());
      if (auto ok = WriteAlerts(*store, alerts, alerts.OnRecoveryEnded(e.record, e.new_job_id, at));
          !ok) {
        spdlog::warn("{}: end of recovery {} not notified: {}", e.record.job, e.record.id,
                     ok.error().message);
      }
    }
    if (e.record.dry_run) continue;
    const std::int64_t took = e.record.ended_ms.value_or(e.record.started_ms) - e.record.started_ms;
    if (e.record.outcome == RecoveryAttempt::Outcome::kSucceeded &&
        e.record.trigger == "stale-copy") {
      spdlog::info("{}: stale copy on {} cancelled in {} ms", e.record.job, e.record.cluster, took);
    } else if (e.record.outcome == RecoveryAttempt::Outcome::kSucceeded) {
      spdlog::info("{}: recovered in {} ms ({} {}), now {} on {}", e.record.job, took,
                   StrategyName(e.record.strategy), e.record.restore_path, e.new_job_id,
                   e.record.cluster);
    } else {
      spdlog::error("{}: recovery {} failed after {} ms: {}", e.record.job, e.record.id, took,
                    e.record.error);
    }
  }
}

}  // namespace

int RunDaemon(const DaemonOptions& options, std::optional<LogLevel> log_level_flag,
              const CliContext& ctx) {
  std::optional<Config> config = LoadValidConfig(options.config_path, log_level_flag, ctx);
  if (!config) return kExitFailure;
  InstallSignalHandlers(/*reload=*/true);
  ServiceNotifier notifier;  // systemd Type=notify; does nothing outside systemd

  const std::string state_dir = config->agent.state_dir;
  std::error_code ec;
  std::filesystem::create_directories(state_dir, ec);
  std::unique_ptr<FileLock> dir_lock;
  if (auto lock = FileLock::TryAcquire(state_dir + "/flinkguard.lock"); lock) {
    dir_lock = std::move(*lock);
  } else if (lock.error().kind == ErrorKind::kConflict) {
    ctx.err << "flinkguard run: " << lock.error().message
            << "; only one agent may use a state_dir\n";
    return kExitFailure;
  } else {
    spdlog::error("{}", lock.error().message);
  }
  std::unique_ptr<SqliteHistoryStore> store;
  if (dir_lock) {
    auto opened = SqliteHistoryStore::Open(state_dir + "/history.db");
    if (opened) {
      store = std::move(*opened);
    } else {
      spdlog::error("history unavailable, observing only and taking no action: {}",
                    opened.error().message);
    }
  } else {
    spdlog::error("state_dir {} is not usable, observing only and taking no action", state_dir);
  }
  // Who may act: with `ha:` the replica ZooKeeper elects; without, this single instance.
  std::unique_ptr<Coordinator> coordinator;
  if (config->ha) {
    ZooKeeperOptions zk;
    zk.connect_string = config->ha->connect_string;
    zk.root = config->ha->root;
    zk.session_timeout_ms = Ms(config->ha->session_timeout);
    if (config->ha->digest_auth) zk.digest_auth = config->ha->digest_auth->Reveal();
    zk.instance_id = config->agent.instance_id;
    coordinator = std::make_unique<ZooKeeperCoordinator>(std::move(zk));
    spdlog::info("HA: coordinating through ZooKeeper {} under {}; observing until elected",
                 config->ha->connect_string, config->ha->root);
  } else {
    coordinator = std::make_unique<LocalCoordinator>(state_dir, std::move(dir_lock));
  }
  ActionFence& fence = coordinator->Fence();
  coordinator->Poll(WallMs());
  bool acting = false;
  auto stack = std::make_unique<Stack>(*config, store.get(), fence, acting);
  stack->loop->SetCoordinator(coordinator.get());
  // Starts (or stops) acting when the coordinator says so: the executor exists only while this
  // replica leads; on taking over, the shared record of unfinished recoveries is imported first.
  // Housekeeping under the coordinator's paths: right after taking over (with the other reads
  // of that moment, not in a later cycle), then as often as the coordinator allows.
  auto tidy = [&] {
    std::vector<std::string> catalog;
    for (const JobConfig& j : config->jobs) catalog.push_back(j.name);
    coordinator->Tidy(catalog, WallMs());
  };
  auto follow_leadership = [&] {
    const bool lead = store != nullptr && coordinator->Leading();
    if (lead == acting) return;
    acting = lead;
    stack.reset();
    stack = std::make_unique<Stack>(*config, store.get(), fence, acting);
    stack->loop->SetCoordinator(coordinator.get());
    if (!acting) {
      spdlog::warn("not leading: observing only; unfinished recoveries stay journaled");
      return;
    }
    if (auto adopted = coordinator->Adopt(*store, WallMs()); !adopted) {
      spdlog::error("cannot take over the shared record of recoveries: {}",
                    adopted.error().message);
    } else if (*adopted > 0) {
      spdlog::warn("took over {} unfinished recoveries from another replica", *adopted);
    }
    tidy();
    if (auto resumed = stack->executor->Resume(WallMs()); !resumed) {
      spdlog::error("cannot read the recovery journal: {}", resumed.error().message);
    } else if (*resumed > 0) {
      spdlog::warn("resuming {} unfinished recoveries from the journal", *resumed);
    }
    if (stack->savepoints) {
      if (auto resumed = stack->savepoints->Resume(WallMs()); !resumed) {
        spdlog::error("cannot read pending savepoints: {}", resumed.error().message);
      } else if (*resumed > 0) {
        spdlog::info("polling {} savepoints requested before the restart", *resumed);
      }
    }
  };
  follow_leadership();
  // Metrics and the admin endpoint (/metrics, /healthz, /readyz, /api/v1/).
  AdminLoop admin(kVersion, kGitRevision);
  admin.StartServer(*config, store ? store->path() : std::string());
  // Notifications: the planner outlives the stacks (leadership changes, reloads) so firing
  // alerts stay known; the delivery worker sends the outbox on its own thread and connection.
  AlertPlanner alerts(AlertPolicyFrom(*config));
  std::unique_ptr<AlertDelivery> delivery;
  auto start_delivery = [&] {
    delivery.reset();
    admin.NewDeliveryWorker();
    if (!store || config->alerts.empty()) return;
    if (auto d = AlertDelivery::Start(*config, store->path()); d) {
      delivery = std::move(*d);
    } else {
      spdlog::error("notifications stay in the outbox, not delivered: {}", d.error().message);
    }
  };
  start_delivery();
  spdlog::info("flinkguard running: {}; history {}; allocator {}{}", SummarizeConfig(*config),
               store ? store->path() : std::string("unavailable"), AllocatorName(),
               config->agent.dry_run ? "; DRY RUN: no action is taken" : "");

  const auto interval = std::chrono::milliseconds(Ms(config->agent.poll_interval));
  auto next_cycle = std::chrono::steady_clock::now();
  // Retention keeps the history file bounded: at start, then hourly, between cycles.
  auto next_retention = std::chrono::steady_clock::now();
  int cycles = 0;
  ProblemLog problem_log;  // each cycle's problems, said when they appear, change or clear
  while (!g_stop_requested.load()) {
    if (g_reload_requested.exchange(false)) {
      notifier.Reloading();
      // READY=1 ends the reload, but never comes before the first cycle's.
      auto reload_done = [&](const std::string& status) {
        if (cycles > 0) {
          notifier.Ready(status);
        } else {
          notifier.Status(status);
        }
      };
      std::optional<Config> fresh = LoadValidConfig(options.config_path, log_level_flag, ctx);
      if (!fresh) {
        spdlog::error("reload refused: {} is not valid; keeping the running configuration",
                      options.config_path);
        reload_done("reload refused: " + options.config_path +
                    " is not valid; keeping the running configuration");
      } else {
        spdlog::info("reloaded {}: {}", options.config_path, SummarizeConfig(*fresh));
        stack.reset();
        config = std::move(fresh);
        stack = std::make_unique<Stack>(*config, store.get(), fence, acting);
        stack->loop->SetCoordinator(coordinator.get());
        admin.Reconfigure(*config);
        alerts.SetPolicy(AlertPolicyFrom(*config));
        start_delivery();
        if (stack->executor) (void)stack->executor->Resume(WallMs());
        if (stack->savepoints) (void)stack->savepoints->Resume(WallMs());
        reload_done("reloaded " + options.config_path);
      }
    }
    coordinator->Poll(WallMs());
    follow_leadership();
    admin.metrics().SetLeader(acting);  // leads and has its journal
    admin.metrics().SetCoordination(coordinator->Status());
    const auto now = std::chrono::steady_clock::now();
    if (now >= next_cycle) {
      std::string late;
      if (now - next_cycle > interval / 2 && cycles > 0) {
        late =
            "cycle started " +
            std::to_string(
                std::chrono::duration_cast<std::chrono::milliseconds>(now - next_cycle).count()) +
            " ms late";
      }
      const auto cycle_start = std::chrono::steady_clock::now();
      stack->loop->SetAlerts(&alerts);  // every stack (rebuilt on reload and leadership) notifies
      if (acting) tidy();  // every 10 minutes (the coordinator keeps time)
      CycleReport report = stack->loop->RunCycle(WallMs(), late);
      if (delivery) delivery->Wake();
      for (const std::string& p : problem_log.Cycle(report.problems, WallMs())) {
        spdlog::warn("{}", p);
      }
      admin.AfterCycle(*config, report, stack->observe.observer.LastRequests(),
                       stack->executor.get(), store.get(),
                       std::chrono::duration<double>(std::chrono::steady_clock::now() - cycle_start)
                           .count());
      if (delivery) admin.NotificationCounts(delivery->Counts().attempts);
      ++cycles;
      // systemd: ready once config, storage and the first cycle are done; then the status.
      ServiceState state;
      state.history = store != nullptr;
      state.leading = acting;
      state.dry_run = config->agent.dry_run;
      state.jobs_seen = report.observation.jobs.size();
      state.clusters = report.observation.clusters.size();
      for (const ClusterSnapshot& c : report.observation.clusters) {
        if (!c.reachable) ++state.clusters_unreachable;
      }
      if (stack->executor) state.recoveries_in_progress = stack->executor->InProgress().size();
      if (cycles == 1) {
        notifier.Ready(ServiceStatusLine(state));
      } else {
        notifier.Status(ServiceStatusLine(state));
      }
      next_cycle += interval;
      if (next_cycle < std::chrono::steady_clock::now()) {
        next_cycle = std::chrono::steady_clock::now() + interval;
      }
    }
    if (stack->executor) {
      stack->executor->Tick(WallMs());
      LogEnded(*stack->executor, admin, alerts, store.get());
    }
    if (store) {
      // Held (flapping) alerts and repeats that are due; a standby keeps the state only.
      if (auto ok = WriteAlerts(*store, alerts, alerts.Tick(WallMs()), acting); !ok) {
        spdlog::warn("alert repeats not written: {}", ok.error().message);
      }
    }
    stack->loop->TickSavepoints(WallMs());
    {
      // The admin API's recover and savepoint requests, run here on the loop thread.
      AdminLoop::Acting with{&*config, stack->executor.get(), store.get(), {}};
      if (stack->savepoints) {
        with.start_savepoint = [&](const std::string& job, const std::string& cluster,
                                   const std::string& job_id) -> Result<std::string> {
          SavepointRequest r;
          r.job = job;
          r.cluster = cluster;
          r.job_id = job_id;
          r.origin = "manual";
          if (const JobConfig* jc = config->FindJob(job)) r.target_directory = jc->savepoint_dir;
          auto id = stack->savepoints->Start(r, WallMs());
          if (!id) return tl::unexpected(id.error());
          return std::to_string(*id);
        };
      }
      admin.ServeCommands(with, WallMs());
    }
    if (store && std::chrono::steady_clock::now() >= next_retention) {
      next_retention = std::chrono::steady_clock::now() + std::chrono::hours(1);
      stack->loop->PruneSavepoints(WallMs());
      if (auto r = store->ApplyRetention(WallMs(), RetentionPolicy{}); !r) {
        spdlog::warn("history retention failed: {}", r.error().message);
      } else if (r->rows_deleted > 0) {
        spdlog::info("history retention deleted {} old rows", r->rows_deleted);
      }
    }
    if (options.max_cycles > 0 && cycles >= options.max_cycles &&
        (!stack->executor || stack->executor->Idle()) &&
        (!stack->savepoints || stack->savepoints->Idle())) {
      break;
    }
    // systemd's watchdog: a pass only completes when the cycle and the actions returned.
    if (cycles > 0) notifier.Watchdog(std::chrono::steady_clock::now());
    auto wake = next_cycle;
    for (std::optional<std::int64_t> due :
         {stack->executor ? stack->executor->NextDue() : std::nullopt,
          stack->savepoints ? stack->savepoints->NextDue() : std::nullopt}) {
      if (!due) continue;
      const auto in = std::chrono::milliseconds(std::max<std::int64_t>(0, *due - WallMs()));
      wake = std::min(wake, std::chrono::steady_clock::now() + in);
    }
    const auto sleep = std::chrono::duration_cast<std::chrono::milliseconds>(
        wake - std::chrono::steady_clock::now());
    // With ZooKeeper, wake at least every 200 ms to follow the session and the election.
    InterruptibleSleep(std::clamp(sleep, std::chrono::milliseconds(20),
                                  std::chrono::milliseconds(config->ha ? 200 : 1000)));
  }
  notifier.Stopping();
  spdlog::info("flinkguard stopping{}",
               stack->executor && !stack->executor->Idle()
                   ? "; unfinished recoveries stay journaled and resume at the next start"
                   : "");
  return kExitOk;
}

}  // namespace flinkguard
