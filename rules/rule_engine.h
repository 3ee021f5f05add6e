#pragma once

// The rule engine: evaluates the rule table against every job's snapshot once per cycle and
// keeps each (rule, job) pair's state, like Prometheus alerting rules:
//
//   inactive --true--> pending --true for `for`--> firing --false for keep_firing_for--> inactive
//       (with for = 0, inactive --true--> firing directly; pending --false--> inactive)
//
// "resolved" is the transition firing -> inactive. Unknown data (stale or missing inputs, a window
// not covered yet) never moves a pair: a pending pair stays pending and does not fire, a firing
// pair stays firing and does not resolve, until a known evaluation says otherwise (the reported
// state stays, marked by RuleStatus::data_known = false and by the reason). A pair whose last
// known state is inactive reports kUnknown while its data is unknown.
//
// Pure: no clock, no I/O, no threads; every time is passed in. Not thread-safe.

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "rules/decision.h"
#include "rules/expr.h"
#include "rules/job_history.h"
#include "rules/signal_history.h"
#include "rules/snapshot.h"

namespace flinkguard {

// One row of the rule table as the engine needs it (the config's RuleConfig, resolved).
struct RuleSpec {
  std::string name;
  std::string when;  // the condition text
  Duration for_duration{0};
  Duration keep_firing_for{0};
  Severity severity = Severity::kWarning;
  Action action = Action::kAlert;
  // Values may use {{ $job }}, {{ $cluster }}, {{ $job_id }}, {{ $rule }}, {{ $severity }},
  // {{ $value }} (the value of Expr::subject_text(), "unknown" when unknown).
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  std::vector<std::string> jobs;       // job name globs (* and ?); empty = every job
  std::set<std::string> disabled_for;  // job names whose override says enabled: false
};

// Why a rule does not compile: which part and where.
struct RuleError {
  std::string field;       // "when", "labels.<key>" or "annotations.<key>"
  std::size_t offset = 0;  // 0-based byte offset in that field's text
  std::string message;
  std::string ToString() const;  // "rule <name>: when: column 5: ..." style without the name:
                                 // "<field>: column <offset+1>: <message>"
};

// A rule ready for the engine: its spec and its compiled condition.
struct CompiledRule {
  RuleSpec spec;
  Expr expr;
};

// Compiles the condition (which must be true/false) with the given custom TSDB signal names, and
// checks the label and annotation templates.
tl::expected<CompiledRule, RuleError> CompileRule(RuleSpec spec,
                                                  const std::set<std::string>& custom_signals);

// True when `name` matches `glob`, where * matches any run of characters (also none) and ?
// exactly one character; everything else matches itself.
bool MatchesGlob(std::string_view glob, std::string_view name);

// Renders {{ $var }} placeholders (spaces inside the braces optional). `vars` maps names without
// the `$`. Unknown variables render as they are written.
std::string RenderTemplate(std::string_view text, const std::map<std::string, std::string>& vars);

// The value of a signal for one job instance now: the number the history stores (see Sample), or
// nullopt with why it is unknown. `cluster` is the instance's cluster, when observed this cycle
// (for cluster_up). Fresh values only: a stale value is unknown, and so is a value observed to be
// absent (e.g. no checkpoint yet).
struct SignalReading {
  std::optional<double> value;
  std::string why_unknown;
};
SignalReading ReadSignal(const JobSnapshot& job, std::string_view signal,
                         const ClusterSnapshot* cluster);

struct RuleEngineOptions {
  // How often Evaluate is called (the poll interval): histories keep SamplesToCover(window,
  // sample_interval) samples per signal. Called more often, windows see less time and read
  // unknown more often; never wrong.
  Duration sample_interval{10'000};
  // A job not seen in any snapshot is frozen (no evaluation, no transition; its firing pairs stay
  // findings) for this long after it was last seen, then forgotten: its pending/firing/unknown
  // pairs go inactive and its history is dropped.
  Duration forget_after{3'600'000};
};

// One (rule, job) pair as `explain` shows it.
struct RuleStatus {
  std::string rule;
  std::string job;
  std::string cluster;  // of the instance last evaluated; "" when never
  std::string job_id;
  bool applies = true;  // false: the rule's globs do not match the job, or it is disabled
  RuleState state = RuleState::kInactive;  // as reported (see the header comment)
  bool data_known = true;                  // false: the last evaluation was unknown
  Truth truth = Truth::kUnknown;           // the last evaluation
  std::optional<ExprValue> value;          // $value of the last evaluation
  std::string reason;                // of the last evaluation (or why the rule does not apply)
  std::int64_t state_since_ms = 0;   // when `state` was entered
  std::int64_t active_since_ms = 0;  // pending/firing: when the condition first held
  bool evaluated = false;            // false: never evaluated (the job was not observed)
  std::int64_t evaluated_at_ms = 0;  // when last evaluated
};

// What one cycle produced.
struct RuleEvaluation {
  std::vector<RuleTransition> transitions;  // by job name, then rule order
  std::vector<Finding> findings;            // every firing pair, same order
};

// Where a signal's value comes from in a JobSnapshot (the enumerators are in rule_engine.cc).
enum class SignalKind : std::uint8_t;

class RuleEngine {
 public:
  explicit RuleEngine(std::vector<CompiledRule> rules, RuleEngineOptions options = {});

  // Evaluates every rule for every job at `now_ms` (the cycle's wall time) and returns the
  // transitions and the current findings. Snapshots are grouped by job name; when a name has
  // several instances (an old FAILED one and its RUNNING replacement, or copies on two clusters),
  // the current one is used: a non-terminal status first (a status not known counts as
  // non-terminal), then the newest start time, then the greater job id. `clusters` gives
  // cluster_up (a cluster not listed there leaves it unknown). A `now_ms` earlier than the
  // previous call's means the wall clock went back: histories restart from this sample.
  RuleEvaluation Evaluate(const std::vector<JobSnapshot>& snapshots, std::int64_t now_ms,
                          const std::vector<ClusterSnapshot>& clusters = {});

