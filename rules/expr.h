#pragma once

// The rule expression language: conditions such as `increase(restarts, 10m) > 5`,
// `checkpoint_age > 3 * checkpoint_interval` or `status in [FAILED, CANCELED]`. An expression is
// parsed and type-checked once (at config load) into an Expr, then evaluated every cycle against
// a job's signal history, giving true, false or unknown with a reason that shows the values used.
// The README's "Rule language" section is the user-facing reference; keep the two in step.
//
// Grammar (lowest precedence first; keywords are lower case):
//   expr    := and ('or' and)*
//   and     := not ('and' not)*
//   not     := 'not' not | cmp
//   cmp     := sum [('==' | '!=' | '<' | '<=' | '>' | '>=') sum | ['not'] 'in' list]
//   sum     := product (('+' | '-') product)*
//   product := unary (('*' | '/') unary)*
//   unary   := '-' unary | primary
//   primary := NUMBER | DURATION | 'true' | 'false' | STATUS | SIGNAL
//            | FUNCTION '(' args ')' | '(' expr ')'
//   list    := '[' item (',' item)* ']'   items: literals of the left side's type
// NUMBER is digits with an optional fraction (12, 0.2); DURATION is an integer with units as
// ParseDuration reads them (500ms, 10s, 5m, 1h, 1h30m, 2d); STATUS is a Flink job status name
// (RUNNING, FAILED, ...). Comparisons do not chain.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "rules/duration.h"
#include "rules/signal_history.h"

namespace flinkguard {

class JobHistory;
class WindowMemo;

// The static type of an expression or signal.
enum class ExprType { kNumber, kDuration, kBool, kState };

// "a number", "a duration", "true/false", "a job status" (for messages).
const char* ExprTypeName(ExprType t);

// The outcome of a condition.
enum class Truth { kFalse, kTrue, kUnknown };

// "false", "true", "unknown".
const char* TruthName(Truth t);

// A typed value. `number` holds a number, a duration in milliseconds, a bool as 0/1, or a job
// status as its JobStatus enumerator.
struct ExprValue {
  ExprType type = ExprType::kNumber;
  double number = 0;
};

// How a value is shown in reasons and templates: "7", "0.25", "10m", "1h30m", "true", "FAILED".
std::string FormatValue(const ExprValue& v);

// A signal the language knows. Built-in signals come from JobSnapshot; custom TSDB signals are
// numbers.
struct SignalInfo {
  std::string name;
  ExprType type = ExprType::kNumber;
  bool counter = false;  // a monotonic counter that resets (restarts, checkpoints_*)
};

// The built-in signals, in documentation order.
const std::vector<SignalInfo>& BuiltinSignals();

// The function names, in documentation order.
const std::vector<std::string>& ExprFunctionNames();

// The longest window a function may read (1d): longer windows belong in the TSDB, and the
// history that serves them costs memory per job.
inline constexpr Duration kMaxExprWindow{86'400'000};

// A compile error: where in the expression text and what was expected and found.
struct ExprError {
  std::size_t offset = 0;  // 0-based byte offset in the expression text
  std::string message;     // without the position, e.g. "unknown signal 'restart'; did you mean
                           // 'restarts'?"

