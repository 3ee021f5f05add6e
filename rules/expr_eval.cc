// Evaluation of a compiled Expr over a job's signal history: three-valued, with reasons.
//
// One evaluator serves both histories (SignalHistory by signal name, JobHistory by slot) and both
// modes (with reasons, or values only for the rule engine's hot path). The values and known flags
// are computed by the same code in every mode; the reason strings are only built when asked for,
// so an evaluation without reasons has exactly the truth and values of one with them.

#include <algorithm>
#include <array>
#include <cmath>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "rules/expr.h"
#include "rules/expr_node.h"
#include "rules/job_history.h"

namespace flinkguard {
namespace {

// One node's value: known or not, and the number (meaningless when unknown). No default member
// initializers: the evaluator's inline buffer of them is left uninitialized, each node writes its
// own before a parent reads it.
struct Val {
  bool known;
  double v;
};

bool Compare(CompareOp op, double a, double b) {
  switch (op) {
    case CompareOp::kEq: return a == b;
    case CompareOp::kNe: return a != b;
    case CompareOp::kLt: return a < b;
    case CompareOp::kLe: return a <= b;
    case CompareOp::kGt: return a > b;
    case CompareOp::kGe: return a >= b;
  }
  return false;
}

bool Known(double v) { return !std::isnan(v); }

// A SignalHistory series read like a JobHistory::Series.
class RingView {
 public:
  explicit RingView(const SampleRing* ring) : ring_(ring) {}
  std::size_t size() const { return ring_->size(); }
  bool empty() const { return ring_->empty(); }
  std::int64_t time(std::size_t i) const { return ring_->at(i).t_ms; }
  double value(std::size_t i) const { return ring_->at(i).value; }
  std::int64_t newest_time() const { return ring_->newest().t_ms; }
  double newest_value() const { return ring_->newest().value; }
  std::size_t CountAtOrBefore(std::int64_t t) const {
    std::size_t n = 0;
    while (n < size() && time(n) <= t) ++n;
    return n;
  }
  std::size_t CountBefore(std::int64_t t) const {
    std::size_t n = 0;
    while (n < size() && time(n) < t) ++n;
    return n;
  }
  // Not tracked here: every window is read in full.
  bool Unchanged(std::size_t /*i*/) const { return false; }
  template <typename F>
  void ForEachValue(std::size_t from, F&& f) const {
    for (std::size_t i = from; i < size(); ++i) f(value(i));
  }

 private:
  const SampleRing* ring_;
};

// A signal of the expression as the history holds it. `tracked` false: not recorded at all.
template <typename View>
struct SeriesRef {
  bool tracked = false;
  View view;
  const std::string* why_unknown = nullptr;
};

// Reads a SignalHistory: the expression's signals by name.
class SignalHistorySource {
 public:
  using View = RingView;
  SignalHistorySource(const SignalHistory& h, const std::vector<SignalUse>& signals)
      : h_(h), signals_(signals) {}
  SeriesRef<RingView> Get(std::size_t signal) const {
    const SignalSeries* s = h_.Find(signals_[signal].name);
    if (s == nullptr) return {false, RingView(nullptr), nullptr};
    return {true, RingView(&s->samples), &s->why_unknown};
  }
  WindowMemo* memo() const { return nullptr; }
  std::size_t Slot(std::size_t signal) const { return signal; }
  // The signal's sample at `now` when there is one and it is known.
  std::optional<double> KnownAt(std::size_t signal, std::int64_t now) const {
    const SignalSeries* s = h_.Find(signals_[signal].name);
    if (s == nullptr || s->samples.empty() || s->samples.newest().t_ms != now) return std::nullopt;
    const double v = s->samples.newest().value;
    return Known(v) ? std::optional<double>(v) : std::nullopt;
  }

