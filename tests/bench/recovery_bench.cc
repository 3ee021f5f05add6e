// recovery_bench: time to recover a job, end to end, against flinksim in real time.
//
// For each scenario (a job FAILED terminally; a restart loop) it starts a fresh flinksim
// (`--time-scale 1`, so flinksim's timings are Flink-like) running job-0, and the whole agent in
// this process as `flinkguard run` composes it: Observer, AgentLoop (rule engine, planner) and
// Executor over CurlTransports, with a SqliteHistoryStore journal in a temp dir. The agent is
// driven as the daemon drives it (a cycle every poll interval, the executor ticked in between,
// sleeping until the next cycle or the executor's next due time, 20 ms .. 1 s). Then, N times:
// inject the failure on flinksim's control API and time the phases until the recovery ended
// succeeded, then wait until the new instance has completed a checkpoint, no rule fires and the
// restart rule's window has passed. Repetition k injects (k-1)/N of the poll interval into a
// cycle. Recoveries the agent starts after the measured one are printed, not timed.
// Phases, in this process's wall clock:
//   detection     injection -> the end of the observation of the cycle whose evaluation moved
//                 a recover rule of job-0 to firing (evaluation follows within microseconds);
//   decision      -> the recovery journaled (RecoveryJournal::BeginRecovery returned);
//   execution     -> submitted (the executor left the submit step, or check-submitted found the
//                 derived job, and entered verify);
//   verification  -> the recovery ended succeeded (RecoveryJournal::EndRecovery returned);
//   total         injection -> ended.
// A thread polling flinksim's own view every 25 ms also records when the new instance was
// really RUNNING with all tasks RUNNING, to show how much of verification is the poll interval.
// A benchmark, not a test: it prints figures and asserts nothing about time. It exits non-zero
// when the setup fails or a repetition does not recover within its time limit.

#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <rapidjson/document.h>

#include "agent/agent_loop.h"
#include "agent/config.h"
#include "agent/executor.h"
#include "agent/http/curl_transport.h"
#include "agent/observer.h"
#include "agent/wiring.h"
#include "storage/history_store.h"
#include "tests/bench/bench_sim.h"
#include "tests/support/test_support.h"

namespace flinkguard::bench {
namespace {

using testing::Sim;

using Clock = std::chrono::steady_clock;
using testing::ChildProcess;
using testing::HttpCall;
using testing::HttpReply;
using testing::TempDir;
using namespace std::chrono_literals;

// The window of the restart-loop rule, increase(restarts, 10s) > 2.
constexpr std::int64_t kRestartWindowMs = 10'000;

std::atomic<bool> g_stop{false};
extern "C" void OnStopSignal(int /*sig*/) { g_stop.store(true); }

std::int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct Options {
  int repetitions = 5;
  int poll_interval_ms = 1000;       // the agent's poll_interval (one cycle each)
  int executor_poll_ms = 1000;       // ExecutorOptions::poll_interval_ms (the daemon's default)
  std::string restart_after = "1s";  // restart_loop's `after` (simulated = real time here)
  int repetition_timeout_s = 120;    // injection -> recovered, and the settle wait after it
  std::string scenarios = "failed,restart-loop";
  std::string flinksim = FLINKGUARD_BENCH_FLINKSIM;
  bool verbose = false;  // the agent's info logs
};

rapidjson::Document ParseJson(const std::string& body) {
  rapidjson::Document d;
  d.Parse(body.c_str(), body.size());
  if (d.HasParseError()) d.SetNull();
  return d;
}

// Polls flinksim's own view (`GET /_sim/jobs`) every 25 ms on its own thread: when each job
// instance was first seen in each "STATUS/TASK_STATE", and the newest job-0's state.
class SimWatcher {
 public:
  struct Newest {
    std::string id;
    std::string state;  // "RUNNING/RUNNING"
    std::int64_t checkpoints = 0;
  };

  explicit SimWatcher(const Sim& sim) : sim_(sim), thread_([this] { Loop(); }) {}
  ~SimWatcher() {
    stop_.store(true);
    thread_.join();
  }
  SimWatcher(const SimWatcher&) = delete;
  SimWatcher& operator=(const SimWatcher&) = delete;

