#pragma once

// Replicas coordinated through ZooKeeper (libzookeeper-mt). Layout under the configured root
// (never under Flink's own HA root):
//   <root>/leader/_c_<uuid>-latch-<seq>      election: EPHEMERAL_SEQUENTIAL, data = who we are
//   <root>/locks/<job>/_c_<uuid>-lock-<seq>  per-job action lock, held for a whole recovery
//   <root>/actions/<job>                     the unfinished recovery of <job>, written by the
//                                            fenced multi before every destructive step
// The names are Curator's (LeaderLatch, InterProcessMutex); every child with a sequence suffix
// counts as a contender, so a kazoo Lock (with extra_lock_patterns=["-lock-"]) and flinkguard
// exclude each other. A waiter watches only its predecessor (getData with a watch).
//
// Session state machine: connecting → connected → (connection drops) suspended → either
// connected again (our latch node is re-verified: it exists and its ephemeralOwner is our session)
// or lost (expiry, ZINVALIDSTATE, auth failure, or suspended for the whole session timeout):
// leadership and locks are dropped, the handle closed, a new session opened, and the replica
// competes again. While there is no session (ZooKeeper unreachable at start) the replica
// observes only; it retries with a backoff of 1 s doubling to 30 s.
//
// Fencing: before every destructive step, zoo_multi(check our lock node exists, write the
// recovery's record under <root>/actions/<job>): the step is taken only when it commits. The
// lock node's czxid is the fencing token. A replica that starts leading imports those records
// into its own journal (Adopt) and rolls them forward.
//
// ZooKeeper's callbacks only set flags; all work runs on the caller's thread in Poll and Check.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "agent/ha/coordinator.h"

struct _zhandle;
struct ACL_vector;

namespace flinkguard {

struct ZooKeeperOptions {
  std::string connect_string;  // "h1:p1,h2:p2"
  std::string root;            // absolute, no trailing '/'
  std::int64_t session_timeout_ms = 10'000;
  std::string digest_auth;     // "user:password"; "" = no auth, open ACLs
  std::string instance_id;     // names this replica in node data and in action records
  // false: do not compete for leadership, only take job locks and fence on them (a person's
  // `flinkguard recover` next to running replicas).
  bool compete = true;
};

class ZooKeeperCoordinator final : public Coordinator, private ActionFence {
 public:
  explicit ZooKeeperCoordinator(ZooKeeperOptions options);
  ~ZooKeeperCoordinator() override;
  ZooKeeperCoordinator(const ZooKeeperCoordinator&) = delete;
  ZooKeeperCoordinator& operator=(const ZooKeeperCoordinator&) = delete;

  void Poll(std::int64_t now_ms) override;
  bool Leading() const override;
  // A session is established and our paths exist (the fence can be taken).
  bool Connected() const;
  ActionFence& Fence() override { return *this; }
  Result<int> Adopt(RecoveryJournal& journal, std::int64_t now_ms) override;
  CoordinatorStatus Status() const override;
  Result<void> PublishPlacement(const Placement& p) override;
  // Deletes the empty per-job lock parents (<root>/locks/<job>) of jobs not in the catalog,
  // at most every 10 minutes while leading. A parent with a contender in it stays (ZNOTEMPTY).
  void Tidy(const std::vector<std::string>& catalog_jobs, std::int64_t now_ms) override;
  Result<std::optional<std::vector<Placement>>> SharedPlacements() override;

  // Flags set by ZooKeeper's thread (public for the C callbacks only).
  struct Signals {
    std::atomic<int> state{0};            // the last session state event
    std::atomic<bool> expired{false};     // expired or auth failed: the handle is dead
    std::atomic<bool> auth_failed{false};
    std::atomic<bool> dirty{true};        // a watched node changed: evaluate again
    // A watch set by the last read of <root>/placements fired (or the session changed): the
    // cached placements may be out of date.
    std::atomic<bool> placements_dirty{true};
  };

 private:
  struct JobLock {
    std::string dir;   // <root>/locks/<job>
    std::string node;  // our child's name ("" = none yet)
    bool held = false;
    bool wait_logged = false;
    std::int64_t czxid = 0;
    std::int64_t requested_ms = 0;
  };

  Result<std::optional<std::int64_t>> Check(const std::string& job,
                                            const std::string& action) override;
  Result<std::optional<std::int64_t>> CheckStep(const RecoveryRecord& record,
                                                const std::string& action) override;
  void Release(const std::string& job) override;

  void Open(std::int64_t now_ms);
  void Close();
  void Lose(std::int64_t now_ms, const std::string& why);
  bool SetUp(std::int64_t now_ms);  // paths and our latch node; false = try again
  void Evaluate(std::int64_t now_ms);
  bool VerifyOwn(const std::string& path);  // exists and owned by our session
  // Creates an EPHEMERAL_SEQUENTIAL child `prefix` of `dir` (the lost-create case resolved by
  // looking for our uuid); its name, or an error.
  Result<std::string> CreateSequential(const std::string& dir, const std::string& prefix,
                                       const std::string& data);
  Result<void> EnsurePath(const std::string& path);
  Result<std::vector<std::string>> Children(const std::string& path);
  // Our place in `dir`: held (first), or waiting behind a predecessor (watched).
  Result<bool> FirstInLine(const std::string& dir, const std::string& own, std::string* ahead);
  Result<std::int64_t> TryLock(const std::string& job, std::int64_t now_ms);
  // zoo_multi(check `fence` exists, set or create the placement node of p.job).
  Result<void> WritePlacement(const Placement& p, const std::string& fence);
  void DropLocks(bool delete_nodes);
  void NoteIgnored(const std::string& dir, const std::vector<std::string>& names);
  Error ZkError(int rc, const std::string& what);  // and marks the session lost when dead

  ZooKeeperOptions options_;
  const ::ACL_vector* acl_;
  std::string identity_;
  Signals signals_;
  _zhandle* zh_ = nullptr;
  SessionState state_ = SessionState::kConnecting;
  std::int64_t session_id_ = 0;
  std::string uuid_;
  std::string latch_;  // our latch node name ("" = none yet)
  bool set_up_ = false;
  bool leader_ = false;
  bool lose_pending_ = false;
  std::string lose_why_;
  std::string leader_identity_;
  std::int64_t opened_ms_ = 0;
  std::int64_t suspended_since_ms_ = 0;
  std::int64_t next_open_ms_ = 0;
  std::int64_t backoff_ms_ = 1'000;
  std::int64_t next_verify_ms_ = 0;
  std::int64_t next_setup_ms_ = 0;       // the next set-up try after a failed one
  std::int64_t setup_backoff_ms_ = 250;
  std::string setup_error_;              // the last set-up failure said (said once)
  bool unreachable_logged_ = false;
  std::map<std::string, JobLock> locks_;
  // Our lock nodes that could not be deleted when given up (no connection then): deleted once
  // connected, or they would hold the job's lock for as long as the session lives.
  std::vector<std::string> orphans_;
  std::set<std::string> warned_;  // foreign nodes already warned about
  std::int64_t next_tidy_ms_ = 0;
  // The shared placements as last read, with watches on the directory, its list and every
  // entry: answered from here until one fires, so a cycle costs no round trip (and does not
  // wait on a slow server) while nothing moved.
  std::optional<std::vector<Placement>> placements_cache_;
  CoordinatorStatus stats_;
};

}  // namespace flinkguard
