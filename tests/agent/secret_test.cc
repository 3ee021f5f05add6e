#include "agent/secret.h"

#include <doctest/doctest.h>

#include <sstream>

#include <fmt/format.h>
#include <spdlog/logger.h>
#include <spdlog/sinks/ostream_sink.h>

using namespace flinkguard;

TEST_CASE("a secret reveals its value only when asked") {
  const Secret s("hunter2", "file /etc/flinkguard/pw");
  CHECK(s.Reveal() == "hunter2");
  CHECK(s.origin() == "file /etc/flinkguard/pw");
  CHECK_FALSE(s.empty());
  CHECK(Secret().empty());
  CHECK(s == Secret("hunter2", "env OTHER"));  // compares the credential
  CHECK_FALSE(s == Secret("hunter3"));
}

TEST_CASE("a secret printed by accident shows as ***") {
  const Secret s("hunter2", "inline");
  std::ostringstream os;
  os << s;
  CHECK(os.str() == "***");
  CHECK(fmt::format("{} [{:>5}]", s, s) == "*** [  ***]");

  // Through a logger too.
  std::ostringstream log;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_st>(log);
  spdlog::logger logger("t", sink);
  logger.set_pattern("%v");
  logger.info("password is {}", s);
  CHECK(log.str() == "password is ***\n");
}
