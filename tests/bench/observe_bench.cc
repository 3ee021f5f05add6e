// observe_bench: how fast one agent observes many jobs on many clusters.
//
// Starts N flinksim processes (M jobs each, data on tmpfs), waits until every job is RUNNING,
// then runs K Observer cycles at a fixed interval over a real CurlTransport and prints, per cycle
// and in summary, wall time, the agent's own CPU time, RSS, requests and freshness. Then, with the
// same flinksim processes up, runs wrk with the agent's steady-state request mix to measure what
// this machine can serve at all, and prints the agent's request rate as a fraction of it.
// A benchmark, not a test: it prints figures and asserts nothing about time. It exits non-zero
// only when the setup fails (a flinksim does not start, jobs never run, wrk is missing).

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <numeric>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "agent/flink/flink_parse.h"
#include "agent/flink/flink_rest_client.h"
#include "agent/http/curl_transport.h"
#include "agent/observer.h"
#include "rules/snapshot.h"
#include "tests/support/test_support.h"

namespace flinkguard::bench {
namespace {

using Clock = std::chrono::steady_clock;
using testing::ChildProcess;

constexpr const char* kJobMetrics = kObservedJobMetrics;

std::atomic<bool> g_stop{false};
extern "C" void OnStopSignal(int /*sig*/) { g_stop.store(true); }

struct Options {
  int clusters = 10;
  int jobs_per_cluster = 100;
  int cycles = 5;
  int interval_ms = 10'000;
  std::string flinksim = FLINKGUARD_BENCH_FLINKSIM;
  int detail_every = ObserverOptions{}.detail_every;
  int max_connections = static_cast<int>(CurlTransportOptions{}.max_total_connections);
  int max_host_connections = static_cast<int>(CurlTransportOptions{}.max_host_connections);
  int sim_threads = 16;
  int ready_timeout_s = 120;
  std::string shm_dir = "/dev/shm";
  std::string wrk = "wrk";
  int wrk_seconds = 5;
  int wrk_threads = 0;      // 0: one thread per cluster hit, up to max_connections / per-host
  int wrk_connections = 0;  // 0: wrk_threads * max_host_connections
  bool no_wrk = false;
};

// Sleeps up to `d`, waking early when a stop signal arrived.
void SleepFor(std::chrono::milliseconds d) {
  const auto until = Clock::now() + d;
  while (!g_stop.load() && Clock::now() < until) {
    std::this_thread::sleep_for(
        std::min<Clock::duration>(until - Clock::now(), std::chrono::milliseconds(50)));
  }
}

std::int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// A fresh directory <base>/flinkguard-bench-XXXXXX, removed with everything in it at
// destruction. The flinksim data dirs live here, so it belongs on tmpfs.
class ScratchDir {
 public:
  explicit ScratchDir(const std::string& base) {
    std::string templ = base + "/flinkguard-bench-XXXXXX";
    if (::mkdtemp(templ.data()) == nullptr) {
      throw std::runtime_error("cannot create a directory under " + base);
    }
    path_ = templ;
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The flinksim processes. Destruction stops every one by PID: SIGTERM to all first, so their
// shutdowns (up to ~2 s each) overlap, then a bounded wait (and SIGKILL) for each.
class Fleet {
 public:
  Fleet() = default;
  Fleet(const Fleet&) = delete;
  Fleet& operator=(const Fleet&) = delete;
  ~Fleet() { StopAll(); }

  void Add(ChildProcess child) { children_.push_back(std::move(child)); }
  std::vector<ChildProcess>& children() { return children_; }

  void StopAll() {
    for (ChildProcess& c : children_) c.Signal(SIGTERM);
    for (ChildProcess& c : children_) c.Stop(std::chrono::milliseconds(5000));
  }

 private:
  std::vector<ChildProcess> children_;
};

// CPU seconds (user + system) this process used so far; children are not included.
double SelfCpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// CPU seconds (user + system) of the given live processes, from /proc/<pid>/stat.
double ProcessesCpuSeconds(const std::vector<pid_t>& pids) {
  static const double kTick = static_cast<double>(sysconf(_SC_CLK_TCK));
  double total = 0;
  for (pid_t pid : pids) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto paren = text.rfind(')');
    if (paren == std::string::npos) continue;
    std::istringstream fields(text.substr(paren + 2));
    std::string f;
    std::int64_t utime = 0;
    std::int64_t stime = 0;
    // Fields after the command: state(3) ... utime(14) stime(15).
    for (int i = 3; i <= 15 && fields >> f; ++i) {
      if (i == 14) utime = std::stoll(f);
      if (i == 15) stime = std::stoll(f);
    }
    total += static_cast<double>(utime + stime) / kTick;
  }
  return total;
}

// Busy and total jiffies of the whole machine (all cores), from the first line of /proc/stat.
struct MachineTicks {
  std::int64_t busy = 0;
  std::int64_t total = 0;
};
MachineTicks ReadMachineTicks() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  in >> cpu;
  MachineTicks t;
  std::int64_t v = 0;
  for (int i = 0; i < 8 && in >> v; ++i) {
    t.total += v;
    if (i != 3 && i != 4) t.busy += v;  // idle, iowait
  }
  return t;
}
double BusyFraction(const MachineTicks& a, const MachineTicks& b) {
  const auto total = b.total - a.total;
  return total > 0 ? static_cast<double>(b.busy - a.busy) / static_cast<double>(total) : 0;
}

// A "VmHWM:"-style line of /proc/self/status, in KiB; 0 when absent.
std::int64_t StatusKib(const std::string& key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) == 0) return std::atoll(line.c_str() + key.size() + 1);
  }
  return 0;
}

