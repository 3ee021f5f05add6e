#pragma once

// The syntax tree of a compiled Expr, shared by the parser (expr_parser.cc) and the evaluator
// (expr_eval.cc). Not part of the rules library's interface: include rules/expr.h instead.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "rules/expr.h"

namespace flinkguard {

enum class NodeKind {
  kLiteral,  // `literal`
  kSignal,   // signals_[signal]
  kNeg,      // -a
  kAdd,
  kSub,
  kMul,
  kDiv,
  kCompare,  // a cmp b
  kIn,       // a in list
  kAnd,
  kOr,
  kNot,   // not a
  kCall,  // func(signals_[signal], window_ms)
};

enum class CompareOp { kEq, kNe, kLt, kLe, kGt, kGe };

enum class Function {
  kIncrease,
  kRate,
  kChanges,
  kAvgOverTime,
  kMinOverTime,
  kMaxOverTime,
  kAbsent
};

// One node. Children have lower indices than their parent, so evaluating nodes in index order
// computes every child before its parent.
struct Expr::Node {
  NodeKind kind = NodeKind::kLiteral;
  ExprType type = ExprType::kNumber;
  std::size_t begin = 0;  // source span [begin, end) in Expr::text()
  std::size_t end = 0;
  std::size_t a = 0;  // first child (unary and binary nodes)
  std::size_t b = 0;  // second child (binary nodes)
  CompareOp op = CompareOp::kEq;
  Function function = Function::kIncrease;
  double literal = 0;          // kLiteral: the value, encoded as in ExprValue
  std::size_t signal = 0;      // kSignal, kCall: index into Expr::signals()
  std::int64_t window_ms = 0;  // kCall (not absent)
  std::vector<double> list;    // kIn: the items, of type `a`'s type
};

// "==", "!=", "<", ...
const char* CompareOpText(CompareOp op);

// "increase", "rate", ...
const char* FunctionName(Function f);

}  // namespace flinkguard
