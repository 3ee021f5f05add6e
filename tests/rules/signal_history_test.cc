#include "rules/signal_history.h"

#include <doctest/doctest.h>

#include <cmath>
#include <optional>
#include <string>

using flinkguard::Duration;
using flinkguard::Sample;
using flinkguard::SampleRing;
using flinkguard::SamplesToCover;
using flinkguard::SignalHistory;

TEST_CASE("a ring keeps at most its capacity, dropping the oldest samples") {
  SampleRing ring(3);
  CHECK(ring.empty());
  for (std::int64_t t = 1; t <= 5; ++t) ring.Push(Sample{t * 1000, static_cast<double>(t)});
  REQUIRE(ring.size() == 3);
  CHECK(ring.capacity() == 3);
  CHECK(ring.at(0).t_ms == 3000);
  CHECK(ring.at(1).t_ms == 4000);
  CHECK(ring.newest().value == 5);
  // A zero capacity still holds the newest sample.
  SampleRing one(0);
  one.Push(Sample{1, 1});
  one.Push(Sample{2, 2});
  CHECK(one.size() == 1);
  CHECK(one.newest().t_ms == 2);
}

TEST_CASE("growing a wrapped ring keeps its samples oldest first") {
  SampleRing ring(3);
  for (std::int64_t t = 1; t <= 4; ++t) ring.Push(Sample{t, static_cast<double>(t)});
  ring.Grow(5);
  ring.Push(Sample{5, 5});
  ring.Push(Sample{6, 6});
  REQUIRE(ring.size() == 5);
  for (std::size_t i = 0; i < 5; ++i) CHECK(ring.at(i).t_ms == static_cast<std::int64_t>(i + 2));
  ring.Push(Sample{7, 7});
  CHECK(ring.at(0).t_ms == 3);
  ring.Grow(2);  // never shrinks
  CHECK(ring.capacity() == 5);
}

TEST_CASE("a history records tracked signals only, one sample per instant") {
  SignalHistory h;
  h.Track("restarts", 2);
  h.Record("restarts", 1000, 1.0, "");
  h.Record("qps", 1000, 5.0, "");  // not tracked: ignored
  CHECK(h.Find("qps") == nullptr);
  h.Record("restarts", 2000, 2.0, "");
  h.Record("restarts", 2000, 3.0, "");  // same instant: replaces
  const auto* s = h.Find("restarts");
  REQUIRE(s != nullptr);
  CHECK(s->samples.size() == 2);
  CHECK(s->samples.newest().value == 3);
  // Unknown values (nullopt or NaN) are recorded with why.
  h.Record("restarts", 3000, std::nullopt, "stale: cluster down");
  CHECK_FALSE(s->samples.newest().known());
  CHECK(s->why_unknown == "stale: cluster down");
  h.Record("restarts", 4000, std::nan(""), "");
  CHECK_FALSE(s->samples.newest().known());
  CHECK(s->why_unknown == "unknown");
  h.Record("restarts", 5000, 7.0, "ignored when known");
  CHECK(s->why_unknown.empty());
  CHECK(h.SampleCount() == 2);
  CHECK(h.Signals() == std::vector<std::string>{"restarts"});
}

TEST_CASE("a sample older than the newest one means the clock went back: the series restarts") {
  SignalHistory h;
  h.Track("qps", 10);
  for (std::int64_t t = 10; t <= 50; t += 10) h.Record("qps", t * 1000, 1.0, "");
  h.Record("qps", 20'000, 2.0, "");
  const auto* s = h.Find("qps");
  REQUIRE(s->samples.size() == 1);
  CHECK(s->samples.newest().t_ms == 20'000);
}

TEST_CASE("tracking again keeps the larger capacity") {
  SignalHistory h;
  h.Track("qps", 5);
  h.Track("qps", 2);
  h.Track("qps", 8);
  CHECK(h.Find("qps")->samples.capacity() == 8);
}

TEST_CASE("samples needed to cover a window: both ends plus one of slack") {
  using std::chrono::minutes;
  using std::chrono::seconds;
  CHECK(SamplesToCover(minutes(10), seconds(10)) == 62);
  CHECK(SamplesToCover(std::chrono::hours(1), seconds(10)) == 362);
  CHECK(SamplesToCover(seconds(25), seconds(10)) == 5);
  CHECK(SamplesToCover(Duration(0), seconds(10)) == 2);
  CHECK(SamplesToCover(seconds(1), Duration(0)) == 1002);
}
