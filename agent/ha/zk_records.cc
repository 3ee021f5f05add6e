#include "agent/ha/zk_records.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>

#include "rules/decision.h"
#include "rules/severity.h"

namespace flinkguard {
namespace {

using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

void Str(JsonWriter& w, const char* key, const std::string& value) {
  w.Key(key);
  w.String(value.c_str(), static_cast<rapidjson::SizeType>(value.size()));
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool KeepInNode(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || IsDigit(c) || c == '-' || c == '_';
}

const char* OutcomeText(RecoveryAttempt::Outcome o) {
  switch (o) {
    case RecoveryAttempt::Outcome::kInProgress: return "in_progress";
    case RecoveryAttempt::Outcome::kSucceeded: return "succeeded";
    case RecoveryAttempt::Outcome::kFailed: return "failed";
    case RecoveryAttempt::Outcome::kDidNotStick: return "did_not_stick";
  }
  return "in_progress";
}

}  // namespace

std::optional<std::int64_t> SequenceOf(std::string_view name) {
  // ZooKeeper appends "%010d": 10 digits, or after int32 overflow '-' and 9 digits (those
  // sort after every positive sequence: they came later).
  if (name.size() < 10) return std::nullopt;
  const std::string_view tail = name.substr(name.size() - 10);
  const bool negative = tail[0] == '-';
  const std::string_view digits = negative ? tail.substr(1) : tail;
  if (!std::all_of(digits.begin(), digits.end(), IsDigit)) return std::nullopt;
  std::int64_t value = 0;
  for (char c : digits) value = value * 10 + (c - '0');
  if (negative) value = (std::int64_t{1} << 32) - value;
  return value;
}

std::vector<SequencedNode> OrderContenders(const std::vector<std::string>& children,
                                           std::vector<std::string>* ignored) {
  std::vector<SequencedNode> out;
  for (const std::string& c : children) {
    if (auto seq = SequenceOf(c)) {
      out.push_back({c, *seq});
    } else if (ignored != nullptr) {
      ignored->push_back(c);
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const SequencedNode& a, const SequencedNode& b) {
    return a.sequence != b.sequence ? a.sequence < b.sequence : a.name < b.name;
  });
  return out;
}

std::string LatchPrefix(const std::string& uuid) { return "_c_" + uuid + "-latch-"; }
std::string LockPrefix(const std::string& uuid) { return "_c_" + uuid + "-lock-"; }

bool IsOwnNode(std::string_view name, const std::string& uuid) {
  return !uuid.empty() && name.substr(0, 3 + uuid.size()) == "_c_" + uuid;
}

std::string NewUuid() {
  std::random_device rd;
  std::mt19937_64 gen(
      (static_cast<std::uint64_t>(rd()) << 32) ^ rd() ^
      static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()));
  unsigned char b[16];
  for (auto& x : b) x = static_cast<unsigned char>(gen() & 0xff);
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);
  char out[37];
  std::snprintf(out, sizeof out,
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
                b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
                b[15]);
  return out;
}

std::string EncodeJobNode(std::string_view job) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (char c : job) {
    if (KeepInNode(c)) {
      out += c;
    } else {
      const auto u = static_cast<unsigned char>(c);
      out += '%';
      out += hex[u >> 4];
      out += hex[u & 0xf];
    }
  }
  return out;
}

std::optional<std::string> DecodeJobNode(std::string_view node) {
  auto val = [](char c) -> int {
    if (IsDigit(c)) return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  for (std::size_t i = 0; i < node.size(); ++i) {
    const char c = node[i];
    if (KeepInNode(c)) {
      out += c;
    } else if (c == '%' && i + 2 < node.size() + 0 && val(node[i + 1]) >= 0 &&
               val(node[i + 2]) >= 0) {
      const char d = static_cast<char>(val(node[i + 1]) * 16 + val(node[i + 2]));
      if (KeepInNode(d)) return std::nullopt;  // not canonical
      out += d;
      i += 2;
    } else {
      return std::nullopt;
    }
  }
  if (out.empty()) return std::nullopt;
  return out;
}

std::string IdentityJson(const std::string& instance_id, const std::string& host, int pid,
                         const std::string& version) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  Str(w, "instance", instance_id);
  Str(w, "host", host);
  w.Key("pid");
  w.Int(pid);
  Str(w, "version", version);
  w.EndObject();
  return buf.GetString();
}

std::string ActionRecordJson(const ActionRecord& a) {
  const RecoveryRecord& r = a.recovery;
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("format");
  w.Int(1);
  Str(w, "action", a.action);
  Str(w, "instance", a.instance_id);
  w.Key("written_ms");
  w.Int64(a.written_ms);
  Str(w, "id", r.id);
  Str(w, "job", r.job);
  Str(w, "cluster", r.cluster);
  Str(w, "trigger", r.trigger);
  w.Key("started_ms");
  w.Int64(r.started_ms);
  Str(w, "strategy", StrategyName(r.strategy));
  Str(w, "restore_path", r.restore_path);
  if (r.cooldown_ms) {
    w.Key("cooldown_ms");
    w.Int64(*r.cooldown_ms);
  }
  Str(w, "reason", r.reason);
  Str(w, "rules", r.rules);
  Str(w, "severity", SeverityName(r.severity));
  Str(w, "plan", r.plan);
  Str(w, "progress", r.progress);
  if (r.fencing_token) {
    w.Key("fencing_token");
    w.Int64(*r.fencing_token);
  }
  Str(w, "outcome", OutcomeText(r.outcome));
  w.EndObject();
  return buf.GetString();
}

