#include "agent/cli.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <optional>
#include <string>
#include <thread>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "agent/allocator.h"
#include "agent/cli_support.h"
#include "agent/daemon.h"
#include "agent/explain.h"
#include "agent/history_format.h"
#include "agent/http/curl_transport.h"
#include "agent/logging.h"
#include "agent/manual.h"
#include "agent/observation_format.h"
#include "agent/observer.h"
#include "agent/rule_tests.h"
#include "agent/version.h"
#include "agent/wiring.h"
#include "rules/duration.h"

namespace flinkguard {
namespace {

struct CheckConfigOptions {
  std::string config_path;
  bool print = false;
};

int RunCheckConfig(const CheckConfigOptions& options, std::optional<LogLevel> log_level_flag,
                   const CliContext& ctx) {
  const ConfigLoadResult loaded = LoadConfig(options.config_path, ctx.env);
  if (ctx.setup_logging) {
    const LogLevel level =
        log_level_flag.value_or(loaded.config ? loaded.config->agent.log_level : LogLevel::kInfo);
    SetupLogging(level, StderrIsJournal(ctx.env));
  }
  if (!loaded.ok()) {
    for (const ConfigProblem& p : loaded.problems) ctx.err << FormatProblem(p) << "\n";
    const std::size_t n = loaded.problems.size();
    ctx.err << options.config_path << ": " << n << (n == 1 ? " problem" : " problems")
            << "; the configuration is not valid\n";
    ctx.err.flush();
    return kExitFailure;
  }
  ctx.out << "config OK: " << SummarizeConfig(*loaded.config) << "\n";
  if (options.print) ctx.out << FormatConfig(*loaded.config);
  ctx.out.flush();
  spdlog::debug("config {} is valid", options.config_path);
  return kExitOk;
}

struct ObserveOptions {
  std::string config_path;
  bool once = false;
  bool json = false;
};

int RunObserve(const ObserveOptions& options, std::optional<LogLevel> log_level_flag,
               const CliContext& ctx) {
  const std::optional<Config> config = LoadValidConfig(options.config_path, log_level_flag, ctx);
  if (!config) return kExitFailure;
  ObserveStack stack(*config, options.once ? SnapshotOptions() : ObserverOptions{});
  auto print = [&](const Observation& o) {
    if (options.json) {
      ctx.out << ObservationToJson(o, /*pretty=*/true) << "\n";
    } else {
      ctx.out << ObservationToTable(o);
    }
    ctx.out.flush();
  };
  if (options.once) {
    print(stack.ObserveTwice().back());
    return kExitOk;
  }
  InstallSignalHandlers(/*reload=*/false);
  while (!g_stop_requested.load()) {
    const auto start = std::chrono::steady_clock::now();
    print(stack.observer.RunCycle(WallMs()));
    const auto spent = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - start);
    InterruptibleSleep(config->agent.poll_interval - spent);
  }
  return kExitOk;
}

struct ExplainOptions {
  std::string config_path;
  std::string job;
};

int RunExplain(const ExplainOptions& options, std::optional<LogLevel> log_level_flag,
               const CliContext& ctx) {
  const std::optional<Config> config = LoadValidConfig(options.config_path, log_level_flag, ctx);
  if (!config) return kExitFailure;
  ObserveStack stack(*config, SnapshotOptions());
  const std::vector<Observation> cycles = stack.ObserveTwice();
  const ExplainReport report = ExplainJob(*config, cycles, options.job);
  if (!report.known()) {
    ctx.err << "flinkguard explain: job '" << options.job
            << "' is not running on any configured cluster and is not in the catalog (jobs:)\n";
    return kExitFailure;
  }
  ctx.out << FormatExplain(report, cycles.back().at_ms);
  ctx.out.flush();
  return kExitOk;
}

struct HistoryOptions {
  std::string config_path;
  std::string job;
  std::string since = "24h";
  bool json = false;
  bool all = false;
};

// What people need from history is what fired, what was decided and done: transitions into or
// out of "unknown" (data missing for a cycle, e.g. right after a restart) and "already in
// progress" refusals are left out unless --all asks for everything.
void DropRoutineEvents(HistoryReport& report) {
  auto routine = [](const HistoryEvent& e) {
    if (const auto* t = std::get_if<RuleTransition>(&e.what)) {
      return t->from == RuleState::kUnknown || t->to == RuleState::kUnknown;
    }
    if (const auto* r = std::get_if<RefusalRecord>(&e.what)) {
      return r->refusal.cause == RefusalCause::kInProgress;
    }
    return false;
  };
  report.events.erase(std::remove_if(report.events.begin(), report.events.end(), routine),
                      report.events.end());
}

int RunHistory(const HistoryOptions& options, std::optional<LogLevel> log_level_flag,
               const CliContext& ctx) {
  const std::optional<Config> config = LoadValidConfig(options.config_path, log_level_flag, ctx);
  if (!config) return kExitFailure;
  Result<Duration> since = ParseDuration(options.since);
  if (!since) {
    ctx.err << "flinkguard history: --since " << options.since << ": " << since.error().message
            << "\n";
    return kExitUsage;
  }
  const std::string path = config->agent.state_dir + "/history.db";
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    ctx.err << "flinkguard history: no history at " << path
            << " (flinkguard has not run with this state_dir)\n";
    return kExitFailure;
  }
  auto store = SqliteHistoryStore::Open(path);
  if (!store) {
    ctx.err << "flinkguard history: " << store.error().message << "\n";
    return kExitFailure;
  }
  const std::int64_t now = WallMs();
  HistoryQuery q;
  q.job = options.job;
  q.since_ms = now - std::chrono::duration_cast<std::chrono::milliseconds>(*since).count();
  auto report = ReadHistory(**store, **store, q);
  if (!report) {
    ctx.err << "flinkguard history: " << report.error().message << "\n";
    return kExitFailure;
  }
  if (!options.all) DropRoutineEvents(*report);
  ctx.out << (options.json ? HistoryToJson(*report, /*pretty=*/true) + "\n"
                           : HistoryToText(*report, now));
  ctx.out.flush();
  return kExitOk;
}

