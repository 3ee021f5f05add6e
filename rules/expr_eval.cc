// Evaluation of a compiled Expr over a job's signal history: three-valued, with reasons.

#include <algorithm>
#include <cmath>
#include <optional>
#include <utility>

#include "rules/expr.h"
#include "rules/expr_node.h"

namespace flinkguard {
namespace {

// One node's outcome.
struct Out {
  bool known = false;
  double v = 0;
  // Unknown: why. Known true/false: the condition with the values used. Known other types: "".
  std::string why;
};

Out Unknown(std::string why) { return Out{false, 0, std::move(why)}; }

std::string JoinUnknown(const Out& a, const Out& b) {
  if (!a.known && !b.known && a.why != b.why) return a.why + "; " + b.why;
  return a.known ? b.why : a.why;
}

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

}  // namespace

// Evaluates nodes in index order (children first). A class only to reach Expr's privates.
class ExprEvaluator {
 public:
  ExprEvaluator(const Expr& e, const SignalHistory& h, std::int64_t now)
      : e_(e), h_(h), now_(now), out_(e.nodes_.size()) {}

  Evaluation Run() {
    for (std::size_t i = 0; i < e_.nodes_.size(); ++i) out_[i] = Eval(i);
    const std::size_t root = e_.nodes_.size() - 1;
    const Expr::Node& r = e_.nodes_[root];
    Out& o = out_[root];
    Evaluation ev;
    if (o.known) {
      ev.value = ExprValue{r.type, o.v};
      ev.truth = r.type != ExprType::kBool || o.v != 0 ? Truth::kTrue : Truth::kFalse;
      ev.reason = r.type == ExprType::kBool ? std::move(o.why) : Side(root);
    } else {
      ev.truth = Truth::kUnknown;
      ev.reason = std::move(o.why);
    }
    const Out& s = out_[e_.subject_];
    if (s.known) ev.subject = ExprValue{e_.nodes_[e_.subject_].type, s.v};
    return ev;
  }

 private:
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
  // A logical operand's reason, parenthesised when it is a different logical operator.
  std::string Operand(std::size_t i, NodeKind parent) const {
    const NodeKind k = e_.nodes_[i].kind;
    if ((k == NodeKind::kAnd || k == NodeKind::kOr) && k != parent) {
      return "(" + out_[i].why + ")";
    }
    return out_[i].why;
  }

  const SignalSeries* Series(std::size_t signal) const { return h_.Find(e_.signals_[signal].name); }
  // The signal's sample at now, when there is one and it is known.
  std::optional<double> Now(const SignalSeries* s) const {
    if (s == nullptr || s->samples.empty()) return std::nullopt;
    const Sample& newest = s->samples.newest();
    if (newest.t_ms != now_ || !newest.known()) return std::nullopt;
    return newest.value;
  }
  std::string WhyUnknownNow(std::size_t signal, const SignalSeries* s) const {
    const std::string& name = e_.signals_[signal].name;
    if (s == nullptr) return name + " unknown: not recorded";
    if (s->samples.empty() || s->samples.newest().t_ms != now_) {
      return name + " unknown: not observed at this time";
    }
    return name + " unknown: " + s->why_unknown;
  }

  Out Eval(std::size_t i) const {
    const Expr::Node& n = e_.nodes_[i];
    const Out& a = out_[n.a];
    const Out& b = out_[n.b];
    switch (n.kind) {
      case NodeKind::kLiteral:
        return Out{true, n.literal, n.type == ExprType::kBool ? Text(i) : std::string()};
      case NodeKind::kSignal: {
        const SignalSeries* s = Series(n.signal);
        if (auto v = Now(s)) {
          Out o{true, *v, {}};
          if (n.type == ExprType::kBool) o.why = Side(i, *v);
          return o;
        }
        return Unknown(WhyUnknownNow(n.signal, s));
      }
      case NodeKind::kNeg:
        if (!a.known) return a;
        return Out{true, -a.v, {}};
      case NodeKind::kAdd:
      case NodeKind::kSub:
      case NodeKind::kMul:
      case NodeKind::kDiv: {
        if (!a.known || !b.known) return Unknown(JoinUnknown(a, b));
        double v = 0;
        if (n.kind == NodeKind::kAdd) v = a.v + b.v;
        if (n.kind == NodeKind::kSub) v = a.v - b.v;
        if (n.kind == NodeKind::kMul) v = a.v * b.v;
        if (n.kind == NodeKind::kDiv) {
          if (b.v == 0) {
            return Unknown(Text(i) + " unknown: division by zero (" + Side(n.b) + ")");
          }
          v = a.v / b.v;
        }
        if (std::isnan(v)) return Unknown(Text(i) + " unknown: not a number");
        return Out{true, v, {}};
      }
      case NodeKind::kCompare: {
        if (!a.known || !b.known) return Unknown(JoinUnknown(a, b));
        return Out{true, Compare(n.op, a.v, b.v) ? 1.0 : 0.0,
                   Side(n.a) + " " + CompareOpText(n.op) + " " + Side(n.b)};
      }
      case NodeKind::kIn: {
        if (!a.known) return a;
        const bool in = std::find(n.list.begin(), n.list.end(), a.v) != n.list.end();
        // The list as written follows the left side: "status = FAILED in [FAILED, CANCELED]".
        const Expr::Node& left = e_.nodes_[n.a];
        return Out{true, in ? 1.0 : 0.0, Side(n.a) + e_.text_.substr(left.end, n.end - left.end)};
      }
      case NodeKind::kAnd: {
        if (a.known && a.v == 0) return Out{true, 0, Operand(n.a, n.kind)};
        if (b.known && b.v == 0) return Out{true, 0, Operand(n.b, n.kind)};
        if (a.known && b.known) {
          return Out{true, 1, Operand(n.a, n.kind) + " and " + Operand(n.b, n.kind)};
        }
        return Unknown(JoinUnknown(a, b));
      }
      case NodeKind::kOr: {
        if (a.known && a.v != 0) return Out{true, 1, Operand(n.a, n.kind)};
        if (b.known && b.v != 0) return Out{true, 1, Operand(n.b, n.kind)};
        if (a.known && b.known) {
          return Out{true, 0, Operand(n.a, n.kind) + " or " + Operand(n.b, n.kind)};
        }
        return Unknown(JoinUnknown(a, b));
      }
      case NodeKind::kNot:
        if (!a.known) return a;
        return Out{true, a.v != 0 ? 0.0 : 1.0, "not (" + a.why + ")"};
      case NodeKind::kCall: return Call(i);
    }
    return Unknown("unsupported expression");
  }

