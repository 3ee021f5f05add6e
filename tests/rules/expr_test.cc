#include "rules/expr.h"

#include <doctest/doctest.h>

#include <cmath>
#include <initializer_list>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "rules/job_status.h"

using flinkguard::Evaluation;
using flinkguard::Expr;
using flinkguard::ExprError;
using flinkguard::ExprType;
using flinkguard::ExprValue;
using flinkguard::FormatValue;
using flinkguard::JobStatus;
using flinkguard::SignalHistory;
using flinkguard::Truth;

namespace {

constexpr std::int64_t kMin = 60'000;
constexpr std::int64_t kT0 = 1'700'000'000'000;  // an epoch time in ms
const double kUnknown = std::numeric_limits<double>::quiet_NaN();

Expr MustCompile(const std::string& text, const std::set<std::string>& custom = {}) {
  auto e = Expr::CompileCondition(text, custom);
  if (!e) FAIL("compile " << text << ": " << e.error().ToString());
  return *e;
}

ExprError MustFail(const std::string& text, const std::set<std::string>& custom = {}) {
  auto e = Expr::CompileCondition(text, custom);
  if (e) FAIL("expected an error for: " << text);
  return e.error();
}

double Status(JobStatus s) { return static_cast<double>(static_cast<int>(s)); }

// A history of signals sampled once a minute, ending at `now` = kT0 + (n-1) minutes: each
// signal's values oldest first (NaN = unknown).
struct Scenario {
  SignalHistory history;
  std::int64_t now = kT0;

  // Records `values` for `signal` one minute apart, the last one at `now`.
  Scenario& Series(const std::string& signal, std::initializer_list<double> values) {
    history.Track(signal, values.size() + 2);
    std::int64_t t = now - static_cast<std::int64_t>(values.size() - 1) * kMin;
    for (double v : values) {
      history.Record(signal, t, std::isnan(v) ? std::nullopt : std::optional<double>(v),
                     "stale: cluster yarn-a unreachable");
      t += kMin;
    }
    return *this;
  }
  Scenario& Now(const std::string& signal, double v) { return Series(signal, {v}); }

  Evaluation Eval(const std::string& text, const std::set<std::string>& custom = {}) const {
    return MustCompile(text, custom).Evaluate(history, now);
  }
};

}  // namespace

TEST_CASE("checkpoint_age > 3 * checkpoint_interval: true and false with the values used") {
  Scenario s;
  s.Now("checkpoint_age", 35 * kMin).Now("checkpoint_interval", 10 * kMin);
  Evaluation e = s.Eval("checkpoint_age > 3 * checkpoint_interval");
  CHECK(e.truth == Truth::kTrue);
  CHECK(e.reason == "checkpoint_age = 35m > 3 * checkpoint_interval = 30m");
  REQUIRE(e.subject.has_value());
  CHECK(FormatValue(*e.subject) == "35m");

  Scenario ok;
  ok.Now("checkpoint_age", 4 * kMin).Now("checkpoint_interval", 10 * kMin);
  e = ok.Eval("checkpoint_age > 3 * checkpoint_interval");
  CHECK(e.truth == Truth::kFalse);
  CHECK(e.reason == "checkpoint_age = 4m > 3 * checkpoint_interval = 30m");
}

TEST_CASE("increase(restarts, 10m) > 5 over eleven minutes of restarts") {
  Scenario s;
  // t-10m .. t: 2 restarts before the window's start, 7 more inside it.
  s.Series("restarts", {2, 2, 3, 3, 4, 5, 6, 6, 7, 8, 9});
  const Evaluation e = s.Eval("increase(restarts, 10m) > 5");
  CHECK(e.truth == Truth::kTrue);
  CHECK(e.reason == "increase(restarts, 10m) = 7 > 5");
  CHECK(FormatValue(*e.subject) == "7");

  Scenario calm;
  calm.Series("restarts", {2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3});
  CHECK(calm.Eval("increase(restarts, 10m) > 5").truth == Truth::kFalse);
  CHECK(calm.Eval("increase(restarts, 10m) > 5").reason == "increase(restarts, 10m) = 1 > 5");
}

