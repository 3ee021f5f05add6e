#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <spdlog/common.h>
#include <spdlog/logger.h>

#include "rules/error.h"

namespace flinkguard {

// How much the agent logs. Ordered: a logger at kWarn drops kInfo and below.
enum class LogLevel { kTrace = 0, kDebug, kInfo, kWarn, kError };

// "trace", "debug", "info", "warn" or "error": the spelling used in config and on the command
// line.
const char* LogLevelName(LogLevel level);

// Parses "trace", "debug", "info", "warn" or "error" (exact, lower case). Anything else is
// kInvalid with a message listing the accepted values and quoting what was found.
Result<LogLevel> ParseLogLevel(std::string_view text);

// True when stderr is connected to the systemd journal, i.e. the environment variable
// JOURNAL_STREAM is set (systemd sets it for services whose stderr goes to the journal).
// `journal_stream` is the variable's value, or nullptr when it is unset.
bool UnderSystemd(const char* journal_stream);

// Builds a logger named "flinkguard" that writes to `sink` at `level`.
// Under systemd each line is "<N>[level] message": no timestamp (journald stamps lines itself)
// and an sd-daemon priority prefix <N> (7 debug/trace, 6 info, 4 warn, 3 error) so journald
// records the level. Otherwise each line is "2024-05-01T12:00:00.123 [level] message" in local
// time. Warnings and errors are flushed at once. Thread-safe if `sink` is.
std::shared_ptr<spdlog::logger> MakeLogger(LogLevel level, bool under_systemd,
                                           spdlog::sink_ptr sink);

// Makes a MakeLogger() logger writing to stderr (colored when stderr is a terminal and not under
// systemd) the spdlog default logger, so spdlog::info(...) and friends use it. Call once at
// startup from the composition root, before other threads log; calling again replaces the
// logger (used when the config's level becomes known). Never throws.
void SetupLogging(LogLevel level, bool under_systemd);

// The daemon's per-cycle problems (a cluster that does not answer, ZooKeeper away) without a
// line per problem per poll: a problem is said when it appears, again every `repeat_ms` while it
// lasts ("still, for 5m: ..."), and once when it is gone ("cleared after 7m: ..."). Not
// thread-safe; the daemon's thread owns it.
class ProblemLog {
 public:
  explicit ProblemLog(std::int64_t repeat_ms = 300'000) : repeat_ms_(repeat_ms) {}
  // The lines to log (as warnings) for this cycle's problems at `now_ms`.
  std::vector<std::string> Cycle(const std::vector<std::string>& problems, std::int64_t now_ms);

 private:
  struct Seen {
    std::int64_t since_ms = 0;
    std::int64_t said_ms = 0;
  };
  std::int64_t repeat_ms_;
  std::map<std::string, Seen> open_;
};

}  // namespace flinkguard
