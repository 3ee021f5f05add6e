#pragma once

// Network-level fault injection for the REST port (cluster down, leader election, slow,
// garbage, truncated and 500 responses) and the log of mutating requests. Plain state with
// simulated-time windows; the Simulator guards it with its mutex.

#include <cstdint>
#include <deque>
#include <string>

#include "tests/flinksim/json_out.h"
#include "tests/flinksim/util.h"

namespace flinksim {

enum class DownMode { kUp, kRefuse, kHang };

// A fault that applies to paths starting with `path_prefix` ("" = all) until `until`
// (simulated epoch ms; kNever = until cleared).
struct FaultRule {
  bool active = false;
  std::string path_prefix;
  int64_t until = kNever;
  bool Applies(const std::string& path, const std::string& normalized_path, int64_t now) const;
};

// What to do with one REST request.
struct FaultDecision {
  enum class Body { kNormal, kLeaderElection, kGarbage, kTruncated, kServerError };
  bool hang = false;     // accept and do not answer (yet)
  int64_t delay_ms = 0;  // real milliseconds to wait before answering
  Body body = Body::kNormal;
};

class Faults {
 public:
  // Takes the REST port down until `until` (kNever = until SetUp/Clear).
  void SetDown(DownMode mode, int64_t until);
  void SetUp() { down_ = DownMode::kUp; }
  // Current availability; expired windows end here.
  DownMode Down(int64_t now);

  // 503 leader election for `requests` REST requests (-1 = any number) until `until`.
  void SetLeaderElection(int64_t until, int requests);
  // Answers after `delay_ms` real milliseconds.
  void SetSlow(int64_t delay_ms, const std::string& prefix, int64_t until);
  void SetGarbage(const std::string& prefix, int64_t until);
  void SetTruncate(const std::string& prefix, int64_t until);
  void SetServerError(const std::string& prefix, int64_t until);
  void Clear();

  // Decides for one request (consumes a leader-election request when that applies).
  // `path` is as received, `normalized_path` without the /v1 prefix.
  FaultDecision Decide(const std::string& path, const std::string& normalized_path, int64_t now);

  // Writes the current fault state as a JSON object.
  void Describe(JsonOut& j, int64_t now);

 private:
  DownMode down_ = DownMode::kUp;
  int64_t down_until_ = kNever;
  FaultRule leader_;
  int leader_requests_left_ = -1;
  FaultRule slow_;
  int64_t slow_delay_ms_ = 0;
  FaultRule garbage_;
  FaultRule truncate_;
  FaultRule server_error_;
};

// One mutating request as received on the REST port.
struct LoggedRequest {
  int64_t seq = 0;
  int64_t sim_time = 0;
  std::string method;
  std::string path;
  std::string query;
  std::string body;
  std::string user_agent;
  std::string instance;  // X-Flinkguard-Instance
  int status = 0;        // 0 while unanswered (e.g. hanging)
};

// Bounded log (newest 10000 entries).
class RequestLog {
 public:
  // Appends and returns the entry's sequence number.
  int64_t Add(LoggedRequest entry);
  void SetStatus(int64_t seq, int status);
  void Clear() { entries_.clear(); }
  const std::deque<LoggedRequest>& entries() const { return entries_; }

 private:
  std::deque<LoggedRequest> entries_;
  int64_t next_seq_ = 1;
};

}  // namespace flinksim