TEST_CASE("a counter that goes down is a reset: increase counts the post-reset value") {
  Scenario s;
  // 40 -> 44 (+4), reset to 1 (+1, a new instance), 1 -> 3 (+2): 7, never negative.
  s.Series("restarts", {40, 42, 44, 1, 3});
  CHECK(FormatValue(*s.Eval("increase(restarts, 4m) >= 0").subject) == "7");
  // The same counter, read by rate, is 7 per 4 minutes.
  const Evaluation r = s.Eval("rate(restarts, 4m) > 0.02");
  CHECK(r.truth == Truth::kTrue);
  CHECK(std::fabs(r.subject->number - 7.0 / 240.0) < 1e-12);
  // A reset to 0 adds nothing; the rise after it counts.
  Scenario zero;
  zero.Series("checkpoints_failed", {5, 0, 0, 2});
  CHECK(FormatValue(*zero.Eval("increase(checkpoints_failed, 3m) > 1").subject) == "2");
}

TEST_CASE("rate is per second over the window") {
  Scenario s;
  s.Series("checkpoints_completed", {0, 30, 60, 90, 120, 150});  // 30 a minute
  const Evaluation e = s.Eval("rate(checkpoints_completed, 5m) < 1");
  CHECK(e.truth == Truth::kTrue);
  CHECK(e.reason == "rate(checkpoints_completed, 5m) = 0.5 < 1");
}

TEST_CASE("changes counts value changes of any signal, job statuses included") {
  Scenario s;
  s.Series("status", {Status(JobStatus::kRunning), Status(JobStatus::kRestarting),
                      Status(JobStatus::kRunning), Status(JobStatus::kRunning),
                      Status(JobStatus::kRestarting), Status(JobStatus::kRunning)});
  CHECK(s.Eval("changes(status, 5m) >= 4").reason == "changes(status, 5m) = 4 >= 4");
  CHECK(s.Eval("changes(status, 2m) == 2").truth == Truth::kTrue);
  s.Series("all_tasks_running", {1, 1, 1});
  CHECK(s.Eval("changes(all_tasks_running, 2m) == 0").truth == Truth::kTrue);
}

TEST_CASE("avg, min and max over time read the samples inside the window") {
  Scenario s;
  s.Series("qps", {100, 100, 100, 100, 100, 10});
  // avg over [t-5m, t] = (5*100 + 10)/6 = 85; 10 < 0.2 * 85 = 17.
  Evaluation e = s.Eval("qps < 0.2 * avg_over_time(qps, 5m)");
  CHECK(e.truth == Truth::kTrue);
  CHECK(e.reason == "qps = 10 < 0.2 * avg_over_time(qps, 5m) = 17");
  CHECK(s.Eval("min_over_time(qps, 5m) == 10").truth == Truth::kTrue);
  CHECK(s.Eval("max_over_time(qps, 5m) == 100").truth == Truth::kTrue);
  // Durations stay durations.
  s.Series("checkpoint_duration", {1000, 3000, 2000});
  e = s.Eval("max_over_time(checkpoint_duration, 2m) > 2s");
  CHECK(e.reason == "max_over_time(checkpoint_duration, 2m) = 3s > 2s");
  CHECK(e.truth == Truth::kTrue);
}

TEST_CASE("qps < 0.2 * avg_over_time(qps, 1h): an hour of history, then a drop") {
  Scenario s;
  s.history.Track("qps", 62);
  for (int i = 0; i <= 60; ++i) {
    s.history.Record("qps", kT0 + i * kMin, i == 60 ? 15.0 : 100.0, "");
  }
  s.now = kT0 + 60 * kMin;
  const Evaluation e = s.Eval("qps < 0.2 * avg_over_time(qps, 1h)");
  CHECK(e.truth == Truth::kTrue);
  // Average of 60 × 100 and 15: 98.6 (rounded in the reason as the shortest exact decimal).
  CHECK(e.reason.rfind("qps = 15 < 0.2 * avg_over_time(qps, 1h) = ", 0) == 0);
}

