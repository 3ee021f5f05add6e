#include "rules/rule_engine.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "rules/job_status.h"

namespace flinkguard {
namespace {

const std::vector<std::string>& TemplateVariables() {
  static const std::vector<std::string> kVars{"job",  "cluster",  "job_id",
                                              "rule", "severity", "value"};
  return kVars;
}

bool IsVarChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// One {{ $name }} placeholder found at text[begin, end).
struct Placeholder {
  std::size_t begin = 0;
  std::size_t end = 0;
  std::string name;  // without '$'; "" when malformed
  std::string error;
};

// The placeholder starting at `at` (where "{{" is).
Placeholder ScanPlaceholder(std::string_view text, std::size_t at) {
  Placeholder p;
  p.begin = at;
  const std::size_t close = text.find("}}", at + 2);
  if (close == std::string_view::npos) {
    p.error = "unclosed '{{': write {{ $job }}";
    return p;
  }
  p.end = close + 2;
  std::size_t i = at + 2;
  while (i < close && text[i] == ' ') ++i;
  std::size_t j = close;
  while (j > i && text[j - 1] == ' ') --j;
  const std::string_view inner = text.substr(i, j - i);
  if (inner.size() < 2 || inner[0] != '$' ||
      !std::all_of(inner.begin() + 1, inner.end(), IsVarChar)) {
    p.error = "expected a variable such as {{ $job }}; found '{{" +
              std::string(text.substr(at + 2, close - at - 2)) + "}}'";
    return p;
  }
  p.name = std::string(inner.substr(1));
  return p;
}

// Why `text` is not a valid template: (offset, message), or nullopt.
std::optional<std::pair<std::size_t, std::string>> CheckTemplate(std::string_view text) {
  for (std::size_t at = text.find("{{"); at != std::string_view::npos; at = text.find("{{", at)) {
    const Placeholder p = ScanPlaceholder(text, at);
    if (!p.error.empty()) return std::make_pair(at, p.error);
    const auto& vars = TemplateVariables();
    if (std::find(vars.begin(), vars.end(), p.name) == vars.end()) {
      std::string known;
      for (const auto& v : vars) known += (known.empty() ? "$" : ", $") + v;
      return std::make_pair(at,
                            "unknown template variable '$" + p.name + "'; variables are " + known);
    }
    at = p.end;
  }
  return std::nullopt;
}

template <typename T, typename ToDouble>
SignalReading FromObserved(const Observed<T>& o, ToDouble to_double, const char* absent_why) {
  if (o.fresh() && o.value) return {to_double(*o.value), {}};
  if (o.fresh()) return {std::nullopt, absent_why};
  if (o.freshness == Freshness::kStale) {
    return {std::nullopt, o.why.empty() ? std::string("stale") : "stale: " + o.why};
  }
  return {std::nullopt, o.why.empty() ? std::string("not observed") : o.why};
}

double AsDouble(std::int64_t v) { return static_cast<double>(v); }

// A checkpoint setting, unknown when checkpointing is off (Flink reports a 0/-1 or Long.MAX
// interval then).
template <typename Get>
SignalReading FromSettings(const JobSnapshot& job, Get get) {
  const auto& s = job.checkpoint_settings;
  if (s.fresh() && s.value &&
      (s.value->interval_ms <= 0 ||
       s.value->interval_ms == std::numeric_limits<std::int64_t>::max())) {
    return {std::nullopt, "checkpointing is disabled"};
  }
  return FromObserved(
      s, [&](const CheckpointSettings& c) { return AsDouble(get(c)); }, "no checkpoint settings");
}

// Whether `a` is a better "current instance" of a job name than `b`.
bool Preferred(const JobSnapshot& a, const JobSnapshot& b) {
  const auto live = [](const JobSnapshot& s) {
    return !(s.status.value && IsGloballyTerminal(*s.status.value));
  };
  if (live(a) != live(b)) return live(a);
  if (a.start_time_ms != b.start_time_ms) return a.start_time_ms > b.start_time_ms;
  return a.job_id > b.job_id;
}

std::string Ago(std::int64_t ms) { return FormatDuration(Duration(std::max<std::int64_t>(ms, 0))); }

}  // namespace

std::string RuleError::ToString() const {
  return field + ": column " + std::to_string(offset + 1) + ": " + message;
}

tl::expected<CompiledRule, RuleError> CompileRule(RuleSpec spec,
                                                  const std::set<std::string>& custom_signals) {
  auto expr = Expr::CompileCondition(spec.when, custom_signals);
  if (!expr) return tl::unexpected(RuleError{"when", expr.error().offset, expr.error().message});
  for (const auto* section : {&spec.labels, &spec.annotations}) {
    const std::string prefix = section == &spec.labels ? "labels." : "annotations.";
    for (const auto& [key, text] : *section) {
      if (auto bad = CheckTemplate(text)) {
        return tl::unexpected(RuleError{prefix + key, bad->first, bad->second});
      }
    }
  }
  return CompiledRule{std::move(spec), std::move(*expr)};
}

bool MatchesGlob(std::string_view glob, std::string_view name) {
  // Greedy with backtracking to the last '*': linear in practice, no recursion.
  std::size_t g = 0;
  std::size_t n = 0;
  std::size_t star = std::string_view::npos;
  std::size_t star_n = 0;
  while (n < name.size()) {
    if (g < glob.size() && (glob[g] == '?' || glob[g] == name[n])) {
      ++g;
      ++n;
    } else if (g < glob.size() && glob[g] == '*') {
      star = g++;
      star_n = n;
    } else if (star != std::string_view::npos) {
      g = star + 1;
      n = ++star_n;
    } else {
      return false;
    }
  }
  while (g < glob.size() && glob[g] == '*') ++g;
  return g == glob.size();
}

std::string RenderTemplate(std::string_view text, const std::map<std::string, std::string>& vars) {
  std::string out;
  std::size_t from = 0;
  for (std::size_t at = text.find("{{"); at != std::string_view::npos; at = text.find("{{", from)) {
    const Placeholder p = ScanPlaceholder(text, at);
    if (!p.error.empty()) break;
    out.append(text.substr(from, at - from));
    auto it = vars.find(p.name);
    out.append(it != vars.end() ? std::string_view(it->second)
                                : text.substr(p.begin, p.end - p.begin));
    from = p.end;
  }
  out.append(text.substr(from));
  return out;
}

SignalReading ReadSignal(const JobSnapshot& job, std::string_view signal,
                         const ClusterSnapshot* cluster) {
  const auto same = [](auto v) { return static_cast<double>(v); };
  if (signal == "status") {
    SignalReading r = FromObserved(
        job.status, [](JobStatus s) { return static_cast<double>(static_cast<int>(s)); },
        "no status");
    if (!r.value && !job.status.value && !job.status_text.empty() && job.status.fresh()) {
      r.why_unknown = "status '" + job.status_text + "' is not a known job status";
    }
    return r;
  }
  if (signal == "all_tasks_running") {
    return FromObserved(
        job.all_tasks_running, [](bool b) { return b ? 1.0 : 0.0; }, "task states not reported");
  }
  if (signal == "uptime") return FromObserved(job.uptime_ms, same, "no uptime");
  if (signal == "restarts") return FromObserved(job.restarts, same, "numRestarts not reported");
  if (signal == "checkpoint_age") {
    return FromObserved(job.checkpoint_age_ms, same, "no completed checkpoint");
  }
  if (signal == "checkpoint_interval") {
    return FromSettings(job, [](const CheckpointSettings& c) { return c.interval_ms; });
  }
  if (signal == "checkpoint_timeout") {
    return FromSettings(job, [](const CheckpointSettings& c) { return c.timeout_ms; });
  }
  if (signal == "tolerable_failed_checkpoints") {
    return FromSettings(job, [](const CheckpointSettings& c) { return c.tolerable_failures; });
  }
  if (signal == "checkpoints_failed") {
    return FromObserved(job.checkpoints_failed, same, "not reported");
  }
  if (signal == "checkpoints_completed") {
    return FromObserved(job.checkpoints_completed, same, "not reported");
  }
  if (signal == "checkpoint_duration") {
    return FromObserved(job.checkpoint_duration_ms, same, "no completed checkpoint");
  }
  if (signal == "qps") return FromObserved(job.qps, same, "not reported");
  if (signal == "backpressure") return FromObserved(job.backpressure, same, "not reported");
  if (signal == "lag") return FromObserved(job.lag, same, "not reported");
  if (signal == "cluster_up") {
    if (cluster == nullptr) {
      return {std::nullopt, "cluster " + job.cluster + " not in this cycle's observation"};
    }
    return {cluster->reachable ? 1.0 : 0.0, {}};
  }
  auto it = job.signals.find(std::string(signal));
  if (it == job.signals.end()) return {std::nullopt, "no value from the TSDB for this job"};
  return FromObserved(it->second, same, "no value from the TSDB for this job");
}

RuleEngine::RuleEngine(std::vector<CompiledRule> rules, RuleEngineOptions options)
    : rules_(std::move(rules)), options_(options) {}

bool RuleEngine::Applies(const CompiledRule& rule, const std::string& job) const {
  if (rule.spec.disabled_for.count(job) != 0) return false;
  if (rule.spec.jobs.empty()) return true;
  return std::any_of(rule.spec.jobs.begin(), rule.spec.jobs.end(),
                     [&](const std::string& g) { return MatchesGlob(g, job); });
}

void RuleEngine::InitJob(const std::string& name, JobState& job, std::int64_t now_ms) const {
  job.name = name;
  job.pairs.resize(rules_.size());
  for (std::size_t i = 0; i < rules_.size(); ++i) {
    if (!Applies(rules_[i], name)) continue;
    Pair p;
    p.state_since_ms = now_ms;
    job.pairs[i] = std::move(p);
    for (const SignalUse& use : rules_[i].expr.signals()) {
      job.history.Track(use.name, use.window.count() > 0
                                      ? SamplesToCover(use.window, options_.sample_interval)
                                      : 1);
    }
  }
  job.signals = job.history.Signals();
}

RuleEvaluation RuleEngine::Evaluate(const std::vector<JobSnapshot>& snapshots, std::int64_t now_ms,
                                    const std::vector<ClusterSnapshot>& clusters) {
  RuleEvaluation out;
  std::map<std::string_view, const ClusterSnapshot*> cluster_by_name;
  for (const ClusterSnapshot& c : clusters) cluster_by_name.emplace(c.name, &c);
  std::map<std::string_view, const JobSnapshot*> current;
  for (const JobSnapshot& s : snapshots) {
    auto [it, inserted] = current.emplace(s.name, &s);
    if (!inserted && Preferred(s, *it->second)) it->second = &s;
  }
  for (const auto& [name, snap] : current) {
    auto it = jobs_.find(name);
    if (it == jobs_.end()) {
      it = jobs_.emplace(std::string(name), JobState{}).first;
      InitJob(it->first, it->second, now_ms);
    }
  }
  for (auto it = jobs_.begin(); it != jobs_.end();) {
    const std::string& name = it->first;
    JobState& job = it->second;
    auto seen = current.find(name);
    if (seen == current.end()) {
      // Not observed this cycle: frozen, then forgotten.
      if (now_ms - job.last_seen_ms < options_.forget_after.count()) {
        ++it;
        continue;
      }
      for (std::size_t i = 0; i < rules_.size(); ++i) {
        auto& pair = job.pairs[i];
        if (!pair || pair->reported == RuleState::kInactive) continue;
        pair->known = RuleState::kInactive;
        Transition(
            rules_[i], job, *pair, RuleState::kInactive, now_ms,
            "job " + name + " not observed for " + Ago(now_ms - job.last_seen_ms) + "; forgotten",
            out);
      }
      it = jobs_.erase(it);
      continue;
    }
    const JobSnapshot& snap = *seen->second;
    job.cluster = snap.cluster;
    job.job_id = snap.job_id;
    job.last_seen_ms = now_ms;
    auto c = cluster_by_name.find(snap.cluster);
    const ClusterSnapshot* cluster = c == cluster_by_name.end() ? nullptr : c->second;
    for (const std::string& signal : job.signals) {
      SignalReading r = ReadSignal(snap, signal, cluster);
      job.history.Record(signal, now_ms, r.value, std::move(r.why_unknown));
    }
    for (std::size_t i = 0; i < rules_.size(); ++i) {
      if (!job.pairs[i]) continue;
      Step(rules_[i], job, *job.pairs[i], rules_[i].expr.Evaluate(job.history, now_ms), now_ms,
           out);
    }
    ++it;
  }
  for (const auto& [name, job] : jobs_) {
    for (std::size_t i = 0; i < rules_.size(); ++i) {
      const auto& pair = job.pairs[i];
      if (pair && pair->reported == RuleState::kFiring) {
        Finding f = MakeFinding(rules_[i], job, *pair);
        if (job.last_seen_ms != now_ms) {
          f.reason = "job " + name + " not observed for " + Ago(now_ms - job.last_seen_ms) +
                     "; last known: " + pair->last_known_reason;
        }
        out.findings.push_back(std::move(f));
      }
    }
  }
  return out;
}

void RuleEngine::Step(const CompiledRule& rule, const JobState& job, Pair& pair,
                      const Evaluation& ev, std::int64_t now_ms, RuleEvaluation& out) const {
  pair.last = ev;
  pair.evaluated = true;
  pair.evaluated_at_ms = now_ms;
  const std::int64_t for_ms = rule.spec.for_duration.count();
  const std::int64_t keep_ms = rule.spec.keep_firing_for.count();
  const RuleState before = pair.known;
  std::string reason = ev.reason;
  if (ev.truth == Truth::kUnknown) {
    pair.data_known = false;
  } else {
    pair.data_known = true;
    pair.last_known_reason = ev.reason;
    pair.last_known_subject = ev.subject;
    if (ev.truth == Truth::kTrue) {
      pair.false_since_ms.reset();
      if (pair.known == RuleState::kInactive) {
        pair.active_since_ms = now_ms;
        pair.known = RuleState::kPending;
      }
      if (pair.known == RuleState::kPending) {
        if (now_ms - pair.active_since_ms >= for_ms) {
          pair.known = RuleState::kFiring;
          pair.firing_since_ms = now_ms;
          if (for_ms > 0) reason += "; held for " + Ago(now_ms - pair.active_since_ms);
        } else if (before != RuleState::kPending) {
          reason += "; fires if it holds for " + FormatDuration(rule.spec.for_duration);
        }
      }
    } else if (pair.known == RuleState::kPending) {
      pair.known = RuleState::kInactive;
    } else if (pair.known == RuleState::kFiring) {
      if (!pair.false_since_ms) pair.false_since_ms = now_ms;
      const std::int64_t false_for = now_ms - *pair.false_since_ms;
      if (false_for >= keep_ms) {
        pair.known = RuleState::kInactive;
        pair.false_since_ms.reset();
        if (keep_ms > 0) {
          reason += "; false for " + Ago(false_for) + " (keep_firing_for " +
                    FormatDuration(rule.spec.keep_firing_for) + ")";
        }
      }
    }
  }
  const RuleState target =
      !pair.data_known && pair.known == RuleState::kInactive ? RuleState::kUnknown : pair.known;
  if (target != pair.reported) Transition(rule, job, pair, target, now_ms, std::move(reason), out);
}

std::map<std::string, std::string> RuleEngine::Vars(const CompiledRule& rule, const JobState& job,
                                                    const Pair& pair) const {
  const std::optional<ExprValue>& subject =
      pair.data_known ? pair.last.subject : pair.last_known_subject;
  std::map<std::string, std::string> vars;
  vars["job"] = job.name;
  vars["cluster"] = job.cluster;
  vars["job_id"] = job.job_id;
  vars["rule"] = rule.spec.name;
  vars["severity"] = SeverityName(rule.spec.severity);
  vars["value"] = subject ? FormatValue(*subject) : "unknown";
  return vars;
}

void RuleEngine::Transition(const CompiledRule& rule, const JobState& job, Pair& pair, RuleState to,
                            std::int64_t now_ms, std::string reason, RuleEvaluation& out) const {
  RuleTransition t;
  t.rule = rule.spec.name;
  t.job = job.name;
  t.cluster = job.cluster;
  t.job_id = job.job_id;
  t.from = pair.reported;
  t.to = to;
  t.at_ms = now_ms;
  t.severity = rule.spec.severity;
  t.action = rule.spec.action;
  t.reason = std::move(reason);
  const auto vars = Vars(rule, job, pair);
  for (const auto& [k, v] : rule.spec.labels) t.labels[k] = RenderTemplate(v, vars);
  for (const auto& [k, v] : rule.spec.annotations) t.annotations[k] = RenderTemplate(v, vars);
  pair.reported = to;
  pair.state_since_ms = now_ms;
  out.transitions.push_back(std::move(t));
}

Finding RuleEngine::MakeFinding(const CompiledRule& rule, const JobState& job,
                                const Pair& pair) const {
  Finding f;
  f.rule = rule.spec.name;
  f.job = job.name;
  f.cluster = job.cluster;
  f.job_id = job.job_id;
  f.severity = rule.spec.severity;
  f.action = rule.spec.action;
  f.firing_since_ms = pair.firing_since_ms;
  f.reason = pair.data_known ? pair.last.reason
                             : "data unknown now (" + pair.last.reason +
                                   "); last known: " + pair.last_known_reason;
  const auto vars = Vars(rule, job, pair);
  for (const auto& [k, v] : rule.spec.labels) f.labels[k] = RenderTemplate(v, vars);
  for (const auto& [k, v] : rule.spec.annotations) f.annotations[k] = RenderTemplate(v, vars);
  return f;
}

RuleStatus RuleEngine::MakeStatus(const CompiledRule& rule, const std::string& job_name,
                                  const JobState* job, const Pair* pair) const {
  RuleStatus s;
  s.rule = rule.spec.name;
  s.job = job_name;
  if (job != nullptr) {
    s.cluster = job->cluster;
    s.job_id = job->job_id;
  }
  if (!Applies(rule, job_name)) {
    s.applies = false;
    s.reason = rule.spec.disabled_for.count(job_name) != 0
                   ? "disabled for this job"
                   : "the rule's job patterns do not match this job";
    return s;
  }
  if (pair == nullptr || !pair->evaluated) {
    s.reason = "not evaluated yet: job " + job_name + " not observed";
    return s;
  }
  s.state = pair->reported;
  s.data_known = pair->data_known;
  s.truth = pair->last.truth;
  s.value = pair->last.subject;
  s.reason = pair->last.reason;
  s.state_since_ms = pair->state_since_ms;
  s.active_since_ms = pair->known == RuleState::kInactive ? 0 : pair->active_since_ms;
  s.evaluated = true;
  s.evaluated_at_ms = pair->evaluated_at_ms;
  return s;
}

std::vector<RuleStatus> RuleEngine::Explain(std::string_view job) const {
  std::vector<RuleStatus> out;
  auto it = jobs_.find(job);
  const JobState* state = it == jobs_.end() ? nullptr : &it->second;
  for (std::size_t i = 0; i < rules_.size(); ++i) {
    const Pair* pair = state != nullptr && state->pairs[i] ? &*state->pairs[i] : nullptr;
    out.push_back(MakeStatus(rules_[i], std::string(job), state, pair));
  }
  return out;
}

std::vector<RuleStatus> RuleEngine::Statuses() const {
  std::vector<RuleStatus> out;
  for (const auto& [name, job] : jobs_) {
    for (std::size_t i = 0; i < rules_.size(); ++i) {
      if (job.pairs[i] && job.pairs[i]->evaluated) {
        out.push_back(MakeStatus(rules_[i], name, &job, &*job.pairs[i]));
      }
    }
  }
  return out;
}

std::size_t RuleEngine::SampleCount() const {
  std::size_t n = 0;
  for (const auto& [name, job] : jobs_) n += job.history.SampleCount();
  return n;
}

}  // namespace flinkguard
