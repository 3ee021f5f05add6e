#pragma once

// Savepoints the agent takes of running jobs — periodically per job policy, when a rule with
// action `savepoint` fires, by hand (`flinkguard savepoint`), and of surplus duplicate instances
// (`on_duplicate: stop`, which stops the instance with its savepoint).
//
// Each savepoint is a small state machine ticked like the executor: trigger (POST
// /jobs/:id/savepoints or /jobs/:id/stop, retried on transient errors within a grace period) →
// poll the async status → record the outcome. A completed savepoint is recorded in the savepoint
// history and added to the restore-point catalog (origin "taken"); one that Flink reports as
// COMPLETED with a failure cause counts as failed, with that cause. Requests are recorded when
// triggered, so a restarted agent resumes polling the ones still pending (Resume).
//
// Not thread-safe: one thread calls every method. Transport and stores must outlive it.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/executor.h"
#include "agent/flink/flink_rest_client.h"
#include "agent/http/http_transport.h"
#include "storage/history_store.h"

namespace flinkguard {

struct SavepointRequest {
  std::string job;      // job name
  std::string cluster;  // where the instance runs
  std::string job_id;
  std::string origin;            // "periodic", "rule:<name>", "manual", "duplicate"
  std::string target_directory;  // "" = the cluster's state.savepoints.dir
  bool stop = false;             // stop the job with this savepoint (POST /jobs/:id/stop)
  std::int64_t timeout_ms = 600'000;  // from trigger to a result
};

struct SavepointOptions {
  std::int64_t trigger_grace_ms = 60'000;  // transient trigger errors are retried this long
  std::int64_t poll_interval_ms = 1'000;   // status polls after the first 2 s (250 ms before)
};

class SavepointDriver {
 public:
  // `clusters`: every managed cluster. `fence` guards stops (a savepoint that stops the job is
  // destructive; a plain savepoint is not); null = stops are not fenced.
  SavepointDriver(HttpTransport& transport, std::vector<FlinkEndpoint> clusters, EventLog& events,
                  RestorePointCatalog& catalog, ActionFence* fence,
                  SavepointOptions options = {});
  ~SavepointDriver();
  SavepointDriver(const SavepointDriver&) = delete;
  SavepointDriver& operator=(const SavepointDriver&) = delete;

  // Records the request as pending and starts it; the first request goes out at the next Tick.
  // An Error (nothing started) when the cluster is unknown, a savepoint of the job is already
  // under way, or the request cannot be recorded.
  [[nodiscard]] Result<std::int64_t> Start(const SavepointRequest& request, std::int64_t now_ms);

  // Picks up savepoints recorded as pending with a trigger id (a previous run of the agent) and
  // polls them again; pending ones older than `max_age_ms`, or never triggered, are recorded as
  // failed ("agent restarted; result unknown"). Returns how many were resumed.
  [[nodiscard]] Result<int> Resume(std::int64_t now_ms, std::int64_t max_age_ms = 3'600'000);

  // One request per due savepoint, all in one transport run.
  void Tick(std::int64_t now_ms);

  bool InFlight(const std::string& job) const;
  bool Idle() const { return runs_.empty(); }
  std::optional<std::int64_t> NextDue() const;
  // Savepoints that ended (completed or failed) since the last call.
  std::vector<SavepointRecord> TakeEnded();

  struct Run;  // one savepoint in flight (defined in savepoints.cc)

 private:
  void Handle(Run& run, Result<HttpResponse> reply, std::int64_t now_ms);
  void End(Run& run, const std::string& status, const std::string& path_or_error,
           std::int64_t now_ms);

  HttpTransport& transport_;
  std::map<std::string, FlinkRestClient> clusters_;
  EventLog& events_;
  RestorePointCatalog& catalog_;
  ActionFence* fence_;
  SavepointOptions options_;
  std::vector<std::unique_ptr<Run>> runs_;
  std::vector<SavepointRecord> ended_;
};

}  // namespace flinkguard