TEST_CASE("a window the history does not cover yet is unknown, never false") {
  Scenario s;
  s.Series("restarts", {0, 3, 9});  // two minutes of history
  const Evaluation e = s.Eval("increase(restarts, 10m) > 5");
  CHECK(e.truth == Truth::kUnknown);
  CHECK_FALSE(e.value.has_value());
  CHECK(e.reason == "increase(restarts, 10m) unknown: the history of restarts covers 2m of 10m");
  // As soon as a known sample sits at the window's start, it is known.
  CHECK(s.Eval("increase(restarts, 2m) > 5").truth == Truth::kTrue);
}

TEST_CASE("unknown samples inside a window are skipped; the baseline must be known") {
  Scenario s;
  s.Series("restarts", {1, kUnknown, kUnknown, 4, 6});
  CHECK(FormatValue(*s.Eval("increase(restarts, 4m) > 0").subject) == "5");
  // An unknown sample at the window's start: the newest known one before it is the baseline.
  Scenario gap;
  gap.Series("restarts", {1, kUnknown, 4, 6});
  CHECK(gap.Eval("increase(restarts, 2m) > 0").truth == Truth::kTrue);
  CHECK(FormatValue(*gap.Eval("increase(restarts, 2m) > 0").subject) == "5");
  // Unknown now: every windowed function is unknown, and says why.
  Scenario stale;
  stale.Series("restarts", {1, 2, kUnknown});
  const Evaluation e = stale.Eval("increase(restarts, 1m) > 0");
  CHECK(e.truth == Truth::kUnknown);
  CHECK(e.reason ==
        "increase(restarts, 1m) unknown: restarts unknown: stale: cluster yarn-a unreachable");
}

TEST_CASE("absent is true exactly when the signal has no known value now") {
  Scenario s;
  s.Series("lag", {5, kUnknown});
  Evaluation e = s.Eval("absent(lag)");
  CHECK(e.truth == Truth::kTrue);
  CHECK(e.reason == "absent(lag) = true (lag unknown: stale: cluster yarn-a unreachable)");
  s.Now("qps", 3);
  e = s.Eval("absent(qps)");
  CHECK(e.truth == Truth::kFalse);
  CHECK(e.reason == "absent(qps) = false (qps = 3)");
  // A signal with no sample at this time at all.
  Scenario empty;
  empty.history.Track("backpressure", 1);
  CHECK(empty.Eval("absent(backpressure)").truth == Truth::kTrue);
}

TEST_CASE("status in [FAILED, CANCELED] and not in") {
  Scenario s;
  s.Now("status", Status(JobStatus::kFailed));
  Evaluation e = s.Eval("status in [FAILED, CANCELED]");
  CHECK(e.truth == Truth::kTrue);
  CHECK(e.reason == "status = FAILED in [FAILED, CANCELED]");
  CHECK(s.Eval("status not in [FAILED, CANCELED]").truth == Truth::kFalse);
  CHECK(s.Eval("status == FAILED").reason == "status = FAILED == FAILED");
  CHECK(s.Eval("status != RUNNING").truth == Truth::kTrue);
  s.Now("restarts", 3);
  CHECK(s.Eval("restarts in [1, 2, 3]").truth == Truth::kTrue);
  CHECK(s.Eval("restarts in [-1, 0]").truth == Truth::kFalse);
}