std::int64_t MaxRssKib() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

// TCP connections this host opened so far (ActiveOpens in /proc/net/snmp): the network
// namespace's, which while the benchmark runs are the agent's own. -1 when unreadable.
long long TcpActiveOpens() {
  std::ifstream in("/proc/net/snmp");
  std::string header;
  std::string values;
  for (int i = 0; i < 100 && std::getline(in, header); ++i) {
    if (header.rfind("Tcp:", 0) != 0 || !std::getline(in, values)) continue;
    std::istringstream names(header);
    std::istringstream numbers(values);
    std::string name;
    std::string number;
    while (names >> name && numbers >> number) {
      if (name == "ActiveOpens") return std::atoll(number.c_str());
    }
  }
  return -1;
}

// Open sockets of this process (the transport's kept-alive connections).
int OpenSockets() {
  int n = 0;
  DIR* d = opendir("/proc/self/fd");
  if (d == nullptr) return -1;
  char target[256];
  for (int i = 0; i < 1'000'000; ++i) {
    dirent* e = readdir(d);
    if (e == nullptr) break;
    const std::string p = std::string("/proc/self/fd/") + e->d_name;
    const ssize_t len = readlink(p.c_str(), target, sizeof(target) - 1);
    if (len > 0 &&
        std::string_view(target, static_cast<std::size_t>(len)).rfind("socket:", 0) == 0) {
      ++n;
    }
  }
  closedir(d);
  return n;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(v.size())));
  return v[std::clamp<std::size_t>(rank, 1, v.size()) - 1];
}

double Mean(const std::vector<double>& v) {
  return v.empty() ? 0 : std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}

struct Cluster {
  std::string name;
  int port = 0;
  FlinkRestClient client{FlinkEndpoint{}};
  std::vector<std::string> job_ids;     // from /jobs/overview once all are RUNNING
  std::vector<std::string> source_ids;  // source vertex of each job, for the wrk mix
};

// Starts the flinksim processes and fills `clusters` with their REST ports.
void StartFleet(const Options& o, const std::string& scratch, Fleet& fleet,
                std::vector<Cluster>& clusters) {
  for (int i = 0; i < o.clusters && !g_stop.load(); ++i) {
    const std::string dir = scratch + "/c" + std::to_string(i);
    std::filesystem::create_directories(dir + "/data");
    fleet.Add(ChildProcess::Start(
        {o.flinksim, "--listen", "127.0.0.1:0", "--jobs", std::to_string(o.jobs_per_cluster),
         "--port-file", dir + "/port", "--data-dir", dir + "/data", "--threads",
         std::to_string(o.sim_threads), "--time-scale", "1", "--seed", std::to_string(i + 1)},
        dir + "/log"));
  }
  for (int i = 0; i < o.clusters && !g_stop.load(); ++i) {
    const std::string dir = scratch + "/c" + std::to_string(i);
    auto line = testing::WaitForFileLine(dir + "/port", std::chrono::seconds(30));
    if (!line) {
      throw std::runtime_error("flinksim " + std::to_string(i) + " wrote no port file; log:\n" +
                               fleet.children()[static_cast<std::size_t>(i)].Log());
    }
    const auto at = line->find("rest=127.0.0.1:");
    if (at == std::string::npos) throw std::runtime_error("unexpected port file: " + *line);
    Cluster c;
    c.name = "c" + std::to_string(i);
    c.port = std::atoi(line->c_str() + at + std::string("rest=127.0.0.1:").size());
    FlinkEndpoint ep;
    ep.cluster = c.name;
    ep.base_url = "http://127.0.0.1:" + std::to_string(c.port);
    c.client = FlinkRestClient(ep);
    clusters.push_back(std::move(c));
  }
}

