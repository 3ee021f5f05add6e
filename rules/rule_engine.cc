#include "rules/rule_engine.h"

#include <algorithm>
#include <cstddef>
#include <iterator>
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

enum class SignalKind : std::uint8_t {
  kStatus,
  kAllTasksRunning,
  kUptime,
  kRestarts,
  kCheckpointAge,
  kCheckpointInterval,
  kCheckpointTimeout,
  kTolerableFailedCheckpoints,
  kCheckpointsFailed,
  kCheckpointsCompleted,
  kCheckpointDuration,
  kQps,
  kBackpressure,
  kLag,
  kClusterUp,
  kInstances,
  kCustom,  // a TSDB signal, by name
};

namespace {

SignalKind KindOf(std::string_view signal) {
  static constexpr std::pair<std::string_view, SignalKind> kKinds[] = {
      {"status", SignalKind::kStatus},
      {"all_tasks_running", SignalKind::kAllTasksRunning},
      {"uptime", SignalKind::kUptime},
      {"restarts", SignalKind::kRestarts},
      {"checkpoint_age", SignalKind::kCheckpointAge},
      {"checkpoint_interval", SignalKind::kCheckpointInterval},
      {"checkpoint_timeout", SignalKind::kCheckpointTimeout},
      {"tolerable_failed_checkpoints", SignalKind::kTolerableFailedCheckpoints},
      {"checkpoints_failed", SignalKind::kCheckpointsFailed},
      {"checkpoints_completed", SignalKind::kCheckpointsCompleted},
      {"checkpoint_duration", SignalKind::kCheckpointDuration},
      {"qps", SignalKind::kQps},
      {"backpressure", SignalKind::kBackpressure},
      {"lag", SignalKind::kLag},
      {"cluster_up", SignalKind::kClusterUp},
      {"instances", SignalKind::kInstances},
  };
  for (const auto& [name, kind] : kKinds) {
    if (name == signal) return kind;
  }
  return SignalKind::kCustom;
}

SignalReading Read(const JobSnapshot& job, SignalKind kind, std::string_view signal,
                   const ClusterSnapshot* cluster) {
  const auto same = [](auto v) { return static_cast<double>(v); };
  switch (kind) {
    case SignalKind::kStatus: {
      SignalReading r = FromObserved(
          job.status, [](JobStatus s) { return static_cast<double>(static_cast<int>(s)); },
          "no status");
      if (!r.value && !job.status.value && !job.status_text.empty() && job.status.fresh()) {
        r.why_unknown = "status '" + job.status_text + "' is not a known job status";
      }
      return r;
    }
    case SignalKind::kAllTasksRunning:
      return FromObserved(
          job.all_tasks_running, [](bool b) { return b ? 1.0 : 0.0; }, "task states not reported");
    case SignalKind::kUptime: return FromObserved(job.uptime_ms, same, "no uptime");
    case SignalKind::kRestarts: return FromObserved(job.restarts, same, "numRestarts not reported");
    case SignalKind::kCheckpointAge:
      return FromObserved(job.checkpoint_age_ms, same, "no completed checkpoint");
    case SignalKind::kCheckpointInterval:
      return FromSettings(job, [](const CheckpointSettings& c) { return c.interval_ms; });
    case SignalKind::kCheckpointTimeout:
      return FromSettings(job, [](const CheckpointSettings& c) { return c.timeout_ms; });
    case SignalKind::kTolerableFailedCheckpoints:
      return FromSettings(job, [](const CheckpointSettings& c) { return c.tolerable_failures; });
    case SignalKind::kCheckpointsFailed:
      return FromObserved(job.checkpoints_failed, same, "not reported");
    case SignalKind::kCheckpointsCompleted:
      return FromObserved(job.checkpoints_completed, same, "not reported");
    case SignalKind::kCheckpointDuration:
      return FromObserved(job.checkpoint_duration_ms, same, "no completed checkpoint");
    case SignalKind::kQps: return FromObserved(job.qps, same, "not reported");
    case SignalKind::kBackpressure: return FromObserved(job.backpressure, same, "not reported");
    case SignalKind::kLag: return FromObserved(job.lag, same, "not reported");
    case SignalKind::kClusterUp:
      if (cluster == nullptr) {
        return {std::nullopt, "cluster " + job.cluster + " not in this cycle's observation"};
      }
      return {cluster->reachable ? 1.0 : 0.0, {}};
    case SignalKind::kInstances:
      return FromObserved(job.live_instances, same, "instances not counted");
    case SignalKind::kCustom: break;
  }
  auto it = job.signals.find(std::string(signal));
  if (it == job.signals.end()) return {std::nullopt, "no value from the TSDB for this job"};
  return FromObserved(it->second, same, "no value from the TSDB for this job");
}

// The entry for `name` in a vector sorted by name (the first of equal names), or nullptr.
template <typename T>
const T* FindSorted(const std::vector<std::pair<std::string_view, const T*>>& v,
                    std::string_view name) {
  auto it = std::lower_bound(v.begin(), v.end(), name,
                             [](const auto& e, std::string_view n) { return e.first < n; });
  return it != v.end() && it->first == name ? it->second : nullptr;
}

}  // namespace