TEST_CASE("unknown inputs make comparisons unknown; and/or follow Kleene logic") {
  Scenario s;
  s.Series("status", {Status(JobStatus::kRunning), kUnknown});
  s.Now("restarts", 10);
  const Evaluation e = s.Eval("status == FAILED");
  CHECK(e.truth == Truth::kUnknown);
  CHECK(e.reason == "status unknown: stale: cluster yarn-a unreachable");
  // unknown or true = true; unknown and false = false; unknown and true = unknown.
  CHECK(s.Eval("status == FAILED or restarts > 5").truth == Truth::kTrue);
  CHECK(s.Eval("status == FAILED or restarts > 5").reason == "restarts = 10 > 5");
  CHECK(s.Eval("status == FAILED and restarts > 50").truth == Truth::kFalse);
  CHECK(s.Eval("status == FAILED and restarts > 5").truth == Truth::kUnknown);
  CHECK(s.Eval("not (status == FAILED)").truth == Truth::kUnknown);
  CHECK(s.Eval("status == FAILED or restarts > 50").truth == Truth::kUnknown);
  // Arithmetic with an unknown operand is unknown, and so is a division by zero.
  CHECK(s.Eval("restarts / qps > 1").truth == Truth::kUnknown);
  s.Now("qps", 0);
  const Evaluation div = s.Eval("restarts / qps > 1");
  CHECK(div.truth == Truth::kUnknown);
  CHECK(div.reason == "restarts / qps unknown: division by zero (qps = 0)");
}

TEST_CASE("logical reasons keep the structure and show the deciding values") {
  Scenario s;
  s.Now("status", Status(JobStatus::kRunning));
  s.Now("all_tasks_running", 0).Now("uptime", 10 * kMin);
  Evaluation e = s.Eval("status == RUNNING and not all_tasks_running and uptime > 5m");
  CHECK(e.truth == Truth::kTrue);
  CHECK(e.reason ==
        "status = RUNNING == RUNNING and not (all_tasks_running = false) and uptime = 10m > 5m");
  e = s.Eval("(status == FAILED or uptime < 1m) and all_tasks_running == false");
  CHECK(e.truth == Truth::kFalse);
  CHECK(e.reason == "(status = RUNNING == FAILED or uptime = 10m < 1m)");
  CHECK(s.Eval("true").truth == Truth::kTrue);
  CHECK(s.Eval("-uptime < -5m").truth == Truth::kTrue);
  CHECK(s.Eval("uptime / 2m == 5").truth == Truth::kTrue);
  CHECK(s.Eval("uptime - 30s == 9m30s").truth == Truth::kTrue);
  CHECK(s.Eval("(uptime + 1h30m) / 2 == 50m").truth == Truth::kTrue);
}

TEST_CASE("duration literals in every unit") {
  Scenario s;
  s.Now("checkpoint_timeout", 90 * kMin);
  CHECK(s.Eval("checkpoint_timeout == 1h30m").truth == Truth::kTrue);
  CHECK(s.Eval("checkpoint_timeout == 5400s").truth == Truth::kTrue);
  CHECK(s.Eval("checkpoint_timeout > 500ms").truth == Truth::kTrue);
  CHECK(s.Eval("checkpoint_timeout < 1d").truth == Truth::kTrue);
  CHECK(s.Eval("checkpoint_timeout in [10m, 90m]").truth == Truth::kTrue);
}

TEST_CASE("custom TSDB signals are numbers; a custom name of a built-in is the built-in") {
  Scenario s;
  s.Now("kafka_lag_seconds", 120);
  CHECK(s.Eval("kafka_lag_seconds > 60", {"kafka_lag_seconds"}).truth == Truth::kTrue);
  CHECK(s.Eval("avg_over_time(kafka_lag_seconds, 1m) > 0", {"kafka_lag_seconds"}).truth ==
        Truth::kUnknown);
  auto e = Expr::CompileCondition("qps > 1", {"qps"});
  REQUIRE(e.has_value());
  REQUIRE(e->signals().size() == 1);
  CHECK(e->signals()[0].type == ExprType::kNumber);
  CHECK(MustFail("kafka_lag_seconds > 60").message.find("unknown signal 'kafka_lag_seconds'") == 0);
}

