#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/flink/flink_rest_client.h"
#include "agent/http/http_transport.h"
#include "agent/tsdb/prometheus_client.h"
#include "rules/snapshot.h"

namespace flinkguard {

// One cluster the observer watches.
struct ObservedCluster {
  FlinkEndpoint endpoint;
  std::string az;
};

// A TSDB signal query: `promql` returns the signal for the jobs it covers, one series per job.
struct SignalQuery {
  std::string signal;             // "qps", "lag", "backpressure" or a custom name
  std::string promql;
  std::string only_job;           // "" = every job; otherwise the one job it overrides
};

struct ObserverOptions {
  // Heavy per-job data (job details: vertices, timestamps, backpressure counters) is fetched
  // when a job is new or changed, and at least every `detail_every` cycles otherwise.
  int detail_every = 3;
  // /config (the Flink version) is re-read this often, and whenever a cluster comes back.
  std::int64_t config_every_ms = 600'000;
};

// Watches every job on every cluster: each RunCycle sends, for all clusters at once and in one
// transport run, /config (when due), /overview and /jobs/overview, then per job what it needs —
// metrics every cycle (restarts, checkpoint counters), checkpoints when their counters moved,
// details when the job changed or is due, the root exception after a failure or restart, the
// checkpoint settings once, and source throughput — plus one query per TSDB signal.
// A cluster that does not answer costs only its own timeout; its jobs keep their last values,
// marked stale, with the reason.
// Keeps per-job state between cycles (counters, vertex ids, server clock skew).
// Not thread-safe: one thread calls RunCycle. `transport` and `tsdb` must outlive it.
class Observer {
 public:
  Observer(HttpTransport& transport, std::vector<ObservedCluster> clusters,
           PrometheusClient* tsdb, std::vector<SignalQuery> signals, ObserverOptions options);
  ~Observer();
  Observer(const Observer&) = delete;
  Observer& operator=(const Observer&) = delete;

  // Observes once. `now_ms` is the agent's wall clock at the start of the cycle (epoch ms).
  Observation RunCycle(std::int64_t now_ms);

 private:
  struct ClusterState;
  struct JobState;
  class Cycle;

  HttpTransport& transport_;
  PrometheusClient* tsdb_;
  std::vector<SignalQuery> signals_;
  ObserverOptions options_;
  std::vector<std::unique_ptr<ClusterState>> clusters_;
  std::int64_t cycle_ = 0;
};

// Rewrites a job name as Flink's PrometheusReporter does for label values (characters outside
// [a-zA-Z0-9:_] become '_'), so TSDB series can be matched to job names.
std::string PrometheusSafeName(const std::string& name);

}  // namespace flinkguard
