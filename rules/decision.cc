#include "rules/decision.h"

namespace flinkguard {

const char* ActionName(Action a) {
  switch (a) {
    case Action::kAlert: return "alert";
    case Action::kRecover: return "recover";
    case Action::kSavepoint: return "savepoint";
    case Action::kFailover: return "failover";
    case Action::kNone: return "none";
  }
  return "unknown";
}

const char* RuleStateName(RuleState s) {
  switch (s) {
    case RuleState::kInactive: return "inactive";
    case RuleState::kPending: return "pending";
    case RuleState::kFiring: return "firing";
    case RuleState::kUnknown: return "unknown";
  }
  return "unknown";
}

const char* StrategyName(Strategy s) {
  switch (s) {
    case Strategy::kCheckpoint: return "checkpoint";
    case Strategy::kSavepoint: return "savepoint";
    case Strategy::kFresh: return "fresh";
  }
  return "unknown";
}

const char* StepKindName(StepKind k) {
  switch (k) {
    case StepKind::kCancel: return "cancel";
    case StepKind::kStopWithSavepoint: return "stop-with-savepoint";
    case StepKind::kWaitTerminal: return "wait-terminal";
    case StepKind::kSubmit: return "submit";
    case StepKind::kVerify: return "verify";
  }
  return "unknown";
}

const char* RefusalCauseName(RefusalCause c) {
  switch (c) {
    case RefusalCause::kNotInCatalog: return "not-in-catalog";
    case RefusalCause::kInProgress: return "in-progress";
    case RefusalCause::kUntrusted: return "untrusted";
    case RefusalCause::kGaveUp: return "gave-up";
    case RefusalCause::kCooldown: return "cooldown";
    case RefusalCause::kDuplicate: return "duplicate";
    case RefusalCause::kNoRestorePoint: return "no-restore-point";
    case RefusalCause::kBlastRadius: return "blast-radius";
  }
  return "unknown";
}

}  // namespace flinkguard
