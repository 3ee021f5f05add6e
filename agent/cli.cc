#include "agent/cli.h"

#include <atomic>
#include <chrono>
#include <csignal>
#include <iostream>
#include <optional>
#include <string>
#include <thread>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "agent/explain.h"
#include "agent/http/curl_transport.h"
#include "agent/logging.h"
#include "agent/observation_format.h"
#include "agent/observer.h"
#include "agent/rule_tests.h"
#include "agent/version.h"
#include "agent/wiring.h"

namespace flinkguard {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

bool StderrIsJournal(const ConfigEnvironment& env) {
  if (!env.get_env) return false;
  const std::optional<std::string> stream = env.get_env("JOURNAL_STREAM");
  return UnderSystemd(stream ? stream->c_str() : nullptr);
}

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

std::atomic<bool> g_stop{false};
extern "C" void OnStopSignal(int /*sig*/) { g_stop.store(true); }

std::int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Sleeps up to `d`, waking early when a stop signal arrived. Bounded by `d`.
void InterruptibleSleep(std::chrono::milliseconds d) {
  const auto until = std::chrono::steady_clock::now() + d;
  while (!g_stop.load() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

// Loads the config a command needs, valid or not at all: prints every problem and returns
// std::nullopt when it is not. Sets up logging from it (or the --log-level flag).
std::optional<Config> LoadValidConfig(const std::string& path,
                                      std::optional<LogLevel> log_level_flag,
                                      const CliContext& ctx) {
  ConfigLoadResult loaded = LoadConfig(path, ctx.env);
  if (!loaded.ok()) {
    for (const ConfigProblem& p : loaded.problems) ctx.err << FormatProblem(p) << "\n";
    ctx.err << path << ": the configuration is not valid\n";
    return std::nullopt;
  }
  if (ctx.setup_logging) {
    SetupLogging(log_level_flag.value_or(loaded.config->agent.log_level), StderrIsJournal(ctx.env));
  }
  return std::move(loaded.config);
}

// The observing half of the agent, built from a config: the transport, the TSDB client when
// one is configured, and the observer over every cluster and signal.
struct ObserveStack {
  CurlTransport transport;
  std::unique_ptr<PrometheusClient> tsdb;
  Observer observer;

  ObserveStack(const Config& config, ObserverOptions options)
      : transport({.user_agent = std::string("flinkguard/") + kVersion,
                   .instance_id = config.agent.instance_id}),
        tsdb(config.tsdb
                 ? std::make_unique<PrometheusClient>(transport, PrometheusOptionsFrom(config))
                 : nullptr),
        observer(transport, ObservedClustersFrom(config), tsdb.get(), SignalQueriesFrom(config),
                 options) {}

  // Two observations a second apart, both reading job details: rates (backpressure) need two
  // samples. Returns both, oldest first.
  std::vector<Observation> ObserveTwice() {
    std::vector<Observation> cycles;
    cycles.push_back(observer.RunCycle(WallMs()));
    InterruptibleSleep(std::chrono::seconds(1));
    cycles.push_back(observer.RunCycle(WallMs()));
    return cycles;
  }
};

ObserverOptions SnapshotOptions() {
  ObserverOptions o;
  o.detail_every = 1;  // both samples of ObserveTwice read job details
  return o;
}

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
  std::signal(SIGINT, OnStopSignal);
  std::signal(SIGTERM, OnStopSignal);
  while (!g_stop.load()) {
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
  app.set_version_flag("--version",
                       std::string("flinkguard ") + kVersion + " (" + kGitRevision + ")");
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