  // Wall ms when instance `id` was first seen in `state`; nullopt when never.
  std::optional<std::int64_t> FirstSeen(const std::string& id, const std::string& state) const {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = first_seen_.find(id + " " + state);
    if (it == first_seen_.end()) return std::nullopt;
    return it->second;
  }
  // Wall ms when instance `id` was first seen, at or after `since`, in a state other than
  // `state`; nullopt when never.
  std::optional<std::int64_t> FirstLeft(const std::string& id, const std::string& state,
                                        std::int64_t since) const {
    std::lock_guard<std::mutex> lock(mu_);
    std::optional<std::int64_t> first;
    for (auto it = first_seen_.lower_bound(id + " "); it != first_seen_.end(); ++it) {
      if (it->first.compare(0, id.size() + 1, id + " ") != 0) break;
      if (it->first == id + " " + state || it->second < since) continue;
      if (!first || it->second < *first) first = it->second;
    }
    return first;
  }
  Newest newest() const {
    std::lock_guard<std::mutex> lock(mu_);
    return newest_;
  }

 private:
  void Loop() {
    while (!stop_.load()) {
      const std::int64_t now = WallMs();
      HttpReply r = sim_.Get("/_sim/jobs");
      const rapidjson::Document doc = ParseJson(r.body);
      if (doc.IsObject() && doc.HasMember("jobs") && doc["jobs"].IsArray()) {
        std::lock_guard<std::mutex> lock(mu_);
        for (const auto& j : doc["jobs"].GetArray()) {
          const std::string id = j["id"].GetString();
          const std::string state =
              std::string(j["status"].GetString()) + "/" + j["task_state"].GetString();
          first_seen_.emplace(id + " " + state, now);
          if (std::string(j["name"].GetString()) == "job-0") {
            newest_ = Newest{id, state, j["checkpoints"]["completed"].GetInt64()};
          }
        }
      }
      std::this_thread::sleep_for(25ms);
    }
  }

  const Sim& sim_;
  mutable std::mutex mu_;
  std::map<std::string, std::int64_t> first_seen_;
  Newest newest_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Counts the requests the executor sends, by kind, around the real transport.
class CountingTransport final : public HttpTransport {
 public:
  explicit CountingTransport(HttpTransport& inner) : inner_(inner) {}
  void Run(RequestBatch& batch) override {
    // Callbacks may add requests to `batch`; they run in a further round.
    while (!batch.empty()) {
      RequestBatch round;
      for (auto& [request, done] : batch.TakePending()) {
        ++(request.method == "GET" ? gets_ : mutating_);
        round.Add(std::move(request), std::move(done));
      }
      const auto start = Clock::now();
      inner_.Run(round);
      run_us_ +=
          std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start).count();
      ++runs_;
    }
  }
  int gets() const { return gets_; }
  int mutating() const { return mutating_; }
  int runs() const { return runs_; }
  std::int64_t run_us() const { return run_us_; }  // time spent inside the transport's Run
  void Reset() {
    gets_ = mutating_ = runs_ = 0;
    run_us_ = 0;
  }

 private:
  HttpTransport& inner_;
  int gets_ = 0;
  int mutating_ = 0;
  int runs_ = 0;
  std::int64_t run_us_ = 0;
};

// The journal the executor writes through, stamping in wall time when a recovery was journaled,
// when it entered verify (submitted) and when it ended. Everything else is forwarded.
class TimedJournal final : public RecoveryJournal {
 public:
  struct Stamps {
    std::int64_t journaled = 0;
    std::int64_t submitted = 0;
    std::int64_t ended = 0;
    std::vector<std::pair<std::string, std::int64_t>> steps_done;  // kind, when it was done
    std::int64_t write_us = 0;  // time spent in the journal's writes
  };
  explicit TimedJournal(RecoveryJournal& inner) : inner_(inner) {}

  const Stamps* Find(const std::string& id) const {
    auto it = stamps_.find(id);
    return it == stamps_.end() ? nullptr : &it->second;
  }

