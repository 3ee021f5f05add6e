#include "agent/ha/zk_coordinator.h"

#include <spdlog/spdlog.h>
#include <unistd.h>
#include <zookeeper/zookeeper.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "agent/ha/zk_records.h"
#include "agent/version.h"

namespace flinkguard {
namespace {

void SessionWatcher(zhandle_t*, int type, int state, const char*, void* ctx) {
  auto* s = static_cast<ZooKeeperCoordinator::Signals*>(ctx);
  if (type == ZOO_SESSION_EVENT) {
    s->state.store(state);
    if (state == ZOO_EXPIRED_SESSION_STATE) s->expired.store(true);
    if (state == ZOO_AUTH_FAILED_STATE) {
      s->auth_failed.store(true);
      s->expired.store(true);
    }
  }
  s->dirty.store(true);
  // A new or lost session may have lost the watches (expiry) or missed events (a partition):
  // read the placements again.
  s->placements_dirty.store(true);
}

// A watch on a predecessor (or any node): something changed, evaluate again.
void NodeWatcher(zhandle_t*, int, int, const char*, void* ctx) {
  static_cast<ZooKeeperCoordinator::Signals*>(ctx)->dirty.store(true);
}

// A watch set by a read of the shared placements: read them again.
void PlacementWatcher(zhandle_t*, int, int, const char*, void* ctx) {
  static_cast<ZooKeeperCoordinator::Signals*>(ctx)->placements_dirty.store(true);
}

// The C client's own log (it runs on the client's threads): at debug level, since the session
// state machine logs what matters (a refused connection is logged by the client every retry).
void ClientLog(const char* message) {
  std::string m = message != nullptr ? message : "";
  while (!m.empty() && (m.back() == '\n' || m.back() == '\r')) m.pop_back();
  spdlog::debug("zookeeper client: {}", m);
}

std::string HostName() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "";
  return buf;
}

bool SessionDead(int rc) {
  return rc == ZINVALIDSTATE || rc == ZSESSIONEXPIRED || rc == ZAUTHFAILED;
}
bool OutcomeUnknown(int rc) { return rc == ZCONNECTIONLOSS || rc == ZOPERATIONTIMEOUT; }

}  // namespace

const char* SessionStateName(SessionState s) {
  switch (s) {
    case SessionState::kLocal: return "local";
    case SessionState::kConnecting: return "connecting";
    case SessionState::kConnected: return "connected";
    case SessionState::kSuspended: return "suspended";
    case SessionState::kLost: return "lost";
  }
  return "unknown";
}

ZooKeeperCoordinator::ZooKeeperCoordinator(ZooKeeperOptions options)
    : options_(std::move(options)),
      acl_(options_.digest_auth.empty() ? &ZOO_OPEN_ACL_UNSAFE : &ZOO_CREATOR_ALL_ACL),
      identity_(IdentityJson(options_.instance_id, HostName(), static_cast<int>(::getpid()),
                             kVersion)) {
  // The client's own log goes to ClientLog (debug); below warnings it is only noise.
  zoo_set_debug_level(ZOO_LOG_LEVEL_WARN);
  stats_.session = SessionState::kConnecting;
}

ZooKeeperCoordinator::~ZooKeeperCoordinator() {
  DropLocks(/*delete_nodes=*/true);
  Close();
}

