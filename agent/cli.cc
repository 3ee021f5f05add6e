#include "agent/cli.h"

#include <iostream>
#include <optional>
#include <string>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "agent/logging.h"
#include "agent/version.h"

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