SignalReading ReadSignal(const JobSnapshot& job, std::string_view signal,
                         const ClusterSnapshot* cluster) {
  return Read(job, KindOf(signal), signal, cluster);
}

RuleEngine::RuleEngine(std::vector<CompiledRule> rules, RuleEngineOptions options)
    : rules_(std::move(rules)), options_(options) {
  for (const CompiledRule& r : rules_) {
    for (const SignalUse& use : r.expr.signals()) signal_names_.push_back(use.name);
  }
  std::sort(signal_names_.begin(), signal_names_.end());
  signal_names_.erase(std::unique(signal_names_.begin(), signal_names_.end()), signal_names_.end());
  for (const std::string& name : signal_names_) signal_kinds_.push_back(KindOf(name));
  for (const CompiledRule& r : rules_) {
    std::vector<std::size_t> slots;
    for (const SignalUse& use : r.expr.signals()) {
      slots.push_back(static_cast<std::size_t>(
          std::lower_bound(signal_names_.begin(), signal_names_.end(), use.name) -
          signal_names_.begin()));
    }
    slots_.push_back(std::move(slots));
  }
  for (std::size_t i = 0; i < rules_.size(); ++i) {
    const std::vector<SignalUse>& uses = rules_[i].expr.signals();
    for (std::size_t k = 0; k < uses.size(); ++k) {
      if (uses[k].window.count() <= 0) continue;
      // The baseline of a window of n intervals is n samples back; the ring keeps n + 2.
      window_starts_.emplace_back(slots_[i][k],
                                  SamplesToCover(uses[k].window, options_.sample_interval) - 2);
    }
  }
  std::sort(window_starts_.begin(), window_starts_.end());
  window_starts_.erase(std::unique(window_starts_.begin(), window_starts_.end()),
                       window_starts_.end());
}

bool RuleEngine::Applies(const CompiledRule& rule, const std::string& job) const {
  if (rule.spec.disabled_for.count(job) != 0) return false;
  if (rule.spec.jobs.empty()) return true;
  return std::any_of(rule.spec.jobs.begin(), rule.spec.jobs.end(),
                     [&](const std::string& g) { return MatchesGlob(g, job); });
}