int RunTestRules(const std::string& path, const CliContext& ctx) {
  const RuleTestOutcome outcome = RunRuleTestFile(path, ctx.env);
  (outcome.ok() ? ctx.out : ctx.err) << outcome.report;
  ctx.out.flush();
  ctx.err.flush();
  return outcome.ok() ? kExitOk : kExitFailure;
}

}  // namespace

int RunCli(int argc, const char* const* argv, const CliContext& ctx) {
  CLI::App app{"flinkguard: monitoring and auto-recovery agent for Apache Flink", "flinkguard"};
  app.set_version_flag("--version", std::string("flinkguard ") + kVersion + " (" + kGitRevision +
                                        ")\nallocator: " + AllocatorName());
  app.require_subcommand(1);

  std::string log_level_text;
  app.add_option("--log-level", log_level_text,
                 "Log level, overriding agent.log_level: trace, debug, info, warn, error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));

  CheckConfigOptions check;
  CLI::App* check_config =
      app.add_subcommand("check-config", "Validate a configuration file and report every problem");
  check_config->add_option("-c,--config", check.config_path, "Configuration file (YAML)")
      ->required();
  check_config->add_flag("--print", check.print,
                         "Also print the effective configuration (defaults filled in, secrets "
                         "hidden)");

  ObserveOptions observe;
  CLI::App* observe_cmd = app.add_subcommand(
      "observe", "Show what the agent sees: every cluster and every job's snapshot");
  observe_cmd->add_option("-c,--config", observe.config_path, "Configuration file (YAML)")
      ->required();
  observe_cmd->add_flag("--once", observe.once,
                        "Observe once (two samples a second apart, for rates) and exit; "
                        "without it, observe every poll_interval until interrupted");
  observe_cmd->add_flag("--json", observe.json, "One JSON document per observation");

  ExplainOptions explain;
  CLI::App* explain_cmd = app.add_subcommand(
      "explain",
      "Observe once and show, for one job, each rule's state and why, and what recovery would do");
  explain_cmd->add_option("-c,--config", explain.config_path, "Configuration file (YAML)")
      ->required();
  explain_cmd->add_option("-j,--job", explain.job, "The job's name")->required();

  DaemonOptions daemon;
  CLI::App* run_cmd = app.add_subcommand(
      "run",
      "Run the agent: observe, decide, recover and record every poll_interval until SIGTERM "
      "(SIGHUP reloads the configuration)");
  run_cmd->add_option("-c,--config", daemon.config_path, "Configuration file (YAML)")->required();
  run_cmd
      ->add_option("--max-cycles", daemon.max_cycles,
                   "Stop after this many cycles once no recovery is under way (0 = never)")
      ->check(CLI::NonNegativeNumber);

  ManualOptions recover;
  CLI::App* recover_cmd = app.add_subcommand(
      "recover",
      "Recover a job now, with the daemon's planner, safety rails, journal and locks, and wait "
      "for the outcome");
  recover_cmd->add_option("-c,--config", recover.config_path, "Configuration file (YAML)")
      ->required();
  recover_cmd->add_option("-j,--job", recover.job, "The job's name (a catalog job)")->required();
  recover_cmd
      ->add_option("--from", recover.from,
                   "Where to restore from: auto (the planner's ladder), checkpoint, "
                   "savepoint, or fresh (empty state; a deliberate choice)")
      ->check(CLI::IsMember({"auto", "checkpoint", "savepoint", "fresh"}));
  recover_cmd->add_flag("--dry-run", recover.dry_run, "Print the plan and do nothing");

  ManualOptions savepoint;
  CLI::App* savepoint_cmd = app.add_subcommand(
      "savepoint", "Take a savepoint of a running job, wait for it, and record where it is");
  savepoint_cmd->add_option("-c,--config", savepoint.config_path, "Configuration file (YAML)")
      ->required();
  savepoint_cmd->add_option("-j,--job", savepoint.job, "The job's name")->required();

  ManualOptions update;
  CLI::App* update_cmd = app.add_subcommand(
      "update",
      "Deploy a new jar for a running job: stop it with a savepoint and submit the new jar from "
      "that savepoint; if the savepoint fails, the old job keeps running");
  update_cmd->add_option("-c,--config", update.config_path, "Configuration file (YAML)")
      ->required();
  update_cmd->add_option("-j,--job", update.job, "The job's name (a catalog job)")->required();
  update_cmd->add_option("--jar", update.jar, "The new jar")->required();

  ManualOptions deploy;
  CLI::App* deploy_cmd = app.add_subcommand(
      "deploy",
      "Deploy a job: when it runs, stop it with a savepoint and submit (the new jar) from that "
      "savepoint, keeping the old one running if the savepoint fails; when it does not run, "
      "start it from its newest restore point (fresh only when its policy allows)");
  deploy_cmd->add_option("-c,--config", deploy.config_path, "Configuration file (YAML)")
      ->required();
  deploy_cmd->add_option("-j,--job", deploy.job, "The job's name (a catalog job)")->required();
  deploy_cmd->add_option("--jar", deploy.jar, "The new jar (default: the catalog's)");

  ManualOptions move;
  CLI::App* move_cmd = app.add_subcommand(
      "move",
      "Move a running job to another cluster: stop it with a savepoint, submit it there from "
      "that savepoint, and record where it lives now (failback after a failover)");
  move_cmd->add_option("-c,--config", move.config_path, "Configuration file (YAML)")->required();
  move_cmd->add_option("-j,--job", move.job, "The job's name (a catalog job)")->required();
  move_cmd->add_option("--to", move.to, "The cluster to move it to")->required();

  HistoryOptions history;
  CLI::App* history_cmd = app.add_subcommand(
      "history",
      "What flinkguard recorded: rule transitions, refusals, recoveries with every step, "
      "savepoints");
  history_cmd->add_option("-c,--config", history.config_path, "Configuration file (YAML)")
      ->required();
  history_cmd->add_option("-j,--job", history.job, "Only this job");
  history_cmd->add_option("--since", history.since, "How far back (a duration: 30m, 24h, 7d)")
      ->capture_default_str();
  history_cmd->add_flag("--json", history.json, "One JSON document");
  history_cmd->add_flag("--all", history.all,
                        "Also transitions into and out of 'unknown' and 'in progress' refusals");

  std::string rule_test_path;
  CLI::App* test_rules_cmd = app.add_subcommand(
      "test-rules",
      "Run a rule test file: scripted job signals over time against expected rule states and "
      "plans");
  test_rules_cmd->add_option("file", rule_test_path, "Rule test file (YAML)")->required();

  try {
    try {
      app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
      // --help and --version are "errors" with exit code 0; everything else is bad usage.
      return app.exit(e, ctx.out, ctx.err) == 0 ? kExitOk : kExitUsage;
    }
    std::optional<LogLevel> log_level;
    if (!log_level_text.empty()) log_level = *ParseLogLevel(log_level_text);  // checked above
    if (check_config->parsed()) return RunCheckConfig(check, log_level, ctx);
    if (observe_cmd->parsed()) return RunObserve(observe, log_level, ctx);
    if (explain_cmd->parsed()) return RunExplain(explain, log_level, ctx);
    if (test_rules_cmd->parsed()) return RunTestRules(rule_test_path, ctx);
    if (run_cmd->parsed()) return RunDaemon(daemon, log_level, ctx);
    if (history_cmd->parsed()) return RunHistory(history, log_level, ctx);
    if (recover_cmd->parsed()) return RunRecover(recover, log_level, ctx);
    if (savepoint_cmd->parsed()) return RunSavepoint(savepoint, log_level, ctx);
    if (update_cmd->parsed()) return RunUpdate(update, log_level, ctx);
    if (deploy_cmd->parsed()) return RunDeploy(deploy, log_level, ctx);
    if (move_cmd->parsed()) return RunMove(move, log_level, ctx);
    return kExitUsage;
  } catch (const std::exception& e) {
    ctx.err << "flinkguard: " << e.what() << "\n";
    return kExitFailure;
  }
}

int RunCli(int argc, char** argv) {
  const ConfigEnvironment env = SystemConfigEnvironment();
  return RunCli(argc, argv, CliContext{std::cout, std::cerr, env});
}

}  // namespace flinkguard