 private:
  const SignalHistory& h_;
  const std::vector<SignalUse>& signals_;
};

// Reads a JobHistory: the expression's i-th signal is slot slots[i].
class JobHistorySource {
 public:
  using View = JobHistory::Series;
  JobHistorySource(const JobHistory& h, std::span<const std::size_t> slots, WindowMemo* memo)
      : h_(h), slots_(slots), memo_(memo) {}
  SeriesRef<JobHistory::Series> Get(std::size_t signal) const {
    const std::size_t slot = Slot(signal);
    if (!h_.tracked(slot)) return {false, JobHistory::Series(), nullptr};
    return {true, h_.series(slot), &h_.why_unknown(slot)};
  }
  WindowMemo* memo() const { return memo_; }
  std::size_t Slot(std::size_t signal) const {
    return signal < slots_.size() ? slots_[signal] : h_.slot_count();
  }
  std::optional<double> KnownAt(std::size_t signal, std::int64_t now) const {
    return h_.KnownAt(Slot(signal), now);
  }

 private:
  const JobHistory& h_;
  std::span<const std::size_t> slots_;
  WindowMemo* memo_;
};

}  // namespace

// Evaluates nodes in index order (children first). A class only to reach Expr's privates.
class ExprEvaluator {
 public:
  // Evaluates `e` at `now` reading `source`; builds the reason strings only when `reasons`.
  template <typename Source>
  static Evaluation Run(const Expr& e, const Source& source, std::int64_t now, bool reasons) {
    constexpr std::size_t kInline = 32;
    std::array<Val, kInline> inline_vals;
    std::vector<Val> heap_vals;
    Val* vals = inline_vals.data();
    if (e.nodes_.size() > kInline) {
      heap_vals.resize(e.nodes_.size());
      vals = heap_vals.data();
    }
    vals[0] = Val{false, 0};  // a leaf's unused children are node 0
    std::vector<std::string> whys;
    if (reasons) whys.resize(e.nodes_.size());
    Pass<Source> pass{e, source, now, vals, reasons ? whys.data() : nullptr};
    for (std::size_t i = 0; i < e.nodes_.size(); ++i) vals[i] = pass.Eval(i);
    const std::size_t root = e.nodes_.size() - 1;
    const Expr::Node& r = e.nodes_[root];
    const Val& o = vals[root];
    Evaluation ev;
    if (o.known) {
      ev.value = ExprValue{r.type, o.v};
      ev.truth = r.type != ExprType::kBool || o.v != 0 ? Truth::kTrue : Truth::kFalse;
      if (reasons) ev.reason = r.type == ExprType::kBool ? std::move(whys[root]) : pass.Side(root);
    } else {
      ev.truth = Truth::kUnknown;
      if (reasons) ev.reason = std::move(whys[root]);
    }
    const Val& s = vals[e.subject_];
    if (s.known) ev.subject = ExprValue{e.nodes_[e.subject_].type, s.v};
    return ev;
  }

 private:
  // One evaluation. `why_` is null when no reasons are wanted; otherwise why_[i] is node i's:
  // unknown: why; known true/false: the condition with the values used; other known types: "".
  template <typename Source>
  struct Pass {
    const Expr& e_;
    const Source& source_;
    std::int64_t now_;
    Val* out_;
    std::string* why_;

    std::string Text(std::size_t i) const {
      const Expr::Node& n = e_.nodes_[i];
      return e_.text_.substr(n.begin, n.end - n.begin);
    }
    // An operand as a reason shows it: "restarts = 7", or "5" for a literal.
    std::string Side(std::size_t i) const {
      const Expr::Node& n = e_.nodes_[i];
      if (n.kind == NodeKind::kLiteral) return Text(i);
      return Text(i) + " = " + FormatValue(ExprValue{n.type, out_[i].v});
    }
    std::string Side(std::size_t i, double v) const {
      return Text(i) + " = " + FormatValue(ExprValue{e_.nodes_[i].type, v});
    }
    // A logical operand's reason, parenthesised when it is a different logical operator.
    std::string Operand(std::size_t i, NodeKind parent) const {
      const NodeKind k = e_.nodes_[i].kind;
      if ((k == NodeKind::kAnd || k == NodeKind::kOr) && k != parent) {
        return "(" + why_[i] + ")";
      }
      return why_[i];
    }
    std::string JoinUnknown(std::size_t a, std::size_t b) const {
      if (!out_[a].known && !out_[b].known && why_[a] != why_[b]) {
        return why_[a] + "; " + why_[b];
      }
      return out_[a].known ? why_[b] : why_[a];
    }