  std::string Side(std::size_t i, double v) const {
    return Text(i) + " = " + FormatValue(ExprValue{e_.nodes_[i].type, v});
  }

  Out Call(std::size_t i) const {
    const Expr::Node& n = e_.nodes_[i];
    const SignalSeries* s = Series(n.signal);
    const std::string& name = e_.signals_[n.signal].name;
    const std::optional<double> now_value = Now(s);
    if (n.function == Function::kAbsent) {
      const bool absent = !now_value;
      const std::string detail =
          absent ? WhyUnknownNow(n.signal, s)
                 : name + " = " + FormatValue(ExprValue{e_.signals_[n.signal].type, *now_value});
      return Out{true, absent ? 1.0 : 0.0,
                 Text(i) + " = " + (absent ? "true" : "false") + " (" + detail + ")"};
    }
    if (!now_value) {
      return Unknown(Text(i) + " unknown: " + WhyUnknownNow(n.signal, s));
    }
    const SampleRing& ring = s->samples;
    const std::int64_t start = now_ - n.window_ms;
    // The baseline: the newest known sample at or before the window's start.
    std::optional<std::size_t> base;
    std::optional<std::int64_t> oldest_known;
    for (std::size_t j = 0; j < ring.size() && ring.at(j).t_ms <= start; ++j) {
      if (ring.at(j).known()) base = j;
    }
    if (!base) {
      for (std::size_t j = 0; j < ring.size() && !oldest_known; ++j) {
        if (ring.at(j).known()) oldest_known = ring.at(j).t_ms;
      }
      const std::int64_t covered = now_ - oldest_known.value_or(now_);
      return Unknown(Text(i) + " unknown: the history of " + name + " covers " +
                     FormatDuration(Duration(covered)) + " of " +
                     FormatDuration(Duration(n.window_ms)));
    }
    switch (n.function) {
      case Function::kIncrease:
      case Function::kRate:
      case Function::kChanges: {
        double total = 0;
        double prev = ring.at(*base).value;
        for (std::size_t j = *base + 1; j < ring.size(); ++j) {
          const Sample& x = ring.at(j);
          if (!x.known()) continue;
          if (n.function == Function::kChanges) {
            if (x.value != prev) total += 1;
          } else {
            // A fall is a reset: the counter restarted from 0, so it rose by its new value.
            total += x.value >= prev ? x.value - prev : x.value;
          }
          prev = x.value;
        }
        if (n.function == Function::kRate) total /= static_cast<double>(n.window_ms) / 1000.0;
        return Out{true, total, {}};
      }
      default: break;
    }
    double sum = 0;
    double lo = 0;
    double hi = 0;
    std::size_t count = 0;
    for (std::size_t j = 0; j < ring.size(); ++j) {
      const Sample& x = ring.at(j);
      if (x.t_ms < start || !x.known()) continue;
      lo = count == 0 ? x.value : std::min(lo, x.value);
      hi = count == 0 ? x.value : std::max(hi, x.value);
      sum += x.value;
      ++count;
    }
    // count >= 1: the sample at now is known and inside the window.
    double v = n.function == Function::kMinOverTime   ? lo
               : n.function == Function::kMaxOverTime ? hi
                                                      : sum / static_cast<double>(count);
    if (std::isnan(v)) return Unknown(Text(i) + " unknown: not a number");
    return Out{true, v, {}};
  }

  const Expr& e_;
  const SignalHistory& h_;
  std::int64_t now_;
  std::vector<Out> out_;
};

Evaluation Expr::Evaluate(const SignalHistory& history, std::int64_t now_ms) const {
  return ExprEvaluator(*this, history, now_ms).Run();
}

}  // namespace flinkguard