// Polls /jobs/overview on every cluster until every job is RUNNING with all tasks RUNNING, at
// most `timeout`. Records the job ids. Returns false on timeout or stop.
bool WaitAllRunning(HttpTransport& transport, std::vector<Cluster>& clusters, int expected_per,
                    std::chrono::seconds timeout) {
  const auto deadline = Clock::now() + timeout;
  int running = 0;
  for (int attempt = 0; attempt < 100'000 && !g_stop.load() && Clock::now() < deadline; ++attempt) {
    RequestBatch batch;
    running = 0;
    int clusters_ready = 0;
    for (Cluster& c : clusters) {
      batch.Add(c.client.Request("GET", "/jobs/overview"), [&](Result<HttpResponse> r) {
        auto jobs = c.client.Handle("GET", "/jobs/overview", std::move(r), ParseJobsOverview);
        if (!jobs) return;
        int here = 0;
        c.job_ids.clear();
        for (const JobOverview& j : jobs->items) {
          c.job_ids.push_back(j.id);
          if (j.state == JobStatus::kRunning && j.AllTasksRunning()) ++here;
        }
        running += here;
        if (here == expected_per && static_cast<int>(jobs->items.size()) == expected_per) {
          ++clusters_ready;
        }
      });
    }
    transport.Run(batch);
    if (clusters_ready == static_cast<int>(clusters.size())) return true;
    SleepFor(std::chrono::milliseconds(250));
  }
  std::cerr << "observe_bench: only " << running << " of "
            << static_cast<std::size_t>(expected_per) * clusters.size() << " jobs RUNNING after "
            << timeout.count() << " s\n";
  return false;
}

// What one cycle cost and produced.
struct CycleFigures {
  double wall_s = 0;
  double cpu_s = 0;         // the agent process only
  double sim_cpu_s = 0;     // all flinksim processes together, during the cycle
  double machine_busy = 0;  // fraction of all cores busy during the cycle
  std::int64_t requests = 0;
  std::size_t problems = 0;
  std::size_t jobs = 0;
  std::size_t status_fresh = 0;  // status fresh and RUNNING
  std::size_t metrics_fresh = 0;
  std::size_t checkpoint_fresh = 0;
  std::size_t checkpoint_bound = 0;  // of which the age is an upper bound
  std::size_t point_fresh = 0;       // the newest restore point fresh (not a newer one unread)
  std::size_t qps_fresh = 0;
  std::size_t lag_fresh = 0;
  std::size_t backpressure_fresh = 0;
  std::size_t complete = 0;  // all of the above
  std::int64_t rss_kib = 0;
  int sockets = 0;
  long long connects = 0;  // TCP connections opened during the cycle
};

void CountFreshness(const Observation& obs, CycleFigures& f) {
  f.jobs = obs.jobs.size();
  for (const JobSnapshot& s : obs.jobs) {
    const bool status = s.status.fresh() && s.status.value == JobStatus::kRunning &&
                        s.all_tasks_running.fresh() && s.all_tasks_running.value.value_or(false);
    const bool metrics = s.restarts.fresh() && s.checkpoints_completed.fresh() &&
                         s.checkpoints_failed.fresh() && s.uptime_ms.fresh();
    // Between two reads of /checkpoints a newer checkpoint is counted but not read: the restore
    // points are stale and the age is an upper bound. That is what the observer promises.
    const bool checkpoint = (s.last_checkpoint.fresh() || s.checkpoint_age_upper_bound) &&
                            s.checkpoint_age_ms.fresh() && s.checkpoint_settings.fresh();
    f.checkpoint_bound += checkpoint && s.checkpoint_age_upper_bound;
    f.point_fresh += s.last_checkpoint.fresh();
    const bool qps = s.qps.fresh();
    const bool lag = s.lag.fresh();
    const bool bp = s.backpressure.fresh();
    f.status_fresh += status;
    f.metrics_fresh += metrics;
    f.checkpoint_fresh += checkpoint;
    f.qps_fresh += qps;
    f.lag_fresh += lag;
    f.backpressure_fresh += bp;
    f.complete += status && metrics && checkpoint && qps && lag && bp;
  }
}