    // The signal's sample at now, when there is one and it is known.
    template <typename Ref>
    std::optional<double> Now(const Ref& s) const {
      if (!s.tracked || s.view.empty()) return std::nullopt;
      if (s.view.newest_time() != now_ || !Known(s.view.newest_value())) return std::nullopt;
      return s.view.newest_value();
    }
    template <typename Ref>
    std::string WhyUnknownNow(std::size_t signal, const Ref& s) const {
      const std::string& name = e_.signals_[signal].name;
      if (!s.tracked) return name + " unknown: not recorded";
      if (s.view.empty() || s.view.newest_time() != now_) {
        return name + " unknown: not observed at this time";
      }
      return name + " unknown: " + *s.why_unknown;
    }

    // Node i's value; with reasons, also sets why_[i].
    Val Eval(std::size_t i) {
      const Expr::Node& n = e_.nodes_[i];
      const Val& a = out_[n.a];
      const Val& b = out_[n.b];
      const bool reasons = why_ != nullptr;
      // Unknown, with why (built only with reasons).
      const auto unknown = [&](auto&& why) {
        if (reasons) why_[i] = why();
        return Val{false, 0};
      };
      // Known, with the reason of a true/false node (built only with reasons).
      const auto known = [&](double v, auto&& why) {
        if (reasons) why_[i] = why();
        return Val{true, v};
      };
      const auto none = [] { return std::string(); };
      // The child's outcome as it is (unknown, with its why).
      const auto pass_on = [&](std::size_t child) {
        if (reasons) why_[i] = why_[child];
        return out_[child];
      };
      switch (n.kind) {
        case NodeKind::kLiteral:
          return known(n.literal,
                       [&] { return n.type == ExprType::kBool ? Text(i) : std::string(); });
        case NodeKind::kSignal: {
          // Without reasons only the value now is needed: no view of the series.
          if (!reasons) {
            const std::optional<double> v = source_.KnownAt(n.signal, now_);
            return v ? Val{true, *v} : Val{false, 0};
          }
          const auto s = source_.Get(n.signal);
          if (auto v = Now(s)) {
            return known(*v,
                         [&] { return n.type == ExprType::kBool ? Side(i, *v) : std::string(); });
          }
          return unknown([&] { return WhyUnknownNow(n.signal, s); });
        }
        case NodeKind::kNeg:
          if (!a.known) return pass_on(n.a);
          return known(-a.v, none);
        case NodeKind::kAdd:
        case NodeKind::kSub:
        case NodeKind::kMul:
        case NodeKind::kDiv: {
          if (!a.known || !b.known) return unknown([&] { return JoinUnknown(n.a, n.b); });
          double v = 0;
          if (n.kind == NodeKind::kAdd) v = a.v + b.v;
          if (n.kind == NodeKind::kSub) v = a.v - b.v;
          if (n.kind == NodeKind::kMul) v = a.v * b.v;
          if (n.kind == NodeKind::kDiv) {
            if (b.v == 0) {
              return unknown(
                  [&] { return Text(i) + " unknown: division by zero (" + Side(n.b) + ")"; });
            }
            v = a.v / b.v;
          }
          if (std::isnan(v)) return unknown([&] { return Text(i) + " unknown: not a number"; });
          return known(v, none);
        }
        case NodeKind::kCompare: {
          if (!a.known || !b.known) return unknown([&] { return JoinUnknown(n.a, n.b); });
          return known(Compare(n.op, a.v, b.v) ? 1.0 : 0.0,
                       [&] { return Side(n.a) + " " + CompareOpText(n.op) + " " + Side(n.b); });
        }
        case NodeKind::kIn: {
          if (!a.known) return pass_on(n.a);
          const bool in = std::find(n.list.begin(), n.list.end(), a.v) != n.list.end();
          // The list as written follows the left side: "status = FAILED in [FAILED, CANCELED]".
          return known(in ? 1.0 : 0.0, [&] {
            const Expr::Node& left = e_.nodes_[n.a];
            return Side(n.a) + e_.text_.substr(left.end, n.end - left.end);
          });
        }
        case NodeKind::kAnd: {
          if (a.known && a.v == 0) return known(0, [&] { return Operand(n.a, n.kind); });
          if (b.known && b.v == 0) return known(0, [&] { return Operand(n.b, n.kind); });
          if (a.known && b.known) {
            return known(1, [&] { return Operand(n.a, n.kind) + " and " + Operand(n.b, n.kind); });
          }
          return unknown([&] { return JoinUnknown(n.a, n.b); });
        }
        case NodeKind::kOr: {
          if (a.known && a.v != 0) return known(1, [&] { return Operand(n.a, n.kind); });
          if (b.known && b.v != 0) return known(1, [&] { return Operand(n.b, n.kind); });
          if (a.known && b.known) {
            return known(0, [&] { return Operand(n.a, n.kind) + " or " + Operand(n.b, n.kind); });
          }
          return unknown([&] { return JoinUnknown(n.a, n.b); });
        }
        case NodeKind::kNot:
          if (!a.known) return pass_on(n.a);
          return known(a.v != 0 ? 0.0 : 1.0, [&] { return "not (" + why_[n.a] + ")"; });
        case NodeKind::kCall: return reasons ? Call(i) : MemoCall(i);
      }
      return unknown([] { return std::string("unsupported expression"); });
    }

