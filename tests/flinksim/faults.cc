#include "tests/flinksim/faults.h"

namespace flinksim {

bool FaultRule::Applies(const std::string& path, const std::string& normalized_path,
                        int64_t now) const {
  if (!active || now >= until) return false;
  return path_prefix.empty() || StartsWith(path, path_prefix) ||
         StartsWith(normalized_path, path_prefix);
}

void Faults::SetDown(DownMode mode, int64_t until) {
  down_ = mode;
  down_until_ = until;
}

DownMode Faults::Down(int64_t now) {
  if (down_ != DownMode::kUp && now >= down_until_) down_ = DownMode::kUp;
  return down_;
}

void Faults::SetLeaderElection(int64_t until, int requests) {
  leader_ = FaultRule{true, "", until};
  leader_requests_left_ = requests;
}

void Faults::SetSlow(int64_t delay_ms, const std::string& prefix, int64_t until) {
  slow_ = FaultRule{delay_ms > 0, prefix, until};
  slow_delay_ms_ = delay_ms;
}

void Faults::SetGarbage(const std::string& prefix, int64_t until) {
  garbage_ = FaultRule{true, prefix, until};
}
void Faults::SetTruncate(const std::string& prefix, int64_t until) {
  truncate_ = FaultRule{true, prefix, until};
}
void Faults::SetServerError(const std::string& prefix, int64_t until) {
  server_error_ = FaultRule{true, prefix, until};
}

void Faults::Clear() { *this = Faults(); }

FaultDecision Faults::Decide(const std::string& path, const std::string& normalized_path,
                             int64_t now) {
  FaultDecision d;
  if (Down(now) == DownMode::kHang) {
    d.hang = true;
    return d;
  }
  if (slow_.Applies(path, normalized_path, now)) d.delay_ms = slow_delay_ms_;
  if (leader_.Applies(path, normalized_path, now) && leader_requests_left_ != 0) {
    if (leader_requests_left_ > 0 && --leader_requests_left_ == 0) leader_.active = false;
    d.body = FaultDecision::Body::kLeaderElection;
  } else if (server_error_.Applies(path, normalized_path, now)) {
    d.body = FaultDecision::Body::kServerError;
  } else if (garbage_.Applies(path, normalized_path, now)) {
    d.body = FaultDecision::Body::kGarbage;
  } else if (truncate_.Applies(path, normalized_path, now)) {
    d.body = FaultDecision::Body::kTruncated;
  }
  return d;
}

void Faults::Describe(JsonOut& j, int64_t now) {
  auto rule = [&](const char* name, const FaultRule& r) {
    j.Key(name);
    if (!r.active || now >= r.until) {
      j.Null();
      return;
    }
    j.BeginObject().KV("path_prefix", r.path_prefix);
    j.Key("until");
    if (r.until == kNever) {
      j.Null();
    } else {
      j.Int(r.until);
    }
    j.EndObject();
  };
  j.BeginObject();
  DownMode dm = Down(now);
  j.KV("cluster", dm == DownMode::kUp ? "up" : dm == DownMode::kRefuse ? "refuse" : "hang");
  j.Key("cluster_until");
  if (dm == DownMode::kUp || down_until_ == kNever) {
    j.Null();
  } else {
    j.Int(down_until_);
  }
  rule("leader_election", leader_);
  if (leader_.active) j.KV("leader_election_requests_left", leader_requests_left_);
  rule("slow", slow_);
  if (slow_.active) j.KV("slow_delay_ms", slow_delay_ms_);
  rule("garbage", garbage_);
  rule("truncate", truncate_);
  rule("error_500", server_error_);
  j.EndObject();
}

int64_t RequestLog::Add(LoggedRequest entry) {
  entry.seq = next_seq_++;
  entries_.push_back(std::move(entry));
  while (entries_.size() > 10'000) entries_.pop_front();
  return entries_.back().seq;
}

void RequestLog::SetStatus(int64_t seq, int status) {
  for (auto it = entries_.rbegin(); it != entries_.rend(); ++it) {
    if (it->seq == seq) {
      it->status = status;
      return;
    }
  }
}

}  // namespace flinksim