  Result<void> BeginRecovery(const RecoveryRecord& record) override {
    Result<void> r = Timed(record.id, [&] { return inner_.BeginRecovery(record); });
    if (r) stamps_[record.id].journaled = WallMs();
    return r;
  }
  Result<void> SaveProgress(std::string_view id, std::string_view progress,
                            std::optional<std::int64_t> fencing_token) override {
    return Timed(id, [&] { return inner_.SaveProgress(id, progress, fencing_token); });
  }
  Result<void> SetRestore(std::string_view id, Strategy strategy,
                          std::string_view restore_path) override {
    return Timed(id, [&] { return inner_.SetRestore(id, strategy, restore_path); });
  }
  Result<void> EndRecovery(std::string_view id, RecoveryAttempt::Outcome outcome,
                           std::int64_t ended_ms, std::string_view error) override {
    Result<void> r = Timed(id, [&] { return inner_.EndRecovery(id, outcome, ended_ms, error); });
    if (r) stamps_[std::string(id)].ended = WallMs();
    return r;
  }
  Result<void> MarkDidNotStick(std::string_view id) override { return inner_.MarkDidNotStick(id); }
  Result<void> RecordStep(const StepRecord& step) override {
    Result<void> r = Timed(step.recovery_id, [&] { return inner_.RecordStep(step); });
    if (!r) return r;
    Stamps& s = stamps_[step.recovery_id];
    if (step.status != "started") s.steps_done.emplace_back(step.kind, WallMs());
    // The executor journals the next step's start right after the previous step's end.
    if (step.kind == "verify" && step.status == "started" && s.submitted == 0) {
      s.submitted = WallMs();
    }
    return r;
  }
  Result<std::vector<RecoveryRecord>> UnfinishedRecoveries() override {
    return inner_.UnfinishedRecoveries();
  }
  Result<std::vector<RecoveryRecord>> Recoveries(std::string_view job,
                                                 std::int64_t since_ms) override {
    return inner_.Recoveries(job, since_ms);
  }
  Result<std::vector<StepRecord>> Steps(std::string_view recovery_id) override {
    return inner_.Steps(recovery_id);
  }
  Result<std::vector<RecoveryAttempt>> Attempts(std::int64_t since_ms) override {
    return inner_.Attempts(since_ms);
  }

 private:
  template <typename F>
  Result<void> Timed(std::string_view id, F write) {
    const auto start = Clock::now();
    Result<void> r = write();
    stamps_[std::string(id)].write_us +=
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start).count();
    return r;
  }

  RecoveryJournal& inner_;
  std::map<std::string, Stamps> stamps_;
};

// A flinksim "jar": the manifest lines flinksim reads (job name, parallelism, interval).
void WriteJar(const std::string& path, const std::string& job) {
  std::ofstream out(path);
  out << "Manifest-Version: 1.0\nMain-Class: com.example.Events\nflinksim-job-name: " << job
      << "\nflinksim-parallelism: 2\nflinksim-checkpoint-interval: 2000ms\n";
}

// The whole agent in this process against one flinksim, driven like `flinkguard run`.
class Agent {
 public:
  Agent(const Sim& sim, const Options& options) : options_(options) {
    WriteJar(sim.dir().File("job-0.jar"), "job-0");
    const std::string state = sim.dir().File("state");
    std::filesystem::create_directories(state);
    const std::string yaml =
        "region: bench\nagent:\n  poll_interval: " + std::to_string(options.poll_interval_ms) +
        "ms\n  state_dir: " + state +
        "\n  dry_run: false\nclusters:\n  - {name: cluster-a, url: \"" + sim.rest() +
        "\", timeout: 3s, connect_timeout: 1s}\njobs:\n  - name: job-0\n" +
        "    cluster: cluster-a\n    jar: " + sim.dir().File("job-0.jar") +
        "\n    entry_class: com.example.Events\n    parallelism: 2\n"
        "    recovery: {cooldown: 0s, max_recoveries: 100, window: 10m, stable_after: 0s}\n"
        "rules:\n"
        "  - {name: job-failed, when: \"status == FAILED\", action: recover, severity: critical}\n"
        "  - {name: restart-loop, when: \"increase(restarts, " +
        std::to_string(kRestartWindowMs / 1000) +
        "s) > 2\", action: recover, "
        "severity: critical}\n";
    ConfigEnvironment env;
    env.get_env = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
    env.hostname = "bench-host";
    ConfigLoadResult loaded = LoadConfigFromString(yaml, "bench.yaml", sim.dir().path(), env);
    if (!loaded.ok()) {
      std::string all;
      for (const ConfigProblem& p : loaded.problems) all += FormatProblem(p) + "\n";
      throw std::runtime_error("bench config refused:\n" + all);
    }
    config_ = std::move(*loaded.config);
    auto store = SqliteHistoryStore::Open(state + "/history.db");
    if (!store) throw std::runtime_error(store.error().message);
    store_ = std::move(*store);
    journal_ = std::make_unique<TimedJournal>(*store_);
    observer_ = std::make_unique<Observer>(observe_transport_, ObservedClustersFrom(config_),
                                           nullptr, std::vector<SignalQuery>{}, ObserverOptions{});
    ExecutorOptions eo;
    eo.poll_interval_ms = options.executor_poll_ms;
    executor_ = std::make_unique<Executor>(act_counter_, FlinkEndpointsFrom(config_),
                                           JobSubmissionsFrom(config_), *journal_, *store_, *store_,
                                           fence_, eo);
    loop_ = std::make_unique<AgentLoop>(config_, *observer_, executor_.get(), store_.get(),
                                        [] { return 0.5; });
  }

