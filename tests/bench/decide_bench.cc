// decide_bench: the cost of one decide pass -- RuleEngine::Evaluate over every job, then
// Planner::Plan on the findings -- for a region of 10,000 jobs and 20 rules (the built-in
// defaults plus variants). Prints the median time per pass and the process's memory once every
// history window is full, and a digest of every transition, finding and final rule status: an
// optimisation of the decision core must leave the digest unchanged. Asserts nothing.
//
//   decide_bench [--jobs N] [--cycles N] [--interval-s S]

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>

#include "agent/config.h"
#include "agent/explain.h"
#include "rules/planner.h"
#include "rules/rule_engine.h"

namespace flinkguard {
namespace {

// VmRSS and VmHWM of this process in KiB (0 when /proc is not there).
std::pair<long, long> MemoryKib() {
  std::ifstream in("/proc/self/status");
  std::string line;
  long rss = 0;
  long hwm = 0;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) rss = std::stol(line.substr(6));
    if (line.rfind("VmHWM:", 0) == 0) hwm = std::stol(line.substr(6));
  }
  return {rss, hwm};
}

// The default table plus variants of it (other thresholds, other signals) to make 20.
std::vector<CompiledRule> Rules() {
  ConfigEnvironment env;
  env.get_env = [](const std::string&) { return std::optional<std::string>(); };
  const RulesLoadResult loaded =
      LoadRulesFromString(DefaultRulesText(), "default-rules.yaml", env, {});
  std::vector<CompiledRule> out;
  if (loaded.rules) {
    for (const RuleConfig& r : *loaded.rules) {
      out.push_back(*CompileRule(ToRuleSpec(r, {}), {}));
    }
  }
  const std::vector<std::pair<std::string, std::string>> extra = {
      {"restarts-any", "increase(restarts, 1h) > 0"},
      {"restart-rate", "rate(restarts, 5m) > 0.01"},
      {"lag-high", "lag > 100000"},
      {"lag-growing", "lag > 2 * avg_over_time(lag, 30m)"},
      {"checkpoint-slow", "checkpoint_duration > 0.8 * checkpoint_timeout"},
      {"checkpoint-old", "checkpoint_age > 3 * checkpoint_interval"},
      {"young-job", "uptime < 5m and status == RUNNING"},
      {"qps-zero", "qps == 0 and status == RUNNING"},
      {"qps-spike", "qps > 5 * avg_over_time(qps, 1h)"},
      {"bp-any", "max_over_time(backpressure, 10m) > 0.5"},
      {"status-flapping", "changes(status, 30m) > 4"},
  };
  for (const auto& [name, when] : extra) {
    RuleSpec s;
    s.name = name;
    s.when = when;
    s.for_duration = std::chrono::minutes{2};
    out.push_back(*CompileRule(s, {}));
  }
  return out;
}

// FNV-1a over everything a pass produced, so that two builds can be compared for identical
// decisions.
class Digest {
 public:
  void Add(std::string_view text) {
    for (const char c : text) {
      hash_ ^= static_cast<unsigned char>(c);
      hash_ *= 1099511628211ULL;
    }
    Add('\x1f');
  }
  void Add(char c) {
    hash_ ^= static_cast<unsigned char>(c);
    hash_ *= 1099511628211ULL;
  }
  void Add(std::int64_t v) { Add(std::to_string(v)); }
  void Add(const std::map<std::string, std::string>& m) {
    for (const auto& [k, v] : m) {
      Add(k);
      Add(v);
    }
  }
  void Add(const RuleEvaluation& ev) {
    for (const RuleTransition& t : ev.transitions) {
      for (const std::string* s : {&t.rule, &t.job, &t.cluster, &t.job_id, &t.reason}) Add(*s);
      Add(RuleStateName(t.from));
      Add(RuleStateName(t.to));
      Add(t.at_ms);
      Add(t.labels);
      Add(t.annotations);
    }
    for (const Finding& f : ev.findings) {
      for (const std::string* s : {&f.rule, &f.job, &f.cluster, &f.job_id, &f.reason}) Add(*s);
      Add(f.firing_since_ms);
      Add(f.labels);
      Add(f.annotations);
    }
  }
  void Add(const RuleStatus& s) {
    for (const std::string* x : {&s.rule, &s.job, &s.cluster, &s.job_id, &s.reason}) Add(*x);
    Add(RuleStateName(s.state));
    Add(TruthName(s.truth));
    Add(s.value ? FormatValue(*s.value) : "-");
    Add(std::int64_t{s.applies} * 4 + std::int64_t{s.data_known} * 2 + std::int64_t{s.evaluated});
    Add(s.state_since_ms);
    Add(s.active_since_ms);
    Add(s.evaluated_at_ms);
  }
  std::uint64_t value() const { return hash_; }