void ZooKeeperCoordinator::Open(std::int64_t now_ms) {
  signals_.state.store(0);
  signals_.expired.store(false);
  signals_.auth_failed.store(false);
  signals_.dirty.store(true);
  signals_.placements_dirty.store(true);  // a new handle has none of the old watches
  zh_ = zookeeper_init2(options_.connect_string.c_str(), SessionWatcher,
                        static_cast<int>(options_.session_timeout_ms), nullptr, &signals_, 0,
                        ClientLog);
  opened_ms_ = now_ms;
  if (zh_ == nullptr) {
    spdlog::error("ZooKeeper {}: cannot create a client handle: {}", options_.connect_string,
                  std::strerror(errno));
    next_open_ms_ = now_ms + backoff_ms_;
    backoff_ms_ = std::min<std::int64_t>(backoff_ms_ * 2, 30'000);
    return;
  }
  if (!options_.digest_auth.empty()) {
    const int rc =
        zoo_add_auth(zh_, "digest", options_.digest_auth.data(),
                     static_cast<int>(options_.digest_auth.size()), nullptr, nullptr);
    if (rc != ZOK) spdlog::error("ZooKeeper: cannot add digest auth: {}", zerror(rc));
  }
}

void ZooKeeperCoordinator::Close() {
  if (zh_ != nullptr) {
    zookeeper_close(zh_);
    zh_ = nullptr;
  }
  set_up_ = false;
  leader_ = false;
  latch_.clear();
  session_id_ = 0;
  orphans_.clear();  // ephemeral: gone with the session
  placements_cache_.reset();
}

void ZooKeeperCoordinator::Lose(std::int64_t now_ms, const std::string& why) {
  const bool was_leader = leader_;
  ++stats_.sessions_lost;
  DropLocks(/*delete_nodes=*/false);
  Close();
  state_ = SessionState::kLost;
  lose_pending_ = false;
  spdlog::error(
      "ZooKeeper session lost ({}): {}locks dropped, taking no action; opening a new session", why,
      was_leader ? "leadership and " : "");
  next_open_ms_ = now_ms;
}

Error ZooKeeperCoordinator::ZkError(int rc, const std::string& what) {
  if (SessionDead(rc) && !lose_pending_) {
    lose_pending_ = true;
    lose_why_ = std::string(what) + ": " + zerror(rc);
  }
  std::string msg = "ZooKeeper " + what + ": " + zerror(rc);
  if (rc == ZNOAUTH) {
    msg += " (ZNOAUTH: the node's ACL does not grant these credentials; ha.auth_file must name "
           "the user and password the other replicas use)";
  }
  if (OutcomeUnknown(rc) || SessionDead(rc)) return Error::Transient(msg);
  return Error::Permanent(msg);
}

void ZooKeeperCoordinator::Poll(std::int64_t now_ms) {
  if (zh_ == nullptr) {
    if (now_ms >= next_open_ms_) Open(now_ms);
    if (zh_ == nullptr) return;
  }
  if (lose_pending_ || signals_.expired.load()) {
    Lose(now_ms, lose_pending_ ? lose_why_
                               : (signals_.auth_failed.load() ? "authentication failed"
                                                              : "the session expired"));
    return;
  }
  const int zk_state = signals_.state.load();
  switch (state_) {
    case SessionState::kLocal:
    case SessionState::kConnecting:
    case SessionState::kLost:
      if (zk_state == ZOO_CONNECTED_STATE) {
        session_id_ = zoo_client_id(zh_)->client_id;
        state_ = SessionState::kConnected;
        backoff_ms_ = 1'000;
        unreachable_logged_ = false;
        uuid_ = NewUuid();
        spdlog::info("ZooKeeper {}: session 0x{:x} established (timeout {} ms)",
                     options_.connect_string, session_id_, zoo_recv_timeout(zh_));
      } else if (now_ms - opened_ms_ >= std::max<std::int64_t>(options_.session_timeout_ms,
                                                               2'000)) {
        if (!unreachable_logged_) {
          spdlog::error(
              "ZooKeeper {} is not reachable: observing only, taking no action until a session "
              "is established; retrying",
              options_.connect_string);
          unreachable_logged_ = true;
        }
        Close();
        next_open_ms_ = now_ms + backoff_ms_;
        backoff_ms_ = std::min<std::int64_t>(backoff_ms_ * 2, 30'000);
        return;
      } else {
        return;
      }
      break;
    case SessionState::kConnected:
      if (zk_state == ZOO_CONNECTING_STATE || zk_state == ZOO_ASSOCIATING_STATE) {
        state_ = SessionState::kSuspended;
        suspended_since_ms_ = now_ms;
        spdlog::warn(
            "ZooKeeper connection lost: suspended (no new action, nothing destructive) until it "
            "returns or the session times out");
        return;
      }
      break;
    case SessionState::kSuspended:
      if (zk_state == ZOO_CONNECTED_STATE) {
        if (zoo_client_id(zh_)->client_id != session_id_ ||
            (!latch_.empty() && !VerifyOwn(options_.root + "/leader/" + latch_))) {
          Lose(now_ms, "our latch node is gone after the reconnect");
          return;
        }
        for (auto it = locks_.begin(); it != locks_.end();) {
          if (!it->second.node.empty() && !VerifyOwn(it->second.dir + "/" + it->second.node)) {
            it = locks_.erase(it);
          } else {
            ++it;
          }
        }
        state_ = SessionState::kConnected;
        signals_.dirty.store(true);
        spdlog::info("ZooKeeper reconnected: session 0x{:x} continues, our nodes verified",
                     session_id_);
      } else if (now_ms - suspended_since_ms_ >= options_.session_timeout_ms) {
        Lose(now_ms, "suspended for the whole session timeout");
        return;
      } else {
        return;
      }
      break;
  }
  if (lose_pending_) return;
  for (auto it = orphans_.begin(); it != orphans_.end();) {
    const int rc = zoo_delete(zh_, it->c_str(), -1);
    if (rc == ZOK || rc == ZNONODE) {
      it = orphans_.erase(it);
    } else {
      (void)ZkError(rc, "delete " + *it);
      break;
    }
  }
  if (!set_up_) {
    // A set-up that failed (no permission, say) is tried again with a backoff, and said once
    // per distinct error, not every poll.
    if (now_ms < next_setup_ms_) return;
    if (!SetUp(now_ms)) {
      setup_backoff_ms_ = std::min<std::int64_t>(setup_backoff_ms_ * 2, 30'000);
      next_setup_ms_ = now_ms + setup_backoff_ms_;
      return;
    }
    setup_backoff_ms_ = 250;
    next_setup_ms_ = 0;
    setup_error_.clear();
  }
  if (signals_.dirty.exchange(false) || now_ms >= next_verify_ms_) {
    Evaluate(now_ms);
    next_verify_ms_ = now_ms + std::max<std::int64_t>(options_.session_timeout_ms / 3, 500);
  }
}

bool ZooKeeperCoordinator::Connected() const {
  return zh_ != nullptr && state_ == SessionState::kConnected && set_up_ && !lose_pending_;
}

bool ZooKeeperCoordinator::Leading() const {
  return zh_ != nullptr && state_ == SessionState::kConnected && set_up_ && leader_ &&
         !lose_pending_;
}

Result<void> ZooKeeperCoordinator::EnsurePath(const std::string& path) {
  std::size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    const std::string part = path.substr(0, pos);
    // exists first: creating a node that exists under a parent we may not write to answers
    // ZNOAUTH, not ZNODEEXISTS (persistent parents stay, so this is the common case).
    Stat st{};
    if (zoo_exists(zh_, part.c_str(), 0, &st) == ZOK) continue;
    const int rc = zoo_create(zh_, part.c_str(), nullptr, -1, acl_, 0, nullptr, 0);
    if (rc != ZOK && rc != ZNODEEXISTS) return Fail(ZkError(rc, "create " + part));
  }
  return {};
}

Result<std::vector<std::string>> ZooKeeperCoordinator::Children(const std::string& path) {
  String_vector v{};
  const int rc = zoo_get_children(zh_, path.c_str(), 0, &v);
  if (rc != ZOK) return Fail(ZkError(rc, "list " + path));
  std::vector<std::string> out;
  for (int i = 0; i < v.count; ++i) out.emplace_back(v.data[i]);
  deallocate_String_vector(&v);
  return out;
}

Result<std::string> ZooKeeperCoordinator::CreateSequential(const std::string& dir,
                                                           const std::string& prefix,
                                                           const std::string& data) {
  const std::string path = dir + "/" + prefix;
  for (int attempt = 0; attempt < 3; ++attempt) {
    // A create whose answer was lost (connection loss, timeout) may have made the node, here
    // or in an earlier call whose lookup failed with the connection: look for our uuid before
    // every create. A second node of ours would queue behind the first for good, and with it
    // every other replica (Curator's "protected" creates).
    String_vector v{};
    const int listed = zoo_get_children(zh_, dir.c_str(), 0, &v);
    if (listed == ZOK) {
      std::string found;
      for (int i = 0; i < v.count && found.empty(); ++i) {
        if (std::string_view(v.data[i]).rfind(prefix, 0) == 0) found = v.data[i];
      }
      deallocate_String_vector(&v);
      if (!found.empty()) {
        spdlog::info(
            "ZooKeeper: {}/{} is already ours (a create whose answer was lost, or a node not "
            "deleted yet); keeping it",
            dir, found);
        return found;
      }
    } else if (listed != ZNONODE) {
      return Fail(ZkError(listed, "list " + dir));
    }
    char created[1024] = {};
    const int rc = zoo_create(zh_, path.c_str(), data.data(), static_cast<int>(data.size()),
                              acl_, ZOO_EPHEMERAL_SEQUENTIAL, created, sizeof created - 1);
    if (rc == ZNONODE) {
      if (auto ok = EnsurePath(dir); !ok) return Fail(ok.error());
      continue;
    }
    if (rc == ZOK) {
      const char* slash = std::strrchr(created, '/');
      return std::string(slash != nullptr ? slash + 1 : created);
    }
    if (!OutcomeUnknown(rc)) return Fail(ZkError(rc, "create " + path));
    (void)ZkError(rc, "create " + path);  // the next round looks for the node first
  }
  return Fail(Error::Transient("ZooKeeper create under " + dir + " did not complete"));
}

bool ZooKeeperCoordinator::VerifyOwn(const std::string& path) {
  Stat st{};
  const int rc = zoo_exists(zh_, path.c_str(), 0, &st);
  if (rc != ZOK) {
    if (rc != ZNONODE) (void)ZkError(rc, "exists " + path);
    return false;
  }
  return st.ephemeralOwner == session_id_;
}

void ZooKeeperCoordinator::NoteIgnored(const std::string& dir,
                                       const std::vector<std::string>& names) {
  for (const std::string& n : names) {
    if (warned_.insert(dir + "/" + n).second) {
      ++stats_.ignored_nodes;
      spdlog::warn("ZooKeeper: ignoring {}/{}: not a sequential contender node", dir, n);
    }
  }
}

Result<bool> ZooKeeperCoordinator::FirstInLine(const std::string& dir, const std::string& own,
                                               std::string* ahead) {
  for (int round = 0; round < 5; ++round) {
    auto children = Children(dir);
    if (!children) return Fail(children.error());
    std::vector<std::string> ignored;
    const std::vector<SequencedNode> order = OrderContenders(*children, &ignored);
    NoteIgnored(dir, ignored);
    auto me = std::find_if(order.begin(), order.end(),
                           [&](const SequencedNode& n) { return n.name == own; });
    if (me == order.end()) return Fail(Error::Conflict("our node " + dir + "/" + own + " is gone"));
    if (me == order.begin()) {
      if (ahead != nullptr) ahead->clear();
      return true;
    }
    const std::string pred = dir + "/" + std::prev(me)->name;
    char buf[512] = {};
    int len = sizeof buf - 1;
    Stat st{};
    const int rc = zoo_wget(zh_, pred.c_str(), NodeWatcher, &signals_, buf, &len, &st);
    if (rc == ZNONODE) continue;  // gone meanwhile: look again
    if (rc != ZOK) return Fail(ZkError(rc, "watch " + pred));
    if (ahead != nullptr) *ahead = std::prev(me)->name;
    if (dir != options_.root + "/leader") return false;  // a lock: its holder does not lead
    if (me - order.begin() == 1 && len > 0) {
      // The leader (or holder) names itself in its data.
      leader_identity_ = std::string(buf, static_cast<std::size_t>(len));
    } else if (me - order.begin() > 1) {
      char first[512] = {};
      int flen = sizeof first - 1;
      if (zoo_get(zh_, (dir + "/" + order.front().name).c_str(), 0, first, &flen, nullptr) ==
              ZOK &&
          flen > 0) {
        leader_identity_ = std::string(first, static_cast<std::size_t>(flen));
      }
    }
    return false;
  }
  return Fail(Error::Transient("the contenders under " + dir + " keep changing"));
}

bool ZooKeeperCoordinator::SetUp(std::int64_t now_ms) {
  (void)now_ms;
  auto say = [this](const std::string& what) {
    if (what == setup_error_) return;
    setup_error_ = what;
    spdlog::warn("ZooKeeper: {}; trying again with a backoff (at most 30 s), no action until "
                 "then", what);
  };
  for (const char* sub : {"/leader", "/locks", "/actions"}) {
    if (auto ok = EnsurePath(options_.root + sub); !ok) {
      say(ok.error().message);
      return false;
    }
  }
  if (!options_.compete) {
    set_up_ = true;
    return true;
  }
  auto latch = CreateSequential(options_.root + "/leader", LatchPrefix(uuid_), identity_);
  if (!latch) {
    say("cannot join the election: " + latch.error().message);
    return false;
  }
  latch_ = *latch;
  set_up_ = true;
  signals_.dirty.store(true);
  spdlog::info("ZooKeeper: competing for leadership as {}/leader/{}", options_.root, latch_);
  return true;
}

void ZooKeeperCoordinator::Evaluate(std::int64_t now_ms) {
  (void)now_ms;
  if (!options_.compete) return;
  const std::string dir = options_.root + "/leader";
  std::string ahead;
  auto first = FirstInLine(dir, latch_, &ahead);
  bool lead = false;
  if (!first) {
    if (first.error().kind == ErrorKind::kConflict) {
      // Our latch node disappeared (deleted by someone): join again.
      spdlog::warn("ZooKeeper: {}; joining the election again", first.error().message);
      set_up_ = false;
    } else {
      spdlog::warn("ZooKeeper: cannot evaluate the election: {}", first.error().message);
    }
  } else if (*first) {
    // Index 0 and the node is ours in this session (Curator's LeaderLatch check).
    lead = VerifyOwn(dir + "/" + latch_);
    if (lead) leader_identity_ = identity_;
  }
  if (lead != leader_) {
    if (lead) {
      spdlog::info("ZooKeeper: leading ({}/{}): this replica plans and acts", dir, latch_);
    } else {
      spdlog::warn("ZooKeeper: not leading any more; locks dropped, standing by");
      DropLocks(/*delete_nodes=*/true);
    }
    leader_ = lead;
  } else if (!lead && !ahead.empty() && first) {
    spdlog::debug("ZooKeeper: standing by behind {}", ahead);
  }
  stats_.leader = leader_;
}

Result<std::int64_t> ZooKeeperCoordinator::TryLock(const std::string& job, std::int64_t now_ms) {
  JobLock& l = locks_[job];
  if (l.dir.empty()) l.dir = options_.root + "/locks/" + EncodeJobNode(job);
  if (l.node.empty()) {
    auto node = CreateSequential(l.dir, LockPrefix(uuid_), identity_);
    if (!node) return Fail(node.error());
    l.node = *node;
    l.requested_ms = now_ms;
    Stat st{};
    const int rc = zoo_exists(zh_, (l.dir + "/" + l.node).c_str(), 0, &st);
    if (rc != ZOK) return Fail(ZkError(rc, "exists " + l.dir + "/" + l.node));
    l.czxid = st.czxid;
  }
  if (l.held) return l.czxid;
  std::string ahead;
  auto first = FirstInLine(l.dir, l.node, &ahead);
  if (!first) {
    if (first.error().kind == ErrorKind::kConflict) l.node.clear();
    return Fail(first.error());
  }
  if (!*first) {
    const std::string why =
        "waiting for the lock " + l.dir + ": " + ahead + " holds it or is ahead of us";
    if (!l.wait_logged) {
      l.wait_logged = true;
      spdlog::info("ZooKeeper: {} (no destructive step on {} until it is ours)", why, job);
    }
    return Fail(Error::Transient(why));
  }
  l.held = true;
  stats_.last_lock_wait_ms = now_ms - l.requested_ms;
  if (stats_.last_lock_wait_ms > 0) ++stats_.lock_waits;
  spdlog::info("ZooKeeper: lock {}/{} acquired (fencing token {})", l.dir, l.node, l.czxid);
  return l.czxid;
}

Result<std::optional<std::int64_t>> ZooKeeperCoordinator::Check(const std::string& job,
                                                                const std::string& action) {
  RecoveryRecord r;
  r.job = job;
  return CheckStep(r, action);
}

Result<std::optional<std::int64_t>> ZooKeeperCoordinator::CheckStep(const RecoveryRecord& record,
                                                                    const std::string& action) {
  const std::int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count();
  const std::string& job = record.job;
  if (options_.compete ? !Leading() : !Connected()) {
    ++stats_.fencing_rejections;
    return Fail(Error::Transient(std::string("not taking ") + action + " of " + job +
                                 ": this replica does not lead (ZooKeeper session " +
                                 SessionStateName(state_) + ")"));
  }
  auto token = TryLock(job, now_ms);
  if (!token) {
    if (token.error().kind != ErrorKind::kTransient ||
        token.error().message.rfind("waiting", 0) != 0) {
      ++stats_.fencing_rejections;
    }
    return Fail(token.error());
  }
  JobLock& l = locks_[job];
  ActionRecord a;
  a.recovery = record;
  a.recovery.fencing_token = *token;
  a.action = action;
  a.instance_id = options_.instance_id;
  a.written_ms = now_ms;
  const std::string data = a.recovery.id.empty() ? std::string() : ActionRecordJson(a);
  const std::string lock_path = l.dir + "/" + l.node;
  const std::string record_path = options_.root + "/actions/" + EncodeJobNode(job);
  int rc = ZOK;
  zoo_op_result_t results[2] = {};
  // Without a recovery to record (a bare Check) the multi only checks the lock.
  const int count = data.empty() ? 1 : 2;
  for (int attempt = 0; attempt < 2; ++attempt) {
    zoo_op_t ops[2];
    zoo_check_op_init(&ops[0], lock_path.c_str(), -1);
    if (attempt == 0) {
      zoo_set_op_init(&ops[1], record_path.c_str(), data.data(), static_cast<int>(data.size()), -1,
                      nullptr);
    } else {
      zoo_create_op_init(&ops[1], record_path.c_str(), data.data(), static_cast<int>(data.size()),
                         acl_, 0, nullptr, 0);
    }
    rc = zoo_multi(zh_, count, ops, results);
    // No record yet: create it (in the same kind of fenced multi).
    if (rc == ZNONODE && results[0].err == ZOK) continue;
    break;
  }
  if (rc != ZOK) {
    ++stats_.fencing_rejections;
    if (results[0].err == ZNONODE || rc == ZNONODE) {
      locks_.erase(job);
      return Fail(Error::Permanent("fencing: our lock node " + lock_path +
                                   " is gone (session lost?); the step is not taken"));
    }
    return Fail(ZkError(rc, "fenced record of " + action + " for " + job));
  }
  return std::optional<std::int64_t>(*token);
}

void ZooKeeperCoordinator::Release(const std::string& job) {
  auto it = locks_.find(job);
  if (it == locks_.end()) return;
  JobLock l = it->second;
  locks_.erase(it);
  if (zh_ == nullptr || l.node.empty()) return;
  const std::string lock_path = l.dir + "/" + l.node;
  if (state_ != SessionState::kConnected) {
    orphans_.push_back(lock_path);
    return;
  }
  if (l.held) {
    // The recovery ended: remove its record, only while the lock is still ours.
    const std::string record_path = options_.root + "/actions/" + EncodeJobNode(job);
    zoo_op_t ops[2];
    zoo_op_result_t results[2] = {};
    zoo_check_op_init(&ops[0], lock_path.c_str(), -1);
    zoo_delete_op_init(&ops[1], record_path.c_str(), -1);
    const int rc = zoo_multi(zh_, 2, ops, results);
    if (rc != ZOK && !(rc == ZNONODE && results[0].err == ZOK)) {
      spdlog::warn("ZooKeeper: cannot remove the record {} of the ended recovery: {}",
                   record_path, zerror(rc));
    }
  }
  const int rc = zoo_delete(zh_, lock_path.c_str(), -1);
  if (rc != ZOK && rc != ZNONODE) {
    (void)ZkError(rc, "delete " + lock_path);
    spdlog::warn("ZooKeeper: cannot delete the lock {} now: {}; retrying", lock_path, zerror(rc));
    orphans_.push_back(lock_path);
  }
}

void ZooKeeperCoordinator::DropLocks(bool delete_nodes) {
  if (delete_nodes && zh_ != nullptr) {
    for (const auto& [job, l] : locks_) {
      if (l.node.empty()) continue;
      const std::string path = l.dir + "/" + l.node;
      const int rc = state_ == SessionState::kConnected ? zoo_delete(zh_, path.c_str(), -1)
                                                        : ZCONNECTIONLOSS;
      if (rc != ZOK && rc != ZNONODE) orphans_.push_back(path);
    }
  }
  locks_.clear();
}

Result<int> ZooKeeperCoordinator::Adopt(RecoveryJournal& journal, std::int64_t now_ms) {
  if (!Leading()) return Fail(Error::Transient("not leading"));
  const std::string dir = options_.root + "/actions";
  auto children = Children(dir);
  if (!children) return Fail(children.error());
  std::map<std::string, ActionRecord> shared;  // by recovery id
  std::map<std::string, std::string> paths;
  for (const std::string& c : *children) {
    const std::string path = dir + "/" + c;
    Stat st{};
    int rc = zoo_exists(zh_, path.c_str(), 0, &st);
    if (rc == ZNONODE) continue;
    if (rc != ZOK) return Fail(ZkError(rc, "exists " + path));
    std::string buf(static_cast<std::size_t>(std::max(st.dataLength, 0)) + 1, '\0');
    int len = static_cast<int>(buf.size());
    rc = zoo_get(zh_, path.c_str(), 0, buf.data(), &len, nullptr);
    if (rc == ZNONODE) continue;
    if (rc != ZOK) return Fail(ZkError(rc, "read " + path));
    buf.resize(static_cast<std::size_t>(std::max(len, 0)));
    auto rec = ParseActionRecord(buf);
    const auto job = DecodeJobNode(c);
    std::string why;
    if (!job) {
      why = "the name is not an encoded job name";
    } else if (!rec) {
      why = rec.error().message;
    } else if (rec->recovery.job != *job) {
      why = "it names job \"" + rec->recovery.job + "\"";
    }
    if (!why.empty()) {
      if (warned_.insert(path).second) {
        ++stats_.ignored_nodes;
        spdlog::warn("ZooKeeper: ignoring {}: not a flinkguard recovery record ({})", path, why);
      }
      continue;
    }
    paths[rec->recovery.id] = path;
    shared.emplace(rec->recovery.id, std::move(*rec));
  }
  auto local = journal.UnfinishedRecoveries();
  if (!local) return Fail(local.error());
  std::set<std::string> local_ids;
  for (const RecoveryRecord& r : *local) {
    if (r.dry_run) continue;
    auto found = shared.find(r.id);
    if (found == shared.end()) {
      const std::string why =
          "not in ZooKeeper's record of unfinished recoveries: another replica ended it, or it "
          "never took a destructive step";
      spdlog::warn("recovery {} of {}: {}; closing it", r.id, r.job, why);
      if (auto ok = journal.EndRecovery(r.id, RecoveryAttempt::Outcome::kFailed, now_ms, why);
          !ok) {
        return Fail(ok.error());
      }
      continue;
    }
    local_ids.insert(r.id);
    if (auto ok = journal.SaveProgress(r.id, found->second.recovery.progress,
                                       found->second.recovery.fencing_token);
        !ok) {
      return Fail(ok.error());
    }
  }
  int imported = 0;
  for (auto& [id, a] : shared) {
    if (local_ids.count(id)) continue;
    auto earlier = journal.Recoveries(a.recovery.job, a.recovery.started_ms);
    if (!earlier) return Fail(earlier.error());
    if (std::any_of(earlier->begin(), earlier->end(),
                    [&](const RecoveryRecord& r) { return r.id == id && r.ended_ms; })) {
      // We ended it ourselves but could not remove its record then.
      spdlog::info("ZooKeeper: {} is a recovery this replica already ended; removing it", paths[id]);
      (void)zoo_delete(zh_, paths[id].c_str(), -1);
      continue;
    }
    if (auto ok = journal.BeginRecovery(a.recovery); !ok) return Fail(ok.error());
    spdlog::warn("taking over recovery {} of {} from {} (last step {}, fencing token {})", id,
                 a.recovery.job, a.instance_id.empty() ? "another replica" : a.instance_id,
                 a.action, a.recovery.fencing_token.value_or(0));
    ++imported;
  }
  return imported;
}

void ZooKeeperCoordinator::Tidy(const std::vector<std::string>& catalog_jobs,
                                std::int64_t now_ms) {
  if (!Leading() || now_ms < next_tidy_ms_) return;
  next_tidy_ms_ = now_ms + 600'000;
  const std::string dir = options_.root + "/locks";
  auto children = Children(dir);
  if (!children) {
    spdlog::warn("ZooKeeper: tidying {}: {}", dir, children.error().message);
    return;
  }
  const std::set<std::string> catalog(catalog_jobs.begin(), catalog_jobs.end());
  int removed = 0;
  for (const std::string& c : *children) {
    const std::optional<std::string> job = DecodeJobNode(c);
    if (!job || catalog.count(*job) != 0 || locks_.count(*job) != 0) continue;
    const std::string path = dir + "/" + c;
    const int rc = zoo_delete(zh_, path.c_str(), -1);
    if (rc == ZOK) {
      ++removed;
    } else if (rc != ZNOTEMPTY && rc != ZNONODE) {
      spdlog::warn("ZooKeeper: tidying {}: {}", path, ZkError(rc, "delete " + path).message);
      return;  // the session or the ACLs are in the way; the next round tries again
    }
  }
  if (removed > 0) {
    spdlog::info("ZooKeeper: removed {} empty lock parent(s) under {} of jobs no longer in the "
                 "catalog",
                 removed, dir);
  }
}

Result<void> ZooKeeperCoordinator::PublishPlacement(const Placement& p) {
  // A replica writes fenced on its election node (only the leader moves jobs); a person's
  // command (`flinkguard move`, compete = false) fenced on the job's lock, taken for the write.
  std::string fence;
  if (options_.compete) {
    if (!Leading()) {
      return Fail(Error::Transient("placement of " + p.job + " not shared: this replica does "
                                   "not lead (ZooKeeper session " +
                                   std::string(SessionStateName(state_)) + ")"));
    }
    fence = options_.root + "/leader/" + latch_;
  } else {
    if (!Connected()) {
      return Fail(Error::Transient("placement of " + p.job + " not shared: ZooKeeper session " +
                                   std::string(SessionStateName(state_))));
    }
    const std::int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                    std::chrono::system_clock::now().time_since_epoch())
                                    .count();
    auto token = TryLock(p.job, now_ms);
    if (!token) return Fail(token.error());
    const JobLock& l = locks_[p.job];
    fence = l.dir + "/" + l.node;
  }
  auto written = WritePlacement(p, fence);
  if (!options_.compete) Release(p.job);
  return written;
}

Result<void> ZooKeeperCoordinator::WritePlacement(const Placement& p, const std::string& fence) {
  const std::string dir = options_.root + "/placements";
  if (auto ok = EnsurePath(dir); !ok) return ok;
  const std::string path = dir + "/" + EncodeJobNode(p.job);
  const std::string data = PlacementJson(p);
  int rc = ZOK;
  zoo_op_result_t results[2] = {};
  // Fenced: a replica (or command) that lost its session cannot write a placement.
  for (int attempt = 0; attempt < 2; ++attempt) {
    zoo_op_t ops[2];
    zoo_check_op_init(&ops[0], fence.c_str(), -1);
    if (attempt == 0) {
      zoo_set_op_init(&ops[1], path.c_str(), data.data(), static_cast<int>(data.size()), -1,
                      nullptr);
    } else {
      zoo_create_op_init(&ops[1], path.c_str(), data.data(), static_cast<int>(data.size()), acl_,
                         0, nullptr, 0);
    }
    rc = zoo_multi(zh_, 2, ops, results);
    if (rc == ZNONODE && results[0].err == ZOK) continue;  // no node yet: create it
    break;
  }
  if (rc != ZOK) {
    if (results[0].err == ZNONODE) {
      ++stats_.fencing_rejections;
      return Fail(Error::Permanent("placement of " + p.job + " not shared: our node " + fence +
                                   " is gone (session lost?)"));
    }
    return Fail(ZkError(rc, "share placement of " + p.job));
  }
  return {};
}

Result<std::optional<std::vector<Placement>>> ZooKeeperCoordinator::SharedPlacements() {
  if (!Connected()) return Fail(Error::Transient("ZooKeeper is not connected"));
  // Cleared before the reads, so a watch firing during them leaves it set for the next call.
  if (!signals_.placements_dirty.exchange(false) && placements_cache_) {
    return std::optional<std::vector<Placement>>{*placements_cache_};
  }
  placements_cache_.reset();
  auto fail = [this](Error e) -> Result<std::optional<std::vector<Placement>>> {
    signals_.placements_dirty.store(true);
    return Fail(std::move(e));
  };
  void* const ctx = &signals_;
  const std::string dir = options_.root + "/placements";
  ++stats_.placement_reads;
  Stat st{};
  // The exists watch also fires when the directory is created.
  const int exists = zoo_wexists(zh_, dir.c_str(), PlacementWatcher, ctx, &st);
  if (exists == ZNONODE) {
    placements_cache_.emplace();
    return std::optional<std::vector<Placement>>{std::vector<Placement>{}};
  }
  if (exists != ZOK) return fail(ZkError(exists, "exists " + dir));
  String_vector names{};
  const int listed = zoo_wget_children(zh_, dir.c_str(), PlacementWatcher, ctx, &names);
  if (listed == ZNONODE) return fail(Error::Transient(dir + " was deleted while being read"));
  if (listed != ZOK) return fail(ZkError(listed, "list " + dir));
  std::vector<std::string> children;
  for (int i = 0; i < names.count; ++i) children.emplace_back(names.data[i]);
  deallocate_String_vector(&names);
  std::vector<Placement> out;
  for (const std::string& c : children) {
    const std::string path = dir + "/" + c;
    std::string buf(4096, '\0');
    int len = static_cast<int>(buf.size());
    const int rc = zoo_wget(zh_, path.c_str(), PlacementWatcher, ctx, buf.data(), &len, nullptr);
    if (rc == ZNONODE) continue;  // deleted since the list: the list's watch fires for it
    if (rc != ZOK) return fail(ZkError(rc, "read " + path));
    buf.resize(static_cast<std::size_t>(std::max(len, 0)));
    auto p = ParsePlacement(buf);
    const auto job = DecodeJobNode(c);
    std::string why;
    if (!job) {
      why = "the name is not an encoded job name";
    } else if (!p) {
      why = p.error().message;
    } else if (p->job != *job) {
      why = "it names job \"" + p->job + "\"";
    }
    if (!why.empty()) {
      if (warned_.insert(path).second) {
        ++stats_.ignored_nodes;
        spdlog::warn("ZooKeeper: ignoring {}: not a flinkguard placement ({})", path, why);
      }
      continue;
    }
    out.push_back(std::move(*p));
  }
  placements_cache_ = out;
  return std::optional<std::vector<Placement>>{std::move(out)};
}

CoordinatorStatus ZooKeeperCoordinator::Status() const {
  CoordinatorStatus s = stats_;
  s.session = state_;
  s.leader = Leading();
  s.leader_identity = leader_identity_;
  return s;
}

}  // namespace flinkguard