void PrintCycleHeader() {
  std::printf(
      "%5s %8s %8s %7s %8s %6s %8s %6s %8s %6s %6s | %6s %6s %6s %6s %6s %6s %6s %6s %6s %6s\n",
      "cycle", "wall_ms", "cpu_ms", "cpu/int", "requests", "conns", "req/s", "probs", "sim_cpu",
      "busy",
      "rssMiB", "jobs", "status", "metric", "chkpt", "bound", "point", "qps", "lag", "bp",
      "compl");
}

void PrintCycle(int i, const CycleFigures& f, double interval_s) {
  std::printf(
      "%5d %8.0f %8.0f %6.1f%% %8lld %6lld %8.0f %6zu %7.2fs %5.0f%% %6.1f | %6zu %6zu %6zu %6zu "
      "%6zu %6zu %6zu %6zu %6zu %6zu\n",
      i, f.wall_s * 1e3, f.cpu_s * 1e3, 100 * f.cpu_s / interval_s,
      static_cast<long long>(f.requests), f.connects, static_cast<double>(f.requests) / f.wall_s,
      f.problems,
      f.sim_cpu_s, 100 * f.machine_busy, static_cast<double>(f.rss_kib) / 1024.0, f.jobs,
      f.status_fresh, f.metrics_fresh, f.checkpoint_fresh, f.checkpoint_bound, f.point_fresh,
      f.qps_fresh,
      f.lag_fresh, f.backpressure_fresh, f.complete);
  std::fflush(stdout);
}

// Summary line over `cycles` (indices into `all`).
void PrintSummary(const char* label, const std::vector<CycleFigures>& all, std::size_t from,
                  double interval_s) {
  std::vector<double> wall;
  std::vector<double> cpu;
  std::vector<double> rate;
  std::vector<double> sim_cpu;
  double requests = 0;
  for (std::size_t i = from; i < all.size(); ++i) {
    wall.push_back(all[i].wall_s * 1e3);
    cpu.push_back(all[i].cpu_s);
    sim_cpu.push_back(all[i].sim_cpu_s);
    rate.push_back(static_cast<double>(all[i].requests) / all[i].wall_s);
    requests += static_cast<double>(all[i].requests);
  }
  if (wall.empty()) return;
  const double n = static_cast<double>(wall.size());
  std::printf("%s (%zu cycles):\n", label, wall.size());
  std::printf("  cycle wall ms       min %.0f  median %.0f  p95 %.0f  max %.0f\n",
              Percentile(wall, 0), Percentile(wall, 0.5), Percentile(wall, 0.95),
              Percentile(wall, 1.0));
  std::printf(
      "  agent cpu s/cycle   mean %.3f  max %.3f  -> %.1f%% of one core at the %.0f s "
      "interval (max %.1f%%)\n",
      Mean(cpu), Percentile(cpu, 1.0), 100 * Mean(cpu) / interval_s, interval_s,
      100 * Percentile(cpu, 1.0) / interval_s);
  std::printf("  requests/cycle      mean %.0f;  achieved rate mean %.0f req/s (max %.0f)\n",
              requests / n, Mean(rate), Percentile(rate, 1.0));
  std::printf("  cpu per request     agent %.1f us, flinksim %.1f us (all processes together)\n",
              1e6 * std::accumulate(cpu.begin(), cpu.end(), 0.0) / requests,
              1e6 * std::accumulate(sim_cpu.begin(), sim_cpu.end(), 0.0) / requests);
}

// ---- wrk: the physical limit of this machine for the same request mix ----