  std::size_t column() const { return offset + 1; }  // 1-based, as in error messages
  std::string ToString() const;                      // "column 5: <message>"
};

// One signal an expression reads, and the longest window it reads it over (0: only its value
// now). The rule engine sizes each signal's history from these.
struct SignalUse {
  std::string name;
  ExprType type = ExprType::kNumber;
  Duration window{0};
};

// The result of evaluating an expression once.
struct Evaluation {
  // For a true/false expression: the condition's outcome. For other types: kTrue when the value
  // is known, kUnknown when not.
  Truth truth = Truth::kUnknown;
  std::optional<ExprValue> value;    // the expression's value; absent when unknown
  std::optional<ExprValue> subject;  // "$value": the left side of the main comparison (see
                                     // Expr::subject_text()); absent when unknown
  // Why, with the values used: "increase(restarts, 10m) = 7 > 5", or for unknown what is missing:
  // "restarts unknown: stale: cluster yarn-a unreachable".
  std::string reason;
};

// A parsed, type-checked expression. Immutable and cheap to evaluate; copyable.
//
// Evaluation semantics (three-valued):
// - A signal's value now is its newest sample in the history when that sample is at exactly
//   `now_ms` and known; otherwise the signal is unknown now (stale, not observed, observed absent).
// - Arithmetic and comparisons with an unknown operand are unknown; so is a division by zero and
//   any result that is not a number.
// - `and`, `or` and `not` follow Kleene logic: false and unknown = false, true or unknown = true;
//   otherwise an unknown operand makes the result unknown.
// - Windowed functions f(x, w) need x known now and a known sample of x at or before now - w (the
//   history "covers" the window); otherwise they are unknown (e.g. during the first w after the
//   agent starts, or when the ring dropped the samples). increase/rate/changes read every known
//   sample from the newest one at or before now - w up to now; avg/min/max_over_time read the
//   known samples with a time in [now - w, now]. Unknown samples inside the window are skipped.
// - increase(c, w) sums the rises between consecutive known samples; a fall is a counter reset
//   (a new job instance, a restarted counter) and counts the post-reset value, never a negative
//   increase. rate(c, w) = increase(c, w) / w in seconds. changes(x, w) counts the consecutive
//   known samples that differ.
// - absent(x) is true when x has no known value now, false otherwise; it is never unknown.
class Expr {
 public:
  // Parses and type-checks `text`. `custom_signals` are the names of the TSDB signals (numbers)
  // besides the built-in ones; a custom name equal to a built-in one is the built-in signal.
  static tl::expected<Expr, ExprError> Compile(std::string_view text,
                                               const std::set<std::string>& custom_signals);
  // The same, and the expression must be true/false (a rule's `when`).
  static tl::expected<Expr, ExprError> CompileCondition(
      std::string_view text, const std::set<std::string>& custom_signals);

  Expr(const Expr&);
  Expr(Expr&&) noexcept;
  Expr& operator=(const Expr&);
  Expr& operator=(Expr&&) noexcept;
  ~Expr();

  const std::string& text() const { return text_; }
  ExprType type() const;
  // Every signal read, once each, with the longest window it is read over.
  const std::vector<SignalUse>& signals() const { return signals_; }
  // The longest window of any function in the expression; 0 when there is none.
  Duration longest_window() const;
  // The text of the expression whose value Evaluation::subject holds: the left side of the
  // leftmost comparison (or `in`) reached from the root through and/or/not; without one, the
  // leftmost operand reached that way (e.g. all_tasks_running in `not all_tasks_running`).
  std::string subject_text() const;

  // Evaluates at `now_ms` reading `history` (signals not tracked there are unknown).
  // Deterministic: the same history and time give the same evaluation.
  Evaluation Evaluate(const SignalHistory& history, std::int64_t now_ms) const;
  // The same over a JobHistory, where the expression's i-th signal (signals()[i]) is the slot
  // `slots[i]` (a slot not tracked there, or missing from `slots`, reads as not recorded).
  Evaluation Evaluate(const JobHistory& history, std::span<const std::size_t> slots,
                      std::int64_t now_ms) const;
  // The same evaluation without its reason (Evaluation::reason stays empty), for hot paths that
  // need the reason only now and then: truth, value and subject are exactly those of Evaluate().
  // `memo`, when given, holds the windowed functions already computed over this history at this
  // instant (by this or other expressions) and receives the ones computed here.
  Evaluation EvaluateWithoutReason(const JobHistory& history, std::span<const std::size_t> slots,
                                   std::int64_t now_ms, WindowMemo* memo = nullptr) const;

  struct Node;  // the syntax tree's node (rules/expr_node.h)

 private:
  Expr();
  friend class ExprParser;
  friend class ExprEvaluator;

  std::string text_;
  std::vector<Node> nodes_;  // children before parents; the root is the last node
  std::vector<SignalUse> signals_;
  std::size_t subject_ = 0;  // index of the node behind Evaluation::subject
};

// The windowed functions (increase, rate, changes, avg/min/max_over_time) computed over one
// JobHistory at one instant, so that the expressions evaluated there compute each only once
// (two rules reading avg_over_time(qps, 1h), or increase(checkpoints_failed, 30m) twice in one
// condition). Valid for one history at one instant: Clear() it before evaluating another job or
// after the history changes. Not thread-safe.
class WindowMemo {
 public:
  void Clear() { entries_.clear(); }

 private:
  friend class ExprEvaluator;
  struct Entry {
    std::size_t slot = 0;
    int function = 0;
    std::int64_t window_ms = 0;
    bool known = false;
    double value = 0;
  };
  std::vector<Entry> entries_;  // a handful per job: searched linearly
};

}  // namespace flinkguard
