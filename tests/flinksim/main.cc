// flinksim: an emulated Flink session cluster for tests. See tests/flinksim/README.md.
//
// Composition root: parses the command line, builds the Simulator on a scaled clock, binds the
// REST / Prometheus / control listeners (civetweb), writes the port file, then ticks the model
// and supervises the REST listener (closed while the cluster is down in "refuse" mode) until
// SIGTERM/SIGINT.

#include <civetweb.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "tests/flinksim/http_server.h"
#include "tests/flinksim/simulator.h"

namespace {

using flinksim::HttpRequest;
using flinksim::HttpResponse;
using flinksim::Listener;

std::atomic<bool> g_stopping{false};

// Sleeps up to `ms` real milliseconds in small steps, returning early when stopping.
void InterruptibleSleep(int64_t ms) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  for (int i = 0; i < 1'000'000 && !g_stopping.load() && std::chrono::steady_clock::now() < end;
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min<int64_t>(20, ms)));
  }
}

bool SplitHostPort(const std::string& text, std::string* host, int* port) {
  size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  try {
    size_t used = 0;
    *port = std::stoi(text.substr(colon + 1), &used);
    if (used != text.size() - colon - 1 || *port < 0 || *port > 65535) return false;
  } catch (...) {
    return false;
  }
  *host = text.substr(0, colon);
  return true;
}

