#include "agent/logging.h"

#include <array>
#include <chrono>
#include <string>
#include <utility>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "rules/duration.h"

namespace flinkguard {
namespace {

struct LevelEntry {
  LogLevel level;
  const char* name;
  spdlog::level::level_enum spd;
};

constexpr std::array<LevelEntry, 5> kLevels{{
    {LogLevel::kTrace, "trace", spdlog::level::trace},
    {LogLevel::kDebug, "debug", spdlog::level::debug},
    {LogLevel::kInfo, "info", spdlog::level::info},
    {LogLevel::kWarn, "warn", spdlog::level::warn},
    {LogLevel::kError, "error", spdlog::level::err},
}};

spdlog::level::level_enum ToSpdlog(LogLevel level) {
  for (const auto& e : kLevels) {
    if (e.level == level) return e.spd;
  }
  return spdlog::level::info;
}

// Writes the sd-daemon(3) priority prefix "<N>" for the message's level; journald strips it
// and stores N as the entry's PRIORITY.
class SdPriorityFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    const char* prefix = "<6>";
    switch (msg.level) {
      case spdlog::level::trace:
      case spdlog::level::debug: prefix = "<7>"; break;
      case spdlog::level::info: prefix = "<6>"; break;
      case spdlog::level::warn: prefix = "<4>"; break;
      case spdlog::level::err: prefix = "<3>"; break;
      case spdlog::level::critical: prefix = "<2>"; break;
      case spdlog::level::off:
      case spdlog::level::n_levels: break;
    }
    dest.append(std::string_view(prefix));
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<SdPriorityFlag>();
  }
};

}  // namespace

const char* LogLevelName(LogLevel level) {
  for (const auto& e : kLevels) {
    if (e.level == level) return e.name;
  }
  return "info";
}

Result<LogLevel> ParseLogLevel(std::string_view text) {
  for (const auto& e : kLevels) {
    if (text == e.name) return e.level;
  }
  return Fail(Error::Invalid("expected one of trace, debug, info, warn, error; found '" +
                             std::string(text) + "'"));
}

bool UnderSystemd(const char* journal_stream) {
  return journal_stream != nullptr && journal_stream[0] != '\0';
}

std::shared_ptr<spdlog::logger> MakeLogger(LogLevel level, bool under_systemd,
                                           spdlog::sink_ptr sink) {
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  if (under_systemd) {
    formatter->add_flag<SdPriorityFlag>('*').set_pattern("%*[%l] %v");
  } else {
    formatter->set_pattern("%Y-%m-%dT%H:%M:%S.%e [%^%l%$] %v");
  }
  sink->set_formatter(std::move(formatter));
  auto logger = std::make_shared<spdlog::logger>("flinkguard", std::move(sink));
  logger->set_level(ToSpdlog(level));
  logger->flush_on(spdlog::level::warn);
  return logger;
}

void SetupLogging(LogLevel level, bool under_systemd) {
  spdlog::sink_ptr sink;
  if (under_systemd) {
    // The journal is not a terminal; no color codes.
    sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  } else {
    sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>(spdlog::color_mode::automatic);
  }
  spdlog::set_default_logger(MakeLogger(level, under_systemd, std::move(sink)));
}

std::vector<std::string> ProblemLog::Cycle(const std::vector<std::string>& problems,
                                           std::int64_t now_ms) {
  std::vector<std::string> lines;
  std::map<std::string, Seen> next;
  for (const std::string& p : problems) {
    if (next.count(p) != 0) continue;
    auto it = open_.find(p);
    if (it == open_.end()) {
      lines.push_back(p);
      next[p] = Seen{now_ms, now_ms};
      continue;
    }
    Seen seen = it->second;
    if (now_ms - seen.said_ms >= repeat_ms_) {
      lines.push_back("still, for " +
                      FormatDuration(std::chrono::milliseconds(now_ms - seen.since_ms)) + ": " + p);
      seen.said_ms = now_ms;
    }
    next[p] = seen;
  }
  for (const auto& [p, seen] : open_) {
    if (next.count(p) == 0) {
      lines.push_back("cleared after " +
                      FormatDuration(std::chrono::milliseconds(now_ms - seen.since_ms)) + ": " + p);
    }
  }
  open_ = std::move(next);
  return lines;
}

}  // namespace flinkguard