  // Runs the agent until `done()` holds (checked after every executor tick) or `limit` passes.
  // As RunDaemon: a cycle every poll interval (marked late like the daemon does), the executor
  // ticked after it, sleeping until the next cycle or the executor's next due time (20 ms..1 s).
  bool RunUntil(const std::function<bool()>& done, std::chrono::milliseconds limit) {
    const auto interval = std::chrono::milliseconds(options_.poll_interval_ms);
    const auto until = Clock::now() + limit;
    if (cycles_ == 0) next_cycle_ = Clock::now();
    while (!g_stop.load() && Clock::now() < until) {
      const auto now = Clock::now();
      if (now >= next_cycle_) {
        std::string late;
        if (now - next_cycle_ > interval / 2 && cycles_ > 0) {
          late = "cycle started " +
                 std::to_string(
                     std::chrono::duration_cast<std::chrono::milliseconds>(now - next_cycle_)
                         .count()) +
                 " ms late";
          ++late_cycles_;
        }
        last_cycle_start_ = now;
        reports_.push_back(loop_->RunCycle(WallMs(), late));
        ++cycles_;
        next_cycle_ += interval;
        if (next_cycle_ < Clock::now()) next_cycle_ = Clock::now() + interval;
      }
      executor_->Tick(WallMs());
      for (EndedRecovery& e : executor_->TakeEnded()) ended_.push_back(std::move(e));
      if (done()) return true;
      auto wake = next_cycle_;
      if (auto due = executor_->NextDue()) {
        wake = std::min(wake, Clock::now() + std::chrono::milliseconds(
                                                 std::max<std::int64_t>(0, *due - WallMs())));
      }
      const auto sleep = std::chrono::duration_cast<std::chrono::milliseconds>(wake - Clock::now());
      // As the daemon, but never past this call's own limit.
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
      std::this_thread::sleep_for(std::min(std::clamp(sleep, 20ms, 1000ms), std::max(left, 0ms)));
    }
    return false;
  }

  Executor& executor() { return *executor_; }
  SqliteHistoryStore& store() { return *store_; }
  const TimedJournal& journal() const { return *journal_; }
  CountingTransport& act_counter() { return act_counter_; }
  const std::vector<CycleReport>& reports() const { return reports_; }
  const std::vector<EndedRecovery>& ended() const { return ended_; }
  int late_cycles() const { return late_cycles_; }
  Clock::time_point last_cycle_start() const { return last_cycle_start_; }

 private:
  const Options& options_;
  Config config_;
  std::unique_ptr<SqliteHistoryStore> store_;
  std::unique_ptr<TimedJournal> journal_;
  CurlTransport observe_transport_{{}};
  CurlTransport act_transport_{{}};
  CountingTransport act_counter_{act_transport_};
  std::unique_ptr<Observer> observer_;
  SingleInstanceFence fence_;
  std::unique_ptr<Executor> executor_;
  std::unique_ptr<AgentLoop> loop_;
  Clock::time_point next_cycle_{};
  Clock::time_point last_cycle_start_{};
  int cycles_ = 0;
  int late_cycles_ = 0;
  std::vector<CycleReport> reports_;
  std::vector<EndedRecovery> ended_;
};

struct Scenario {
  std::string name;
  std::string action;  // control action
  std::string body;
  std::vector<std::string> sim_args;
};

// One repetition's figures, in ms from the injection.
struct Rep {
  std::int64_t detected = 0;  // the firing cycle's observation ended
  std::int64_t journaled = 0;
  std::int64_t submitted = 0;
  std::int64_t ended = 0;
  std::optional<std::int64_t> sim_running;    // flinksim: new instance RUNNING/RUNNING
  std::optional<std::int64_t> first_failure;  // flinksim: the old instance left RUNNING
  // The stored values (the cycle's or the tick's time), ms from the injection.
  std::int64_t at_ms = 0;
  std::int64_t started_ms = 0;
  std::optional<std::int64_t> submit_ended_ms;
  std::int64_t ended_ms = 0;
  std::string rule;
  std::int64_t offset_ms = 0;     // the injection's offset into the agent's cycle
  std::int64_t observe_us = 0;    // how long the firing cycle's observation took
  int transport_runs = 0;         // the executor's HttpTransport::Run calls
  std::int64_t transport_us = 0;  // time inside them
  int executor_gets = 0;
  int executor_mutating = 0;
  std::vector<std::string> sim_log;  // flinksim's mutating-request log: "METHOD path"
  int cycles = 0;                    // agent cycles between the injection and the end
  int recoveries = 0;                // recoveries started between the injection and the settle
};

const char* OutcomeText(RecoveryAttempt::Outcome o) {
  switch (o) {
    case RecoveryAttempt::Outcome::kInProgress: return "in-progress";
    case RecoveryAttempt::Outcome::kSucceeded: return "succeeded";
    case RecoveryAttempt::Outcome::kFailed: return "failed";
    case RecoveryAttempt::Outcome::kDidNotStick: return "did-not-stick";
  }
  return "?";
}

// Shortens every "file:/.../checkpoints/<jobid>/chk-N" in `text` to "<jobid6>/chk-N".
std::string ShortPoint(const std::string& text) {
  std::string out;
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t file = text.find("file:/", i);
    if (file == std::string::npos) break;
    const std::size_t end = text.find_first_of(" ;,)", file);
    const std::string path = text.substr(file, end == std::string::npos ? end : end - file);
    const std::size_t last = path.rfind('/');
    const std::size_t prev =
        last == std::string::npos || last == 0 ? std::string::npos : path.rfind('/', last - 1);
    out += text.substr(i, file - i);
    out +=
        prev == std::string::npos ? path : path.substr(prev + 1, 6) + "/" + path.substr(last + 1);
    i = end == std::string::npos ? text.size() : end;
  }
  return out + text.substr(std::min(i, text.size()));
}