Result<ActionRecord> ParseActionRecord(std::string_view json) {
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject()) {
    return Fail(Error::Permanent("not a JSON object"));
  }
  if (!doc.HasMember("format") || !doc["format"].IsInt() || doc["format"].GetInt() != 1) {
    return Fail(Error::Permanent("\"format\" is not 1"));
  }
  ActionRecord a;
  std::string missing;
  auto str = [&](const char* key, std::string* out, bool required) {
    auto it = doc.FindMember(key);
    if (it == doc.MemberEnd() || !it->value.IsString()) {
      if (required && missing.empty()) missing = key;
      return;
    }
    *out = std::string(it->value.GetString(), it->value.GetStringLength());
  };
  auto i64 = [&](const char* key, bool required) -> std::optional<std::int64_t> {
    auto it = doc.FindMember(key);
    if (it == doc.MemberEnd() || !it->value.IsInt64()) {
      if (required && missing.empty()) missing = key;
      return std::nullopt;
    }
    return it->value.GetInt64();
  };
  RecoveryRecord& r = a.recovery;
  str("action", &a.action, true);
  str("instance", &a.instance_id, false);
  a.written_ms = i64("written_ms", false).value_or(0);
  str("id", &r.id, true);
  str("job", &r.job, true);
  str("cluster", &r.cluster, true);
  str("trigger", &r.trigger, false);
  r.started_ms = i64("started_ms", true).value_or(0);
  std::string strategy, severity, outcome;
  str("strategy", &strategy, true);
  str("restore_path", &r.restore_path, false);
  r.cooldown_ms = i64("cooldown_ms", false);
  str("reason", &r.reason, false);
  str("rules", &r.rules, false);
  str("severity", &severity, false);
  str("plan", &r.plan, true);
  str("progress", &r.progress, true);
  r.fencing_token = i64("fencing_token", false);
  if (!missing.empty()) {
    return Fail(Error::Permanent("\"" + missing + "\" is missing or not of the right type"));
  }
  if (r.id.empty() || r.job.empty() || r.cluster.empty()) {
    return Fail(Error::Permanent("\"id\", \"job\" and \"cluster\" must not be empty"));
  }
  bool known = false;
  for (Strategy s : {Strategy::kCheckpoint, Strategy::kSavepoint, Strategy::kFresh}) {
    if (strategy == StrategyName(s)) {
      r.strategy = s;
      known = true;
    }
  }
  if (!known) return Fail(Error::Permanent("unknown \"strategy\" \"" + strategy + "\""));
  if (!severity.empty()) {
    auto sev = ParseSeverity(severity);
    if (!sev) return Fail(Error::Permanent("unknown \"severity\" \"" + severity + "\""));
    r.severity = *sev;
  }
  r.outcome = RecoveryAttempt::Outcome::kInProgress;
  return a;
}

std::string PlacementJson(const Placement& p) {
  rapidjson::StringBuffer buf;
  JsonWriter w(buf);
  w.StartObject();
  w.Key("format");
  w.Int(1);
  Str(w, "job", p.job);
  Str(w, "cluster", p.cluster);
  w.Key("since_ms");
  w.Int64(p.since_ms);
  Str(w, "reason", p.reason);
  w.EndObject();
  return buf.GetString();
}

Result<Placement> ParsePlacement(std::string_view json) {
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject()) return Fail(Error::Permanent("not a JSON object"));
  if (!doc.HasMember("format") || !doc["format"].IsInt() || doc["format"].GetInt() != 1) {
    return Fail(Error::Permanent("\"format\" is not 1"));
  }
  Placement p;
  for (const auto& [key, out] : {std::pair<const char*, std::string*>{"job", &p.job},
                                 {"cluster", &p.cluster},
                                 {"reason", &p.reason}}) {
    auto it = doc.FindMember(key);
    if (it == doc.MemberEnd() || !it->value.IsString()) {
      return Fail(Error::Permanent(std::string("\"") + key + "\" is missing or not a string"));
    }
    *out = std::string(it->value.GetString(), it->value.GetStringLength());
  }
  auto since = doc.FindMember("since_ms");
  if (since == doc.MemberEnd() || !since->value.IsInt64()) {
    return Fail(Error::Permanent("\"since_ms\" is missing or not an integer"));
  }
  p.since_ms = since->value.GetInt64();
  if (p.job.empty() || p.cluster.empty()) {
    return Fail(Error::Permanent("\"job\" and \"cluster\" must not be empty"));
  }
  return p;
}

}  // namespace flinkguard
