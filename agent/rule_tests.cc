#include "agent/rule_tests.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <optional>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "rules/duration.h"
#include "rules/job_status.h"
#include "rules/planner.h"
#include "rules/rule_engine.h"

namespace flinkguard {
namespace {

// The first evaluation's wall time: any fixed epoch works, the engine only reads differences.
constexpr std::int64_t kStartMs = 1'700'000'000'000;

// A problem in the test file, with where it is. Caught in RunRuleTestFile: it never escapes.
struct FileError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string Where(const std::string& file, const YAML::Node& n) {
  const YAML::Mark m = n.Mark();
  if (m.line < 0) return file;
  return file + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1);
}

[[noreturn]] void Fail(const std::string& file, const YAML::Node& n, const std::string& message) {
  throw FileError(Where(file, n) + ": " + message);
}

// Series that are not rule-language signals but feed the snapshot's restore points.
bool IsRestorePointSeries(const std::string& name) {
  return name == "last_checkpoint" || name == "last_savepoint" || name == "retained_on_cancel";
}

ExprType SeriesType(const std::string& name) {
  if (name == "retained_on_cancel") return ExprType::kBool;
  for (const SignalInfo& s : BuiltinSignals()) {
    if (s.name == name) return s.type;
  }
  return ExprType::kNumber;  // custom TSDB signals and restore point ids
}

std::optional<double> ParseScalar(ExprType type, const std::string& text) {
  switch (type) {
    case ExprType::kBool:
      if (text == "true") return 1;
      if (text == "false") return 0;
      return std::nullopt;
    case ExprType::kState: {
      auto s = ParseJobStatus(text);
      if (!s) return std::nullopt;
      return static_cast<double>(*s);
    }
    case ExprType::kDuration: {
      auto d = ParseDuration(text);
      if (!d) return std::nullopt;
      return static_cast<double>(std::chrono::duration_cast<std::chrono::milliseconds>(*d).count());
    }
    case ExprType::kNumber:
      try {
        std::size_t used = 0;
        const double v = std::stod(text, &used);
        if (used != text.size()) return std::nullopt;
        return v;
      } catch (const std::exception&) {
        return std::nullopt;
      }
  }
  return std::nullopt;
}

// Expands "RUNNING x5 FAILED x3", "0+1x6", "1 2 _ 4", "_x3" into one value per interval.
std::vector<std::optional<double>> ExpandSeries(const std::string& file, const YAML::Node& node,
                                                const std::string& name) {
  const ExprType type = SeriesType(name);
  const std::string text = node.as<std::string>();
  std::istringstream in(text);
  std::vector<std::optional<double>> out;
  static const std::regex kRepeatAlone(R"(x(\d+))");
  static const std::regex kStep(R"((.+?)([+-])([^+-]+)x(\d+))");
  static const std::regex kRepeat(R"((.+)x(\d+))");
  auto value = [&](const std::string& t) -> std::optional<double> {
    if (t == "_") return std::nullopt;
    auto v = ParseScalar(type, t);
    if (!v) {
      Fail(file, node,
           "series " + name + ": '" + t + "' is not " + ExprTypeName(type) +
               " (write `_` for an unknown value)");
    }
    return v;
  };
  std::string token;
  bool have_previous = false;
  std::smatch m;
  while (in >> token) {
    if (std::regex_match(token, m, kRepeatAlone)) {
      if (!have_previous) Fail(file, node, "series " + name + ": '" + token + "' repeats nothing");
      const int n = std::stoi(m[1]);
      if (n < 1) Fail(file, node, "series " + name + ": a repeat count must be at least 1");
      const std::optional<double> last = out.back();
      for (int i = 1; i < n; ++i) out.push_back(last);
      have_previous = false;
      continue;
    }
    if (std::regex_match(token, m, kStep) && m[1] != "_") {
      const std::optional<double> a = value(m[1]);
      const std::optional<double> b = ParseScalar(type, m[3]);
      if (!b) Fail(file, node, "series " + name + ": bad step in '" + token + "'");
      const double step = m[2] == "-" ? -*b : *b;
      const int n = std::stoi(m[4]);
      for (int i = 0; i < n; ++i) out.push_back(*a + step * i);
    } else if (std::regex_match(token, m, kRepeat)) {
      const std::optional<double> v = value(m[1]);
      const int n = std::stoi(m[2]);
      for (int i = 0; i < n; ++i) out.push_back(v);
    } else {
      out.push_back(value(token));
    }
    have_previous = true;
  }
  return out;
}

struct TestJob {
  std::string name;
  std::string cluster = "default";
  RecoveryPolicy policy;
  std::map<std::string, std::vector<std::optional<double>>> series;
};

struct Expectation {
  YAML::Node node;
  std::size_t step = 0;
  std::string at_text;
  std::string job;
  std::string rule;   // rule-state expectation when set
  std::string state;
  std::string plan;   // plan expectation when set: checkpoint, savepoint, fresh, refused, none
  std::optional<std::int64_t> restore_id;
  std::string refusal;  // refusal cause name, optional
};

struct TestCase {
  std::string name;
  std::vector<TestJob> jobs;
  std::vector<Expectation> expect;
  std::size_t steps = 0;
};

std::vector<TestCase> ReadTests(const std::string& file, const YAML::Node& root,
                                std::int64_t interval_ms, std::set<std::string>* custom) {
  std::vector<TestCase> out;
  const YAML::Node tests = root["tests"];
  if (!tests || !tests.IsSequence()) Fail(file, root, "expected a `tests` list");
  for (const YAML::Node& t : tests) {
    TestCase tc;
    tc.name = t["name"] ? t["name"].as<std::string>() : "test " + std::to_string(out.size() + 1);
    const YAML::Node jobs = t["jobs"];
    if (!jobs || !jobs.IsMap()) Fail(file, t, "test " + tc.name + ": expected a `jobs` mapping");
    for (const auto& kv : jobs) {
      TestJob job;
      job.name = kv.first.as<std::string>();
      const YAML::Node j = kv.second;
      if (j["cluster"]) job.cluster = j["cluster"].as<std::string>();
      if (j["allow_fresh_state"]) job.policy.allow_fresh_state = j["allow_fresh_state"].as<bool>();
      const YAML::Node series = j["series"];
      if (!series || !series.IsMap()) Fail(file, j, "job " + job.name + ": expected `series`");
      for (const auto& s : series) {
        const std::string name = s.first.as<std::string>();
        const bool builtin = std::any_of(BuiltinSignals().begin(), BuiltinSignals().end(),
                                         [&](const SignalInfo& i) { return i.name == name; });
        if (!builtin && !IsRestorePointSeries(name)) custom->insert(name);
        job.series[name] = ExpandSeries(file, s.second, name);
        tc.steps = std::max(tc.steps, job.series[name].size());
      }
      tc.jobs.push_back(std::move(job));
    }
    for (const YAML::Node& e : t["expect"]) {
      Expectation x;
      x.node = e;
      if (!e["at"] || !e["job"]) Fail(file, e, "an expectation needs `at` and `job`");
      x.at_text = e["at"].as<std::string>();
      auto at = ParseDuration(x.at_text);
      if (!at) Fail(file, e["at"], "`at`: not a duration: " + x.at_text);
      const std::int64_t at_ms = std::chrono::duration_cast<std::chrono::milliseconds>(*at).count();
      if (at_ms % interval_ms != 0) Fail(file, e["at"], "`at` is not a multiple of the interval");
      x.step = static_cast<std::size_t>(at_ms / interval_ms);
      x.job = e["job"].as<std::string>();
      if (e["rule"]) {
        x.rule = e["rule"].as<std::string>();
        if (!e["state"]) Fail(file, e, "an expectation with `rule` needs `state`");
        x.state = e["state"].as<std::string>();
      } else if (e["plan"]) {
        x.plan = e["plan"].as<std::string>();
        static const std::set<std::string> kPlans{"checkpoint", "savepoint", "fresh", "refused",
                                                  "none"};
        if (kPlans.count(x.plan) == 0) {
          Fail(file, e["plan"], "`plan`: expected checkpoint, savepoint, fresh, refused or none");
        }
        if (e["restore_id"]) x.restore_id = e["restore_id"].as<std::int64_t>();
        if (e["refusal"]) x.refusal = e["refusal"].as<std::string>();
      } else {
        Fail(file, e, "an expectation needs `rule` and `state`, or `plan`");
      }
      tc.steps = std::max(tc.steps, x.step + 1);
      tc.expect.push_back(std::move(x));
    }
    out.push_back(std::move(tc));
  }
  return out;
}

std::optional<double> At(const std::map<std::string, std::vector<std::optional<double>>>& series,
                         const std::string& name, std::size_t step, bool* present) {
  auto it = series.find(name);
  *present = it != series.end();
  if (!*present || step >= it->second.size()) return std::nullopt;
  return it->second[step];
}

// Builds every job's snapshot and every cluster's state at one step.
void BuildStep(const TestCase& tc, std::size_t step, std::int64_t now_ms,
               std::map<std::string, std::int64_t>& first_seen, std::vector<JobSnapshot>* jobs,
               std::vector<ClusterSnapshot>* clusters) {
  std::map<std::string, std::optional<bool>> cluster_up;
  for (const TestJob& j : tc.jobs) {
    JobSnapshot s;
    s.cluster = j.cluster;
    s.job_id = j.name + "-id";
    s.name = j.name;
    s.observed_at_ms = now_ms;
    s.start_time_ms = kStartMs;
    const std::string why = "not in the series";
    bool present = false;
    auto num = [&](const char* name, auto& field, auto convert) {
      const std::optional<double> v = At(j.series, name, step, &present);
      if (v) {
        field.SetFresh(convert(*v), now_ms);
      } else {
        field.SetUnknown(present ? "series value unknown" : why);
      }
    };
    auto i64 = [](double v) { return static_cast<std::int64_t>(v); };
    auto dbl = [](double v) { return v; };
    num("status", s.status, [](double v) { return static_cast<JobStatus>(static_cast<int>(v)); });
    if (s.status.known()) s.status_text = JobStatusName(*s.status.value);
    num("all_tasks_running", s.all_tasks_running, [](double v) { return v != 0; });
    num("restarts", s.restarts, i64);
    num("uptime", s.uptime_ms, i64);
    num("checkpoint_age", s.checkpoint_age_ms, i64);
    num("checkpoints_completed", s.checkpoints_completed, i64);
    num("checkpoints_failed", s.checkpoints_failed, i64);
    num("checkpoint_duration", s.checkpoint_duration_ms, i64);
    num("qps", s.qps, dbl);
    num("backpressure", s.backpressure, dbl);
    num("lag", s.lag, dbl);
    bool any_setting = false;
    bool all_settings = true;
    CheckpointSettings cs;
    for (const char* name : {"checkpoint_interval", "checkpoint_timeout",
                             "tolerable_failed_checkpoints", "retained_on_cancel"}) {
      const std::optional<double> v = At(j.series, name, step, &present);
      any_setting = any_setting || present;
      if (present && !v) all_settings = false;
      if (!v) continue;
      const std::string n = name;
      if (n == "checkpoint_interval") cs.interval_ms = i64(*v);
      if (n == "checkpoint_timeout") cs.timeout_ms = i64(*v);
      if (n == "tolerable_failed_checkpoints") cs.tolerable_failures = i64(*v);
      if (n == "retained_on_cancel") cs.retained_on_cancel = *v != 0;
    }
    if (any_setting && all_settings) {
      s.checkpoint_settings.SetFresh(cs, now_ms);
    } else {
      s.checkpoint_settings.SetUnknown(why);
    }
    for (const char* name : {"last_checkpoint", "last_savepoint"}) {
      const bool savepoint = std::string(name) == "last_savepoint";
      Observed<RestorePoint>& field = savepoint ? s.last_savepoint : s.last_checkpoint;
      const std::optional<double> v = At(j.series, name, step, &present);
      if (!v) {
        field.SetUnknown(present ? "series value unknown" : why);
        continue;
      }
      RestorePoint p;
      p.kind = savepoint ? RestorePoint::Kind::kSavepoint : RestorePoint::Kind::kCheckpoint;
      p.id = i64(*v);
      p.path = std::string(savepoint ? "file:/savepoints/" : "file:/checkpoints/") + j.name +
               (savepoint ? "/savepoint-" : "/chk-") + std::to_string(p.id);
      auto [it, inserted] = first_seen.emplace(p.path, now_ms);
      p.trigger_ms = it->second;
      p.completed_ms = it->second;
      field.SetFresh(p, now_ms);
    }
    for (const auto& [name, values] : j.series) {
      if (SeriesType(name) != ExprType::kNumber || IsRestorePointSeries(name)) continue;
      const bool builtin = std::any_of(BuiltinSignals().begin(), BuiltinSignals().end(),
                                       [&](const SignalInfo& i) { return i.name == name; });
      if (builtin) continue;
      num(name.c_str(), s.signals[name], dbl);
    }
    const std::optional<double> up = At(j.series, "cluster_up", step, &present);
    if (!present) {
      cluster_up.emplace(j.cluster, true);
    } else if (up) {
      cluster_up[j.cluster] = *up != 0;
    } else {
      cluster_up[j.cluster] = std::nullopt;
    }
    jobs->push_back(std::move(s));
  }
  for (const auto& [name, up] : cluster_up) {
    if (!up) continue;  // unknown: not listed, so cluster_up reads unknown
    ClusterSnapshot c;
    c.name = name;
    c.observed_at_ms = now_ms;
    c.reachable = *up;
    if (*up) {
      c.last_ok_ms = now_ms;
      c.flink_version.SetFresh("1.20.1", now_ms);
      c.job_list_complete = true;
      c.capacity.SetFresh(
          ClusterCapacity{.taskmanagers = 4, .slots_total = 32, .slots_available = 32}, now_ms);
    } else {
      c.error = "down in the test series";
      c.consecutive_failures = 1;
    }
    clusters->push_back(std::move(c));
  }
}

std::string PlanText(const PlanOutput& out, const std::string& job) {
  for (const RecoveryPlan& p : out.plans) {
    if (p.job != job) continue;
    std::string s = std::string("plan ") + StrategyName(p.strategy);
    if (p.restore_point) s += " from " + p.restore_point->path;
    return s + " (" + p.reason + ")";
  }
  for (const Refusal& r : out.refusals) {
    if (r.job == job) return std::string("refused, ") + RefusalCauseName(r.cause) + ": " + r.reason;
  }
  return "no plan and no refusal";
}

// Checks one expectation at its step; "" when met, otherwise what was found.
std::string Check(const Expectation& x, const RuleEngine& engine, const PlanOutput& plans) {
  if (!x.rule.empty()) {
    for (const RuleStatus& st : engine.Explain(x.job)) {
      if (st.rule != x.rule) continue;
      const std::string got = st.applies ? RuleStateName(st.state) : "not applying";
      if (got == x.state) return "";
      return "expected " + x.state + ", got " + got + " (" + st.reason + ")";
    }
    return "expected " + x.state + ", but the rule is not in the table";
  }
  const RecoveryPlan* plan = nullptr;
  for (const RecoveryPlan& p : plans.plans) {
    if (p.job == x.job) plan = &p;
  }
  const Refusal* refusal = nullptr;
  for (const Refusal& r : plans.refusals) {
    if (r.job == x.job) refusal = &r;
  }
  bool ok = false;
  if (x.plan == "none") {
    ok = plan == nullptr && refusal == nullptr;
  } else if (x.plan == "refused") {
    ok = refusal != nullptr && (x.refusal.empty() || x.refusal == RefusalCauseName(refusal->cause));
  } else if (plan != nullptr && x.plan == StrategyName(plan->strategy)) {
    ok = !x.restore_id || (plan->restore_point && plan->restore_point->id == *x.restore_id);
  }
  if (ok) return "";
  std::string want = x.plan;
  if (x.restore_id) want += " from id " + std::to_string(*x.restore_id);
  if (!x.refusal.empty()) want += " (" + x.refusal + ")";
  return "expected " + want + ", got " + PlanText(plans, x.job);
}

}  // namespace