std::int64_t Median(std::vector<std::int64_t> v) {
  std::sort(v.begin(), v.end());
  if (v.empty()) return 0;
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// "/jars/3f0c..._job-0.jar/run" -> "/jars/:id/run"; "/jobs/ab12..." -> "/jobs/:id".
std::string ShortPath(const std::string& method, const std::string& path) {
  std::string out = method + " ";
  std::size_t i = 0;
  while (i < path.size()) {
    const std::size_t slash = path.find('/', i + 1);
    const std::string part =
        path.substr(i, slash == std::string::npos ? std::string::npos : slash - i);
    const bool id = part.size() > 20;
    out += id ? "/:id" : part;
    if (slash == std::string::npos) break;
    i = slash;
  }
  return out;
}

std::vector<std::string> SimLog(const Sim& sim) {
  std::vector<std::string> out;
  const rapidjson::Document doc = ParseJson(sim.Get("/_sim/requests").body);
  if (!doc.IsObject() || !doc.HasMember("requests")) return out;
  for (const auto& r : doc["requests"].GetArray()) {
    out.push_back(ShortPath(r["method"].GetString(), r["path"].GetString()));
  }
  return out;
}

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const std::string& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

// The newest job-0 RUNNING with all tasks, a checkpoint completed, the executor idle, and no
// recover rule firing for job-0 in the last cycle.
bool Settled(Agent& agent, const SimWatcher& watcher) {
  const SimWatcher::Newest n = watcher.newest();
  if (n.state != "RUNNING/RUNNING" || n.checkpoints < 1) return false;
  if (!agent.executor().Idle() || agent.reports().empty()) return false;
  const CycleReport& last = agent.reports().back();
  return std::none_of(last.evaluation.findings.begin(), last.evaluation.findings.end(),
                      [](const Finding& f) { return f.job == "job-0"; });
}

// Runs one scenario; returns the repetitions that recovered (an exception for setup failures).
std::vector<Rep> RunScenario(const Scenario& sc, const Options& o, int& failures) {
  std::vector<Rep> reps;
  Sim sim(o.flinksim, sc.sim_args);
  SimWatcher watcher(sim);
  Agent agent(sim, o);
  const auto limit = std::chrono::seconds(o.repetition_timeout_s);
  std::printf("\n== %s: POST /_sim/%s %s\n", sc.name.c_str(), sc.action.c_str(), sc.body.c_str());
  std::printf("%4s %9s %9s %9s %9s %9s | %11s %9s | %6s %6s | %s\n", "rep", "detect", "decide",
              "execute", "verify", "total", "sim-running", "verify-lag", "ex-GET", "ex-mut",
              "flinksim mutating-request log");
  // Let the agent see the job healthy for longer than the restart window first, so the
  // first repetition's rule has a full window of history, as the later ones have.
  const std::int64_t warm_from = WallMs() + kRestartWindowMs + o.poll_interval_ms;
  if (!agent.RunUntil([&] { return Settled(agent, watcher) && WallMs() >= warm_from; }, limit)) {
    throw std::runtime_error(sc.name + ": job-0 never settled before the first injection");
  }
  const auto interval = std::chrono::milliseconds(o.poll_interval_ms);
  for (int rep = 1; rep <= o.repetitions && !g_stop.load(); ++rep) {
    // Inject at an offset into the agent's cycle that differs per repetition (0, 1/N, 2/N...
    // of the interval after a cycle started), so detection samples the whole interval.
    const auto offset = interval * (rep - 1) / o.repetitions;
    auto inject_at = agent.last_cycle_start() + offset;
    while (inject_at < Clock::now()) inject_at += interval;
    agent.RunUntil([] { return false; },
                   std::chrono::duration_cast<std::chrono::milliseconds>(inject_at - Clock::now()));
    const std::string old_id = watcher.newest().id;
    const std::size_t reports_before = agent.reports().size();
    const std::size_t ended_before = agent.ended().size();
    sim.Control("clear_requests");
    agent.act_counter().Reset();
    const std::int64_t t0 = WallMs();
    sim.Control(sc.action, sc.body);
    const bool ended = agent.RunUntil([&] { return agent.ended().size() > ended_before; }, limit);
    if (!ended) {
      std::printf("%4d did not recover within %d s\n", rep, o.repetition_timeout_s);
      ++failures;
      break;
    }
    const EndedRecovery e = agent.ended()[ended_before];
    Rep r;
    r.executor_gets = agent.act_counter().gets();
    r.executor_mutating = agent.act_counter().mutating();
    r.transport_runs = agent.act_counter().runs();
    r.transport_us = agent.act_counter().run_us();
    r.offset_ms = std::chrono::duration_cast<std::chrono::milliseconds>(offset).count();
    r.sim_log = SimLog(sim);
    r.cycles = static_cast<int>(agent.reports().size() - reports_before);
    if (e.record.outcome != RecoveryAttempt::Outcome::kSucceeded) {
      std::printf("%4d recovery %s did not succeed: %s\n", rep, e.record.id.c_str(),
                  e.record.error.c_str());
      ++failures;
      continue;
    }
    // The firing transition and its cycle.
    for (std::size_t i = reports_before; i < agent.reports().size() && r.rule.empty(); ++i) {
      const CycleReport& c = agent.reports()[i];
      for (const RuleTransition& t : c.evaluation.transitions) {
        if (t.job == "job-0" && t.to == RuleState::kFiring && t.action == Action::kRecover) {
          r.rule = t.rule;
          r.at_ms = t.at_ms - t0;
          r.detected = c.observation.at_ms + c.observation.duration_us / 1000 - t0;
          r.observe_us = c.observation.duration_us;
          break;
        }
      }
    }
    const TimedJournal::Stamps* s = agent.journal().Find(e.record.id);
    if (r.rule.empty() || s == nullptr || s->submitted == 0) {
      std::printf("%4d recovered, but the firing transition or the journal stamps are missing\n",
                  rep);
      ++failures;
      continue;
    }
    r.journaled = s->journaled - t0;
    r.submitted = s->submitted - t0;
    r.ended = s->ended - t0;
    r.started_ms = e.record.started_ms - t0;
    r.ended_ms = e.record.ended_ms.value_or(0) - t0;
    if (auto steps = agent.store().Steps(e.record.id)) {
      for (const StepRecord& st : *steps) {
        if ((st.kind == "submit" || st.kind == "check-submitted") && st.status == "done" &&
            st.ended_ms) {
          r.submit_ended_ms = *st.ended_ms - t0;
        }
      }
    }
    if (auto seen = watcher.FirstSeen(e.new_job_id, "RUNNING/RUNNING")) r.sim_running = *seen - t0;
    if (auto seen = watcher.FirstLeft(old_id, "RUNNING/RUNNING", t0)) {
      r.first_failure = *seen - t0;
    }
    // Settle: the new instance checkpointed, nothing fires any more, the executor is idle, and
    // the restart rule's window holds no restart of the previous instance (otherwise the next
    // repetition's loop would need fewer restarts of its own to fire).
    const std::int64_t quiet_from = s->ended + kRestartWindowMs + o.poll_interval_ms;
    if (!agent.RunUntil([&] { return Settled(agent, watcher) && WallMs() >= quiet_from; }, limit)) {
      std::printf("%4d recovered, but did not settle within %d s\n", rep, o.repetition_timeout_s);
      ++failures;
      break;
    }
    for (std::size_t i = reports_before; i < agent.reports().size(); ++i) {
      r.recoveries += static_cast<int>(agent.reports()[i].started.size());
    }
    std::printf("%4d %7lldms %7lldms %7lldms %7lldms %7lldms | %9s %9s | %6d %6d | %s\n", rep,
                static_cast<long long>(r.detected),
                static_cast<long long>(r.journaled - r.detected),
                static_cast<long long>(r.submitted - r.journaled),
                static_cast<long long>(r.ended - r.submitted), static_cast<long long>(r.ended),
                r.sim_running ? (std::to_string(*r.sim_running) + "ms").c_str() : "?",
                r.sim_running ? (std::to_string(r.ended - *r.sim_running) + "ms").c_str() : "?",
                r.executor_gets, r.executor_mutating, Join(r.sim_log).c_str());
    std::printf(
        "     rule %s; %d cycles; stored (ms after injection): transition at_ms %lld, recovery "
        "started_ms %lld, submit ended_ms %s, ended_ms %lld; flinksim: old instance left "
        "RUNNING at %s ms%s\n",
        r.rule.c_str(), r.cycles, static_cast<long long>(r.at_ms),
        static_cast<long long>(r.started_ms),
        r.submit_ended_ms ? std::to_string(*r.submit_ended_ms).c_str() : "?",
        static_cast<long long>(r.ended_ms),
        r.first_failure ? std::to_string(*r.first_failure).c_str() : "?",
        r.recoveries > 1 ? ("; " + std::to_string(r.recoveries) + " recoveries started!").c_str()
                         : "");
    std::string steps;
    for (const auto& [kind, at] : s->steps_done) {
      steps += (steps.empty() ? "" : ", ") + kind + " " + std::to_string(at - t0);
    }
    std::printf(
        "     injected %lld ms into a cycle; the firing cycle's observation took %.0f ms; steps "
        "done at (ms after injection): %s; journal writes %.1f ms; %d transport runs, %.0f ms "
        "inside them\n",
        static_cast<long long>(r.offset_ms), static_cast<double>(r.observe_us) / 1000.0,
        steps.c_str(), static_cast<double>(s->write_us) / 1000.0, r.transport_runs,
        static_cast<double>(r.transport_us) / 1000.0);
    // Recoveries the agent started after the measured one, before job-0 settled.
    if (auto all = agent.store().Recoveries("job-0", e.record.started_ms)) {
      int extra = 0;
      for (const RecoveryRecord& x : *all) {
        if (x.id == e.record.id) {
          if (x.outcome != e.record.outcome) {
            std::printf("     the measured recovery is now marked %s\n", OutcomeText(x.outcome));
          }
          continue;
        }
        // The planner's reason once (the later ones repeat it and add a rung).
        std::printf(
            "     EXTRA recovery (%s) started %lld ms after the measured one ended: %s %s, "
            "outcome %s%s%s%s%s\n",
            x.rules.c_str(), static_cast<long long>(x.started_ms - e.record.ended_ms.value_or(0)),
            StrategyName(x.strategy), ShortPoint(x.restore_path).c_str(), OutcomeText(x.outcome),
            x.error.empty() ? "" : ": ", ShortPoint(x.error).c_str(),
            extra == 0 ? "; reason: " : "", extra == 0 ? ShortPoint(x.reason).c_str() : "");
        ++extra;
      }
      if (all->size() > 1) {
        std::printf("     flinksim mutating-request log by then: %s\n", Join(SimLog(sim)).c_str());
      }
    }
    std::fflush(stdout);
    reps.push_back(std::move(r));
  }
  if (agent.late_cycles() > 0) {
    std::printf("  note: %d agent cycles ran late (the daemon would have planned nothing)\n",
                agent.late_cycles());
  }
  return reps;
}

void PrintSummary(const std::string& name, const std::vector<Rep>& reps) {
  if (reps.empty()) return;
  auto row = [&](const char* phase, const std::function<std::int64_t(const Rep&)>& f) {
    std::vector<std::int64_t> v;
    for (const Rep& r : reps) v.push_back(f(r));
    std::printf("  %-13s %7lld %7lld %7lld\n", phase,
                static_cast<long long>(*std::min_element(v.begin(), v.end())),
                static_cast<long long>(Median(v)),
                static_cast<long long>(*std::max_element(v.begin(), v.end())));
  };
  std::printf("\n%s, %zu repetitions (ms):  min  median     max\n", name.c_str(), reps.size());
  row("detection", [](const Rep& r) { return r.detected; });
  row("decision", [](const Rep& r) { return r.journaled - r.detected; });
  row("execution", [](const Rep& r) { return r.submitted - r.journaled; });
  row("verification", [](const Rep& r) { return r.ended - r.submitted; });
  row("total", [](const Rep& r) { return r.ended; });
  row("sim-running", [](const Rep& r) { return r.sim_running.value_or(-1); });
  row("ex-requests", [](const Rep& r) { return r.executor_gets + r.executor_mutating; });
  row("ex-mutating", [](const Rep& r) { return r.executor_mutating; });
  const auto extra =
      std::count_if(reps.begin(), reps.end(), [](const Rep& r) { return r.recoveries > 1; });
  if (extra > 0) {
    std::printf(
        "  %lld of %zu repetitions: the agent started another recovery of the recovered "
        "job before it settled\n",
        static_cast<long long>(extra), reps.size());
  }
}

int Main(int argc, char** argv) {
  Options o;
  CLI::App app{"recovery_bench: time to recover a job end to end against flinksim (real time)"};
  app.add_option("--repetitions", o.repetitions, "repetitions per scenario")
      ->check(CLI::PositiveNumber);
  app.add_option("--poll-interval-ms", o.poll_interval_ms, "the agent's poll interval")
      ->check(CLI::Range(100, 60'000));
  app.add_option("--executor-poll-ms", o.executor_poll_ms,
                 "ExecutorOptions::poll_interval_ms (waits: terminal state, verification)")
      ->check(CLI::Range(10, 60'000));
  app.add_option("--restart-after", o.restart_after,
                 "restart_loop's `after`: how long each attempt runs before it fails");
  app.add_option("--repetition-timeout-s", o.repetition_timeout_s, "limit per wait")
      ->check(CLI::Range(10, 3600));
  app.add_option("--scenarios", o.scenarios, "comma-separated: failed, restart-loop");
  app.add_option("--flinksim", o.flinksim, "flinksim binary");
  app.add_flag("--verbose", o.verbose, "the agent's info logs");
  CLI11_PARSE(app, argc, argv);

  std::signal(SIGINT, OnStopSignal);
  std::signal(SIGTERM, OnStopSignal);
  std::signal(SIGPIPE, SIG_IGN);
  spdlog::set_level(o.verbose ? spdlog::level::info : spdlog::level::err);

  std::vector<Scenario> scenarios;
  if (o.scenarios.find("failed") != std::string::npos) {
    scenarios.push_back(
        {"failed",
         "fail_job",
         R"({"job":"job-0","exception":"java.lang.RuntimeException: boom","terminal":true})",
         {}});
  }
  if (o.scenarios.find("restart-loop") != std::string::npos) {
    scenarios.push_back({"restart-loop",
                         "restart_loop",
                         R"({"job":"job-0","after":")" + o.restart_after + R"("})",
                         {"--conf", "restart-strategy.fixed-delay.attempts=100000"}});
  }
  std::printf(
      "recovery_bench: %d repetitions per scenario; agent poll interval %d ms, executor poll %d "
      "ms (verification and terminal-state waits)\n"
      "flinksim --time-scale 1: real time, so its timings are Flink-like (tasks RUNNING ~0.9 s "
      "after a submit, cancel 300 ms, restart delay 1 s); --jobs 1 --checkpoint-interval 2s; a "
      "fresh flinksim per scenario\n"
      "rules: status == FAILED, increase(restarts, 10s) > 2 (recover); recovery {cooldown: 0s, "
      "max_recoveries: 100, window: 10m, stable_after: 0s}\n"
      "columns (ms after the injection, wall clock of this process): detect = the firing cycle's "
      "observation ended; decide = -> journaled; execute = -> submitted (verify entered); verify "
      "= -> ended succeeded; sim-running = flinksim's own view (25 ms polls) of the new instance "
      "RUNNING/RUNNING; verify-lag = ended - sim-running; ex-GET/ex-mut = requests the executor "
      "sent\n"
      "repetition k injects (k-1)/N of the poll interval after a cycle started; between "
      "repetitions the new instance completes a checkpoint, no rule fires, and the restart "
      "window (10 s) has passed since the recovery ended\n",
      o.repetitions, o.poll_interval_ms, o.executor_poll_ms);

  int failures = 0;
  std::vector<std::pair<std::string, std::vector<Rep>>> results;
  for (const Scenario& sc : scenarios) {
    if (g_stop.load()) break;
    results.emplace_back(sc.name, RunScenario(sc, o, failures));
  }
  for (const auto& [name, reps] : results) PrintSummary(name, reps);
  std::fflush(stdout);
  if (g_stop.load()) return 130;
  return failures == 0 ? 0 : 1;
}

}  // namespace
}  // namespace flinkguard::bench

int main(int argc, char** argv) {
  try {
    return flinkguard::bench::Main(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "recovery_bench: " << e.what() << "\n";
    return 1;
  }
}
