#include "agent/cli_support.h"

#include <csignal>
#include <iostream>
#include <thread>

#include "agent/logging.h"
#include "agent/version.h"
#include "agent/wiring.h"

namespace flinkguard {

std::atomic<bool> g_stop_requested{false};
std::atomic<bool> g_reload_requested{false};

namespace {
// Plain C++ functions with internal linkage (an extern "C" name would be global and clash with
// a program's own handler of the same name).
void StopSignalHandler(int /*sig*/) { g_stop_requested.store(true); }
void ReloadSignalHandler(int /*sig*/) { g_reload_requested.store(true); }
}  // namespace

void InstallSignalHandlers(bool reload) {
  std::signal(SIGINT, StopSignalHandler);
  std::signal(SIGTERM, StopSignalHandler);
  if (reload) std::signal(SIGHUP, ReloadSignalHandler);
}

std::int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void InterruptibleSleep(std::chrono::milliseconds d) {
  const auto until = std::chrono::steady_clock::now() + d;
  while (!g_stop_requested.load() && std::chrono::steady_clock::now() < until) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    std::this_thread::sleep_for(std::min(left, std::chrono::milliseconds(50)));
  }
}

bool StderrIsJournal(const ConfigEnvironment& env) {
  if (!env.get_env) return false;
  const std::optional<std::string> stream = env.get_env("JOURNAL_STREAM");
  return UnderSystemd(stream ? stream->c_str() : nullptr);
}

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

CurlTransportOptions TransportOptionsFor(const Config& config) {
  return {.user_agent = std::string("flinkguard/") + kVersion,
          .instance_id = config.agent.instance_id};
}

ObserveStack::ObserveStack(const Config& config, ObserverOptions options)
    : transport(TransportOptionsFor(config)),
      tsdb(config.tsdb
               ? std::make_unique<PrometheusClient>(transport, PrometheusOptionsFrom(config))
               : nullptr),
      observer(transport, ObservedClustersFrom(config), tsdb.get(), SignalQueriesFrom(config),
               options) {}

std::vector<Observation> ObserveStack::ObserveTwice() {
  std::vector<Observation> cycles;
  cycles.push_back(observer.RunCycle(WallMs()));
  InterruptibleSleep(std::chrono::seconds(1));
  cycles.push_back(observer.RunCycle(WallMs()));
  return cycles;
}

ObserverOptions SnapshotOptions() {
  ObserverOptions o;
  o.detail_every = 1;  // both samples of ObserveTwice read job details
  return o;
}

}  // namespace flinkguard
