#pragma once

// The simulator facade: owns the cluster model, REST API, fault state, request log and the
// scripted scenario, and serialises access with one mutex. The civetweb front calls it from
// worker threads; tests call it directly with a ManualClock.
//
// Control API (JSON, under /_sim/ on the REST port and on the control port) — see README.md.

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include <rapidjson/document.h>

#include "tests/flinksim/cluster.h"
#include "tests/flinksim/faults.h"
#include "tests/flinksim/http_types.h"
#include "tests/flinksim/rest_api.h"
#include "tests/flinksim/scenario.h"
#include "tests/flinksim/sim_clock.h"

namespace flinksim {

struct SimulatorOptions {
  ClusterOptions cluster;
  int initial_jobs = 0;                     // --jobs N: job-0 .. job-(N-1)
  int64_t checkpoint_interval_ms = 10'000;  // for the initial jobs
  std::vector<ScenarioStep> scenario;
};

// What the HTTP front must do with one REST request.
struct RestOutcome {
  HttpResponse response;
  bool hang = false;     // do not answer now; ask StillHanging() and retry later
  int64_t delay_ms = 0;  // real ms to wait before answering
};

class Simulator {
 public:
  // `clock` must outlive the simulator. Creates the cluster at clock.NowMs() and submits the
  // initial jobs.
  Simulator(SimulatorOptions options, SimClock& clock);

  // Handles a request on the REST port: faults first, then the Flink API (or /_sim/ control
  // requests, which faults never affect). `record` logs mutating requests (false for retries
  // of a hanging request).
  RestOutcome HandleRest(const HttpRequest& request, bool record = true);
  // Handles a request on the control port (only /_sim/; anything else 404).
  HttpResponse HandleControl(const HttpRequest& request);
  // The Prometheus exposition at the current simulated time.
  std::string Prometheus();

  // Advances the model to the clock (runs due scenario steps). Call periodically.
  void Tick();
  // False while the cluster is taken down in `refuse` mode: the front closes the listener.
  bool RestShouldListen();
  // True while the cluster is taken down in `hang` mode.
  bool Hanging();

  // Records the bound ports (for /_sim/state and the jars "address").
  void SetEndpoints(const std::string& rest, const std::string& prometheus,
                    const std::string& control);

  // Applies one control action (a JSON object with "action"). Returns the JSON result body;
  // on error sets `*status` to 400/404/409 and returns {"error": ...}. Thread-safe.
  std::string ApplyAction(const rapidjson::Value& action, int* status);

  // Direct model access for tests; hold no reference across calls from other threads.
  Cluster& cluster_for_testing() { return cluster_; }

 private:
  // `settle`: see Cluster::AdvanceTo; false only for the background tick and the hang poll.
  void AdvanceLocked(bool settle = true);
  std::string ApplyActionLocked(const rapidjson::Value& action, int* status);
  HttpResponse ControlLocked(const HttpRequest& request);
  std::string JobsJsonLocked();
  std::string RequestsJsonLocked();
  std::string StateJsonLocked();

  std::mutex mu_;
  SimClock& clock_;
  int64_t start_ms_;
  Cluster cluster_;
  RestApi api_;
  Faults faults_;
  RequestLog log_;
  std::vector<ScenarioStep> scenario_;
  size_t next_step_ = 0;
  std::vector<std::string> scenario_errors_;
  std::string rest_endpoint_;
  std::string prometheus_endpoint_;
  std::string control_endpoint_;
};

}  // namespace flinksim
