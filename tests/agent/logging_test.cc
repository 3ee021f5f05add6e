#include "agent/logging.h"

#include <doctest/doctest.h>

#include <regex>
#include <sstream>

#include <spdlog/sinks/ostream_sink.h>

using namespace flinkguard;

TEST_CASE("log levels parse and print in the config's spelling") {
  for (LogLevel l :
       {LogLevel::kTrace, LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarn, LogLevel::kError}) {
    CHECK(*ParseLogLevel(LogLevelName(l)) == l);
  }
  CHECK(std::string(LogLevelName(LogLevel::kWarn)) == "warn");
  auto bad = ParseLogLevel("WARN");
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().kind == ErrorKind::kInvalid);
  CHECK(bad.error().message == "expected one of trace, debug, info, warn, error; found 'WARN'");
}

TEST_CASE("systemd is detected from JOURNAL_STREAM") {
  CHECK(UnderSystemd("8:12345"));
  CHECK_FALSE(UnderSystemd(""));
  CHECK_FALSE(UnderSystemd(nullptr));
}

TEST_CASE("under systemd, lines carry a priority prefix and no timestamp") {
  std::ostringstream out;
  auto logger = MakeLogger(LogLevel::kDebug, /*under_systemd=*/true,
                           std::make_shared<spdlog::sinks::ostream_sink_st>(out));
  logger->trace("dropped");
  logger->debug("d {}", 1);
  logger->info("cluster {} reachable", "yarn-a");
  logger->warn("w");
  logger->error("e");
  CHECK(out.str() ==
        "<7>[debug] d 1\n"
        "<6>[info] cluster yarn-a reachable\n"
        "<4>[warning] w\n"
        "<3>[error] e\n");
}

TEST_CASE("on a terminal or file, lines carry a timestamp and the level filters") {
  std::ostringstream out;
  auto logger = MakeLogger(LogLevel::kWarn, /*under_systemd=*/false,
                           std::make_shared<spdlog::sinks::ostream_sink_st>(out));
  logger->info("dropped");
  logger->warn("kept");
  const std::regex line(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3} \[warning\] kept\n)");
  CHECK(std::regex_match(out.str(), line));
}

TEST_CASE("per-cycle problems are said when they appear, every repeat while they last, and "
          "when they clear") {
  ProblemLog log(300'000);
  const std::vector<std::string> down = {"cluster b unreachable", "cluster b unreachable"};
  CHECK(log.Cycle(down, 0) == std::vector<std::string>{"cluster b unreachable"});
  CHECK(log.Cycle(down, 10'000).empty());
  CHECK(log.Cycle(down, 299'999).empty());
  CHECK(log.Cycle(down, 300'000) ==
        std::vector<std::string>{"still, for 5m: cluster b unreachable"});
  CHECK(log.Cycle(down, 310'000).empty());
  // Another problem appears; the first one clears.
  CHECK(log.Cycle({"zk away"}, 420'000) ==
        std::vector<std::string>{"zk away", "cleared after 7m: cluster b unreachable"});
  CHECK(log.Cycle({}, 421'000) == std::vector<std::string>{"cleared after 1s: zk away"});
  CHECK(log.Cycle({}, 422'000).empty());
  // Back again: said again at once.
  CHECK(log.Cycle({"zk away"}, 423'000) == std::vector<std::string>{"zk away"});
}