TEST_CASE("the signals an expression reads, with their longest windows") {
  const Expr e = MustCompile(
      "increase(restarts, 10m) > 5 or restarts > 100 or qps < 0.2 * avg_over_time(qps, 1h) or "
      "increase(restarts, 30m) > 20");
  REQUIRE(e.signals().size() == 2);
  CHECK(e.signals()[0].name == "restarts");
  CHECK(e.signals()[0].window == std::chrono::minutes(30));
  CHECK(e.signals()[1].name == "qps");
  CHECK(e.signals()[1].window == std::chrono::hours(1));
  CHECK(e.longest_window() == std::chrono::hours(1));
  CHECK(e.subject_text() == "increase(restarts, 10m)");
  CHECK(MustCompile("status == FAILED").longest_window().count() == 0);
  CHECK(MustCompile("not all_tasks_running").subject_text() == "all_tasks_running");
  CHECK(MustCompile("(qps) > 1").subject_text() == "(qps)");
}

TEST_CASE("type errors say what was found, with a column and a fix") {
  ExprError e = MustFail("checkpoint_age > 600000");
  CHECK(e.column() == 18);
  CHECK(e.message == "checkpoint_age > 600000: cannot compare a duration with a number; write 10m");
  CHECK(e.ToString() == "column 18: " + e.message);

  e = MustFail("uptime + 5 > 1m");
  CHECK(e.column() == 10);
  CHECK(e.message == "uptime + 5: cannot add a number to a duration; write 5ms");

  e = MustFail("checkpoint_age * checkpoint_interval > 1h");
  CHECK(e.column() == 16);
  CHECK(e.message.find("cannot multiply two durations") != std::string::npos);

  e = MustFail("10 / uptime > 1");
  CHECK(e.column() == 4);
  CHECK(e.message.find("cannot divide a number by a duration") != std::string::npos);

  e = MustFail("status > RUNNING");
  CHECK(e.column() == 8);
  CHECK(e.message == "status > RUNNING: a job status can only be compared with ==, != or in");

  e = MustFail("status == 3");
  CHECK(e.column() == 8);
  CHECK(e.message == "status == 3: cannot compare a job status with a number");

  e = MustFail("qps and status == FAILED");
  CHECK(e.column() == 1);
  CHECK(e.message.find("'and' needs true/false on both sides; 'qps' is a number") !=
        std::string::npos);

  e = MustFail("status + 1 > 2");
  CHECK(e.column() == 1);
  CHECK(e.message.find("arithmetic needs numbers or durations; 'status' is a job status") !=
        std::string::npos);

  e = MustFail("all_tasks_running < true");
  CHECK(e.message.find("true/false can only be compared with == or !=") != std::string::npos);

  e = MustFail("not qps");
  CHECK(e.column() == 5);

  e = MustFail("qps * 2");
  CHECK(e.column() == 1);
  CHECK(e.message ==
        "a condition must be true or false; 'qps * 2' is a number; compare it, "
        "e.g. qps * 2 > 0");

  e = MustFail("status in [FAILED, 3]");
  CHECK(e.column() == 20);
  CHECK(e.message.find("the items of the list must be a job status like 'status'; found a "
                       "number '3'") == 0);

  e = MustFail("checkpoint_age in [600000]");
  CHECK(e.message.find("write 10m") != std::string::npos);

  e = MustFail("all_tasks_running in [true]");
  CHECK(e.column() == 19);
}

