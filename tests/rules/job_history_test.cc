#include "rules/job_history.h"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "rules/expr.h"
#include "rules/signal_history.h"

using flinkguard::Evaluation;
using flinkguard::Expr;
using flinkguard::FormatValue;
using flinkguard::JobHistory;
using flinkguard::SignalHistory;
using flinkguard::Truth;

namespace {

constexpr std::int64_t kSec = 1000;
constexpr std::int64_t kT0 = 1'700'000'000'000;

// The samples of a slot as (time, value) pairs, oldest first; NaN values as -1.
std::vector<std::pair<std::int64_t, double>> Samples(const JobHistory& h, std::size_t slot) {
  std::vector<std::pair<std::int64_t, double>> out;
  const JobHistory::Series s = h.series(slot);
  for (std::size_t i = 0; i < s.size(); ++i) {
    out.emplace_back(s.time(i), std::isnan(s.value(i)) ? -1 : s.value(i));
  }
  return out;
}

std::vector<double> Values(const JobHistory& h, std::size_t slot, std::size_t from) {
  std::vector<double> out;
  h.series(slot).ForEachValue(from, [&](double v) { out.push_back(v); });
  return out;
}

// A value to the bit ("%a"), so that equal descriptions mean identical doubles.
std::string Raw(const std::optional<flinkguard::ExprValue>& v) {
  if (!v) return "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%a", v->number);
  return buf;
}

std::string Describe(const Evaluation& e) {
  return std::string(flinkguard::TruthName(e.truth)) + " " + Raw(e.value) + " " + Raw(e.subject) +
         " " + e.reason;
}

}  // namespace

TEST_CASE("a job history keeps each slot's newest samples on one shared time axis") {
  // Slot 0 keeps 2 samples, slot 1 is not tracked, slot 2 keeps 4.
  JobHistory h({2, 0, 4});
  CHECK(h.tracked(0));
  CHECK_FALSE(h.tracked(1));
  CHECK_FALSE(h.tracked(7));
  CHECK(h.capacity(2) == 4);
  CHECK(h.SampleCount() == 0);
  CHECK(h.series(2).empty());
  for (std::int64_t i = 1; i <= 7; ++i) {
    h.BeginInstant(i * kSec);
    h.Set(0, static_cast<double>(i), "");
    h.Set(1, 99.0, "");  // not tracked: ignored
    h.Set(2, static_cast<double>(10 * i), "");
  }
  // Both rings wrapped (7 instants into rings of 2 and 4): oldest first, across the wrap.
  CHECK(Samples(h, 0) == std::vector<std::pair<std::int64_t, double>>{{6000, 6}, {7000, 7}});
  CHECK(Samples(h, 2) == std::vector<std::pair<std::int64_t, double>>{
                             {4000, 40}, {5000, 50}, {6000, 60}, {7000, 70}});
  CHECK(Values(h, 2, 1) == std::vector<double>{50, 60, 70});
  CHECK(Values(h, 2, 4).empty());
  CHECK(h.series(2).newest_time() == 7000);
  CHECK(h.series(2).newest_value() == 70);
  CHECK(h.SampleCount() == 6);
  CHECK(h.KnownAt(2, 7000) == 70.0);
  CHECK_FALSE(h.KnownAt(2, 6000));  // not the newest instant
  CHECK_FALSE(h.KnownAt(1, 7000));  // not tracked
  CHECK_FALSE(h.KnownAt(7, 7000));
}

TEST_CASE("a slot of one sample keeps it without a ring, and reads like any other") {
  JobHistory h({1, 3});
  // Rings: times (3) and slot 1's values (3); slot 0 has none.
  CHECK(h.RingBytes() == 6 * sizeof(double));
  CHECK(h.series(0).empty());
  CHECK_FALSE(h.KnownAt(0, 1000));
  for (std::int64_t i = 1; i <= 5; ++i) {
    h.BeginInstant(i * kSec);
    CHECK(std::isnan(h.series(0).newest_value()));  // unknown until set
    h.Set(0, static_cast<double>(i), "");
    h.Set(1, static_cast<double>(10 * i), "");
    CHECK(Samples(h, 0) == std::vector<std::pair<std::int64_t, double>>{{i * kSec, i}});
    CHECK(h.KnownAt(0, i * kSec) == static_cast<double>(i));
  }
  CHECK(Samples(h, 1) == std::vector<std::pair<std::int64_t, double>>{
                             {3000, 30}, {4000, 40}, {5000, 50}});
  h.Set(0, std::nullopt, "stale");
  CHECK(Samples(h, 0) == std::vector<std::pair<std::int64_t, double>>{{5000, -1}});
  CHECK_FALSE(h.KnownAt(0, 5000));
  CHECK(h.why_unknown(0) == "stale");
  h.BeginInstant(2 * kSec);  // the clock went back
  h.Set(0, 9.0, "");
  CHECK(Samples(h, 0) == std::vector<std::pair<std::int64_t, double>>{{2000, 9}});
  CHECK(Samples(h, 1) == std::vector<std::pair<std::int64_t, double>>{{2000, -1}});
  CHECK(h.SampleCount() == 2);
}

