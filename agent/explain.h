#pragma once

// `flinkguard explain`: for one job, what the agent sees (its instances and key signals), where
// each rule stands for it and why, and what the recovery planner would do if a recover rule
// fired now (the plan with its restore point and reason, or the refusal). Pure: it takes the
// observations, it does not make them, so tests feed it without a CLI or a network.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/config.h"
#include "rules/decision.h"
#include "rules/planner.h"
#include "rules/rule_engine.h"
#include "rules/snapshot.h"

namespace flinkguard {

// The catalog as the planner takes it: every configured job with its recovery policy.
std::vector<CatalogJob> CatalogFrom(const Config& config);

// The rule table compiled for the engine. The loader has compiled every rule already, so this
// cannot fail for a loaded Config.
std::vector<CompiledRule> CompiledRulesFrom(const Config& config);

// What `explain` found for one job.
struct ExplainReport {
  std::string job;
  bool in_catalog = false;
  std::vector<JobSnapshot> instances;  // every instance seen in the last observation
  std::vector<ClusterSnapshot> clusters;
  std::vector<RuleStatus> rules;       // every rule, in table order
  std::vector<Finding> findings;       // the job's firing rules
  // No recover rule fires for the job: the plan or refusal below is what the planner would
  // decide if one did (a stand-in finding), not what it decides now.
  bool hypothetical = false;
  std::optional<RecoveryPlan> plan;  // always a dry run
  std::optional<Refusal> refusal;

  // The job was observed on some cluster or is in the catalog.
  bool known() const { return in_catalog || !instances.empty(); }
};

// Evaluates the rule table over `cycles` (oldest first; at least one) and asks the planner about
// `job`, with no history: restore points come only from the snapshots, no past attempts, nothing
// in progress, dry run. Deterministic (the cooldown jitter is fixed at its midpoint).
ExplainReport ExplainJob(const Config& config, const std::vector<Observation>& cycles,
                         std::string_view job);

// The report for people, several lines.
std::string FormatExplain(const ExplainReport& report, std::int64_t now_ms);

}  // namespace flinkguard
