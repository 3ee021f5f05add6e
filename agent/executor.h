#pragma once

// The recovery executor: runs RecoveryPlans against Flink as persisted state machines.
//
// Every recovery is journaled (RecoveryJournal::BeginRecovery) before its first request, and its
// progress is saved before every destructive request (cancel, stop, submit), so an agent killed
// at any point resumes it on restart (Resume) and rolls it forward:
//   - a cancel already done is harmless to repeat (Flink acknowledges a cancel of a CANCELED job
//     and answers 409 for FAILED/FINISHED ones, both taken as "stopped");
//   - stop-with-savepoint carries a triggerId derived from the recovery id, so a repeated stop is
//     the same operation to Flink;
//   - the submitted job gets a jobId derived from the recovery id; before submitting, the
//     executor asks whether that job already exists, and a "job already submitted" answer counts
//     as submitted. So no recovery ever starts a second instance.
// Before any submit, every managed cluster is asked for live instances of the job name; one
// that is found (other than ours) stops the recovery (no two live copies).
//
// Actions never block observation: each Tick advances every active recovery by at most one
// request (all of them concurrently, in one transport run) and returns; waits are polls spread
// over ticks. Every request has the cluster's timeout; every phase has a deadline, after which
// the recovery fails cleanly and says why.
//
// Not thread-safe: one thread calls every method. The transport, the stores and the fence must
// outlive the executor.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "agent/flink/flink_rest_client.h"
#include "agent/http/http_transport.h"
#include "rules/decision.h"
#include "rules/error.h"
#include "rules/snapshot.h"
#include "storage/history_store.h"

namespace flinkguard {

// What the executor needs to (re)submit a catalog job.
struct JobSubmission {
  std::string job;
  std::string jar;          // local path of the jar to upload
  std::string entry_class;  // "" = the jar manifest's
  std::vector<std::string> args;
  std::optional<int> parallelism;
  std::string savepoint_dir;  // target of stop-with-savepoint; "" = the cluster's default
  std::int64_t verify_timeout_ms = 300'000;  // all tasks RUNNING within this after the submit
  bool verify_checkpoint = false;            // and then one completed checkpoint
};

// The guard before every destructive step (cancel, stop, submit). With ZooKeeper it checks the
// job's lock node and records the action (the fencing token is the lock's czxid); a single
// instance holds its local lock for its whole life.
class ActionFence {
 public:
  virtual ~ActionFence() = default;
  // Ok(token) when this agent may take `action` on `job` now (token: a fencing token to journal,
  // nullopt when the fence has none); an Error when it may not (the step is not taken).
  [[nodiscard]] virtual Result<std::optional<std::int64_t>> Check(const std::string& job,
                                                                  const std::string& action) = 0;
  // The same check given the whole recovery as it stands before the step (`record.progress` is
  // current): a fence shared by replicas (ZooKeeper) records it with the check, so a replica that
  // takes over can finish it. An Error of kind kTransient means "not now" (the step waits and is
  // tried again within the phase deadline); any other kind fails the recovery.
  [[nodiscard]] virtual Result<std::optional<std::int64_t>> CheckStep(const RecoveryRecord& record,
                                                                      const std::string& action) {
    return Check(record.job, action);
  }
  // The recovery of `job` ended: give up whatever Check took for it.
  virtual void Release(const std::string& job) { (void)job; }
};

// The single-instance fence: this process is the only agent (it holds the state_dir lock).
class SingleInstanceFence final : public ActionFence {
 public:
  Result<std::optional<std::int64_t>> Check(const std::string&, const std::string&) override {
    return std::optional<std::int64_t>{};
  }
};

struct ExecutorOptions {
  // Deadline of each phase other than verification (stop → terminal, duplicate check, upload,
  // submit), retries of transient errors included.
  std::int64_t phase_timeout_ms = 120'000;
  // How often a phase that waits (terminal state, savepoint, verification) asks again, after
  // its first 2 s (every 250 ms before).
  std::int64_t poll_interval_ms = 1'000;
  // First retry delay after a transient error; doubles up to 8×.
  std::int64_t retry_base_ms = 500;
};

// A recovery that ended, for the loop to log, alert and count.
struct EndedRecovery {
  RecoveryRecord record;   // as journaled at the end (outcome, ended_ms, error)
  std::string new_job_id;  // the instance it started; "" when it started none
};

class Executor {
 public:
  // `clusters`: every managed cluster (submit targets and the duplicate check). `jobs`: the
  // catalog's submissions by job name.
  Executor(HttpTransport& transport, std::vector<FlinkEndpoint> clusters,
           std::map<std::string, JobSubmission> jobs, RecoveryJournal& journal,
           RestorePointCatalog& catalog, EventLog& events, ActionFence& fence,
           ExecutorOptions options = {});
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // Loads the journal's unfinished recoveries and continues them from their saved progress.
  // Dry-run leftovers are closed. Returns how many were resumed.
  [[nodiscard]] Result<int> Resume(std::int64_t now_ms);

