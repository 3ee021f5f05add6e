// PrometheusClient and the Observer's TSDB signals against a real Prometheus server that scrapes
// flinksim's PrometheusReporter exposition every second. Both servers run as child processes on
// loopback ports and are stopped by PID. Every wait is bounded in iterations and time.

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <rapidjson/document.h>

#include "agent/http/curl_transport.h"
#include "agent/observer.h"
#include "agent/tsdb/prometheus_client.h"
#include "tests/support/test_support.h"

namespace {

using namespace flinkguard;
using flinkguard::testing::ChildProcess;
using flinkguard::testing::HttpCall;
using flinkguard::testing::HttpReply;
using flinkguard::testing::TempDir;
using namespace std::chrono_literals;

// Queries over the metric names of Flink's PrometheusReporter, as flinksim exports them.
const std::string kSourceQps =
    R"(sum by (job_name) (flink_taskmanager_job_task_operator_numRecordsOutPerSecond{operator_name=~"Source.*"}))";
const std::string kSourcePending =
    R"(sum by (job_name) (flink_taskmanager_job_task_operator_pendingRecords))";
const std::string kMaxBackpressured =
    R"(max by (job_name) (flink_taskmanager_job_task_backPressuredTimeMsPerSecond))";

// The three jobs, the label value Flink's reporter writes for each name, and the traffic the
// tests give them. job-2 is backpressured: its sources emit qps·(1-ratio), the rest piles up in
// pendingRecords.
struct JobPlan {
  const char* name;
  const char* label;
  double qps;
  double backpressure;
};
constexpr JobPlan kJobs[] = {
    {"job-0", "job_0", 1000, 0.0},
    {"job-1", "job_1", 2000, 0.0},
    {"job-2", "job_2", 3000, 0.5},
};

std::int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// "http://" + the address after `key=` in flinksim's port-file line.
std::string Endpoint(const std::string& line, const std::string& key) {
  const std::size_t pos = line.find(key + "=");
  if (pos == std::string::npos) return "";
  const std::size_t start = pos + key.size() + 1;
  const std::size_t end = line.find(' ', start);
  return "http://" + line.substr(start, end == std::string::npos ? end : end - start);
}

// A loopback port that was free a moment ago (bound to port 0, then closed); 0 on failure.
int FreeLoopbackPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

// The first executable `name` on PATH, or "".
std::string FindOnPath(const std::string& name) {
  const char* path = std::getenv("PATH");  // NOLINT(concurrency-mt-unsafe): before any thread
  std::string dirs = path != nullptr ? path : "/usr/bin:/bin";
  std::size_t start = 0;
  while (start <= dirs.size()) {
    std::size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string candidate = dirs.substr(start, end - start) + "/" + name;
    if (end > start && ::access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return "";
}

// What flinksim's control API says about one job.
struct SimJob {
  std::string id;
  double qps = 0;
  double backpressure = 0;
  double pending_records = 0;  // summed over the source subtasks
  // The source throughput flinksim reports for this traffic (no lag draining in these tests).
  double SourceQps() const { return qps * (1.0 - backpressure); }
};

class Flinksim {
 public:
  explicit Flinksim(const TempDir& dir) {
    proc_ = ChildProcess::Start(
        {FLINKSIM_BINARY, "--listen", "127.0.0.1:0", "--prometheus-listen", "127.0.0.1:0", "--jobs",
         "3", "--port-file", dir.File("ports"), "--time-scale", "1", "--seed", "11", "--data-dir",
         dir.File("sim-data")},
        dir.File("flinksim.log"));
    auto line = flinkguard::testing::WaitForFileLine(dir.File("ports"), 15s);
    INFO(proc_.Log());
    REQUIRE(line.has_value());
    rest_ = Endpoint(*line, "rest");
    prometheus_ = Endpoint(*line, "prometheus");
    REQUIRE(!rest_.empty());
    REQUIRE(!prometheus_.empty());
  }

  const std::string& rest() const { return rest_; }
  // host:port of the exposition, as a scrape target.
  std::string prometheus_target() const {
    return prometheus_.substr(std::string("http://").size());
  }

  void Control(const std::string& action, const std::string& body) {
    HttpReply r =
        HttpCall("POST", rest_ + "/_sim/" + action, body, {"Content-Type: application/json"});
    INFO(action << " " << body << " -> " << r.status << " " << r.body << r.error);
    REQUIRE(r.status == 200);
  }

  // Every job by name, from GET /_sim/jobs.
  std::map<std::string, SimJob> Jobs() {
    HttpReply r = HttpCall("GET", rest_ + "/_sim/jobs");
    REQUIRE(r.status == 200);
    rapidjson::Document d;
    d.Parse(r.body.c_str(), r.body.size());
    REQUIRE(d.IsObject());
    std::map<std::string, SimJob> out;
    for (const auto& j : d["jobs"].GetArray()) {
      SimJob s;
      s.id = j["id"].GetString();
      s.qps = j["traffic"]["qps"].GetDouble();
      s.backpressure = j["traffic"]["backpressure"].GetDouble();
      s.pending_records = j["traffic"]["pending_records"].GetDouble();
      out[j["name"].GetString()] = s;
    }
    return out;
  }

  // Polls /jobs/overview (every 50 ms, at most 15 s) until `n` jobs run with all their tasks.
  bool WaitAllRunning(int n) {
    const auto deadline = std::chrono::steady_clock::now() + 15s;
    for (int i = 0; i < 300 && std::chrono::steady_clock::now() < deadline; ++i) {
      HttpReply r = HttpCall("GET", rest_ + "/jobs/overview");
      rapidjson::Document d;
      d.Parse(r.body.c_str(), r.body.size());
      int running = 0;
      if (r.status == 200 && d.IsObject() && d.HasMember("jobs")) {
        for (const auto& j : d["jobs"].GetArray()) {
          if (std::string(j["state"].GetString()) == "RUNNING" &&
              j["tasks"]["running"].GetInt() == j["tasks"]["total"].GetInt()) {
            ++running;
          }
        }
      }
      if (running == n) return true;
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }

 private:
  ChildProcess proc_;
  std::string rest_;
  std::string prometheus_;
};

// A Prometheus server scraping one target every second, on a loopback port picked here (a
// port taken between picking and binding is retried with another one).
class PrometheusServer {
 public:
  PrometheusServer(const TempDir& dir, const std::string& target) {
    const std::string binary = FindOnPath("prometheus");
    REQUIRE_MESSAGE(!binary.empty(),
                    "prometheus is not installed (packaging/install-deps.sh --test installs it)");
    const std::string config = dir.File("prometheus.yml");
    {
      std::ofstream out(config);
      out << "global:\n"
             "  scrape_interval: 1s\n"
             "  scrape_timeout: 1s\n"
             "  evaluation_interval: 1s\n"
             "scrape_configs:\n"
             "  - job_name: flinksim\n"
             "    static_configs:\n"
             "      - targets: ['"
          << target << "']\n";
      REQUIRE(out.good());
    }
    for (int attempt = 0; attempt < 5; ++attempt) {
      const int port = FreeLoopbackPort();
      REQUIRE(port > 0);
      const std::string n = std::to_string(attempt);
      url_ = "http://127.0.0.1:" + std::to_string(port);
      proc_ = ChildProcess::Start(
          {binary, "--config.file=" + config, "--storage.tsdb.path=" + dir.File("tsdb-" + n),
           "--web.listen-address=127.0.0.1:" + std::to_string(port)},
          dir.File("prometheus-" + n + ".log"));
      switch (WaitReady()) {
        case Start::kReady: return;
        case Start::kPortTaken: continue;
        case Start::kFailed: FAIL("prometheus did not become ready:\n" << proc_.Log());
      }
    }
    FAIL("no free loopback port for prometheus after 5 attempts:\n" << proc_.Log());
  }

  const std::string& url() const { return url_; }
  void Stop() { proc_.Stop(); }
  void Signal(int sig) { proc_.Signal(sig); }
  std::string Log() const { return proc_.Log(); }

  // Queries (every 100 ms, at most 20 s) until the answer maps `jobs` jobs: the first scrapes
  // have landed. Returns the last answer.
  Result<SignalValues> WaitForJobs(PrometheusClient& client, const std::string& promql,
                                   std::size_t jobs) {
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    Result<SignalValues> r = client.Query(promql);
    for (int i = 0; i < 200 && std::chrono::steady_clock::now() < deadline; ++i) {
      if (r && r->by_job.size() == jobs) break;
      std::this_thread::sleep_for(100ms);
      r = client.Query(promql);
    }
    return r;
  }

 private:
  enum class Start { kReady, kPortTaken, kFailed };

  Start WaitReady() {
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    for (int i = 0; i < 400 && std::chrono::steady_clock::now() < deadline; ++i) {
      if (!proc_.Running()) {
        return Contains(proc_.Log(), "address already in use") ? Start::kPortTaken : Start::kFailed;
      }
      HttpReply r = HttpCall("GET", url_ + "/-/ready", "", {}, 1000ms);
      // Another server on the port would answer too: the child must still be alive.
      if (r.status == 200 && proc_.Running()) return Start::kReady;
      std::this_thread::sleep_for(50ms);
    }
    return Start::kFailed;
  }

  ChildProcess proc_;
  std::string url_;
};

// Passes every request on to a real transport and records its URL. Requests added by callbacks
// run in further rounds: the same answers, with less concurrency.
class RecordingTransport final : public HttpTransport {
 public:
  explicit RecordingTransport(HttpTransport& inner) : inner_(inner) {}

  void Run(RequestBatch& batch) override {
    for (int round = 0; round < 50 && !batch.empty(); ++round) {
      RequestBatch next;
      for (auto& [request, done] : batch.TakePending()) {
        urls_.push_back(request.url);
        next.Add(std::move(request), std::move(done));
      }
      inner_.Run(next);
    }
    CHECK(batch.empty());
  }

  // URLs sent since the last call, which clears them.
  std::vector<std::string> TakeUrls() { return std::exchange(urls_, {}); }

 private:
  HttpTransport& inner_;
  std::vector<std::string> urls_;
};

std::size_t CountContaining(const std::vector<std::string>& urls, const std::string& part) {
  std::size_t n = 0;
  for (const std::string& u : urls) {
    if (Contains(u, part)) ++n;
  }
  return n;
}

const JobSnapshot& JobNamed(const Observation& o, const std::string& name) {
  for (const JobSnapshot& s : o.jobs) {
    if (s.name == name) return s;
  }
  FAIL("no job " << name << " in the observation");
  throw std::logic_error("unreachable");
}

// flinksim with the planned traffic, then Prometheus scraping it, then a client that has seen
// the first scrape of every job. The traffic is set before Prometheus starts, so every sample
// in its TSDB reflects it; `before` is flinksim's view at that moment.
struct Stack {
  TempDir dir{"fg-prom-it"};
  Flinksim sim{dir};
  std::map<std::string, SimJob> before;
  std::optional<PrometheusServer> prom;
  CurlTransport transport{CurlTransportOptions{}};
  std::optional<PrometheusClient> client;

  Stack() {
    REQUIRE(sim.WaitAllRunning(3));
    for (const JobPlan& j : kJobs) {
      sim.Control("set_traffic", std::string(R"({"job":")") + j.name + R"(","qps":)" +
                                     std::to_string(j.qps) + R"(,"backpressure":)" +
                                     std::to_string(j.backpressure) + "}");
    }
    before = sim.Jobs();
    prom.emplace(dir, sim.prometheus_target());
    PrometheusClientOptions options;
    options.base_url = prom->url();
    client.emplace(transport, options);
    auto first = prom->WaitForJobs(*client, kSourceQps, 3);
    INFO(prom->Log());
    REQUIRE_MESSAGE(first.has_value(), (first ? "" : first.error().message));
    REQUIRE(first->by_job.size() == 3);
  }

  ObservedCluster Cluster() const {
    ObservedCluster c;
    c.endpoint.cluster = "sim";
    c.endpoint.base_url = sim.rest();
    c.az = "az-1";
    return c;
  }
};

std::vector<SignalQuery> Signals() {
  return {{"qps", kSourceQps, ""},
          {"lag", kSourcePending, ""},
          {"max_backpressured_ms", kMaxBackpressured, ""}};
}

TEST_CASE("PrometheusClient reads each job's source throughput and pending records as scraped") {
  const std::int64_t start_ms = WallMs();
  Stack st;

  Result<SignalValues> qps = st.client->Query(kSourceQps);
  Result<SignalValues> pending = st.client->Query(kSourcePending);
  const std::map<std::string, SimJob> after = st.sim.Jobs();
  REQUIRE_MESSAGE(qps.has_value(), (qps ? "" : qps.error().message));
  REQUIRE_MESSAGE(pending.has_value(), (pending ? "" : pending.error().message));
  CHECK_FALSE(qps->is_scalar);
  CHECK(qps->problems.empty());
  CHECK(qps->warnings.empty());
  CHECK(qps->by_job.size() == 3);
  CHECK(qps->evaluated_at_ms >= start_ms);
  CHECK(qps->evaluated_at_ms <= WallMs() + 1000);
  CHECK(pending->by_job.size() == 3);

  for (const JobPlan& j : kJobs) {
    CAPTURE(j.name);
    const SimJob& sim = after.at(j.name);
    CHECK(sim.qps == j.qps);
    CHECK(sim.backpressure == j.backpressure);
    // The sources' numRecordsOutPerSecond summed over subtasks, under Flink's label value.
    REQUIRE(qps->by_job.count(j.label) == 1);
    CHECK(qps->by_job.at(j.label) == doctest::Approx(sim.SourceQps()).epsilon(1e-9));
    CHECK(qps->by_job.at(j.label) == doctest::Approx(j.qps * (1 - j.backpressure)).epsilon(1e-9));
    REQUIRE(pending->by_job.count(j.label) == 1);
    const double lag = pending->by_job.at(j.label);
    if (j.backpressure == 0) {
      // Without backpressure pendingRecords is constant for a given qps.
      CHECK(lag == sim.pending_records);
      CHECK(lag == st.before.at(j.name).pending_records);
    } else {
      // Growing at qps·ratio per second: the scraped value lies between the two control reads.
      CHECK(lag >= st.before.at(j.name).pending_records);
      CHECK(lag <= sim.pending_records);
    }
  }
  CHECK(after.at("job-2").pending_records > after.at("job-0").pending_records);

  // The error paths and result shapes, against the same server (sequential: each SUBCASE would
  // start both servers again).
  {  // A scalar result is not mapped to jobs.
    auto running = st.client->Query("scalar(flink_jobmanager_numRunningJobs)");
    REQUIRE_MESSAGE(running.has_value(), (running ? "" : running.error().message));
    CHECK(running->is_scalar);
    CHECK(running->scalar == 3);
    CHECK(running->by_job.empty());
  }
  {  // Per-subtask series are reported as problems, not guessed.
    auto raw = st.client->Query(
        R"(flink_taskmanager_job_task_operator_numRecordsOutPerSecond{operator_name=~"Source.*"})");
    REQUIRE_MESSAGE(raw.has_value(), (raw ? "" : raw.error().message));
    CHECK(raw->by_job.empty());
    REQUIRE(raw->problems.size() == 3);
    for (const JobPlan& j : kJobs) {
      CHECK(CountContaining(raw->problems,
                            std::string("several series for job_name=\"") + j.label + "\"") == 1);
    }
  }
  {  // A PromQL syntax error is invalid and names the query.
    auto bad = st.client->Query("sum(flink_jobmanager_numRunningJobs");
    REQUIRE_FALSE(bad.has_value());
    CHECK(bad.error().kind == ErrorKind::kInvalid);
    CHECK(Contains(bad.error().message,
                   "tsdb " + st.prom->url() + " query 'sum(flink_jobmanager_numRunningJobs'"));
    CHECK(Contains(bad.error().message, "Prometheus error (bad_data)"));
    CHECK(Contains(bad.error().message, "parse error"));
  }
  {  // A range vector or a string is not a signal.
    auto range = st.client->Query("flink_jobmanager_numRunningJobs[1m]");
    REQUIRE_FALSE(range.has_value());
    CHECK(range.error().kind == ErrorKind::kInvalid);
    CHECK(Contains(range.error().message, "query 'flink_jobmanager_numRunningJobs[1m]'"));
    CHECK(Contains(range.error().message, "expected vector or scalar, found 'matrix'"));
    auto text = st.client->Query(R"("some text")");
    REQUIRE_FALSE(text.has_value());
    CHECK(text.error().kind == ErrorKind::kInvalid);
    CHECK(Contains(text.error().message, "expected vector or scalar, found 'string'"));
  }
}

TEST_CASE(
    "the observer takes TSDB signals from Prometheus and skips the REST throughput requests") {
  Stack st;
  RecordingTransport rest_recorder(st.transport);
  RecordingTransport tsdb_recorder(st.transport);
  Observer rest_only(rest_recorder, {st.Cluster()}, nullptr, {}, ObserverOptions{});
  Observer with_tsdb(tsdb_recorder, {st.Cluster()}, &*st.client, Signals(), ObserverOptions{});

  const std::int64_t now = WallMs();
  const Observation a = rest_only.RunCycle(now);
  const Observation b = with_tsdb.RunCycle(now);
  const std::map<std::string, SimJob> after = st.sim.Jobs();
  const std::vector<std::string> rest_urls = rest_recorder.TakeUrls();
  const std::vector<std::string> tsdb_urls = tsdb_recorder.TakeUrls();
  CAPTURE(b.problems);

  // Without signals the throughput comes from one REST request per source vertex and job; with
  // the qps signal none is sent, and the three signals cost one query each for all jobs.
  const std::string rest_qps = "/subtasks/metrics?get=numRecordsOutPerSecond";
  const std::string tsdb_query = st.prom->url() + "/api/v1/query?";
  CHECK(CountContaining(rest_urls, rest_qps) == 3);
  CHECK(CountContaining(rest_urls, tsdb_query) == 0);
  CHECK(CountContaining(tsdb_urls, rest_qps) == 0);
  CHECK(CountContaining(tsdb_urls, tsdb_query) == 3);
  CHECK(a.requests == static_cast<std::int64_t>(rest_urls.size()));
  CHECK(b.requests == static_cast<std::int64_t>(tsdb_urls.size()));
  CHECK(CountContaining(b.problems, "tsdb ") == 0);

  REQUIRE(a.jobs.size() == 3);
  REQUIRE(b.jobs.size() == 3);
  for (const JobPlan& j : kJobs) {
    CAPTURE(j.name);
    const SimJob& sim = after.at(j.name);
    const JobSnapshot& rest = JobNamed(a, j.name);
    const JobSnapshot& s = JobNamed(b, j.name);
    CHECK(s.job_id == sim.id);

    CHECK(s.qps.fresh());
    CHECK(s.qps.observed_at_ms == now);
    REQUIRE(s.qps.value.has_value());
    CHECK(*s.qps.value == doctest::Approx(sim.SourceQps()).epsilon(1e-9));
    // The same figure the REST path computes from the source subtasks.
    REQUIRE(rest.qps.fresh());
    CHECK(*s.qps.value == doctest::Approx(*rest.qps.value).epsilon(1e-9));

    CHECK(s.lag.fresh());
    REQUIRE(s.lag.value.has_value());
    if (j.backpressure == 0) {
      CHECK(*s.lag.value == sim.pending_records);
    } else {
      CHECK(*s.lag.value >= st.before.at(j.name).pending_records);
      CHECK(*s.lag.value <= sim.pending_records);
    }
    // Without a lag signal the REST path reads the sources' pendingRecords: the same backlog.
    REQUIRE(rest.lag.fresh());
    if (j.backpressure == 0) {
      CHECK(*rest.lag.value == sim.pending_records);
    } else {
      CHECK(*rest.lag.value >= st.before.at(j.name).pending_records);
      CHECK(*rest.lag.value <= sim.pending_records);
    }

    REQUIRE(s.signals.count("max_backpressured_ms") == 1);
    const Observed<double>& bp_ms = s.signals.at("max_backpressured_ms");
    CHECK(bp_ms.fresh());
    REQUIRE(bp_ms.value.has_value());
    CHECK(*bp_ms.value == sim.backpressure * 1000);
    CHECK(rest.signals.empty());
    // Backpressure has no TSDB query here: it stays on the REST path (two detail samples).
    CHECK(s.backpressure.freshness == rest.backpressure.freshness);
  }
}

TEST_CASE(
    "with Prometheus gone, TSDB-fed fields go stale with the reason and REST fields stay fresh") {
  Stack st;
  Observer observer(st.transport, {st.Cluster()}, &*st.client, Signals(), ObserverOptions{});
  const std::int64_t first_ms = WallMs();
  const Observation first = observer.RunCycle(first_ms);
  REQUIRE(first.jobs.size() == 3);
  for (const JobSnapshot& s : first.jobs) {
    CAPTURE(s.name);
    REQUIRE(s.qps.fresh());
    REQUIRE(s.lag.fresh());
  }

  {  // A hung Prometheus (stopped: the kernel still accepts, nobody answers) costs the timeout.
    PrometheusClientOptions quick;
    quick.base_url = st.prom->url();
    quick.timeout = 500ms;
    PrometheusClient impatient(st.transport, quick);
    st.prom->Signal(SIGSTOP);
    auto hung = impatient.Query(kSourceQps);
    st.prom->Signal(SIGCONT);
    REQUIRE_FALSE(hung.has_value());
    CHECK(hung.error().kind == ErrorKind::kTransient);
    CHECK(Contains(hung.error().message, "tsdb " + st.prom->url() + " query '" + kSourceQps + "'"));
  }

  st.prom->Stop();
  auto down = st.client->Query(kSourceQps);
  REQUIRE_FALSE(down.has_value());
  CHECK(down.error().kind == ErrorKind::kTransient);
  CHECK(Contains(down.error().message, "tsdb " + st.prom->url() + " query '" + kSourceQps + "'"));

  const std::int64_t second_ms = first_ms + 1000;
  const Observation second = observer.RunCycle(second_ms);
  CAPTURE(second.problems);
  CHECK(CountContaining(second.problems, "tsdb " + st.prom->url()) == 3);
  REQUIRE(second.clusters.size() == 1);
  CHECK(second.clusters[0].reachable);
  REQUIRE(second.jobs.size() == 3);
  for (const JobSnapshot& s : second.jobs) {
    CAPTURE(s.name);
    const JobSnapshot& before = JobNamed(first, s.name);
    // The TSDB-fed fields keep the last value, marked stale, saying why.
    struct Fed {
      const char* name;
      const Observed<double>* now;
      const Observed<double>* then;
      const std::string& query;
    };
    for (const Fed& f : {Fed{"qps", &s.qps, &before.qps, kSourceQps},
                         Fed{"lag", &s.lag, &before.lag, kSourcePending},
                         Fed{"max_backpressured_ms", &s.signals.at("max_backpressured_ms"),
                             &before.signals.at("max_backpressured_ms"), kMaxBackpressured}}) {
      CAPTURE(f.name);
      CHECK(f.now->freshness == Freshness::kStale);
      CHECK(f.now->value == f.then->value);
      CHECK(f.now->observed_at_ms == first_ms);
      CHECK(Contains(f.now->why, "tsdb " + st.prom->url() + " query '" + f.query + "'"));
    }
    // Flink's REST API still answers: what it feeds is fresh.
    CHECK(s.status.fresh());
    CHECK(s.status.observed_at_ms == second_ms);
    CHECK(s.status.value == JobStatus::kRunning);
    CHECK(s.tasks_total.fresh());
    CHECK(s.restarts.fresh());
    CHECK(s.restarts.observed_at_ms == second_ms);
    CHECK(s.uptime_ms.fresh());
    CHECK(s.checkpoints_completed.fresh());
  }
}

// Prometheus answers every API call with 503 and a plain-text "Service Unavailable" until its
// TSDB is open and its configuration loaded (web/web.go, testReady). On a fresh TSDB that window
// is too short to hit reliably from a test, so the reply is handed to the client directly.
TEST_CASE(
    "a 5xx reply that is not Prometheus JSON is transient; Prometheus' own errors keep their "
    "text") {
  CurlTransport transport{CurlTransportOptions{}};
  PrometheusClientOptions options;
  options.base_url = "http://127.0.0.1:9";
  PrometheusClient client(transport, options);

  HttpResponse starting;
  starting.status = 503;
  starting.body = "Service Unavailable";
  starting.content_type = "text/plain; charset=utf-8";
  auto not_ready = client.HandleReply(kSourceQps, starting);
  REQUIRE_FALSE(not_ready.has_value());
  CHECK(not_ready.error().kind == ErrorKind::kTransient);
  CHECK(not_ready.error().message ==
        "tsdb http://127.0.0.1:9 query '" + kSourceQps + "': HTTP 503: Service Unavailable");

  HttpResponse gateway;
  gateway.status = 502;
  gateway.body = "<html>\n<head><title>502 Bad Gateway</title></head>\n</html>";
  auto proxy = client.HandleReply(kSourceQps, gateway);
  REQUIRE_FALSE(proxy.has_value());
  CHECK(proxy.error().kind == ErrorKind::kTransient);
  CHECK(Contains(proxy.error().message, "HTTP 502: <html>"));

  HttpResponse timeout;
  timeout.status = 503;
  timeout.body =
      R"({"status":"error","errorType":"timeout","error":"query timed out in expression evaluation"})";
  auto slow = client.HandleReply(kSourceQps, timeout);
  REQUIRE_FALSE(slow.has_value());
  CHECK(slow.error().kind == ErrorKind::kTransient);
  CHECK(Contains(slow.error().message,
                 "Prometheus error (timeout): query timed out in expression evaluation"));

  HttpResponse internal;
  internal.status = 500;
  internal.body = R"({"status":"error","errorType":"internal","error":"chunk not found"})";
  auto broken = client.HandleReply(kSourceQps, internal);
  REQUIRE_FALSE(broken.has_value());
  CHECK(broken.error().kind == ErrorKind::kTransient);
  CHECK(Contains(broken.error().message, "Prometheus error (internal): chunk not found"));
}

}  // namespace