 private:
  std::uint64_t hash_ = 14695981039346656037ULL;
};

// CPU time of this process in milliseconds: on a shared machine wall time also counts the time
// other processes held the cores.
double CpuMs() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace
}  // namespace flinkguard

int main(int argc, char** argv) {
  using namespace flinkguard;
  int jobs_n = 10'000;
  int cycles = 400;
  int interval_s = 10;
  CLI::App app{"decide_bench: RuleEngine::Evaluate + Planner::Plan over many jobs"};
  app.add_option("--jobs", jobs_n, "Jobs in the region");
  app.add_option("--cycles", cycles,
                 "Passes; the first 1h/interval fill the histories, the rest are measured");
  app.add_option("--interval-s", interval_s, "Poll interval (seconds)");
  CLI11_PARSE(app, argc, argv);

  const auto [rss0, hwm0] = MemoryKib();
  std::vector<CompiledRule> rules = Rules();
  const std::size_t rule_count = rules.size();
  const std::int64_t interval_ms = std::int64_t{interval_s} * 1000;
  RuleEngine engine(std::move(rules), RuleEngineOptions{.sample_interval = Duration{interval_ms}});
  Planner planner([] { return 0.5; });

  constexpr int kClusters = 20;
  std::vector<ClusterSnapshot> clusters(kClusters);
  std::vector<CatalogJob> catalog;
  std::vector<JobSnapshot> jobs(static_cast<std::size_t>(jobs_n));
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> noise(0.9, 1.1);
  const std::int64_t start_ms = 1'700'000'000'000;
  for (int c = 0; c < kClusters; ++c) {
    clusters[static_cast<std::size_t>(c)].name = "cluster-" + std::to_string(c);
  }
  for (int i = 0; i < jobs_n; ++i) {
    JobSnapshot& s = jobs[static_cast<std::size_t>(i)];
    s.name = "job-" + std::to_string(i);
    s.cluster = clusters[static_cast<std::size_t>(i % kClusters)].name;
    s.job_id = std::to_string(1'000'000 + i);
    s.start_time_ms = start_ms - 86'400'000;
    catalog.push_back(CatalogJob{s.name, s.cluster, RecoveryPolicy{}});
  }

  std::vector<double> evaluate_ms;
  std::vector<double> plan_ms;
  std::vector<double> total_ms;
  std::vector<double> evaluate_cpu_ms;
  std::vector<double> plan_cpu_ms;
  std::size_t findings = 0;
  std::size_t plans = 0;
  std::size_t refusals = 0;
  Digest digest;
  const int warmup = std::min(cycles - 1, static_cast<int>(3'600'000 / interval_ms));
  for (int cycle = 0; cycle < cycles; ++cycle) {
    const std::int64_t now = start_ms + cycle * interval_ms;
    for (ClusterSnapshot& c : clusters) {
      c.observed_at_ms = now;
      c.reachable = true;
      c.last_ok_ms = now;
      c.job_list_complete = true;
      c.capacity.SetFresh(
          ClusterCapacity{.taskmanagers = 512, .slots_total = 4096, .slots_available = 1024}, now);
    }
    for (int i = 0; i < jobs_n; ++i) {
      JobSnapshot& s = jobs[static_cast<std::size_t>(i)];
      s.observed_at_ms = now;
      // 1% of jobs FAILED (recover findings for the planner), 2% restarting now and then.
      const bool failed = i % 100 == 7 && cycle > warmup / 2;
      s.status.SetFresh(failed ? JobStatus::kFailed : JobStatus::kRunning, now);
      s.all_tasks_running.SetFresh(!failed, now);
      const std::int64_t restarts =
          i % 50 == 3 ? cycle / 6 : (s.restarts.known() ? *s.restarts.value : 0);
      s.restarts.SetFresh(restarts, now);
      s.uptime_ms.SetFresh(failed ? 0 : 3'600'000 + cycle * interval_ms, now);
      RestorePoint cp;
      cp.id = 1 + cycle / 6;
      cp.path = "s3://ckpt/" + s.job_id + "/chk-" + std::to_string(cp.id);
      cp.trigger_ms = start_ms + (cp.id - 1) * 60'000;
      cp.completed_ms = cp.trigger_ms + 2'000;
      s.last_checkpoint.SetFresh(cp, now);
      s.last_savepoint.SetAbsent(now);
      s.checkpoint_age_ms.SetFresh(now - cp.completed_ms, now);
      s.checkpoints_completed.SetFresh(cp.id, now);
      s.checkpoints_failed.SetFresh(i % 40 == 1 ? cycle / 20 : 0, now);
      s.checkpoint_duration_ms.SetFresh(2'000, now);
      s.checkpoint_settings.SetFresh(CheckpointSettings{60'000, 600'000, 0, true}, now);
      s.qps.SetFresh(1000.0 * noise(rng), now);
      s.backpressure.SetFresh(i % 30 == 0 ? 0.9 : 0.05 * noise(rng), now);
      s.lag.SetFresh(5'000.0 * noise(rng), now);
    }
    const double c0 = CpuMs();
    const auto t0 = std::chrono::steady_clock::now();
    const RuleEvaluation ev = engine.Evaluate(jobs, now, clusters);
    const auto t1 = std::chrono::steady_clock::now();
    const double c1 = CpuMs();
    digest.Add(ev);
    PlanInput in;
    in.now_ms = now;
    in.settings.dry_run = true;
    in.findings = ev.findings;
    in.catalog = catalog;
    in.snapshots = jobs;
    in.clusters = clusters;
    const PlanOutput out = planner.Plan(in);
    const auto t2 = std::chrono::steady_clock::now();
    const double c2 = CpuMs();
    if (cycle >= warmup) {
      auto ms = [](auto d) { return std::chrono::duration<double, std::milli>(d).count(); };
      evaluate_ms.push_back(ms(t1 - t0));
      plan_ms.push_back(ms(t2 - t1));
      total_ms.push_back(ms(t2 - t0));
      evaluate_cpu_ms.push_back(c1 - c0);
      plan_cpu_ms.push_back(c2 - c1);
      findings = ev.findings.size();
      plans = out.plans.size();
      refusals = out.refusals.size();
    }
  }
  const auto [rss, hwm] = MemoryKib();
  for (const RuleStatus& s : engine.Statuses()) digest.Add(s);
  std::printf(
      "decide_bench: %d jobs, %zu rules, interval %ds, %d passes (%d to fill 1h windows, "
      "%zu measured)\n",
      jobs_n, rule_count, interval_s, cycles, warmup, total_ms.size());
  std::printf(
      "  per pass (median): evaluate %.1f ms, plan %.1f ms, total %.1f ms "
      "(min %.1f, max %.1f)\n",
      Median(evaluate_ms), Median(plan_ms), Median(total_ms),
      total_ms.empty() ? 0 : *std::min_element(total_ms.begin(), total_ms.end()),
      total_ms.empty() ? 0 : *std::max_element(total_ms.begin(), total_ms.end()));
  std::printf("  CPU per pass (median): evaluate %.1f ms, plan %.1f ms\n", Median(evaluate_cpu_ms),
              Median(plan_cpu_ms));
  std::printf("  last pass: %zu findings, %zu plans, %zu refusals\n", findings, plans, refusals);
  std::printf("  history: %zu samples in %.1f MiB of rings for %zu jobs\n", engine.SampleCount(),
              static_cast<double>(engine.HistoryBytes()) / 1048576.0, engine.JobCount());
  std::printf("  memory: RSS %.1f MiB (peak %.1f MiB); at start %.1f MiB (peak %.1f)\n",
              static_cast<double>(rss) / 1024, static_cast<double>(hwm) / 1024,
              static_cast<double>(rss0) / 1024, static_cast<double>(hwm0) / 1024);
  std::printf("  digest of every transition, finding and final status: %016llx\n",
              static_cast<unsigned long long>(digest.value()));
  return 0;
}
