#include "agent/history_format.h"

#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <map>
#include <optional>
#include <string_view>
#include <utility>

#include "rules/duration.h"
#include "rules/severity.h"

namespace flinkguard {
namespace {

// The names the store journals outcomes by, so text and JSON read like the database.
const char* OutcomeName(RecoveryAttempt::Outcome o) {
  switch (o) {
    case RecoveryAttempt::Outcome::kInProgress: return "in-progress";
    case RecoveryAttempt::Outcome::kSucceeded: return "succeeded";
    case RecoveryAttempt::Outcome::kFailed: return "failed";
    case RecoveryAttempt::Outcome::kDidNotStick: return "did-not-stick";
  }
  return "unknown";
}

Error Reading(const Error& e, const std::string& what) {
  return Error{e.kind, "history: cannot read " + what + ": " + e.message};
}

// "a,b, c" -> {"a", "b", "c"}; empty names are dropped.
std::vector<std::string> SplitRules(std::string_view s) {
  std::vector<std::string> out;
  while (!s.empty()) {
    const std::size_t comma = s.find(',');
    std::string_view part = s.substr(0, comma);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
    if (!part.empty()) out.emplace_back(part);
    if (comma == std::string_view::npos) break;
    s.remove_prefix(comma + 1);
  }
  return out;
}

// --- Text ------------------------------------------------------------------------------------

// "2026-11-21 19:30:22" (UTC).
std::string UtcTime(std::int64_t ms) {
  // Floor, so that times before 1970 do not round towards it.
  std::time_t secs = static_cast<std::time_t>(ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000));
  std::tm tm{};
  if (gmtime_r(&secs, &tm) == nullptr) return "(time " + std::to_string(ms) + " ms)";
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

// A coarse age for people: "42s ago", "3m ago", "2h5m ago", "3d4h ago".
std::string Ago(std::int64_t at_ms, std::int64_t now_ms) {
  const std::int64_t d = now_ms - at_ms;
  if (d < 0) return "in the future: clock skew?";
  const std::int64_t s = d / 1000;
  if (s < 60) return std::to_string(s) + "s ago";
  if (s < 3600) return std::to_string(s / 60) + "m ago";
  if (s < 86400) {
    const std::int64_t m = s / 60 % 60;
    return std::to_string(s / 3600) + "h" + (m ? std::to_string(m) + "m" : "") + " ago";
  }
  const std::int64_t h = s / 3600 % 24;
  return std::to_string(s / 86400) + "d" + (h ? std::to_string(h) + "h" : "") + " ago";
}

std::string When(std::int64_t at_ms, std::int64_t now_ms) {
  return UtcTime(at_ms) + " (" + Ago(at_ms, now_ms) + ")";
}

// A span: tenths of a second under a minute ("1.2s"), whole seconds above ("2m3s").
std::string Span(std::int64_t ms) {
  if (ms > -60'000 && ms < 60'000) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1fs", static_cast<double>(ms) / 1000.0);
    return buf;
  }
  return FormatDuration(Duration{ms / 1000 * 1000});
}

std::string Pad(std::string s, std::size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}

std::string PadLeft(std::string s, std::size_t width) {
  if (s.size() < width) s.insert(0, width - s.size(), ' ');
  return s;
}

// Free text (reasons, errors, Flink's replies) kept inside its event's block: continuation
// lines are indented under the line they continue, a trailing newline is dropped.
std::string Flow(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\r') continue;
    out += c;
    if (c == '\n') out += "        ";
  }
  return out;
}

// "orders on yarn-a", or "orders" when the cluster is not known.
std::string Where(const std::string& job, const std::string& cluster) {
  return cluster.empty() ? job : job + " on " + cluster;
}

void Text(std::string& out, const RuleTransition& t, std::int64_t now_ms) {
  out += When(t.at_ms, now_ms) + "  " + Where(t.job, t.cluster) + "  rule " + t.rule + ": " +
         RuleStateName(t.from) + " -> " + RuleStateName(t.to) + " (" + SeverityName(t.severity) +
         ")\n";
  if (!t.reason.empty()) out += "    " + Flow(t.reason) + "\n";
}

void Text(std::string& out, const RefusalRecord& r, std::int64_t now_ms) {
  out += When(r.at_ms, now_ms) + "  " + r.refusal.job + "  refused to recover (" +
         RefusalCauseName(r.refusal.cause) + ")" + (r.refusal.page ? ", paged" : ", no page") +
         "\n";
  if (!r.refusal.reason.empty()) out += "    " + Flow(r.refusal.reason) + "\n";
}

