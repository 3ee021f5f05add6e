#include "rules/duration.h"

#include <doctest/doctest.h>

#include <random>

using flinkguard::Duration;
using flinkguard::ErrorKind;
using flinkguard::FormatDuration;
using flinkguard::ParseDuration;
using namespace std::chrono_literals;

TEST_CASE("durations in every unit parse to milliseconds") {
  CHECK(*ParseDuration("500ms") == 500ms);
  CHECK(*ParseDuration("10s") == 10s);
  CHECK(*ParseDuration("5m") == 5min);
  CHECK(*ParseDuration("1h") == 1h);
  CHECK(*ParseDuration("2d") == 48h);
  CHECK(*ParseDuration("1h30m") == 90min);
  CHECK(*ParseDuration(" 1m5s250ms ") == 65250ms);
  CHECK(*ParseDuration("0s") == 0ms);
}

TEST_CASE("bad durations are invalid and say what was found") {
  for (const char* bad : {"", "10", "-5s", "5 s", "5x", "1s1h", "1m1m", "s", "1.5s", "10sec",
                          "99999999999999999999s", "9223372036854775807d"}) {
    CAPTURE(bad);
    auto r = ParseDuration(bad);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().kind == ErrorKind::kInvalid);
    CHECK(r.error().message.find("expected a duration") != std::string::npos);
    CHECK(r.error().message.find(std::string("'") + bad + "'") != std::string::npos);
  }
}

TEST_CASE("format then parse gives the same duration") {
  CHECK(FormatDuration(90min) == "1h30m");
  CHECK(FormatDuration(500ms) == "500ms");
  CHECK(FormatDuration(0ms) == "0s");
  CHECK(FormatDuration(Duration(86'400'001)) == "1d1ms");
  std::mt19937_64 rng(42);
  std::uniform_int_distribution<std::int64_t> dist(0, 400LL * 86'400'000);
  for (int i = 0; i < 2000; ++i) {
    const Duration d(dist(rng));
    auto back = ParseDuration(FormatDuration(d));
    REQUIRE(back.has_value());
    CHECK(*back == d);
  }
}