RuleTestOutcome RunRuleTestFile(const std::string& path, const ConfigEnvironment& env) {
  RuleTestOutcome outcome;
  std::ostringstream report;
  try {
    YAML::Node root;
    try {
      root = YAML::LoadFile(path);
    } catch (const YAML::BadFile&) {
      throw FileError(path + ": cannot read the test file");
    } catch (const YAML::Exception& e) {
      throw FileError(path + ":" + std::to_string(e.mark.line + 1) + ":" +
                      std::to_string(e.mark.column + 1) + ": YAML syntax error: " + e.msg);
    }
    if (!root.IsMap()) Fail(path, root, "expected a mapping with `tests`");
    std::int64_t interval_ms = 60'000;
    if (root["interval"]) {
      auto d = ParseDuration(root["interval"].as<std::string>());
      if (!d || d->count() <= 0) Fail(path, root["interval"], "`interval`: expected a duration");
      interval_ms = std::chrono::duration_cast<std::chrono::milliseconds>(*d).count();
    }
    std::set<std::string> custom;
    const std::vector<TestCase> tests = ReadTests(path, root, interval_ms, &custom);

    // The rule table: the rule files in order, or the built-in defaults.
    std::vector<RuleConfig> rules;
    auto add_rules = [&](const RulesLoadResult& loaded) {
      if (!loaded.ok()) {
        for (const ConfigProblem& p : loaded.problems) report << FormatProblem(p) << "\n";
        outcome.file_error = true;
        return;
      }
      for (const RuleConfig& r : *loaded.rules) rules.push_back(r);
    };
    if (const YAML::Node files = root["rule_files"]) {
      const std::filesystem::path base = std::filesystem::path(path).parent_path();
      for (const YAML::Node& f : files) {
        std::filesystem::path p = f.as<std::string>();
        if (p.is_relative()) p = base / p;
        add_rules(LoadRulesFile(p.string(), env, custom));
      }
    } else {
      add_rules(LoadRulesFromString(DefaultRulesText(), "default-rules.yaml (built in)", env,
                                    custom));
    }
    if (outcome.file_error) {
      report << "FAILED: the rules do not load\n";
      outcome.report = report.str();
      return outcome;
    }
    std::vector<CompiledRule> compiled;
    for (const RuleConfig& r : rules) {
      auto c = CompileRule(ToRuleSpec(r, {}), custom);
      if (c) compiled.push_back(std::move(*c));
    }

    for (const TestCase& tc : tests) {
      RuleEngine engine(compiled, RuleEngineOptions{.sample_interval = Duration{interval_ms}});
      Planner planner([] { return 0.5; });
      std::vector<CatalogJob> catalog;
      for (const TestJob& j : tc.jobs) catalog.push_back(CatalogJob{j.name, j.cluster, j.policy});
      std::map<std::string, std::int64_t> first_seen;
      for (std::size_t step = 0; step < tc.steps; ++step) {
        const std::int64_t now_ms = kStartMs + static_cast<std::int64_t>(step) * interval_ms;
        std::vector<JobSnapshot> jobs;
        std::vector<ClusterSnapshot> clusters;
        BuildStep(tc, step, now_ms, first_seen, &jobs, &clusters);
        const RuleEvaluation ev = engine.Evaluate(jobs, now_ms, clusters);
        PlanInput in;
        in.now_ms = now_ms;
        in.settings.dry_run = true;
        in.findings = ev.findings;
        in.catalog = catalog;
        in.snapshots = jobs;
        in.clusters = clusters;
        const PlanOutput plans = planner.Plan(in);
        for (const Expectation& x : tc.expect) {
          if (x.step != step) continue;
          ++outcome.expectations;
          const std::string problem = Check(x, engine, plans);
          if (problem.empty()) continue;
          ++outcome.failures;
          report << Where(path, x.node) << ": test \"" << tc.name << "\" at " << x.at_text
                 << ": " << (x.rule.empty() ? std::string("plan") : "rule " + x.rule)
                 << ", job " << x.job << ": " << problem << "\n";
        }
      }
    }
  } catch (const FileError& e) {
    report << e.what() << "\n";
    outcome.file_error = true;
  } catch (const YAML::Exception& e) {
    report << path << ":" << e.mark.line + 1 << ":" << e.mark.column + 1 << ": " << e.msg << "\n";
    outcome.file_error = true;
  }
  if (outcome.file_error) {
    report << "FAILED: the test file could not be run\n";
  } else if (outcome.failures > 0) {
    report << "FAILED: " << outcome.failures << " of " << outcome.expectations
           << " expectations not met\n";
  } else {
    report << "SUCCESS: " << outcome.expectations << " expectations met\n";
  }
  outcome.report = report.str();
  return outcome;
}

}  // namespace flinkguard