TEST_CASE("a job history replaces an instant seen again and restarts when the clock goes back") {
  JobHistory h({3});
  for (std::int64_t t : {10, 20, 30, 40}) {
    h.BeginInstant(t * kSec);
    h.Set(0, static_cast<double>(t), "");
  }
  h.BeginInstant(40 * kSec);  // the same instant: replaces, unknown until set
  CHECK(Samples(h, 0).back() == std::pair<std::int64_t, double>{40 * kSec, -1});
  CHECK(h.why_unknown(0) == "unknown");
  h.Set(0, 41.0, "");
  CHECK(Samples(h, 0) == std::vector<std::pair<std::int64_t, double>>{
                             {20 * kSec, 20}, {30 * kSec, 30}, {40 * kSec, 41}});
  h.BeginInstant(25 * kSec);  // back in time: only this instant is left
  h.Set(0, 5.0, "");
  CHECK(Samples(h, 0) == std::vector<std::pair<std::int64_t, double>>{{25 * kSec, 5}});
  // The rings keep going from where they were: the next samples wrap as usual.
  for (std::int64_t t : {26, 27, 28}) {
    h.BeginInstant(t * kSec);
    h.Set(0, static_cast<double>(t), "");
  }
  CHECK(Samples(h, 0) == std::vector<std::pair<std::int64_t, double>>{
                             {26 * kSec, 26}, {27 * kSec, 27}, {28 * kSec, 28}});
}

TEST_CASE("a job history records unknown values with why, as SignalHistory does") {
  JobHistory h({2});
  h.BeginInstant(kT0);
  h.Set(0, std::nullopt, "stale: cluster down");
  CHECK(std::isnan(h.series(0).newest_value()));
  CHECK(h.why_unknown(0) == "stale: cluster down");
  h.BeginInstant(kT0 + kSec);
  h.Set(0, std::nan(""), "");
  CHECK(h.why_unknown(0) == "unknown");
  h.BeginInstant(kT0 + 2 * kSec);
  h.Set(0, 3.0, "ignored when known");
  CHECK(h.why_unknown(0).empty());
  JobHistory none;
  none.BeginInstant(kT0);
  CHECK(none.SampleCount() == 0);
}

TEST_CASE("window boundaries: a sample exactly at now - w is the baseline and inside the window") {
  JobHistory h({8});
  // restarts at t0 .. t0+60s: 1, 2, 4, 1 (a reset), 3, 3, 5.
  const std::vector<double> restarts{1, 2, 4, 1, 3, 3, 5};
  for (std::size_t i = 0; i < restarts.size(); ++i) {
    h.BeginInstant(kT0 + static_cast<std::int64_t>(i) * 10 * kSec);
    h.Set(0, restarts[i], "");
  }
  const std::int64_t now = kT0 + 60 * kSec;
  const std::vector<std::size_t> slots{0};
  const auto eval = [&](const std::string& text) {
    auto e = Expr::Compile(text, {});
    REQUIRE(e);
    return e->Evaluate(h, slots, now);
  };
  // 30s back is exactly the sample at t0+30s (value 1): rises 1->3 (+2), 3->3, 3->5 (+2).
  CHECK(FormatValue(*eval("increase(restarts, 30s)").value) == "4");
  // 40s back is the 4 at t0+20s; the fall to 1 is a reset and counts 1: 1 + 2 + 0 + 2.
  CHECK(FormatValue(*eval("increase(restarts, 40s)").value) == "5");
  CHECK(FormatValue(*eval("changes(restarts, 40s)").value) == "3");
  // avg over [now-30s, now] includes the sample at now-30s: (1 + 3 + 3 + 5) / 4.
  CHECK(FormatValue(*eval("avg_over_time(restarts, 30s)").value) == "3");
  CHECK(FormatValue(*eval("min_over_time(restarts, 30s)").value) == "1");
  CHECK(FormatValue(*eval("max_over_time(restarts, 60s)").value) == "5");
  // 61s back is before the oldest sample: not covered.
  CHECK(eval("increase(restarts, 61s)").reason ==
        "increase(restarts, 61s) unknown: the history of restarts covers 1m of 1m1s");
  // A signal whose slot is not tracked, or that has no slot, is not recorded.
  auto lag = Expr::Compile("lag", {});
  REQUIRE(lag);
  CHECK(lag->Evaluate(h, std::vector<std::size_t>{3}, now).reason == "lag unknown: not recorded");
  CHECK(lag->Evaluate(h, {}, now).reason == "lag unknown: not recorded");
}