// Reads, for the first `n` clusters, each job's source vertex id (from the job details).
void ReadSourceVertices(HttpTransport& transport, std::vector<Cluster>& clusters, std::size_t n) {
  RequestBatch batch;
  for (std::size_t ci = 0; ci < n && ci < clusters.size(); ++ci) {
    Cluster& c = clusters[ci];
    c.source_ids.assign(c.job_ids.size(), "");
    for (std::size_t j = 0; j < c.job_ids.size(); ++j) {
      const std::string path = "/jobs/" + c.job_ids[j];
      batch.Add(c.client.Request("GET", path), [&c, j, path](Result<HttpResponse> r) {
        auto d = c.client.Handle("GET", path, std::move(r), ParseJobDetails);
        if (!d) return;
        for (const VertexInfo& v : d->vertices) {
          if (v.name.rfind("Source", 0) == 0) {
            c.source_ids[j] = v.id;
            break;
          }
        }
      });
    }
  }
  transport.Run(batch);
}

// A Lua script for wrk: thread k talks to cluster k (thread.addr) and cycles through the
// agent's steady-state requests for that cluster's jobs: per job the metrics, and for every
// third job (the Observer's default detail_every) the job details, the source throughput and
// the checkpoint statistics.
std::string WrkScript(const std::vector<Cluster>& clusters, std::size_t n, int detail_every) {
  std::ostringstream s;
  s << "-- generated by observe_bench\n";
  s << "local metrics = \"" << kJobMetrics << "\"\n";
  s << "local detail_every = " << std::max(1, detail_every) << "\n";
  s << "local clusters = {\n";
  for (std::size_t ci = 0; ci < n && ci < clusters.size(); ++ci) {
    const Cluster& c = clusters[ci];
    s << "  {port = \"" << c.port << "\", jobs = {";
    for (std::size_t j = 0; j < c.job_ids.size(); ++j) {
      s << "{\"" << c.job_ids[j] << "\", \"" << c.source_ids[j] << "\"},";
    }
    s << "}},\n";
  }
  s << "}\n";
  s << R"lua(local threads = 0
function setup(thread)
  threads = threads + 1
  local index = (threads - 1) % #clusters + 1
  thread.addr = wrk.lookup("127.0.0.1", clusters[index].port)[1]
  thread:set("cluster_index", index)
end
function init(args)
  requests = {}
  local headers = {["Accept"] = "application/json"}
  for k, job in ipairs(clusters[cluster_index].jobs) do
    local base = "/jobs/" .. job[1]
    requests[#requests + 1] = wrk.format("GET", base .. "/metrics?get=" .. metrics, headers)
    if k % detail_every == 0 then
      requests[#requests + 1] = wrk.format("GET", base, headers)
      if job[2] ~= "" then
        requests[#requests + 1] = wrk.format("GET", base .. "/vertices/" .. job[2] ..
            "/subtasks/metrics?get=numRecordsOutPerSecond,Source__Events.pendingRecords&agg=sum",
            headers)
      end
    end
  end
  next_request = 0
end
function request()
  next_request = next_request % #requests + 1
  return requests[next_request]
end
)lua";
  return s.str();
}

struct WrkFigures {
  double requests_per_s = 0;
  std::string summary;  // wrk's own lines worth showing
  double sim_cpu_s = 0;
  double machine_busy = 0;
  double seconds = 0;
};

std::optional<WrkFigures> RunWrk(const Options& o, const std::string& scratch, Fleet& fleet,
                                 std::vector<Cluster>& clusters, int threads, int connections) {
  std::vector<pid_t> pids;
  for (ChildProcess& c : fleet.children()) pids.push_back(c.pid());
  const std::string script_path = scratch + "/mix.lua";
  {
    std::ofstream out(script_path);
    out << WrkScript(clusters, static_cast<std::size_t>(threads), o.detail_every);
  }
  const std::string url = "http://127.0.0.1:" + std::to_string(clusters[0].port) + "/";
  const double sim_before = ProcessesCpuSeconds(pids);
  const MachineTicks m0 = ReadMachineTicks();
  const auto start = Clock::now();
  ChildProcess wrk = ChildProcess::Start(
      {o.wrk, "-t", std::to_string(threads), "-c", std::to_string(connections), "-d",
       std::to_string(o.wrk_seconds) + "s", "--timeout", "5s", "-s", script_path, url},
      scratch + "/wrk.log");
  // Bounded: wrk stops itself after -d; allow it a generous margin, then stop it.
  const auto deadline = start + std::chrono::seconds(o.wrk_seconds + 30);
  while (wrk.Running() && !g_stop.load() && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  wrk.Stop(std::chrono::milliseconds(2000));
  WrkFigures f;
  f.seconds = Seconds(Clock::now() - start);
  f.sim_cpu_s = ProcessesCpuSeconds(pids) - sim_before;
  f.machine_busy = BusyFraction(m0, ReadMachineTicks());
  const std::string log = wrk.Log();
  std::istringstream lines(log);
  std::string line;
  bool found = false;
  while (std::getline(lines, line)) {
    const auto first = line.find_first_not_of(' ');
    if (first == std::string::npos) continue;
    const std::string t = line.substr(first);
    if (t.rfind("Requests/sec:", 0) == 0) {
      f.requests_per_s = std::atof(t.c_str() + std::string("Requests/sec:").size());
      found = true;
    }
    if (t.find("requests in") != std::string::npos || t.rfind("Socket errors", 0) == 0 ||
        t.rfind("Non-2xx", 0) == 0 || t.rfind("Latency", 0) == 0) {
      f.summary += "    wrk: " + t + "\n";
    }
  }
  if (!found) {
    std::cerr << "observe_bench: no Requests/sec in wrk's output:\n" << log << "\n";
    return std::nullopt;
  }
  return f;
}

int Main(int argc, char** argv) {
  Options o;
  CLI::App app{"observe_bench: the Observer against N flinksim clusters, and wrk against the same",
               "observe_bench"};
  app.add_option("--clusters", o.clusters, "flinksim processes (one per cluster)")
      ->check(CLI::Range(1, 1000));
  app.add_option("--jobs-per-cluster", o.jobs_per_cluster, "jobs per flinksim")
      ->check(CLI::Range(1, 10'000));
  app.add_option("--cycles", o.cycles, "observer cycles")->check(CLI::Range(1, 10'000));
  app.add_option("--interval-ms", o.interval_ms, "cycle interval (start to start)")
      ->check(CLI::Range(1, 3'600'000));
  app.add_option("--flinksim", o.flinksim, "flinksim binary");
  app.add_option("--detail-every", o.detail_every, "ObserverOptions::detail_every")
      ->check(CLI::Range(1, 1000));
  app.add_option("--max-connections", o.max_connections,
                 "CurlTransportOptions::max_total_connections")
      ->check(CLI::Range(1, 100'000));
  app.add_option("--max-host-connections", o.max_host_connections,
                 "CurlTransportOptions::max_host_connections")
      ->check(CLI::Range(1, 10'000));
  app.add_option("--sim-threads", o.sim_threads, "flinksim --threads")->check(CLI::Range(1, 256));
  app.add_option("--ready-timeout-s", o.ready_timeout_s, "wait this long for all jobs RUNNING")
      ->check(CLI::Range(1, 3600));
  app.add_option("--shm-dir", o.shm_dir, "where the flinksim data dirs go (tmpfs)");
  app.add_option("--wrk", o.wrk, "wrk binary");
  app.add_option("--wrk-seconds", o.wrk_seconds, "wrk duration")->check(CLI::Range(1, 600));
  app.add_option("--wrk-threads", o.wrk_threads,
                 "wrk threads, one cluster each (0: max-connections / max-host-connections, at "
                 "most --clusters)")
      ->check(CLI::Range(0, 1000));
  app.add_option("--wrk-connections", o.wrk_connections,
                 "wrk connections (0: wrk threads x max-host-connections)")
      ->check(CLI::Range(0, 100'000));
  app.add_flag("--no-wrk", o.no_wrk, "skip the wrk run");
  CLI11_PARSE(app, argc, argv);

  std::signal(SIGINT, OnStopSignal);
  std::signal(SIGTERM, OnStopSignal);
  std::signal(SIGPIPE, SIG_IGN);

  const double interval_s = o.interval_ms / 1000.0;
  const std::size_t total_jobs =
      static_cast<std::size_t>(o.clusters) * static_cast<std::size_t>(o.jobs_per_cluster);
  std::printf(
      "observe_bench: %d clusters x %d jobs = %zu jobs, %d cycles at %d ms, "
      "detail_every %d, max_connections %d (per host %d), flinksim --threads %d\n",
      o.clusters, o.jobs_per_cluster, total_jobs, o.cycles, o.interval_ms, o.detail_every,
      o.max_connections, o.max_host_connections, o.sim_threads);
  std::printf(
      "machine: %u hardware threads; the agent, the flinksim processes (and wrk) share "
      "them\n",
      std::thread::hardware_concurrency());

  ScratchDir scratch(o.shm_dir);
  Fleet fleet;
  std::vector<Cluster> clusters;
  const auto t0 = Clock::now();
  StartFleet(o, scratch.path(), fleet, clusters);
  if (g_stop.load()) return 130;
  std::vector<pid_t> pids;
  for (ChildProcess& c : fleet.children()) pids.push_back(c.pid());
  {
    // Its own transport, so the agent's first cycle opens its connections as after a start.
    CurlTransport setup_transport({});
    if (!WaitAllRunning(setup_transport, clusters, o.jobs_per_cluster,
                        std::chrono::seconds(o.ready_timeout_s))) {
      return 1;
    }
  }
  std::printf("setup: %zu flinksim processes up, all %zu jobs RUNNING after %.1f s\n",
              clusters.size(), total_jobs, Seconds(Clock::now() - t0));
  {
    // What the emulated clusters cost with nobody asking (checkpoints, timers, listeners).
    const double sim0 = ProcessesCpuSeconds(pids);
    const MachineTicks m0 = ReadMachineTicks();
    const auto w0 = Clock::now();
    SleepFor(std::chrono::seconds(3));
    const double s = Seconds(Clock::now() - w0);
    std::printf(
        "idle: flinksim background %.1f%% of one core (all processes, no requests); all "
        "cores %.0f%% busy (other load included)\n\n",
        100 * (ProcessesCpuSeconds(pids) - sim0) / s, 100 * BusyFraction(m0, ReadMachineTicks()));
  }

  // ---- the agent ----
  std::vector<ObservedCluster> observed;
  for (const Cluster& c : clusters) observed.push_back({c.client.endpoint(), "az-1"});
  CurlTransportOptions topt;
  topt.max_total_connections = static_cast<std::size_t>(o.max_connections);
  topt.max_host_connections = static_cast<std::size_t>(o.max_host_connections);
  topt.user_agent = "flinkguard-observe-bench";
  CurlTransport transport(topt);
  ObserverOptions oopt;
  oopt.detail_every = o.detail_every;
  Observer observer(transport, std::move(observed), nullptr, {}, oopt);

  const std::int64_t rss_before_kib = StatusKib("VmRSS");
  std::vector<CycleFigures> figures;
  std::vector<std::string> sample_problems;
  PrintCycleHeader();
  const auto run_start = Clock::now();
  const double cpu_run_start = SelfCpuSeconds();
  const double sim_run_start = ProcessesCpuSeconds(pids);
  for (int i = 0; i < o.cycles && !g_stop.load(); ++i) {
    const auto due =
        run_start + std::chrono::milliseconds(static_cast<std::int64_t>(i) * o.interval_ms);
    if (Clock::now() < due) {
      SleepFor(std::chrono::duration_cast<std::chrono::milliseconds>(due - Clock::now()));
    }
    if (g_stop.load()) break;
    CycleFigures f;
    const double sim0 = ProcessesCpuSeconds(pids);
    const MachineTicks m0 = ReadMachineTicks();
    const double cpu0 = SelfCpuSeconds();
    const long long opens0 = TcpActiveOpens();
    const auto w0 = Clock::now();
    {
      const Observation obs = observer.RunCycle(WallMs());
      f.wall_s = Seconds(Clock::now() - w0);
      f.requests = obs.requests;
      f.problems = obs.problems.size();
      for (std::size_t p = 0; p < obs.problems.size() && sample_problems.size() < 5; ++p) {
        sample_problems.push_back(obs.problems[p]);
      }
      CountFreshness(obs, f);
    }  // the Observation is dropped here, as the agent's loop would after deciding
    f.cpu_s = SelfCpuSeconds() - cpu0;
    f.machine_busy = BusyFraction(m0, ReadMachineTicks());
    f.sim_cpu_s = ProcessesCpuSeconds(pids) - sim0;
    f.rss_kib = StatusKib("VmRSS");
    f.sockets = OpenSockets();
    f.connects = opens0 < 0 ? -1 : TcpActiveOpens() - opens0;
    figures.push_back(f);
    PrintCycle(i + 1, f, interval_s);
  }
  // The whole run, idle time between cycles included, up to the end of the last interval.
  const auto run_end_due =
      run_start +
      std::chrono::milliseconds(static_cast<std::int64_t>(figures.size()) * o.interval_ms);
  if (Clock::now() < run_end_due) {
    SleepFor(std::chrono::duration_cast<std::chrono::milliseconds>(run_end_due - Clock::now()));
  }
  const double run_s = Seconds(Clock::now() - run_start);
  const double cpu_run = SelfCpuSeconds() - cpu_run_start;
  const double sim_run = ProcessesCpuSeconds(pids) - sim_run_start;
  if (figures.empty()) return 130;

  std::printf(
      "\n(wall_ms: RunCycle wall time; cpu_ms: this process's user+sys CPU during it; "
      "cpu/int: cpu_ms / interval;\n conns: TCP connections opened; sim_cpu: CPU of all flinksim processes during the "
      "cycle; busy: all cores busy during the cycle;\n status..compl: jobs whose fields "
      "are fresh: status RUNNING+all tasks, metrics, checkpoint (restore point fresh, or stale "
      "with\n the age an upper bound), of which bound: the age is an upper bound, point: the newest "
      "restore\n point known and fresh, qps, source lag, backpressure, all)\n\n");
  PrintSummary("all cycles", figures, 0, interval_s);
  if (figures.size() > 1) PrintSummary("steady state (cycles 2..K)", figures, 1, interval_s);
  const CycleFigures& last = figures.back();
  std::printf(
      "whole run: %.1f s, agent cpu %.2f s = %.1f%% of one core on average; "
      "flinksim cpu %.1f s = %.1f%% of one core\n",
      run_s, cpu_run, 100 * cpu_run / run_s, sim_run, 100 * sim_run / run_s);
  std::printf(
      "agent memory: peak RSS %.1f MiB (ru_maxrss %.1f MiB, VmHWM %.1f MiB), RSS before "
      "the first cycle %.1f MiB, after the last %.1f MiB; %d sockets open\n",
      static_cast<double>(std::max(MaxRssKib(), StatusKib("VmHWM"))) / 1024.0,
      static_cast<double>(MaxRssKib()) / 1024.0, static_cast<double>(StatusKib("VmHWM")) / 1024.0,
      static_cast<double>(rss_before_kib) / 1024.0, static_cast<double>(last.rss_kib) / 1024.0,
      last.sockets);
  std::printf(
      "last cycle: %zu of %zu jobs present, %zu with status fresh and RUNNING, %zu "
      "complete and fresh, %zu problems\n",
      last.jobs, total_jobs, last.status_fresh, last.complete, last.problems);
  for (const std::string& p : sample_problems) std::printf("  problem: %s\n", p.c_str());

  // ---- wrk ----
  if (!o.no_wrk && !g_stop.load()) {
    const int per_host = std::max(1, o.max_host_connections);
    int threads = o.wrk_threads > 0 ? o.wrk_threads : std::max(1, o.max_connections / per_host);
    threads = std::min(threads, o.clusters);
    const int connections =
        std::max(threads, o.wrk_connections > 0 ? o.wrk_connections : threads * per_host);
    {
      CurlTransport setup_transport({});
      ReadSourceVertices(setup_transport, clusters, static_cast<std::size_t>(threads));
    }
    std::printf(
        "\nwrk: %d s, %d threads (one cluster each), %d connections, the agent's "
        "steady-state mix (metrics; details and source throughput 1/%d)\n",
        o.wrk_seconds, threads, connections, o.detail_every);
    std::fflush(stdout);
    auto w = RunWrk(o, scratch.path(), fleet, clusters, threads, connections);
    if (!w) return 1;
    std::printf("%s", w->summary.c_str());
    const double total_requests = w->requests_per_s * o.wrk_seconds;
    std::printf("  wrk: %.0f req/s; flinksim cpu %.1f us per request; all cores %.0f%% busy\n",
                w->requests_per_s, total_requests > 0 ? 1e6 * w->sim_cpu_s / total_requests : 0,
                100 * w->machine_busy);
    std::vector<double> rates;
    for (std::size_t i = figures.size() > 1 ? 1 : 0; i < figures.size(); ++i) {
      rates.push_back(static_cast<double>(figures[i].requests) / figures[i].wall_s);
    }
    const double agent_rate = Mean(rates);
    std::printf("  agent steady-state rate %.0f req/s = %.0f%% of wrk's rate\n", agent_rate,
                w->requests_per_s > 0 ? 100 * agent_rate / w->requests_per_s : 0);
  }
  std::fflush(stdout);
  return 0;
}

}  // namespace
}  // namespace flinkguard::bench

int main(int argc, char** argv) {
  try {
    return flinkguard::bench::Main(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "observe_bench: " << e.what() << "\n";
    return 1;
  }
}
