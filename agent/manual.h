#pragma once

// Commands for people, using the daemon's planner, rails, journal and per-job locks:
//   flinkguard recover   --config F --job NAME [--from auto|checkpoint|savepoint|fresh] [--dry-run]
//   flinkguard savepoint --config F --job NAME
//   flinkguard update    --config F --job NAME --jar NEW.jar
//   flinkguard deploy    --config F --job NAME [--jar NEW.jar]
//   flinkguard move      --config F --job NAME --to CLUSTER
// Each observes the clusters once, decides with the same planner as the daemon (cooldown,
// give-up, single flight, duplicates and the restore-point ladder all apply), journals what it
// does in the state_dir's history, and waits for the outcome, printing each step.

#include <optional>
#include <string>

#include "agent/cli.h"
#include "agent/config.h"
#include "agent/logging.h"
#include "rules/decision.h"
#include "rules/planner.h"
#include "rules/snapshot.h"

namespace flinkguard {

struct ManualOptions {
  std::string config_path;
  std::string job;
  std::string from = "auto";  // recover: auto, checkpoint, savepoint, fresh
  bool dry_run = false;       // recover: print the plan, do nothing
  std::string jar;            // update, deploy: the new jar ("" = the catalog's, deploy only)
  std::string to;             // move: the cluster to move to
};

// What the planner says about recovering `job` by hand now (from observation `o`, with the
// history's restore points and attempts; `from` as `recover --from`): a plan, or why not.
// The rails (cooldown, give-up, single flight, duplicates, the restore-point ladder) apply.
struct ManualDecision {
  std::optional<RecoveryPlan> plan;
  std::optional<Refusal> refusal;
};
class SqliteHistoryStore;
ManualDecision PlanManualRecovery(const Config& config, const Observation& o,
                                  SqliteHistoryStore& store, const std::string& job,
                                  const std::string& from);

int RunRecover(const ManualOptions& options, std::optional<LogLevel> log_level_flag,
               const CliContext& ctx);
int RunSavepoint(const ManualOptions& options, std::optional<LogLevel> log_level_flag,
                 const CliContext& ctx);
int RunUpdate(const ManualOptions& options, std::optional<LogLevel> log_level_flag,
              const CliContext& ctx);
// Deploy: like update when an instance runs; otherwise start from the newest restore point (or
// fresh when allowed). Refused while several instances are live.
int RunDeploy(const ManualOptions& options, std::optional<LogLevel> log_level_flag,
              const CliContext& ctx);
// Move: stop with a savepoint, submit on the other cluster from it, record the new placement.
int RunMove(const ManualOptions& options, std::optional<LogLevel> log_level_flag,
            const CliContext& ctx);

}  // namespace flinkguard