  // Journals and starts `plan`. `trigger` says who asked ("rule", "manual"). A dry-run plan is
  // journaled as a "would have" record and ended at once. Returns the recovery id; an Error when
  // the plan cannot be journaled (then nothing is done: no journal, no action) or is not
  // executable (unknown job or cluster, a recovery of the job already under way).
  // `jar`: submit this jar instead of the catalog's (an update); "" = the catalog's.
  [[nodiscard]] Result<std::string> Start(const RecoveryPlan& plan, const std::string& trigger,
                                          std::int64_t now_ms, const std::string& jar = "");

  // Advances every active recovery whose next poll is due by one request (concurrently).
  void Tick(std::int64_t now_ms);

  // Gives the executor the loop's latest observation: a cluster that does not answer the
  // duplicate check is tolerated only when it was last seen without a live instance of the job.
  void UpdateView(const Observation& observation);

  // Jobs with a recovery under way.
  std::vector<std::string> InProgress() const;
  bool Idle() const;
  // The earliest time a Tick has something to do; nullopt when idle.
  std::optional<std::int64_t> NextDue() const;
  // Recoveries that ended since the last call.
  std::vector<EndedRecovery> TakeEnded();

  // The jobId the recovery `recovery_id` submits (32 lower-case hex digits, derived from the id).
  static std::string DerivedJobId(const std::string& recovery_id);

  // A recovery in flight (defined in executor.cc).
  struct Run;

 private:
  class Stepper;

  void Advance(Run& run, std::int64_t now_ms);
  void Finish(Run& run, RecoveryAttempt::Outcome outcome, const std::string& error,
              std::int64_t now_ms);

  HttpTransport& transport_;
  std::map<std::string, FlinkRestClient> clusters_;
  std::map<std::string, JobSubmission> jobs_;
  RecoveryJournal& journal_;
  RestorePointCatalog& catalog_;
  EventLog& events_;
  ActionFence& fence_;
  ExecutorOptions options_;
  std::vector<std::unique_ptr<Run>> runs_;
  std::vector<EndedRecovery> ended_;
  // (cluster, jar path) -> jar id uploaded by this process.
  std::map<std::pair<std::string, std::string>, std::string> jar_ids_;
  // Per cluster that did not answer in the last observation: job names it held live then.
  std::map<std::string, std::set<std::string>> unreachable_live_;
  std::set<std::string> never_seen_;  // clusters that never answered
  // Job id -> the cluster it was last observed on (where a plan's instance to stop lives).
  std::map<std::string, std::string> stop_hosts_;
  std::map<std::string, std::string> versions_;  // cluster -> Flink version last observed
  // Recoveries whose outcome could not be journaled yet, by id.
  std::map<std::string, std::pair<RecoveryAttempt::Outcome, std::string>> pending_finish_;
  int sequence_ = 0;
};

}  // namespace flinkguard