TEST_CASE("function errors: arity, argument kinds and types, windows") {
  ExprError e = MustFail("increase(restarts) > 5");
  CHECK(e.column() == 1);
  CHECK(e.message ==
        "increase takes 2 arguments (a signal and a window), as in "
        "increase(restarts, 10m); found 1");

  e = MustFail("absent(lag, 5m)");
  CHECK(e.message == "absent takes 1 argument (a signal), as in absent(lag); found 2");

  e = MustFail("increase(restarts + 1, 10m) > 5");
  CHECK(e.column() == 10);
  CHECK(e.message.find("must be a signal name") != std::string::npos);

  e = MustFail("increase(restarts, 600) > 5");
  CHECK(e.column() == 20);
  CHECK(e.message == "the window of increase must be a duration such as 10m; found a number '600'");

  e = MustFail("increase(restarts, uptime) > 5");
  CHECK(e.message == "the window of increase must be a duration such as 10m; found 'uptime'");

  e = MustFail("increase(restarts, 0s) > 5");
  CHECK(e.message.find("longer than 0s") != std::string::npos);

  e = MustFail("avg_over_time(qps, 2d) > 5");
  CHECK(e.column() == 20);
  CHECK(e.message.find("may be at most 1d") != std::string::npos);

  e = MustFail("increase(uptime, 10m) > 5");
  CHECK(e.column() == 10);
  CHECK(e.message ==
        "increase needs a number signal (a counter such as restarts); 'uptime' is "
        "a duration");

  e = MustFail("avg_over_time(status, 10m) > 5");
  CHECK(e.message.find("'status' is a job status") != std::string::npos);

  e = MustFail("increse(restarts, 10m) > 5");
  CHECK(e.column() == 1);
  CHECK(e.message == "unknown function 'increse'; did you mean 'increase'?");

  e = MustFail("foo(restarts) > 5");
  CHECK(e.message.find("unknown function 'foo'; functions are increase, rate") == 0);

  e = MustFail("qps(1) > 5");
  CHECK(e.message.find("'qps' is a signal, not a function") == 0);

  e = MustFail("increase > 5");
  CHECK(e.message == "'increase' is a function; call it, as in increase(restarts, 10m)");
}

TEST_CASE("syntax errors name the column and what was expected and found") {
  struct Case {
    const char* text;
    std::size_t column;
    const char* message_start;
  };
  const Case cases[] = {
      {"restart > 5", 1, "unknown signal 'restart'; did you mean 'restarts'?"},
      {"increase(chekpoints_failed, 10m) > 1", 10,
       "unknown signal 'chekpoints_failed'; did you mean 'checkpoints_failed'?"},
      {"status == FAIL", 11, "unknown job status 'FAIL'; did you mean 'FAILED'?"},
      {"status == failed", 11, "unknown job status 'failed'; did you mean 'FAILED'?"},
      {"status in [FAILED, CANCELLED]", 20, "unknown job status 'CANCELLED'; did you mean"},
      {"zzz > 1", 1, "unknown signal 'zzz'; signals are status, all_tasks_running"},
      {"", 1, "expected an expression; found nothing"},
      {"   ", 1, "expected an expression; found nothing"},
      {"(restarts > 5", 14, "expected ')' to close the '(' at column 1; found the end"},
      {"restarts > 5)", 13, "unmatched ')'"},
      {"restarts >", 11,
       "expected a signal, a number, a duration, a job status, a function or "
       "'('; found the end of the expression"},
      {"restarts = 5", 10, "'=' is not an operator; write '=='"},
      {"restarts > 5 && qps < 1", 14, "'&' is not an operator; write 'and'"},
      {"restarts > 5 || qps < 1", 14, "'|' is not an operator; write 'or'"},
      {"!all_tasks_running", 1, "'!' is not an operator; write 'not'"},
      {"status == \"FAILED\"", 11, "quotes are not part of the language"},
      {"1 < restarts < 5", 14, "comparisons do not chain"},
      {"restarts > 5 qps", 14, "expected an operator (and, or, ==, <, +, ...) or the end"},
      {"uptime > 1.5m", 10, "a duration is a whole number of each unit"},
      {"uptime > 5mins", 10, "expected a duration"},
      {"uptime > 5.", 11, "expected a digit after '.'"},
      {"status in FAILED", 11, "expected '[' to start the list after 'in'"},
      {"status in []", 12, "expected a list item; found ']'"},
      {"status in [FAILED CANCELED]", 19, "expected ',' or ']' in the list"},
      {"restarts > 5 and", 17, "expected a signal"},
      {"restarts > # 5", 12, "unexpected character '#'"},
      {"restarts > \xE2\x80\x93 5", 12, "unexpected byte 0xE2"},
      {"increase(restarts 10m) > 1", 19, "expected ',' or ')' in the arguments of increase"},
      {"and > 1", 1,
       "expected a signal, a number, a duration, a job status, a function or '('; "
       "found 'and'"},
  };
  for (const Case& c : cases) {
    const std::string text = c.text;
    CAPTURE(text);
    const ExprError e = MustFail(text);
    CAPTURE(e.message);
    CHECK(e.column() == c.column);
    CHECK(e.message.rfind(c.message_start, 0) == 0);
  }
}

