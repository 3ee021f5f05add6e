#pragma once

// Who may act: the Coordinator decides whether this replica plans and runs recoveries now, and
// guards every destructive step (its ActionFence).
//
// Two implementations:
//   - LocalCoordinator: a single instance; it leads while it holds the exclusive lock on
//     `<state_dir>/flinkguard.lock` (two agents started by mistake on one host do not both act).
//   - ZooKeeperCoordinator (zk_coordinator.h): replicas elect one leader through ZooKeeper; per-job
//     lock nodes and a fenced record of every destructive step.
//
// Not thread-safe: the daemon's thread calls every method.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/executor.h"
#include "agent/local_lock.h"
#include "rules/error.h"
#include "storage/history_store.h"

namespace flinkguard {

// The coordination session, as exported.
enum class SessionState {
  kLocal,       // no ZooKeeper: a single instance
  kConnecting,  // no session yet (or ZooKeeper unreachable): observe only
  kConnected,   // a session; the replica competes, leads or stands by
  kSuspended,   // the connection dropped: no new action, nothing destructive, until it returns
  kLost,        // the session expired (or is taken as expired): everything dropped, a new one opens
};
const char* SessionStateName(SessionState s);  // "local", "connecting", ...

// What the metrics and the admin endpoint show.
struct CoordinatorStatus {
  SessionState session = SessionState::kLocal;
  bool leader = false;
  std::string leader_identity;          // the leader's node data as known ("" = unknown)
  std::int64_t fencing_rejections = 0;  // destructive steps not taken because the fence said no
  std::int64_t lock_waits = 0;          // job locks acquired after a wait
  std::int64_t last_lock_wait_ms = 0;   // how long the last job lock took to acquire
  std::int64_t sessions_lost = 0;
  std::int64_t ignored_nodes = 0;       // foreign or garbage nodes seen under our paths
  std::int64_t placement_reads = 0;     // SharedPlacements answers read from ZooKeeper, not cached
};

class Coordinator {
 public:
  virtual ~Coordinator() = default;
  // Advances the session and the election (events from ZooKeeper's thread are taken here).
  virtual void Poll(std::int64_t now_ms) = 0;
  // This replica may plan and act now.
  [[nodiscard]] virtual bool Leading() const = 0;
  // The guard the executor calls before every destructive step.
  virtual ActionFence& Fence() = 0;
  // Called when this replica starts leading, before the executor resumes the journal: brings the
  // local journal in line with the shared record of unfinished recoveries (imports the ones
  // another replica left, closes local ones nobody needs any more). Returns how many it imported.
  [[nodiscard]] virtual Result<int> Adopt(RecoveryJournal& journal, std::int64_t now_ms) {
    (void)journal;
    (void)now_ms;
    return 0;
  }
  [[nodiscard]] virtual CoordinatorStatus Status() const = 0;

  // Where jobs live after failovers and moves, shared by the replicas (so a new leader agrees
  // with the old one). A single instance shares nothing: its history is the only record.
  // Publish: a replica only while leading, fenced on its election node; a command that does not
  // compete (`flinkguard move`) fenced on the job's lock, which it takes for the write (a
  // Transient error while another holds it). An Error = not recorded.
  [[nodiscard]] virtual Result<void> PublishPlacement(const Placement& p) {
    (void)p;
    return {};
  }
  // Housekeeping while leading (rate-limited by the implementation): removes what jobs that
  // left the catalog left behind under the coordinator's paths, when nobody uses it.
  virtual void Tidy(const std::vector<std::string>& catalog_jobs, std::int64_t now_ms) {
    (void)catalog_jobs;
    (void)now_ms;
  }
  // Every shared placement (nullopt = nothing is shared here).
  [[nodiscard]] virtual Result<std::optional<std::vector<Placement>>> SharedPlacements() {
    return std::optional<std::vector<Placement>>{};
  }
};

// A single instance: leads while it holds the state_dir lock (null = it could not take it, and
// then it never acts); per-job local locks (LocalJobFence) as its fence.
class LocalCoordinator final : public Coordinator {
 public:
  LocalCoordinator(const std::string& state_dir, std::unique_ptr<FileLock> dir_lock)
      : dir_lock_(std::move(dir_lock)), fence_(state_dir) {}
  void Poll(std::int64_t) override {}
  bool Leading() const override { return dir_lock_ != nullptr; }
  ActionFence& Fence() override { return fence_; }
  CoordinatorStatus Status() const override {
    CoordinatorStatus s;
    s.session = SessionState::kLocal;
    s.leader = Leading();
    return s;
  }

 private:
  std::unique_ptr<FileLock> dir_lock_;
  LocalJobFence fence_;
};

}  // namespace flinkguard