    // Call(i) without reasons, through the source's memo when it has one.
    Val MemoCall(std::size_t i) {
      const Expr::Node& n = e_.nodes_[i];
      WindowMemo* memo = source_.memo();
      if (memo == nullptr || n.function == Function::kAbsent) return Call(i);
      const std::size_t slot = source_.Slot(n.signal);
      const int function = static_cast<int>(n.function);
      for (const WindowMemo::Entry& m : memo->entries_) {
        if (m.slot == slot && m.function == function && m.window_ms == n.window_ms) {
          return Val{m.known, m.value};
        }
      }
      const Val v = Call(i);
      memo->entries_.push_back(WindowMemo::Entry{slot, function, n.window_ms, v.known, v.v});
      return v;
    }

    Val Call(std::size_t i) {
      const Expr::Node& n = e_.nodes_[i];
      const bool reasons = why_ != nullptr;
      const auto s = source_.Get(n.signal);
      const std::optional<double> now_value = Now(s);
      if (n.function == Function::kAbsent) {
        const bool absent = !now_value;
        if (reasons) {
          const std::string& name = e_.signals_[n.signal].name;
          const std::string detail =
              absent
                  ? WhyUnknownNow(n.signal, s)
                  : name + " = " + FormatValue(ExprValue{e_.signals_[n.signal].type, *now_value});
          why_[i] = Text(i) + " = " + (absent ? "true" : "false") + " (" + detail + ")";
        }
        return Val{true, absent ? 1.0 : 0.0};
      }
      if (!now_value) {
        if (reasons) why_[i] = Text(i) + " unknown: " + WhyUnknownNow(n.signal, s);
        return Val{false, 0};
      }
      const auto& view = s.view;
      const std::int64_t start = now_ - n.window_ms;
      // The baseline: the newest known sample at or before the window's start.
      std::optional<std::size_t> base;
      const std::size_t at_or_before = view.CountAtOrBefore(start);
      for (std::size_t j = at_or_before; j-- > 0;) {
        if (Known(view.value(j))) {
          base = j;
          break;
        }
      }
      if (!base) {
        if (reasons) {
          std::optional<std::int64_t> oldest_known;
          for (std::size_t j = 0; j < view.size() && !oldest_known; ++j) {
            if (Known(view.value(j))) oldest_known = view.time(j);
          }
          const std::int64_t covered = now_ - oldest_known.value_or(now_);
          why_[i] = Text(i) + " unknown: the history of " + e_.signals_[n.signal].name +
                    " covers " + FormatDuration(Duration(covered)) + " of " +
                    FormatDuration(Duration(n.window_ms));
        }
        return Val{false, 0};
      }
      switch (n.function) {
        case Function::kIncrease:
        case Function::kRate: {
          double total = 0;
          // Without a change after the baseline every term is +0 (x - x, x finite): skip them.
          if (!view.Unchanged(*base)) {
            double prev = view.value(*base);
            view.ForEachValue(*base + 1, [&](double x) {
              if (!Known(x)) return;
              // A fall is a reset: the counter restarted from 0, so it rose by its new value.
              total += x >= prev ? x - prev : x;
              prev = x;
            });
          }
          if (n.function == Function::kRate) total /= static_cast<double>(n.window_ms) / 1000.0;
          return Val{true, total};
        }
        case Function::kChanges: {
          double total = 0;
          if (!view.Unchanged(*base)) {
            double prev = view.value(*base);
            view.ForEachValue(*base + 1, [&](double x) {
              if (!Known(x)) return;
              if (x != prev) total += 1;
              prev = x;
            });
          }
          return Val{true, total};
        }
        default: break;
      }
      // Times strictly increase: at most one sample is at the start itself.
      const bool at_start = at_or_before > 0 && view.time(at_or_before - 1) == start;
      const std::size_t from = at_start ? at_or_before - 1 : at_or_before;
      if (n.function != Function::kAvgOverTime) {
        // The first known sample in the window; without a change after it, every later known
        // sample equals it, and min and max both keep the first of equal values.
        std::size_t first = from;
        while (!Known(view.value(first))) ++first;  // ends: the sample at now is known
        if (view.Unchanged(first)) return Val{true, view.value(first)};
      }
      double sum = 0;
      double lo = 0;
      double hi = 0;
      std::size_t count = 0;
      if (n.function == Function::kAvgOverTime) {
        view.ForEachValue(from, [&](double x) {
          if (!Known(x)) return;
          sum += x;
          ++count;
        });
      } else {
        view.ForEachValue(from, [&](double x) {
          if (!Known(x)) return;
          lo = count == 0 ? x : std::min(lo, x);
          hi = count == 0 ? x : std::max(hi, x);
          ++count;
        });
      }
      // count >= 1: the sample at now is known and inside the window.
      const double v = n.function == Function::kMinOverTime   ? lo
                       : n.function == Function::kMaxOverTime ? hi
                                                              : sum / static_cast<double>(count);
      if (std::isnan(v)) {
        if (reasons) why_[i] = Text(i) + " unknown: not a number";
        return Val{false, 0};
      }
      return Val{true, v};
    }
  };
};

Evaluation Expr::Evaluate(const SignalHistory& history, std::int64_t now_ms) const {
  return ExprEvaluator::Run(*this, SignalHistorySource(history, signals_), now_ms, true);
}

Evaluation Expr::Evaluate(const JobHistory& history, std::span<const std::size_t> slots,
                          std::int64_t now_ms) const {
  return ExprEvaluator::Run(*this, JobHistorySource(history, slots, nullptr), now_ms, true);
}

Evaluation Expr::EvaluateWithoutReason(const JobHistory& history,
                                       std::span<const std::size_t> slots, std::int64_t now_ms,
                                       WindowMemo* memo) const {
  return ExprEvaluator::Run(*this, JobHistorySource(history, slots, memo), now_ms, false);
}

}  // namespace flinkguard