TEST_CASE("property: a job history reads exactly like a SignalHistory recorded at the same times") {
  std::mt19937_64 rng(20241121);
  const std::vector<std::string> names{"backpressure", "qps", "restarts", "status"};
  const std::vector<std::string> exprs{
      "increase(restarts, 30s) > 2",
      "rate(restarts, 1m) > 0.01",
      "changes(status, 40s) > 1",
      "avg_over_time(qps, 30s) > 2",
      "min_over_time(qps, 1m) < 1",
      "max_over_time(backpressure, 20s) >= 0.5",
      "absent(qps) or restarts > 3",
      "qps > 0.5 * avg_over_time(qps, 50s)",
      "increase(restarts, 10s) >= 0",
      "not (backpressure > 0.2 and status != RUNNING)",
      "changes(backpressure, 2m) == 0",
      "max_over_time(restarts, 10s) > min_over_time(qps, 10s)",
      "increase(qps, 40s) > 1",
      "min_over_time(restarts, 50s) <= max_over_time(qps, 40s)",
      "rate(backpressure, 30s) >= 0",
      "avg_over_time(restarts, 40s) > 1",
      // Shared with others above: the memo must tell functions and windows apart.
      "qps > avg_over_time(qps, 30s) and max_over_time(qps, 1m) > 1",
      "increase(restarts, 30s) > changes(restarts, 30s) or rate(restarts, 1m) > 0",
  };
  std::vector<Expr> compiled;
  for (const std::string& text : exprs) {
    auto e = Expr::CompileCondition(text, {});
    REQUIRE(e);
    compiled.push_back(*e);
  }
  for (int round = 0; round < 50; ++round) {
    std::vector<std::size_t> capacities;
    SignalHistory reference;
    for (const std::string& name : names) {
      capacities.push_back(std::uniform_int_distribution<std::size_t>(1, 9)(rng));
      reference.Track(name, capacities.back());
    }
    JobHistory h(capacities);
    std::int64_t t = kT0;
    for (int step = 0; step < 80; ++step) {
      const int move = std::uniform_int_distribution<int>(0, 19)(rng);
      t += move == 0 ? -25 * kSec : move == 1 ? 0 : move < 6 ? 5 * kSec : 10 * kSec;
      h.BeginInstant(t);
      for (std::size_t slot = 0; slot < names.size(); ++slot) {
        const int kind = std::uniform_int_distribution<int>(0, 9)(rng);
        std::optional<double> v =
            static_cast<double>(std::uniform_int_distribution<int>(0, 6)(rng));
        std::string why;
        if (kind == 0) {
          v.reset();
          why = "stale: cluster down";
        }
        if (kind == 1) v = std::nan("");
        h.Set(slot, v, why);
        reference.Record(names[slot], t, v, why);
      }
      for (std::size_t slot = 0; slot < names.size(); ++slot) {
        const auto& ring = reference.Find(names[slot])->samples;
        const JobHistory::Series s = h.series(slot);
        REQUIRE(s.size() == ring.size());
        for (std::size_t i = 0; i < ring.size(); ++i) {
          CHECK(s.time(i) == ring.at(i).t_ms);
          CHECK(std::isnan(s.value(i)) == !ring.at(i).known());
          if (ring.at(i).known()) CHECK(s.value(i) == ring.at(i).value);
          // Unchanged(i): every known sample after i equals the known one before it, finitely.
          if (s.Unchanged(i)) {
            std::optional<double> prev;
            for (std::size_t j = 0; j <= i; ++j) {
              if (ring.at(j).known()) prev = ring.at(j).value;
            }
            for (std::size_t j = i + 1; j < ring.size() && prev; ++j) {
              if (!ring.at(j).known()) continue;
              CHECK(ring.at(j).value == *prev);
              CHECK(std::isfinite(ring.at(j).value));
            }
          }
        }
        CHECK(h.why_unknown(slot) == reference.Find(names[slot])->why_unknown);
        // KnownAt is the newest sample when it is at that time and known, without a view.
        for (const std::int64_t at : {t, t - 5 * kSec}) {
          const std::optional<double> known = h.KnownAt(slot, at);
          const bool want = !ring.empty() && ring.newest().t_ms == at && ring.newest().known();
          REQUIRE(known.has_value() == want);
          if (want) CHECK(*known == ring.newest().value);
        }
      }
      CHECK(h.SampleCount() == reference.SampleCount());
      flinkguard::WindowMemo memo;  // shared by every expression at this instant
      for (const Expr& e : compiled) {
        // The expression's signals are a subset of `names`, which is sorted as slots are.
        std::vector<std::size_t> slots;
        for (const auto& use : e.signals()) {
          slots.push_back(static_cast<std::size_t>(std::find(names.begin(), names.end(), use.name) -
                                                   names.begin()));
        }
        const Evaluation want = e.Evaluate(reference, t);
        REQUIRE(Describe(e.Evaluate(h, slots, t)) == Describe(want));
        Evaluation fast = e.EvaluateWithoutReason(h, slots, t);
        CHECK(fast.reason.empty());
        fast.reason = want.reason;
        CHECK(Describe(fast) == Describe(want));
        Evaluation memoized = e.EvaluateWithoutReason(h, slots, t, &memo);
        memoized.reason = want.reason;
        CHECK(Describe(memoized) == Describe(want));
      }
    }
  }
}