TEST_CASE("hostile nesting is an error, not a crash") {
  const std::string deep = std::string(10'000, '(') + "qps > 1" + std::string(10'000, ')');
  const ExprError e = MustFail(deep);
  CHECK(e.message.find("nested too deeply") != std::string::npos);
  CHECK(MustFail(std::string(10'000, '-') + "qps > 1").message.find("nested too deeply") !=
        std::string::npos);
  CHECK(MustFail(std::string(5'000, 'n') + "ot").message.find("unknown signal") == 0);
  std::string nots;
  for (int i = 0; i < 1000; ++i) nots += "not ";
  CHECK(MustFail(nots + "true").message.find("nested too deeply") != std::string::npos);
  // Reasonable nesting is fine.
  const std::string ok = std::string(30, '(') + "qps > 1" + std::string(30, ')');
  CHECK(Expr::CompileCondition(ok, {}).has_value());
}

TEST_CASE("values format in their type's units") {
  CHECK(FormatValue(ExprValue{ExprType::kNumber, 7}) == "7");
  CHECK(FormatValue(ExprValue{ExprType::kNumber, 0.25}) == "0.25");
  CHECK(FormatValue(ExprValue{ExprType::kNumber, -3}) == "-3");
  CHECK(FormatValue(ExprValue{ExprType::kDuration, 5'400'000}) == "1h30m");
  CHECK(FormatValue(ExprValue{ExprType::kDuration, -30'000}) == "-30s");
  CHECK(FormatValue(ExprValue{ExprType::kDuration, 0.5}) == "0.5ms");
  CHECK(FormatValue(ExprValue{ExprType::kBool, 1}) == "true");
  CHECK(FormatValue(ExprValue{ExprType::kState, Status(JobStatus::kCanceled)}) == "CANCELED");
  CHECK(FormatValue(ExprValue{ExprType::kState, 99}) == "?");
}

TEST_CASE("non-condition expressions evaluate to typed values") {
  Scenario s;
  s.Now("checkpoint_interval", 10 * kMin);
  auto e = Expr::Compile("3 * checkpoint_interval", {});
  REQUIRE(e.has_value());
  CHECK(e->type() == ExprType::kDuration);
  const Evaluation v = e->Evaluate(s.history, s.now);
  CHECK(v.truth == Truth::kTrue);
  CHECK(v.reason == "3 * checkpoint_interval = 30m");
  CHECK(FormatValue(*v.value) == "30m");
  // Evaluated at another time, the signal is not observed "now": unknown.
  const Evaluation later = e->Evaluate(s.history, s.now + 10'000);
  CHECK(later.truth == Truth::kUnknown);
  CHECK(later.reason == "checkpoint_interval unknown: not observed at this time");
  // A signal the history does not track.
  CHECK(e->Evaluate(SignalHistory{}, s.now).reason == "checkpoint_interval unknown: not recorded");
}