std::string RestoreText(const RecoveryRecord& rec) {
  if (rec.strategy == Strategy::kFresh) return "fresh state";
  if (!rec.restore_path.empty())
    return std::string(StrategyName(rec.strategy)) + " " + rec.restore_path;
  if (rec.strategy == Strategy::kSavepoint) return "the savepoint its stop-with-savepoint takes";
  return std::string(StrategyName(rec.strategy)) + " (no path recorded)";
}

void StepsText(std::string& out, const RecoveryHistory& h, std::int64_t now_ms) {
  const RecoveryRecord& rec = h.record;
  std::size_t kind_w = 0;
  std::size_t status_w = 0;
  std::size_t offset_w = 0;
  std::vector<std::string> offsets;
  std::vector<std::string> durations;
  for (const StepRecord& s : h.steps) {
    kind_w = std::max(kind_w, s.kind.size());
    status_w = std::max(status_w, s.status.size());
    offsets.push_back("+" + Span(s.started_ms - rec.started_ms));
    offset_w = std::max(offset_w, offsets.back().size());
    if (s.ended_ms) {
      durations.push_back(Span(*s.ended_ms - s.started_ms));
    } else if (!rec.ended_ms) {
      durations.push_back(Span(now_ms - s.started_ms) + " so far");
    } else {
      // The recovery ended without closing this step (e.g. the agent gave up on it).
      durations.push_back("unfinished");
    }
  }
  std::size_t dur_w = 0;
  for (const std::string& d : durations) dur_w = std::max(dur_w, d.size());
  for (std::size_t i = 0; i < h.steps.size(); ++i) {
    const StepRecord& s = h.steps[i];
    std::string line = "    " + PadLeft(offsets[i], offset_w) + "  " + Pad(s.kind, kind_w) + "  " +
                       Pad(s.status, status_w) + "  " + PadLeft(durations[i], dur_w);
    if (!s.detail.empty()) line += "  " + Flow(s.detail);
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
}

void Text(std::string& out, const RecoveryHistory& h, std::int64_t now_ms) {
  const RecoveryRecord& rec = h.record;
  std::string about = "trigger: " + (rec.trigger.empty() ? std::string("?") : rec.trigger);
  if (!rec.rules.empty()) about += "; rules: " + rec.rules;
  about += "; " + std::string(SeverityName(rec.severity));
  out += When(rec.started_ms, now_ms) + "  " + Where(rec.job, rec.cluster) + "  " +
         (rec.dry_run ? "DRY RUN: would have recovered (" : "recovery (") + rec.id + "; " + about +
         ")\n";
  if (rec.trigger == "stale-copy") {
    // Nothing is restored: the copy is cancelled where the job no longer lives.
    out += std::string("    ") + (rec.dry_run ? "would have cancelled" : "cancel") +
           " the stale copy on " + rec.cluster + " (no savepoint, no submit)\n";
  } else {
    out += std::string("    ") + (rec.dry_run ? "would have restored from " : "restore from ") +
           RestoreText(rec) + "\n";
  }
  if (!rec.reason.empty()) out += "    why: " + Flow(rec.reason) + "\n";
  StepsText(out, h, now_ms);

  std::string outcome;
  if (!rec.ended_ms || rec.outcome == RecoveryAttempt::Outcome::kInProgress) {
    outcome = "in progress for " + Span(now_ms - rec.started_ms);
    if (!h.steps.empty()) outcome += ", at " + h.steps.back().kind;
  } else {
    const std::string took = Span(*rec.ended_ms - rec.started_ms);
    switch (rec.outcome) {
      case RecoveryAttempt::Outcome::kSucceeded:
        outcome = rec.dry_run ? "DRY RUN: nothing was done" : "succeeded in " + took;
        break;
      case RecoveryAttempt::Outcome::kFailed: outcome = "failed after " + took; break;
      case RecoveryAttempt::Outcome::kDidNotStick:
        outcome = "did not stick: finished in " + took +
                  ", but the job did not stay up and a later recovery escalated past it";
        break;
      case RecoveryAttempt::Outcome::kInProgress: break;  // handled above
    }
  }
  if (!rec.error.empty()) outcome += ": " + Flow(rec.error);
  out += "    => " + outcome + "\n";
}

void Text(std::string& out, const SavepointRecord& s, std::int64_t now_ms) {
  std::string line = When(s.requested_ms, now_ms) + "  " + Where(s.job, s.cluster) +
                     "  savepoint (" + (s.origin.empty() ? std::string("?") : s.origin) + ") " +
                     s.status;
  if (s.completed_ms) line += " in " + Span(*s.completed_ms - s.requested_ms);
  if (!s.path.empty()) line += ": " + s.path;
  if (!s.error.empty()) line += ": " + Flow(s.error);
  if (s.path.empty() && s.error.empty() && !s.trigger_id.empty()) {
    line += " (trigger " + s.trigger_id + ")";
  }
  out += line + "\n";
}

// --- JSON ------------------------------------------------------------------------------------

template <typename W>
void Str(W& w, const std::string& s) {
  w.String(s.c_str(), static_cast<rapidjson::SizeType>(s.size()));
}

template <typename W>
void KeyStr(W& w, const char* key, const std::string& s) {
  w.Key(key);
  Str(w, s);
}

template <typename W>
void KeyInt(W& w, const char* key, std::int64_t v) {
  w.Key(key);
  w.Int64(v);
}

template <typename W>
void KeyOptInt(W& w, const char* key, const std::optional<std::int64_t>& v) {
  w.Key(key);
  if (v) {
    w.Int64(*v);
  } else {
    w.Null();
  }
}

template <typename W>
void KeyMap(W& w, const char* key, const std::map<std::string, std::string>& m) {
  w.Key(key);
  w.StartObject();
  for (const auto& [k, v] : m) {
    Str(w, k);
    Str(w, v);
  }
  w.EndObject();
}

template <typename W>
void Json(W& w, const RuleTransition& t) {
  KeyStr(w, "rule", t.rule);
  KeyStr(w, "job", t.job);
  KeyStr(w, "cluster", t.cluster);
  KeyStr(w, "job_id", t.job_id);
  w.Key("from");
  w.String(RuleStateName(t.from));
  w.Key("to");
  w.String(RuleStateName(t.to));
  w.Key("severity");
  w.String(SeverityName(t.severity));
  w.Key("action");
  w.String(ActionName(t.action));
  KeyStr(w, "reason", t.reason);
  KeyMap(w, "labels", t.labels);
  KeyMap(w, "annotations", t.annotations);
}

template <typename W>
void Json(W& w, const RefusalRecord& r) {
  KeyStr(w, "job", r.refusal.job);
  w.Key("cause");
  w.String(RefusalCauseName(r.refusal.cause));
  w.Key("page");
  w.Bool(r.refusal.page);
  KeyStr(w, "reason", r.refusal.reason);
}

template <typename W>
void Json(W& w, const RecoveryHistory& h) {
  const RecoveryRecord& rec = h.record;
  KeyStr(w, "id", rec.id);
  KeyStr(w, "job", rec.job);
  KeyStr(w, "cluster", rec.cluster);
  KeyStr(w, "trigger", rec.trigger);
  KeyInt(w, "started_ms", rec.started_ms);
  KeyOptInt(w, "ended_ms", rec.ended_ms);
  w.Key("strategy");
  w.String(StrategyName(rec.strategy));
  KeyStr(w, "restore_path", rec.restore_path);
  w.Key("outcome");
  w.String(OutcomeName(rec.outcome));
  KeyOptInt(w, "cooldown_ms", rec.cooldown_ms);
  w.Key("dry_run");
  w.Bool(rec.dry_run);
  KeyStr(w, "reason", rec.reason);
  w.Key("rules");
  w.StartArray();
  for (const std::string& rule : SplitRules(rec.rules)) Str(w, rule);
  w.EndArray();
  w.Key("severity");
  w.String(SeverityName(rec.severity));
  KeyStr(w, "plan", rec.plan);
  KeyStr(w, "progress", rec.progress);
  KeyOptInt(w, "fencing_token", rec.fencing_token);
  KeyStr(w, "error", rec.error);
  w.Key("steps");
  w.StartArray();
  for (const StepRecord& s : h.steps) {
    w.StartObject();
    KeyInt(w, "seq", s.seq);
    KeyStr(w, "kind", s.kind);
    KeyInt(w, "started_ms", s.started_ms);
    KeyOptInt(w, "ended_ms", s.ended_ms);
    KeyStr(w, "status", s.status);
    KeyStr(w, "detail", s.detail);
    KeyOptInt(w, "fencing_token", s.fencing_token);
    w.EndObject();
  }
  w.EndArray();
}

template <typename W>
void Json(W& w, const SavepointRecord& s) {
  KeyInt(w, "id", s.id);
  KeyStr(w, "job", s.job);
  KeyStr(w, "cluster", s.cluster);
  KeyStr(w, "job_id", s.job_id);
  KeyStr(w, "trigger_id", s.trigger_id);
  KeyStr(w, "origin", s.origin);
  KeyInt(w, "requested_ms", s.requested_ms);
  KeyOptInt(w, "completed_ms", s.completed_ms);
  KeyStr(w, "status", s.status);
  KeyStr(w, "path", s.path);
  KeyStr(w, "error", s.error);
}

template <typename W>
void Write(W& w, const HistoryReport& r) {
  w.StartObject();
  w.Key("job");
  if (r.query.job.empty()) {
    w.Null();
  } else {
    Str(w, r.query.job);
  }
  KeyInt(w, "since_ms", r.query.since_ms);
  w.Key("events");
  w.StartArray();
  for (const HistoryEvent& e : r.events) {
    w.StartObject();
    w.Key("type");
    w.String(e.TypeName());
    KeyInt(w, "at_ms", e.at_ms);
    std::visit([&w](const auto& v) { Json(w, v); }, e.what);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
}

}  // namespace

const char* HistoryEvent::TypeName() const {
  struct Name {
    const char* operator()(const RuleTransition&) const { return "transition"; }
    const char* operator()(const RefusalRecord&) const { return "refusal"; }
    const char* operator()(const RecoveryHistory&) const { return "recovery"; }
    const char* operator()(const SavepointRecord&) const { return "savepoint"; }
  };
  return std::visit(Name{}, what);
}

Result<HistoryReport> ReadHistory(RecoveryJournal& journal, EventLog& events,
                                  const HistoryQuery& q) {
  HistoryReport report;
  report.query = q;
  auto transitions = events.Transitions(q.job, q.since_ms);
  if (!transitions) return Fail(Reading(transitions.error(), "rule transitions"));
  auto refusals = events.Refusals(q.job, q.since_ms);
  if (!refusals) return Fail(Reading(refusals.error(), "refusals"));
  auto recoveries = journal.Recoveries(q.job, q.since_ms);
  if (!recoveries) return Fail(Reading(recoveries.error(), "recoveries"));
  auto savepoints = events.Savepoints(q.job, q.since_ms);
  if (!savepoints) return Fail(Reading(savepoints.error(), "savepoints"));

  // Appended in the order one cycle produces them, so the stable sort below keeps that order
  // among events of the same millisecond (a rule fires, then the planner acts on it).
  auto& out = report.events;
  out.reserve(transitions->size() + refusals->size() + recoveries->size() + savepoints->size());
  for (RuleTransition& t : *transitions) out.push_back({t.at_ms, std::move(t)});
  for (RefusalRecord& r : *refusals) out.push_back({r.at_ms, std::move(r)});
  for (RecoveryRecord& rec : *recoveries) {
    auto steps = journal.Steps(rec.id);
    if (!steps) return Fail(Reading(steps.error(), "the steps of recovery " + rec.id));
    std::sort(steps->begin(), steps->end(),
              [](const StepRecord& a, const StepRecord& b) { return a.seq < b.seq; });
    const std::int64_t at = rec.started_ms;
    out.push_back({at, RecoveryHistory{std::move(rec), std::move(*steps)}});
  }
  for (SavepointRecord& s : *savepoints) out.push_back({s.requested_ms, std::move(s)});
  std::stable_sort(out.begin(), out.end(),
                   [](const HistoryEvent& a, const HistoryEvent& b) { return a.at_ms < b.at_ms; });
  return report;
}

std::string HistoryToText(const HistoryReport& r, std::int64_t now_ms) {
  const std::string job = "job " + r.query.job;
  const std::string since =
      r.query.since_ms > 0
          ? " since " + UtcTime(r.query.since_ms) + " UTC (" + Ago(r.query.since_ms, now_ms) + ")"
          : " in the history";
  if (r.events.empty()) {
    return "no events for " + (r.query.job.empty() ? "any job" : job) + since + "\n";
  }
  std::string out = "history of " + (r.query.job.empty() ? "every job" : job) + since + ": " +
                    std::to_string(r.events.size()) +
                    (r.events.size() == 1 ? " event" : " events") + ", times in UTC\n\n";
  for (const HistoryEvent& e : r.events) {
    std::visit([&out, now_ms](const auto& v) { Text(out, v, now_ms); }, e.what);
  }
  return out;
}

std::string HistoryToJson(const HistoryReport& r, bool pretty) {
  rapidjson::StringBuffer buf;
  if (pretty) {
    rapidjson::PrettyWriter<rapidjson::StringBuffer> w(buf);
    w.SetIndent(' ', 2);
    Write(w, r);
  } else {
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    Write(w, r);
  }
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace flinkguard
