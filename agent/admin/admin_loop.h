#pragma once

// The daemon's side of the metrics and the admin endpoint: after each cycle it updates the
// metrics and publishes what the API answers from; between cycles it runs the API's mutating
// requests (recover, savepoint) on the loop thread, with the same planner, rails, journal and
// executor as the daemon's own recoveries.
//
// Not thread-safe: the daemon's loop thread calls every method. The AdminServer it owns serves
// HTTP on its own threads (see admin_server.h).

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "agent/admin/admin_server.h"
#include "agent/admin/metrics.h"
#include "agent/agent_loop.h"
#include "agent/config.h"
#include "agent/executor.h"
#include "agent/observer.h"
#include "storage/history_store.h"

namespace flinkguard {

class AdminLoop {
 public:
  AdminLoop(std::string_view version, std::string_view revision);

  // Starts the HTTP endpoint on config.agent.listen. Returns false (and logs why) when it cannot
  // listen; the agent then runs without it. `history_path` "" = no history to read.
  bool StartServer(const Config& config, const std::string& history_path);
  // After a reload: the new config's token, receivers and signals.
  void Reconfigure(const Config& config);

  // After each cycle: metrics and the published view. `executor` and `store` may be null.
  // `cycle_seconds`: how long RunCycle took.
  void AfterCycle(const Config& config, const CycleReport& report,
                  const std::vector<RequestSample>& requests, const Executor* executor,
                  SqliteHistoryStore* store, double cycle_seconds);
  // The delivery worker's cumulative attempt counts by (receiver, outcome): the notification
  // counters advance by what is new since the last call. Call NewDeliveryWorker when a new
  // worker (counting from 0) replaces the old one.
  void NotificationCounts(const std::map<std::pair<std::string, std::string>, std::int64_t>& now);
  void NewDeliveryWorker() { notification_counts_.clear(); }
  // Every recovery that ended (dry runs included; the metrics skip them).
  void RecoveryEnded(const EndedRecovery& ended);

  // What the loop can act with. `start_savepoint(job, cluster, job_id)` starts a savepoint of a
  // running instance and returns its id, or an Error saying why not; empty = not available.
  struct Acting {
    const Config* config = nullptr;
    Executor* executor = nullptr;  // null: no journal, no action
    SqliteHistoryStore* store = nullptr;
    std::function<Result<std::string>(const std::string&, const std::string&, const std::string&)>
        start_savepoint;
  };
  // Runs the queued mutating requests of the API. `now_ms`: the wall clock.
  void ServeCommands(const Acting& acting, std::int64_t now_ms);

  AgentMetrics& metrics() { return metrics_; }
  // The bound port; 0 when not serving.
  int port() const { return server_ ? server_->port() : 0; }

 private:
  void Declare(const Config& config);
  AdminReply Run(const AdminCommand& c, const Acting& acting, std::int64_t now_ms);

  AgentMetrics metrics_;
  std::unique_ptr<AdminServer> server_;
  std::shared_ptr<const Observation> last_;
  std::map<std::pair<std::string, std::string>, std::int64_t> notification_counts_;
  // Job -> when its last recovery ended (epoch ms): until a cycle observes it after that, the
  // last observation shows instances that no longer exist.
  std::map<std::string, std::int64_t> recovery_ended_ms_;  // the last cycle's observation
  // (rule, job) -> its state while not inactive.
  std::map<std::pair<std::string, std::string>, AdminRuleState> rule_states_;
};

}  // namespace flinkguard
