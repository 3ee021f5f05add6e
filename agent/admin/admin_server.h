#pragma once

// The admin HTTP endpoint (civetweb), on one port (`agent.listen`, 127.0.0.1:9310 by default):
//   GET  /metrics                         the agent's metrics (Prometheus text format)
//   GET  /healthz                         200 while the process serves requests (alive)
//   GET  /readyz                          200 when the config is loaded, the history store is
//                                         writable and the first cycle is done; 503 and the
//                                         reason otherwise
//   GET  /api/v1/jobs                     every job: state, up, healthy, rules not inactive
//   GET  /api/v1/jobs/{name}              one job: its instances as observed, its rules
//   GET  /api/v1/rules                    the rule table and every (rule, job) not inactive
//   GET  /api/v1/history[?job=N][&since=MS]  what the history store remembers (default: 24 h)
//   POST /api/v1/jobs/{name}/recover      {"from": "auto|checkpoint|savepoint|fresh"} (optional)
//   POST /api/v1/jobs/{name}/savepoint
// The two POSTs require `Authorization: Bearer <token>` with the token of
// `agent.admin_token_file`; without a configured token they are off (403). A missing or wrong
// token gets 401 and nothing is done. Every error is a JSON body {"error": "..."}.
//
// Threads: civetweb serves requests on its own threads. The daemon's loop thread publishes an
// AdminView after each cycle (Publish) and runs the mutating requests (ServeCommands): the HTTP
// thread queues a command and waits for the loop's reply, so the executor and the planner are
// only ever used from the loop thread. /api/v1/history opens its own read connection to the
// history file (SQLite WAL), guarded by a mutex of its own.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "agent/config.h"
#include "agent/secret.h"
#include "rules/error.h"
#include "rules/snapshot.h"

struct mg_connection;

namespace flinkguard {

class AgentMetrics;
class SqliteHistoryStore;

// A (rule, job) pair that is not inactive.
struct AdminRuleState {
  std::string rule;
  std::string job;
  std::string cluster;
  std::string state;  // "pending", "firing", "unknown"
  std::int64_t since_ms = 0;
  std::string reason;
};

// What the loop publishes after each cycle; read-only once published.
struct AdminView {
  std::string not_ready;  // "" when ready; otherwise why not (for /readyz)
  Observation observation;
  std::vector<std::string> catalog;  // job names of the catalog
  std::vector<RuleConfig> rules;
  std::vector<AdminRuleState> rule_states;  // by job, then rule
  std::vector<std::string> in_recovery;     // jobs with a recovery under way
};

// A mutating request, for the loop thread.
struct AdminCommand {
  enum class Kind { kRecover, kSavepoint } kind = Kind::kRecover;
  std::string job;
  std::string from = "auto";  // kRecover: auto, checkpoint, savepoint, fresh
};

// The HTTP answer to a request (also what the loop answers a command with).
struct AdminReply {
  int status = 200;
  std::string body;  // JSON unless content_type says otherwise
  std::string content_type = "application/json";
};

// {"error": message} with `status`.
AdminReply JsonError(int status, const std::string& message);

// Compares `given` with `expected` in time that depends only on their lengths' maximum, not on
// where they first differ.
bool ConstantTimeEquals(const std::string& given, const std::string& expected);

class AdminServer {
 public:
  struct Options {
    HostPort listen;
    std::optional<Secret> token;  // absent: mutating endpoints off
    std::string history_path;     // the history file ("" = none: /api/v1/history answers 503)
    // How long a mutating request waits for the loop to take it before answering 503.
    std::chrono::milliseconds command_timeout{30'000};
  };

  // Starts listening. An Error (kInvalid) naming the address when it cannot be bound.
  // `metrics` must outlive the server.
  static Result<std::unique_ptr<AdminServer>> Start(Options options, const AgentMetrics& metrics);
  ~AdminServer();  // stops serving (waits for requests in progress)
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // The port actually bound (the configured one, or the one chosen for port 0).
  int port() const { return port_; }

  // Loop thread: makes `view` the state the API answers from.
  void Publish(std::shared_ptr<const AdminView> view);
  // Loop thread (on reload): the token of the new config.
  void SetToken(std::optional<Secret> token);
  // Loop thread: answers every queued command with `handle`'s reply. Returns how many.
  int ServeCommands(const std::function<AdminReply(const AdminCommand&)>& handle);

  // For the HTTP handler (any civetweb thread): answers one request. `authorization` is the
  // Authorization header ("" when absent).
  AdminReply Handle(const std::string& method, const std::string& path, const std::string& query,
                    const std::string& authorization, const std::string& body);

 private:
  explicit AdminServer(Options options, const AgentMetrics& metrics);
  class Civet;
  struct Pending;

  std::shared_ptr<const AdminView> View() const;
  AdminReply Jobs(const AdminView& v) const;
  AdminReply Job(const AdminView& v, const std::string& name) const;
  AdminReply Rules(const AdminView& v) const;
  AdminReply History(const std::string& query);
  AdminReply Mutate(AdminCommand command, const std::string& authorization,
                    const std::string& body);

  Options options_;
  const AgentMetrics& metrics_;
  int port_ = 0;

  mutable std::mutex mu_;  // guards view_, token_ and the command queue
  std::shared_ptr<const AdminView> view_;
  std::condition_variable replied_;
  std::deque<std::shared_ptr<Pending>> queue_;

  std::mutex history_mu_;  // guards history_
  std::unique_ptr<SqliteHistoryStore> history_;

  std::unique_ptr<Civet> civet_;  // last: stopped first
};

}  // namespace flinkguard
