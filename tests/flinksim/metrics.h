#pragma once

// Metric values of the emulated cluster, as Flink's metric store would hold them: ids and
// string values per scope (job, task/operator per subtask, JobManager, TaskManager). The REST
// metric endpoints and the Prometheus exposition both read from here.

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tests/flinksim/cluster.h"

namespace flinksim {

// One metric as the metric store holds it: id and the value already stringified the way
// Flink's MetricDumpSerialization does (counters and long gauges as integers, meters and
// double gauges via Java's Double.toString, booleans as "true"/"false").
struct MetricValue {
  std::string id;
  std::string value;
};
using MetricList = std::vector<MetricValue>;

// Job-scope metrics (GET /jobs/:jobid/metrics). Empty when the job has no running JobMaster
// (initializing, or terminal: Flink's metric store drops the job's metrics).
MetricList JobScopeMetrics(const Cluster& cluster, const Job& job);

// Task- and operator-scope metrics of one subtask, without the subtask prefix: task metrics
// by bare name ("numRecordsInPerSecond") and operator metrics as "<operator>.<name>". Empty
// when the job's tasks are not deployed.
MetricList SubtaskMetrics(const Cluster& cluster, const Job& job, size_t vertex, int subtask);

// Numeric value of one task-scope or operator-scope metric for Prometheus (same source as
// above). `operator_scope` selects the "<operator>.<name>" entries.
struct ScopedSample {
  std::string name;  // metric name without scope ("numRecordsOutPerSecond")
  std::string value;
  bool operator_scope = false;
};
std::vector<ScopedSample> SubtaskSamples(const Cluster& cluster, const Job& job, size_t vertex,
                                         int subtask);

// JobManager-scope metrics (GET /jobmanager/metrics).
MetricList JobManagerMetrics(const Cluster& cluster);
// TaskManager-scope metrics (GET /taskmanagers/:id/metrics).
MetricList TaskManagerMetrics(const Cluster& cluster, const TaskManager& tm);

// The aggregation requested on the aggregating endpoints (`agg=`).
struct AggregationSpec {
  bool min = true;
  bool max = true;
  bool avg = true;
  bool sum = true;
  bool skew = true;  // only honoured on 1.20+
};

// Result of an aggregating metrics call: either the list of ids (no get=) or aggregated values.
struct AggregatedMetric {
  std::string id;
  double min = 0;
  double max = 0;
  double avg = 0;
  double sum = 0;
  double skew = 0;
};

// Implements AbstractAggregatingMetricsHandler over `stores` (one MetricList per component):
// values that do not parse as numbers are skipped, and — Flink's quirk — when any requested id
// has no value in any store, the whole result is empty.
std::vector<AggregatedMetric> Aggregate(const std::vector<MetricList>& stores,
                                        const std::vector<std::string>& requested);

// Java's String.valueOf for the kinds of values metric gauges return.
std::string LongString(int64_t v);
std::string DoubleString(double v);

}  // namespace flinksim