  // Every rule for one job (including rules that do not apply to it, with why), in rule order.
  std::vector<RuleStatus> Explain(std::string_view job) const;
  // Every (rule, job) pair that has been evaluated, by job name then rule order.
  std::vector<RuleStatus> Statuses() const;

  const std::vector<CompiledRule>& rules() const { return rules_; }
  // Samples held over all jobs' histories.
  std::size_t SampleCount() const;
  // Bytes of the rings that hold them (allocated in full when a job is first seen).
  std::size_t HistoryBytes() const;
  // Jobs with a history (seen within forget_after).
  std::size_t JobCount() const { return jobs_.size(); }

 private:
  // An optional ExprValue in 16 bytes (a pair keeps two; a region has hundreds of thousands).
  struct PackedValue {
    double number = 0;
    ExprType type = ExprType::kNumber;
    bool has = false;

    static PackedValue Of(const std::optional<ExprValue>& v) {
      return v ? PackedValue{v->number, v->type, true} : PackedValue{};
    }
    std::optional<ExprValue> get() const {
      return has ? std::optional<ExprValue>(ExprValue{type, number}) : std::nullopt;
    }
  };
  // The state machine of one (rule, job) pair. Its last evaluation's reason is not kept: the
  // job's history is unchanged until the pair is next evaluated, so the reason is computed again
  // when explain, a transition or a finding needs it. Every cycle reads every pair: kept small.
  struct Pair {
    std::int64_t state_since_ms = 0;
    std::int64_t active_since_ms = 0;  // pending/firing: when the condition first held
    std::int64_t firing_since_ms = 0;
    std::int64_t false_since_ms = 0;  // firing: first false evaluation since true (if has_...)
    PackedValue subject;              // $value of the last evaluation
    PackedValue last_known_subject;   // of the last known (true/false) evaluation
    // The reason of the last known evaluation, kept only while `known` is firing: only a firing
    // pair shows it (in its finding, while its data is unknown or its job is not observed).
    std::unique_ptr<std::string> last_known_reason;
    RuleState known = RuleState::kInactive;     // last known: inactive, pending or firing
    RuleState reported = RuleState::kInactive;  // what transitions and explain show
    Truth truth = Truth::kUnknown;              // of the last evaluation
    bool has_false_since = false;
    bool data_known = true;
    bool evaluated = false;  // when true, at the job's last_seen_ms
  };
  // One job name: its history, its current instance and its pairs.
  struct JobState {
    std::string name;                  // the job name (the map key)
    JobHistory history;                // slots are indices into signal_names_
    std::vector<std::size_t> tracked;  // the slots tracked in `history`, recorded every cycle
    std::string cluster;
    std::string job_id;
    std::int64_t last_seen_ms = 0;
    std::size_t firing = 0;                  // pairs whose reported state is firing
    std::vector<std::optional<Pair>> pairs;  // by rule index; nullopt where the rule does not apply
  };

  bool Applies(const CompiledRule& rule, const std::string& job) const;
  void InitJob(std::string name, JobState& job, std::int64_t now_ms) const;
  // Moves jobs_[k] to jobs_[kept] (compacting out forgotten jobs) and counts it.
  void Keep(std::size_t k, std::size_t& kept);
  const JobState* FindJob(std::string_view name) const;
  // The reason of the last evaluation of a rule for a job (at its last_seen_ms), evaluated again
  // over its history, which is unchanged since.
  std::string Reason(std::size_t rule, const JobState& job) const;
  void Step(std::size_t rule, JobState& job, Pair& pair, const Evaluation& ev, std::int64_t now_ms,
            RuleEvaluation& out) const;
  void Transition(const CompiledRule& rule, JobState& job, Pair& pair, RuleState to,
                  std::int64_t now_ms, std::string reason, RuleEvaluation& out) const;
  static const std::string& LastKnownReason(const Pair& pair);
  // The findings of a job's firing pairs, in rule order.
  void AddFindings(const JobState& job, std::int64_t now_ms, RuleEvaluation& out) const;
  std::map<std::string, std::string> Vars(const CompiledRule& rule, const JobState& job,
                                          const Pair& pair) const;
  Finding MakeFinding(const CompiledRule& rule, const JobState& job, const Pair& pair,
                      std::string reason) const;
  RuleStatus MakeStatus(std::size_t rule, const std::string& job_name, const JobState* job,
                        const Pair* pair) const;

  std::vector<CompiledRule> rules_;
  RuleEngineOptions options_;
  // Every signal any rule reads, sorted by name: a signal's index here is its slot in every
  // job's history.
  std::vector<std::string> signal_names_;
  std::vector<SignalKind> signal_kinds_;         // by slot
  std::vector<std::vector<std::size_t>> slots_;  // by rule: the slot of each of its signals
  std::vector<JobState> jobs_;                   // sorted by name
  WindowMemo memo_;  // scratch of Evaluate: one job's windowed functions at one instant
  // The last call's snapshots in name order (indices into its `snapshots`, stable): a region's
  // job list comes in the same order cycle after cycle, so checking this order is cheaper than
  // sorting again.
  std::vector<std::size_t> order_;
  // (slot, samples back) where the rules' windows start, to ask for ahead (see Evaluate).
  std::vector<std::pair<std::size_t, std::size_t>> window_starts_;
};

}  // namespace flinkguard
