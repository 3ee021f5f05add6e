#include "rules/expr.h"

#include <charconv>
#include <cmath>

#include "rules/expr_node.h"
#include "rules/job_status.h"

namespace flinkguard {

const char* ExprTypeName(ExprType t) {
  switch (t) {
    case ExprType::kNumber: return "a number";
    case ExprType::kDuration: return "a duration";
    case ExprType::kBool: return "true/false";
    case ExprType::kState: return "a job status";
  }
  return "?";
}

const char* TruthName(Truth t) {
  switch (t) {
    case Truth::kFalse: return "false";
    case Truth::kTrue: return "true";
    case Truth::kUnknown: return "unknown";
  }
  return "?";
}

namespace {

// The shortest text that reads back as `v`.
std::string ShortestNumber(double v) {
  if (std::isfinite(v) && std::fabs(v) < 1e15 && v == std::trunc(v)) {
    return std::to_string(static_cast<long long>(v));
  }
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return {buf, r.ptr};
}

}  // namespace

std::string FormatValue(const ExprValue& v) {
  switch (v.type) {
    case ExprType::kNumber: return ShortestNumber(v.number);
    case ExprType::kDuration: {
      const double ms = v.number;
      // Whole milliseconds within range read best in units; anything else as plain ms.
      if (std::isfinite(ms) && ms == std::trunc(ms) && std::fabs(ms) < 9e15) {
        const auto whole = static_cast<std::int64_t>(ms);
        return whole < 0 ? "-" + FormatDuration(Duration(-whole)) : FormatDuration(Duration(whole));
      }
      return ShortestNumber(ms) + "ms";
    }
    case ExprType::kBool: return v.number != 0 ? "true" : "false";
    case ExprType::kState: {
      const double n = v.number;
      if (n >= 0 && n <= static_cast<double>(JobStatus::kReconciling) && n == std::trunc(n)) {
        return JobStatusName(static_cast<JobStatus>(static_cast<int>(n)));
      }
      return "?";
    }
  }
  return "?";
}

const std::vector<SignalInfo>& BuiltinSignals() {
  static const std::vector<SignalInfo> kSignals{
      {"status", ExprType::kState, false},
      {"all_tasks_running", ExprType::kBool, false},
      {"uptime", ExprType::kDuration, false},
      {"restarts", ExprType::kNumber, true},
      {"checkpoint_age", ExprType::kDuration, false},
      {"checkpoint_interval", ExprType::kDuration, false},
      {"checkpoint_timeout", ExprType::kDuration, false},
      {"checkpoints_failed", ExprType::kNumber, true},
      {"checkpoints_completed", ExprType::kNumber, true},
      {"checkpoint_duration", ExprType::kDuration, false},
      {"tolerable_failed_checkpoints", ExprType::kNumber, false},
      {"qps", ExprType::kNumber, false},
      {"backpressure", ExprType::kNumber, false},
      {"lag", ExprType::kNumber, false},
      {"cluster_up", ExprType::kBool, false},
      {"instances", ExprType::kNumber, false},
  };
  return kSignals;
}

const std::vector<std::string>& ExprFunctionNames() {
  static const std::vector<std::string> kNames{
      "increase", "rate", "changes", "avg_over_time", "min_over_time", "max_over_time", "absent"};
  return kNames;
}

std::string ExprError::ToString() const {
  return "column " + std::to_string(column()) + ": " + message;
}

const char* CompareOpText(CompareOp op) {
  switch (op) {
    case CompareOp::kEq: return "==";
    case CompareOp::kNe: return "!=";
    case CompareOp::kLt: return "<";
    case CompareOp::kLe: return "<=";
    case CompareOp::kGt: return ">";
    case CompareOp::kGe: return ">=";
  }
  return "?";
}

const char* FunctionName(Function f) {
  switch (f) {
    case Function::kIncrease: return "increase";
    case Function::kRate: return "rate";
    case Function::kChanges: return "changes";
    case Function::kAvgOverTime: return "avg_over_time";
    case Function::kMinOverTime: return "min_over_time";
    case Function::kMaxOverTime: return "max_over_time";
    case Function::kAbsent: return "absent";
  }
  return "?";
}

Expr::Expr() = default;
Expr::Expr(const Expr&) = default;
Expr::Expr(Expr&&) noexcept = default;
Expr& Expr::operator=(const Expr&) = default;
Expr& Expr::operator=(Expr&&) noexcept = default;
Expr::~Expr() = default;

ExprType Expr::type() const { return nodes_.back().type; }

Duration Expr::longest_window() const {
  Duration longest{0};
  for (const SignalUse& s : signals_) longest = std::max(longest, s.window);
  return longest;
}

std::string Expr::subject_text() const {
  const Node& n = nodes_[subject_];
  return text_.substr(n.begin, n.end - n.begin);
}

}  // namespace flinkguard