void RuleEngine::InitJob(std::string name, JobState& job, std::int64_t now_ms) const {
  job.name = std::move(name);
  job.pairs.resize(rules_.size());
  std::vector<std::size_t> capacities(signal_names_.size(), 0);
  for (std::size_t i = 0; i < rules_.size(); ++i) {
    if (!Applies(rules_[i], job.name)) continue;
    Pair p;
    p.state_since_ms = now_ms;
    job.pairs[i] = std::move(p);
    const std::vector<SignalUse>& uses = rules_[i].expr.signals();
    for (std::size_t k = 0; k < uses.size(); ++k) {
      const std::size_t need =
          uses[k].window.count() > 0 ? SamplesToCover(uses[k].window, options_.sample_interval) : 1;
      std::size_t& capacity = capacities[slots_[i][k]];
      capacity = std::max(capacity, need);
    }
  }
  for (std::size_t slot = 0; slot < capacities.size(); ++slot) {
    if (capacities[slot] > 0) job.tracked.push_back(slot);
  }
  job.history = JobHistory(capacities);
}

std::string RuleEngine::Reason(std::size_t rule, const JobState& job) const {
  return rules_[rule].expr.Evaluate(job.history, slots_[rule], job.last_seen_ms).reason;
}

RuleEvaluation RuleEngine::Evaluate(const std::vector<JobSnapshot>& snapshots, std::int64_t now_ms,
                                    const std::vector<ClusterSnapshot>& clusters) {
  RuleEvaluation out;
  // Sorted by name, stable: of equal names the first listed wins, as in a map.
  std::vector<std::pair<std::string_view, const ClusterSnapshot*>> cluster_by_name;
  cluster_by_name.reserve(clusters.size());
  for (const ClusterSnapshot& c : clusters) cluster_by_name.emplace_back(c.name, &c);
  const auto by_name = [](const auto& a, const auto& b) { return a.first < b.first; };
  std::stable_sort(cluster_by_name.begin(), cluster_by_name.end(), by_name);
  // The current instance of each job name, sorted by name (the order of jobs_).
  std::vector<std::pair<std::string_view, const JobSnapshot*>> current;
  current.reserve(snapshots.size());
  // Last call's order, kept when it still sorts these snapshots as the stable sort would (by
  // name, equal names in input order); otherwise sorted again.
  bool ordered = order_.size() == snapshots.size();
  if (ordered) {
    for (std::size_t i = 0; i < order_.size() && ordered; ++i) {
      const JobSnapshot& s = snapshots[order_[i]];
      if (i > 0) {
        const std::string_view prev = current.back().first;
        ordered = prev < s.name || (prev == s.name && order_[i - 1] < order_[i]);
      }
      current.emplace_back(s.name, &s);
    }
  }
  if (!ordered) {
    order_.resize(snapshots.size());
    for (std::size_t i = 0; i < order_.size(); ++i) order_[i] = i;
    std::stable_sort(order_.begin(), order_.end(), [&](std::size_t a, std::size_t b) {
      return snapshots[a].name < snapshots[b].name;
    });
    current.clear();
    for (const std::size_t i : order_) current.emplace_back(snapshots[i].name, &snapshots[i]);
  }
  std::size_t kept = 0;
  for (std::size_t i = 0; i < current.size(); ++i) {
    if (kept > 0 && current[kept - 1].first == current[i].first) {
      if (Preferred(*current[i].second, *current[kept - 1].second)) current[kept - 1] = current[i];
    } else {
      current[kept++] = current[i];
    }
  }
  current.resize(kept);
  // Every name in `current` gets a JobState: new names are merged in, keeping jobs_ sorted.
  {
    std::vector<JobState> added;
    std::size_t k = 0;
    for (const auto& [name, snap] : current) {
      while (k < jobs_.size() && std::string_view(jobs_[k].name) < name) ++k;
      if (k == jobs_.size() || jobs_[k].name != name) {
        added.emplace_back();
        InitJob(std::string(name), added.back(), now_ms);
      }
    }
    if (!added.empty()) {
      std::vector<JobState> merged;
      merged.reserve(jobs_.size() + added.size());
      std::merge(std::make_move_iterator(jobs_.begin()), std::make_move_iterator(jobs_.end()),
                 std::make_move_iterator(added.begin()), std::make_move_iterator(added.end()),
                 std::back_inserter(merged),
                 [](const JobState& a, const JobState& b) { return a.name < b.name; });
      jobs_ = std::move(merged);
    }
  }
  auto seen = current.begin();
  std::size_t kept_jobs = 0;  // jobs_[0, kept_jobs) are the ones not forgotten so far
  // The pass is bound by memory latency (every job's state is its own few allocations), so the
  // next jobs' memory is requested ahead: hot state two jobs ahead, rings one ahead (their
  // positions are in the hot state). Hints only.
  const auto prefetch_state = [&](std::size_t k) {
    if (k >= jobs_.size()) return;
    jobs_[k].history.Prefetch();
    const auto* p = reinterpret_cast<const char*>(jobs_[k].pairs.data());
    const std::size_t bytes = jobs_[k].pairs.size() * sizeof(jobs_[k].pairs[0]);
    for (std::size_t b = 0; b < bytes; b += 64) __builtin_prefetch(p + b, 1);
  };
  const auto prefetch_snapshot = [&](std::size_t ahead) {
    if (static_cast<std::size_t>(current.end() - seen) <= ahead) return;
    const JobSnapshot* snap = (seen + static_cast<std::ptrdiff_t>(ahead))->second;
    const auto* p = reinterpret_cast<const char*>(snap);
    for (std::size_t b = 0; b < sizeof(JobSnapshot); b += 64) __builtin_prefetch(p + b, 0);
  };
  prefetch_state(0);
  prefetch_state(1);
  if (!jobs_.empty()) jobs_[0].history.PrefetchRings();  // its window starts: not worth it
  for (std::size_t k = 0; k < jobs_.size(); ++k) {
    prefetch_state(k + 2);
    if (k + 1 < jobs_.size()) {
      const JobHistory& next = jobs_[k + 1].history;
      next.PrefetchRings();
      for (const auto& [slot, back] : window_starts_) next.PrefetchSample(slot, back);
    }
    prefetch_snapshot(1);
    JobState& job = jobs_[k];
    const std::string& name = job.name;
    // Both are sorted and every name in `current` is in jobs_: walk them together.
    const bool observed = seen != current.end() && seen->first == name;
    if (!observed) {
      // Not observed this cycle: frozen, then forgotten.
      if (now_ms - job.last_seen_ms < options_.forget_after.count()) {
        AddFindings(job, now_ms, out);
        Keep(k, kept_jobs);
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
      continue;  // forgotten: not kept
    }
    const JobSnapshot& snap = *seen->second;
    ++seen;
    job.cluster = snap.cluster;
    job.job_id = snap.job_id;
    job.last_seen_ms = now_ms;
    const ClusterSnapshot* cluster = FindSorted(cluster_by_name, snap.cluster);
    job.history.BeginInstant(now_ms);
    for (const std::size_t slot : job.tracked) {
      const SignalReading r = Read(snap, signal_kinds_[slot], signal_names_[slot], cluster);
      job.history.Set(slot, r.value, r.why_unknown);
    }
    memo_.Clear();
    for (std::size_t i = 0; i < rules_.size(); ++i) {
      if (!job.pairs[i]) continue;
      Step(i, job, *job.pairs[i],
           rules_[i].expr.EvaluateWithoutReason(job.history, slots_[i], now_ms, &memo_), now_ms,
           out);
    }
    AddFindings(job, now_ms, out);
    Keep(k, kept_jobs);
  }
  jobs_.erase(jobs_.begin() + static_cast<std::ptrdiff_t>(kept_jobs), jobs_.end());
  return out;
}

void RuleEngine::Keep(std::size_t k, std::size_t& kept) {
  if (kept != k) jobs_[kept] = std::move(jobs_[k]);
  ++kept;
}

const RuleEngine::JobState* RuleEngine::FindJob(std::string_view name) const {
  auto it = std::lower_bound(jobs_.begin(), jobs_.end(), name,
                             [](const JobState& j, std::string_view n) { return j.name < n; });
  return it != jobs_.end() && it->name == name ? &*it : nullptr;
}

const std::string& RuleEngine::LastKnownReason(const Pair& pair) {
  static const std::string kNone;
  return pair.last_known_reason ? *pair.last_known_reason : kNone;
}

void RuleEngine::AddFindings(const JobState& job, std::int64_t now_ms, RuleEvaluation& out) const {
  if (job.firing == 0) return;
  for (std::size_t i = 0; i < rules_.size(); ++i) {
    const auto& pair = job.pairs[i];
    if (!pair || pair->reported != RuleState::kFiring) continue;
    std::string reason;
    if (job.last_seen_ms != now_ms) {
      reason = "job " + job.name + " not observed for " + Ago(now_ms - job.last_seen_ms) +
               "; last known: " + LastKnownReason(*pair);
    } else if (pair->data_known) {
      // Evaluated known just now while firing: the last known reason is this evaluation's.
      reason = LastKnownReason(*pair);
    } else {
      reason = "data unknown now (" + Reason(i, job) + "); last known: " + LastKnownReason(*pair);
    }
    out.findings.push_back(MakeFinding(rules_[i], job, *pair, std::move(reason)));
  }
}

void RuleEngine::Step(std::size_t rule_index, JobState& job, Pair& pair, const Evaluation& ev,
                      std::int64_t now_ms, RuleEvaluation& out) const {
  const CompiledRule& rule = rules_[rule_index];
  pair.truth = ev.truth;
  pair.subject = PackedValue::Of(ev.subject);
  pair.evaluated = true;
  // The reason of this evaluation, computed at most once and only when needed.
  std::optional<std::string> reason;
  const auto full_reason = [&]() -> const std::string& {
    if (!reason) reason = Reason(rule_index, job);
    return *reason;
  };
  const std::int64_t for_ms = rule.spec.for_duration.count();
  const std::int64_t keep_ms = rule.spec.keep_firing_for.count();
  const RuleState before = pair.known;
  std::string suffix;  // what the transition's reason adds to the evaluation's
  if (ev.truth == Truth::kUnknown) {
    pair.data_known = false;
  } else {
    pair.data_known = true;
    pair.last_known_subject = PackedValue::Of(ev.subject);
    if (ev.truth == Truth::kTrue) {
      pair.has_false_since = false;
      if (pair.known == RuleState::kInactive) {
        pair.active_since_ms = now_ms;
        pair.known = RuleState::kPending;
      }
      if (pair.known == RuleState::kPending) {
        if (now_ms - pair.active_since_ms >= for_ms) {
          pair.known = RuleState::kFiring;
          pair.firing_since_ms = now_ms;
          if (for_ms > 0) suffix = "; held for " + Ago(now_ms - pair.active_since_ms);
        } else if (before != RuleState::kPending) {
          suffix = "; fires if it holds for " + FormatDuration(rule.spec.for_duration);
        }
      }
    } else if (pair.known == RuleState::kPending) {
      pair.known = RuleState::kInactive;
    } else if (pair.known == RuleState::kFiring) {
      if (!pair.has_false_since) {
        pair.has_false_since = true;
        pair.false_since_ms = now_ms;
      }
      const std::int64_t false_for = now_ms - pair.false_since_ms;
      if (false_for >= keep_ms) {
        pair.known = RuleState::kInactive;
        pair.has_false_since = false;
        if (keep_ms > 0) {
          suffix = "; false for " + Ago(false_for) + " (keep_firing_for " +
                   FormatDuration(rule.spec.keep_firing_for) + ")";
        }
      }
    }
    if (pair.known == RuleState::kFiring) {
      if (!pair.last_known_reason) pair.last_known_reason = std::make_unique<std::string>();
      *pair.last_known_reason = full_reason();
    } else {
      pair.last_known_reason.reset();
    }
  }
  const RuleState target =
      !pair.data_known && pair.known == RuleState::kInactive ? RuleState::kUnknown : pair.known;
  if (target != pair.reported) {
    Transition(rule, job, pair, target, now_ms, full_reason() + suffix, out);
  }
}

std::map<std::string, std::string> RuleEngine::Vars(const CompiledRule& rule, const JobState& job,
                                                    const Pair& pair) const {
  const std::optional<ExprValue> subject =
      (pair.data_known ? pair.subject : pair.last_known_subject).get();
  std::map<std::string, std::string> vars;
  vars["job"] = job.name;
  vars["cluster"] = job.cluster;
  vars["job_id"] = job.job_id;
  vars["rule"] = rule.spec.name;
  vars["severity"] = SeverityName(rule.spec.severity);
  vars["value"] = subject ? FormatValue(*subject) : "unknown";
  return vars;
}

void RuleEngine::Transition(const CompiledRule& rule, JobState& job, Pair& pair, RuleState to,
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
  if (pair.reported == RuleState::kFiring) --job.firing;
  if (to == RuleState::kFiring) ++job.firing;
  pair.reported = to;
  pair.state_since_ms = now_ms;
  out.transitions.push_back(std::move(t));
}

Finding RuleEngine::MakeFinding(const CompiledRule& rule, const JobState& job, const Pair& pair,
                                std::string reason) const {
  Finding f;
  f.rule = rule.spec.name;
  f.job = job.name;
  f.cluster = job.cluster;
  f.job_id = job.job_id;
  f.severity = rule.spec.severity;
  f.action = rule.spec.action;
  f.firing_since_ms = pair.firing_since_ms;
  f.reason = std::move(reason);
  const auto vars = Vars(rule, job, pair);
  for (const auto& [k, v] : rule.spec.labels) f.labels[k] = RenderTemplate(v, vars);
  for (const auto& [k, v] : rule.spec.annotations) f.annotations[k] = RenderTemplate(v, vars);
  return f;
}

RuleStatus RuleEngine::MakeStatus(std::size_t rule_index, const std::string& job_name,
                                  const JobState* job, const Pair* pair) const {
  const CompiledRule& rule = rules_[rule_index];
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
  s.truth = pair->truth;
  s.value = pair->subject.get();
  s.reason = Reason(rule_index, *job);
  s.state_since_ms = pair->state_since_ms;
  s.active_since_ms = pair->known == RuleState::kInactive ? 0 : pair->active_since_ms;
  s.evaluated = true;
  s.evaluated_at_ms = job->last_seen_ms;
  return s;
}

std::vector<RuleStatus> RuleEngine::Explain(std::string_view job) const {
  std::vector<RuleStatus> out;
  const JobState* state = FindJob(job);
  for (std::size_t i = 0; i < rules_.size(); ++i) {
    const Pair* pair = state != nullptr && state->pairs[i] ? &*state->pairs[i] : nullptr;
    out.push_back(MakeStatus(i, std::string(job), state, pair));
  }
  return out;
}

std::vector<RuleStatus> RuleEngine::Statuses() const {
  std::vector<RuleStatus> out;
  for (const JobState& job : jobs_) {
    for (std::size_t i = 0; i < rules_.size(); ++i) {
      if (job.pairs[i] && job.pairs[i]->evaluated) {
        out.push_back(MakeStatus(i, job.name, &job, &*job.pairs[i]));
      }
    }
  }
  return out;
}

std::size_t RuleEngine::SampleCount() const {
  std::size_t n = 0;
  for (const JobState& job : jobs_) n += job.history.SampleCount();
  return n;
}

std::size_t RuleEngine::HistoryBytes() const {
  std::size_t n = 0;
  for (const JobState& job : jobs_) n += job.history.RingBytes();
  return n;
}

}  // namespace flinkguard
