#pragma once

// What the subcommands share: loading a valid config, the observing stack, the wall clock, an
// interruptible sleep and the process's stop/reload signals.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/cli.h"
#include "agent/config.h"
#include "agent/http/curl_transport.h"
#include "agent/observer.h"
#include "agent/tsdb/prometheus_client.h"

namespace flinkguard {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

// Set by SIGINT/SIGTERM (stop) and SIGHUP (reload) once InstallSignalHandlers ran.
extern std::atomic<bool> g_stop_requested;
extern std::atomic<bool> g_reload_requested;
// SIGINT and SIGTERM set g_stop_requested; with `reload`, SIGHUP sets g_reload_requested.
void InstallSignalHandlers(bool reload);

std::int64_t WallMs();

// Sleeps up to `d`, waking early when a stop was requested. Bounded by `d`.
void InterruptibleSleep(std::chrono::milliseconds d);

// True when stderr goes to the journal (JOURNAL_STREAM), so log lines carry no timestamps.
bool StderrIsJournal(const ConfigEnvironment& env);

// Loads the config a command needs, valid or not at all: prints every problem and returns
// std::nullopt when it is not. Sets up logging from it (or the --log-level flag).
std::optional<Config> LoadValidConfig(const std::string& path,
                                      std::optional<LogLevel> log_level_flag,
                                      const CliContext& ctx);

// The observing half of the agent, built from a config: the transport, the TSDB client when
// one is configured, and the observer over every cluster and signal.
struct ObserveStack {
  CurlTransport transport;
  std::unique_ptr<PrometheusClient> tsdb;
  Observer observer;

  ObserveStack(const Config& config, ObserverOptions options);

  // Two observations a second apart, both reading job details: rates (backpressure) need two
  // samples. Returns both, oldest first.
  std::vector<Observation> ObserveTwice();
};

// Observer options for a one-off snapshot (ObserveTwice): both samples read job details.
ObserverOptions SnapshotOptions();

// CurlTransport settings naming this agent instance.
CurlTransportOptions TransportOptionsFor(const Config& config);

}  // namespace flinkguard