bool WritePortFile(const std::string& path, const std::string& line) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  FILE* f = std::fopen(tmp.c_str(), "w");
  if (f == nullptr) return false;
  bool ok = std::fputs((line + "\n").c_str(), f) >= 0;
  ok = std::fclose(f) == 0 && ok;
  return ok && std::rename(tmp.c_str(), path.c_str()) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"flinksim: an emulated Apache Flink session cluster (REST API, metrics, faults)"};
  std::string listen;
  std::string version = "1.20";
  int jobs = 0;
  std::string scenario_path;
  double time_scale = 1.0;
  std::string data_dir;
  std::string prometheus_listen;
  std::string control_listen;
  std::string port_file;
  uint64_t seed = 0;
  int threads = 16;
  std::string checkpoint_interval = "10s";
  int taskmanagers = 0;
  int slots = 16;
  std::vector<std::string> conf;
  bool keep_data_dir = false;
  app.add_option("--listen", listen, "REST address host:port (port 0 = ephemeral)")->required();
  app.add_option("--flink-version", version,
                 "Emulated Flink version: 1.18, 1.20 or 2.0 (or a full 1.20.1)");
  app.add_option("--jobs", jobs, "Streaming jobs started at startup (job-0, job-1, ...)");
  app.add_option("--scenario", scenario_path, "YAML scenario file of timed control actions");
  app.add_option("--time-scale", time_scale, "Simulated seconds per real second");
  app.add_option("--data-dir", data_dir,
                 "Directory for checkpoints, savepoints and jars (default: fresh temp dir)");
  app.add_option("--prometheus-listen", prometheus_listen,
                 "Prometheus exposition address host:port");
  app.add_option("--control-listen", control_listen,
                 "Control API address host:port (stays up when REST is down)");
  app.add_option("--port-file", port_file,
                 "Write 'rest=h:p prometheus=h:p control=h:p' here once bound");
  app.add_option("--seed", seed, "Random seed (0 = from the clock)");
  app.add_option("--threads", threads, "HTTP worker threads per listener");
  app.add_option("--checkpoint-interval", checkpoint_interval,
                 "Checkpoint interval of the --jobs jobs (simulated)");
  app.add_option("--taskmanagers", taskmanagers,
                 "TaskManagers (default: enough for the --jobs jobs, at least 2)");
  app.add_option("--slots", slots, "Slots per TaskManager");
  app.add_option("--conf", conf,
                 "Cluster configuration entry KEY=VALUE (repeatable; empty value removes)");
  app.add_flag("--keep-data-dir", keep_data_dir, "Keep an auto-created data dir on exit");
  CLI11_PARSE(app, argc, argv);

  auto fail = [](const std::string& message) {
    std::cerr << "flinksim: " << message << std::endl;
    return 2;
  };
  auto parsed_version = flinksim::ParseFlinkVersion(version);
  if (!parsed_version)
    return fail("--flink-version: unsupported version '" + version + "' (use 1.18, 1.20 or 2.0)");
  if (!(time_scale > 0)) return fail("--time-scale: must be > 0");
  if (jobs < 0 || jobs > 10'000) return fail("--jobs: must be between 0 and 10000");
  auto interval_ms = flinksim::ParseDurationMs(checkpoint_interval);
  if (!interval_ms)
    return fail("--checkpoint-interval: cannot parse '" + checkpoint_interval + "'");
  std::string rest_host;
  int rest_port = 0;
  if (!SplitHostPort(listen, &rest_host, &rest_port))
    return fail("--listen: expected host:port, got '" + listen + "'");

  bool temp_data_dir = false;
  if (data_dir.empty()) {
    char tmpl[] = "/tmp/flinksim-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) return fail("cannot create a temporary data dir");
    data_dir = tmpl;
    temp_data_dir = !keep_data_dir;
  }
  data_dir = std::filesystem::absolute(data_dir).lexically_normal().string();
  while (data_dir.size() > 1 && data_dir.back() == '/') data_dir.pop_back();

  flinksim::SimulatorOptions options;
  options.cluster.version = *parsed_version;
  if (version.find('.', version.find('.') + 1) != std::string::npos)
    options.cluster.version_string = version;
  options.cluster.data_dir = data_dir;
  options.cluster.seed =
      seed != 0 ? seed
                : static_cast<uint64_t>(std::time(nullptr)) ^ static_cast<uint64_t>(::getpid());
  options.cluster.slots_per_tm = std::max(1, slots);
  int needed_tms = (jobs * 2 + options.cluster.slots_per_tm - 1) / options.cluster.slots_per_tm + 1;
  options.cluster.taskmanagers = taskmanagers > 0 ? taskmanagers : std::max(2, needed_tms);
  options.cluster.rest_address = rest_host;
  options.cluster.rest_port = rest_port;
  for (const auto& entry : conf) {
    size_t eq = entry.find('=');
    if (eq == std::string::npos) return fail("--conf: expected KEY=VALUE, got '" + entry + "'");
    options.cluster.config[flinksim::Trim(entry.substr(0, eq))] =
        flinksim::Trim(entry.substr(eq + 1));
  }
  options.initial_jobs = jobs;
  options.checkpoint_interval_ms = *interval_ms;
  if (!scenario_path.empty()) {
    try {
      options.scenario = flinksim::LoadScenarioFile(scenario_path);
    } catch (const std::exception& e) {
      return fail(e.what());
    }
  }

  // Signals are taken synchronously by the main loop; block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  mg_init_library(0);
  flinksim::ScaledClock clock(time_scale, flinksim::WallClockMs());
  flinksim::Simulator sim(std::move(options), clock);

  Listener::Handler rest_handler = [&sim](mg_connection* conn, const HttpRequest& req) {
    bool first = true;
    const auto started = std::chrono::steady_clock::now();
    for (int attempt = 0; attempt < 1'000'000; ++attempt) {
      flinksim::RestOutcome out = sim.HandleRest(req, first);
      first = false;
      if (!out.hang) {
        if (out.delay_ms > 0) InterruptibleSleep(out.delay_ms);
        if (g_stopping.load()) return 0;
        flinksim::WriteResponse(conn, out.response);
        return out.response.status;
      }
      // Hanging: hold the connection until the cluster is back (bounded so shutdown works).
      for (int i = 0; i < 30'000 && !g_stopping.load() && sim.Hanging(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      if (g_stopping.load() ||
          std::chrono::steady_clock::now() - started > std::chrono::minutes(10))
        return 0;
    }
    return 0;
  };
  Listener::Handler control_handler = [&sim](mg_connection* conn, const HttpRequest& req) {
    HttpResponse r = sim.HandleControl(req);
    flinksim::WriteResponse(conn, r);
    return r.status;
  };
  Listener::Handler prometheus_handler = [&sim](mg_connection* conn, const HttpRequest& req) {
    HttpResponse r;
    if (req.method != "GET") {
      r.status = 404;
      r.content_type = "text/plain; charset=utf-8";
      r.body = "Not found\n";
    } else {
      r.content_type = "text/plain; version=0.0.4; charset=utf-8";
      r.body = sim.Prometheus();
    }
    flinksim::WriteResponse(conn, r);
    return r.status;
  };

  std::string error;
  std::unique_ptr<Listener> rest = Listener::Start(listen, threads, rest_handler, &error);
  if (!rest) return fail(error);
  const std::string rest_bound = rest_host + ":" + std::to_string(rest->port());
  std::unique_ptr<Listener> prometheus;
  std::unique_ptr<Listener> control;
  std::string prometheus_bound;
  std::string control_bound;
  if (!prometheus_listen.empty()) {
    std::string host;
    int port = 0;
    if (!SplitHostPort(prometheus_listen, &host, &port))
      return fail("--prometheus-listen: expected host:port");
    prometheus =
        Listener::Start(prometheus_listen, std::max(2, threads / 4), prometheus_handler, &error);
    if (!prometheus) return fail(error);
    prometheus_bound = host + ":" + std::to_string(prometheus->port());
  }
  if (!control_listen.empty()) {
    std::string host;
    int port = 0;
    if (!SplitHostPort(control_listen, &host, &port))
      return fail("--control-listen: expected host:port");
    control = Listener::Start(control_listen, std::max(2, threads / 4), control_handler, &error);
    if (!control) return fail(error);
    control_bound = host + ":" + std::to_string(control->port());
  }
  sim.SetEndpoints(rest_bound, prometheus_bound, control_bound);

  std::string line = "rest=" + rest_bound;
  if (!prometheus_bound.empty()) line += " prometheus=" + prometheus_bound;
  if (!control_bound.empty()) line += " control=" + control_bound;
  if (!port_file.empty() && !WritePortFile(port_file, line))
    return fail("cannot write --port-file " + port_file);
  std::cout << "flinksim: " << line << " flink-version=" << version << " jobs=" << jobs
            << " time-scale=" << time_scale << " data-dir=" << data_dir << std::endl;

  // Main loop: tick the model, follow the REST listener's desired state, wait for signals.
  const std::string rest_rebind = rest_host + ":" + std::to_string(rest->port());
  for (;;) {
    timespec timeout{0, 50'000'000};
    siginfo_t info;
    int sig = sigtimedwait(&signals, &info, &timeout);
    if (sig == SIGTERM || sig == SIGINT) break;
    // RestShouldListen() advances the model too (checkpoints, disk, scenario steps): a look at
    // each job's next event per tick, which is what 100 idle processes cost. The traffic
    // counters are brought up to date by the next request, which reads them.
    bool want = sim.RestShouldListen();
    if (!want && rest) {
      rest.reset();  // connections refused from now on
      std::cout << "flinksim: REST listener closed (cluster down: refuse)" << std::endl;
    } else if (want && !rest) {
      rest = Listener::Start(rest_rebind, threads, rest_handler, &error);
      if (rest) {
        std::cout << "flinksim: REST listener back on " << rest_rebind << std::endl;
      }  // else: port busy; retried on the next tick
    }
  }
  g_stopping.store(true);
  std::cout << "flinksim: stopping" << std::endl;
  {
    // civetweb's mg_stop waits for its workers (up to its 2 s polling quantum); stop the
    // listeners side by side so shutdown stays short.
    std::vector<std::thread> stoppers;
    for (auto* l : {&rest, &prometheus, &control}) {
      if (*l) stoppers.emplace_back([l] { l->reset(); });
    }
    for (auto& t : stoppers) t.join();
  }
  mg_exit_library();
  if (temp_data_dir) {
    std::error_code ec;
    std::filesystem::remove_all(data_dir, ec);
  }
  return 0;
}
