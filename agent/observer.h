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
  // This cluster's own ObserverOptions::metric_fetch_interval_ms and detail_every; unset = the
  // observer-wide value.
  std::optional<std::int64_t> metric_fetch_interval_ms;
  std::optional<int> detail_every;
};

// A TSDB signal query: `promql` returns the signal for the jobs it covers, one series per job.
struct SignalQuery {
  std::string signal;  // "qps", "lag", "backpressure" or a custom name
  std::string promql;
  std::string only_job;  // "" = every job; otherwise the one job it overrides
};

// Observer-wide values; a cluster's own ObservedCluster values replace the first and the last.
// What the observer reads from /jobs/:id/metrics every cycle: the counters, and the newest
// completed checkpoint as the checkpoint gauges describe it — its path (every version), its id
// (1.17+) and its completion time (2.0+). Flink leaves out what it does not have.
inline constexpr const char* kObservedJobMetrics =
    "numRestarts,numberOfCompletedCheckpoints,numberOfFailedCheckpoints,lastCheckpointDuration,"
    "lastCheckpointExternalPath,lastCompletedCheckpointId,lastCheckpointCompletedTimestamp";

struct ObserverOptions {
  // Heavy per-job data (job details: vertices, timestamps, backpressure counters, and with them
  // the source throughput and lag) is fetched when a job is new or changed, and at least every
  // `detail_every` cycles otherwise.
  int detail_every = 3;
  // /config (the Flink version) is re-read this often, and whenever a cluster comes back.
  std::int64_t config_every_ms = 600'000;
  // Flink's `metrics.fetcher.update-interval` (default 10 s): the REST metric endpoints answer
  // from a metric store refreshed at most this often, and with the fetch before the one a
  // request triggers. Used to bound, conservatively, how long ago a checkpoint counted by
  // numberOfCompletedCheckpoints (but not read from /checkpoints yet) completed.
  std::int64_t metric_fetch_interval_ms = 10'000;
};

// One request the last RunCycle sent: where to, how long it took, whether it failed.
struct RequestSample {
  std::string cluster;   // the cluster's name; "" for a TSDB query
  std::string endpoint;  // the REST path with ids as "{id}" and no query ("/jobs/{id}/metrics"),
                         // or "signal:<name>" for a TSDB query
  double seconds = 0;    // from sending to the last byte (0 when the transport failed)
  // A transport failure or an HTTP status >= 400 other than 404 (Flink answers 404 for what a
  // job does not have, e.g. no checkpointing); for a TSDB query, any failed query.
  bool failed = false;
};

// Watches every job on every cluster: each RunCycle sends, for all clusters at once and in one
// transport run, /config (when due), /overview and /jobs/overview, then per job what it needs —
// metrics every cycle (restarts, checkpoint counters), details when the job changed or is due
// (every `detail_every` cycles of its cluster), with them the source throughput and lag (one
// aggregated request per source vertex, after a one-time read of its metric list for the lag
// metric's id) and the checkpoint statistics
// (also read at once when the failed-checkpoint counter moved, the job restarted or the counters
// are missing), the root exception after a failure or restart, the checkpoint settings once —
// plus one query per TSDB signal. The metrics read also carries the checkpoint gauges: a job
// whose counter moved by one checkpoint of its own directory (`<job id>/chk-<id>`) gets it from
// them, without a /checkpoints read (its age exact on 2.0+, an upper bound before). Otherwise,
// between two reads of the checkpoint statistics a completed counter that moved marks
// last_checkpoint/last_savepoint stale and makes checkpoint_age_ms an upper bound
// (JobSnapshot::checkpoint_age_upper_bound).
// A cluster that does not answer costs only its own timeout; its jobs keep their last values,
// marked stale, with the reason.
// Keeps per-job state between cycles (counters, vertex ids, server clock skew).
// Not thread-safe: one thread calls RunCycle. `transport` and `tsdb` must outlive it.
class Observer {
 public:
  Observer(HttpTransport& transport, std::vector<ObservedCluster> clusters, PrometheusClient* tsdb,
           std::vector<SignalQuery> signals, ObserverOptions options);
  ~Observer();
  Observer(const Observer&) = delete;
  Observer& operator=(const Observer&) = delete;

  // Observes once. `now_ms` is the agent's wall clock at the start of the cycle (epoch ms).
  Observation RunCycle(std::int64_t now_ms);

  // Every request of the last RunCycle (retries included), for the exported metrics.
  const std::vector<RequestSample>& LastRequests() const { return last_requests_; }

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
  std::vector<RequestSample> last_requests_;
};

// Rewrites a job name as Flink's PrometheusReporter does for label values (characters outside
// [a-zA-Z0-9:_] become '_'), so TSDB series can be matched to job names.
std::string PrometheusSafeName(const std::string& name);

}  // namespace flinkguard
