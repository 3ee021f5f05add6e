#include "tests/flinksim/metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

namespace flinksim {
namespace {

int64_t SinceIf(const Job& job, JobStatus s, int64_t now) {
  return job.status == s ? now - job.timestamps[static_cast<size_t>(s)] : 0;
}

int64_t PerSubtask(double total, int parallelism) {
  if (std::isnan(total)) return 0;
  return static_cast<int64_t>(std::floor(total / static_cast<double>(std::max(1, parallelism))));
}

}  // namespace

std::string LongString(int64_t v) { return std::to_string(v); }
std::string DoubleString(double v) { return JavaDoubleToString(v); }

MetricList JobScopeMetrics(const Cluster& cluster, const Job& job) {
  MetricList out;
  if (job.status == JobStatus::kInitializing || IsGloballyTerminal(job.status)) return out;
  const int64_t now = cluster.now();
  const FlinkVersion v = cluster.version();
  auto add = [&](const char* id, std::string value) { out.push_back({id, std::move(value)}); };

  add("numRestarts", LongString(job.num_restarts));
  if (!AtLeast(v, FlinkVersion::k2_0)) add("fullRestarts", LongString(job.num_restarts));
  if (AtLeast(v, FlinkVersion::k2_0)) add("numRescales", "0");
  add("uptime", LongString(SinceIf(job, JobStatus::kRunning, now)));
  add("downtime",
      LongString(job.status == JobStatus::kRestarting || job.status == JobStatus::kFailing
                     ? now - job.timestamps[static_cast<size_t>(job.status)]
                     : 0));
  add("runningTime", LongString(SinceIf(job, JobStatus::kRunning, now)));
  add("restartingTime", LongString(SinceIf(job, JobStatus::kRestarting, now)));
  add("cancellingTime", LongString(SinceIf(job, JobStatus::kCancelling, now)));
  add("failingTime", LongString(SinceIf(job, JobStatus::kFailing, now)));
  add("initializingTime", LongString(SinceIf(job, JobStatus::kInitializing, now)));
  add("createdTime", LongString(SinceIf(job, JobStatus::kCreated, now)));
  bool deploying =
      job.status == JobStatus::kRunning &&
      (job.task_state == ExecState::kDeploying || job.task_state == ExecState::kInitializing);
  add("deployingTime", LongString(deploying && job.deploy_time >= 0 ? now - job.deploy_time : 0));

  const CheckpointRecord* last = nullptr;
  if (job.last_completed_any) {
    auto it = job.checkpoints.find(*job.last_completed_any);
    if (it != job.checkpoints.end()) last = &it->second;
  }
  add("lastCheckpointDuration", LongString(last ? last->ack_ts - last->trigger_ts : -1));
  add("lastCheckpointSize", LongString(last ? last->checkpointed_size : -1));
  add("lastCheckpointFullSize", LongString(last ? last->state_size : -1));
  add("lastCompletedCheckpointId", LongString(last ? last->id : -1));
  if (AtLeast(v, FlinkVersion::k2_0)) {
    add("lastCheckpointCompletedTimestamp", LongString(last ? last->ack_ts : -1));
  }
  add("lastCheckpointExternalPath", last ? last->external_path : "n/a");
  add("lastCheckpointProcessedData", LongString(last ? last->processed_data : -1));
  add("lastCheckpointPersistedData", LongString(last ? 0 : -1));
  add("lastCheckpointRestoreTimestamp", LongString(job.restored ? job.restored->restore_ts : -1));
  int in_progress =
      (job.pending_checkpoint ? 1 : 0) + static_cast<int>(job.pending_savepoints.size());
  add("numberOfInProgressCheckpoints", LongString(in_progress));
  add("numberOfCompletedCheckpoints", LongString(job.count_completed));
  add("numberOfFailedCheckpoints", LongString(job.count_failed));
  add("totalNumberOfCheckpoints", LongString(job.count_completed + job.count_failed + in_progress));
  return out;
}

std::vector<ScopedSample> SubtaskSamples(const Cluster& cluster, const Job& job, size_t vi,
                                         int subtask) {
  std::vector<ScopedSample> out;
  if (!Cluster::TasksHaveMetrics(job) || vi >= job.vertices.size()) return out;
  const Vertex& v = job.vertices[vi];
  if (subtask < 0 || subtask >= v.parallelism) return out;
  const SubtaskRates r = cluster.Rates(job, vi);
  const int p = v.parallelism;
  const int64_t now = cluster.now();
  auto task = [&](const char* name, std::string value) {
    out.push_back({name, std::move(value), false});
  };
  auto op = [&](const char* name, std::string value) {
    out.push_back({name, std::move(value), true});
  };

  const int64_t rin = PerSubtask(v.records_in, p);
  const int64_t rout = PerSubtask(v.records_out, p);
  const double bytes_rate_in = r.records_in_per_s * 32.0;
  const double bytes_rate_out = r.records_out_per_s * 32.0;
  const int64_t bp = static_cast<int64_t>(std::llround(r.backpressured_ms_per_s));
  const int64_t watermark = now - 2'000;
  task("numRecordsIn", LongString(rin));
  task("numRecordsOut", LongString(rout));
  task("numRecordsInPerSecond", DoubleString(r.records_in_per_s));
  task("numRecordsOutPerSecond", DoubleString(r.records_out_per_s));
  task("numBytesIn", LongString(PerSubtask(v.bytes_in, p)));
  task("numBytesOut", LongString(PerSubtask(v.bytes_out, p)));
  task("numBytesInPerSecond", DoubleString(bytes_rate_in));
  task("numBytesOutPerSecond", DoubleString(bytes_rate_out));
  task("backPressuredTimeMsPerSecond", LongString(bp));
  task("softBackPressuredTimeMsPerSecond", LongString(bp));
  task("hardBackPressuredTimeMsPerSecond", LongString(0));
  task("maxSoftBackPressureTimeMs", LongString(bp > 0 ? 50 : 0));
  task("maxHardBackPressureTimeMs", LongString(0));
  task("idleTimeMsPerSecond", LongString(static_cast<int64_t>(std::llround(r.idle_ms_per_s))));
  task("busyTimeMsPerSecond",
       DoubleString(std::isnan(r.busy_ms_per_s) ? r.busy_ms_per_s : std::round(r.busy_ms_per_s)));
  task("isBackPressured", bp > 0 ? "true" : "false");
  if (!v.is_source) task("currentInputWatermark", LongString(watermark));
  task("checkpointStartDelayNanos", LongString(3'000'000));
  task("checkpointAlignmentTime", LongString(0));
  task("buffers.inPoolUsage", DoubleString(v.is_source ? 0.0 : (bp > 0 ? 0.9 : 0.1)));
  task("buffers.outPoolUsage", DoubleString(v.is_sink ? 0.0 : (bp > 0 ? 1.0 : 0.1)));
  task("buffers.inputQueueLength", LongString(v.is_source ? 0 : (bp > 0 ? 8 : 0)));
  task("buffers.outputQueueLength", LongString(v.is_sink ? 0 : 1));
  task("buffers.inputFloatingBuffersUsage", DoubleString(0.0));
  task("buffers.inputExclusiveBuffersUsage",
       DoubleString(v.is_source ? 0.0 : (bp > 0 ? 0.8 : 0.0)));
  // Network stack counters (local = same TaskManager, remote = over the network).
  const int64_t buffers_out = rout / 100;
  task("numBuffersOut", LongString(buffers_out));
  task("numBuffersOutPerSecond", DoubleString(r.records_out_per_s / 100.0));
  task("numBytesInLocal", LongString(PerSubtask(v.bytes_in, p)));
  task("numBytesInLocalPerSecond", DoubleString(bytes_rate_in));
  task("numBytesInRemote", LongString(0));
  task("numBytesInRemotePerSecond", DoubleString(0.0));
  task("numBuffersInLocal", LongString(rin / 100));
  task("numBuffersInLocalPerSecond", DoubleString(r.records_in_per_s / 100.0));
  task("numBuffersInRemote", LongString(0));
  task("numBuffersInRemotePerSecond", DoubleString(0.0));
  task("Shuffle.Netty.Input.numBytesInLocal", LongString(PerSubtask(v.bytes_in, p)));
  task("Shuffle.Netty.Input.numBytesInLocalPerSecond", DoubleString(bytes_rate_in));
  task("Shuffle.Netty.Input.numBytesInRemote", LongString(0));
  task("Shuffle.Netty.Input.numBytesInRemotePerSecond", DoubleString(0.0));
  task("Shuffle.Netty.Input.numBuffersInLocal", LongString(rin / 100));
  task("Shuffle.Netty.Input.numBuffersInLocalPerSecond", DoubleString(r.records_in_per_s / 100.0));
  task("Shuffle.Netty.Input.numBuffersInRemote", LongString(0));
  task("Shuffle.Netty.Input.numBuffersInRemotePerSecond", DoubleString(0.0));
  task("Shuffle.Netty.Input.Buffers.inPoolUsage",
       DoubleString(v.is_source ? 0.0 : (bp > 0 ? 0.9 : 0.1)));
  task("Shuffle.Netty.Input.Buffers.inputQueueLength",
       LongString(v.is_source ? 0 : (bp > 0 ? 8 : 0)));
  task("Shuffle.Netty.Input.Buffers.inputFloatingBuffersUsage", DoubleString(0.0));
  task("Shuffle.Netty.Input.Buffers.inputExclusiveBuffersUsage",
       DoubleString(v.is_source ? 0.0 : (bp > 0 ? 0.8 : 0.0)));
  task("Shuffle.Netty.Output.Buffers.outPoolUsage",
       DoubleString(v.is_sink ? 0.0 : (bp > 0 ? 1.0 : 0.1)));
  task("Shuffle.Netty.Output.Buffers.outputQueueLength", LongString(v.is_sink ? 0 : 1));

  op("numRecordsIn", LongString(rin));
  op("numRecordsOut", LongString(rout));
  op("numRecordsInPerSecond", DoubleString(r.records_in_per_s));
  op("numRecordsOutPerSecond", DoubleString(r.records_out_per_s));
  if (!v.is_source) op("currentInputWatermark", LongString(watermark));
  op("currentOutputWatermark",
     LongString(v.is_sink ? std::numeric_limits<int64_t>::min() : watermark));
  if (v.is_source && job.traffic.lag_metric == LagMetric::kPendingRecords) {
    // FLIP-33 source metrics (operator scope), as a FLIP-27 source such as KafkaSource has.
    const double pending = cluster.PendingRecordsPerSubtask(job);
    op("pendingRecords", LongString(static_cast<int64_t>(pending)));
    op("currentEmitEventTimeLag",
       LongString(150 + static_cast<int64_t>(pending / std::max(1.0, job.traffic.qps) * 1000.0)));
    op("currentFetchEventTimeLag", LongString(120));
    op("sourceIdleTime", LongString(0));
    op("numRecordsInErrors", LongString(0));
  } else if (v.is_source && job.traffic.lag_metric == LagMetric::kRecordsLagMax) {
    // The legacy FlinkKafkaConsumer forwards the Kafka client's metrics, with no FLIP-33 ones;
    // one partition per subtask here, so the largest partition lag is the subtask's backlog.
    op("KafkaConsumer.records-lag-max", DoubleString(static_cast<double>(static_cast<int64_t>(
                                            cluster.PendingRecordsPerSubtask(job)))));
  }
  return out;
}

MetricList SubtaskMetrics(const Cluster& cluster, const Job& job, size_t vertex, int subtask) {
  MetricList out;
  const auto samples = SubtaskSamples(cluster, job, vertex, subtask);
  const std::string& op_name = job.vertices[vertex].metric_name;
  for (const auto& s : samples) {
    out.push_back({s.operator_scope ? op_name + "." + s.name : s.name, s.value});
  }
  return out;
}

namespace {

// The Status.JVM.* group every Flink process (JobManager and TaskManager) reports, for a JVM
// running G1 (the default collector of Flink's Java 11/17 images).
void AddJvmMetrics(MetricList& out, int64_t heap_used, int64_t heap_max, int64_t threads,
                   double cpu_load) {
  auto add = [&](const char* id, std::string v) { out.push_back({id, std::move(v)}); };
  add("Status.JVM.CPU.Load", DoubleString(cpu_load));
  add("Status.JVM.CPU.Time", LongString(574'220'000'000));
  add("Status.JVM.Threads.Count", LongString(threads));
  add("Status.JVM.Memory.Heap.Used", LongString(heap_used));
  add("Status.JVM.Memory.Heap.Committed", LongString(heap_max));
  add("Status.JVM.Memory.Heap.Max", LongString(heap_max));
  add("Status.JVM.Memory.NonHeap.Used", LongString(94'512'880));
  add("Status.JVM.Memory.NonHeap.Committed", LongString(100'794'368));
  add("Status.JVM.Memory.NonHeap.Max", LongString(780'140'544));
  add("Status.JVM.Memory.Metaspace.Used", LongString(61'335'024));
  add("Status.JVM.Memory.Metaspace.Committed", LongString(66'322'432));
  add("Status.JVM.Memory.Metaspace.Max", LongString(268'435'456));
  add("Status.JVM.Memory.Direct.Count", LongString(20));
  add("Status.JVM.Memory.Direct.MemoryUsed", LongString(625'945));
  add("Status.JVM.Memory.Direct.TotalCapacity", LongString(625'944));
  add("Status.JVM.Memory.Mapped.Count", LongString(0));
  add("Status.JVM.Memory.Mapped.MemoryUsed", LongString(0));
  add("Status.JVM.Memory.Mapped.TotalCapacity", LongString(0));
  add("Status.JVM.ClassLoader.ClassesLoaded", LongString(10'371));
  add("Status.JVM.ClassLoader.ClassesUnloaded", LongString(6));
  add("Status.JVM.GarbageCollector.G1_Young_Generation.Count", LongString(18));
  add("Status.JVM.GarbageCollector.G1_Young_Generation.Time", LongString(293));
  add("Status.JVM.GarbageCollector.G1_Old_Generation.Count", LongString(0));
  add("Status.JVM.GarbageCollector.G1_Old_Generation.Time", LongString(0));
}

}  // namespace

MetricList JobManagerMetrics(const Cluster& cluster) {
  int running = 0;
  for (const auto& j : cluster.jobs()) {
    if (!IsGloballyTerminal(j->status)) ++running;
  }
  MetricList out = {
      {"numRunningJobs", LongString(running)},
      {"numRegisteredTaskManagers",
       LongString(static_cast<int64_t>(cluster.taskmanagers().size()))},
      {"taskSlotsTotal", LongString(cluster.TotalSlots())},
      {"taskSlotsAvailable", LongString(cluster.FreeSlots())},
  };
  AddJvmMetrics(out, 208'824'352 + 1'000'000LL * running, 1'047'527'424, 94, 0.0125);
  return out;
}

MetricList TaskManagerMetrics(const Cluster& cluster, const TaskManager& tm) {
  (void)cluster;
  const int used = tm.slots - tm.FreeSlots();
  MetricList out;
  AddJvmMetrics(out, 120'000'000 + 10'000'000LL * used, 536'870'912, 60 + 6 * used,
                0.02 + 0.01 * used);
  out.push_back({"Status.Shuffle.Netty.AvailableMemorySegments", LongString(4096 - 64 * used)});
  out.push_back({"Status.Shuffle.Netty.UsedMemorySegments", LongString(64 * used)});
  out.push_back({"Status.Shuffle.Netty.TotalMemorySegments", LongString(4096)});
  out.push_back({"Status.Flink.Memory.Managed.Used", LongString(0)});
  out.push_back({"Status.Flink.Memory.Managed.Total", LongString(536'870'920)});
  return out;
}

std::vector<AggregatedMetric> Aggregate(const std::vector<MetricList>& stores,
                                        const std::vector<std::string>& requested) {
  std::vector<AggregatedMetric> out;
  for (const auto& id : requested) {
    std::vector<double> values;
    bool numeric = true;
    for (const auto& store : stores) {
      for (const auto& m : store) {
        if (m.id != id) continue;
        try {
          size_t used = 0;
          double d = 0;
          if (m.value == "NaN") {
            d = std::nan("");
          } else if (m.value == "Infinity" || m.value == "-Infinity") {
            d = m.value[0] == '-' ? -HUGE_VAL : HUGE_VAL;
          } else {
            d = std::stod(m.value, &used);
            if (used != m.value.size()) throw std::invalid_argument(m.value);
          }
          values.push_back(d);
        } catch (...) {
          numeric = false;
        }
      }
    }
    if (!numeric) continue;         // not numeric: skipped (logged by Flink)
    if (values.empty()) return {};  // Flink's quirk: one missing id empties the reply
    AggregatedMetric a;
    a.id = id;
    a.min = values[0];
    a.max = values[0];
    a.sum = 0;
    for (double d : values) {
      a.min = std::isnan(d) || std::isnan(a.min) ? std::nan("") : std::min(a.min, d);
      a.max = std::isnan(d) || std::isnan(a.max) ? std::nan("") : std::max(a.max, d);
      a.sum += d;
    }
    a.avg = a.sum / static_cast<double>(values.size());
    double dev = 0;
    for (double d : values) dev += std::fabs(d - a.avg);
    dev /= static_cast<double>(values.size());
    a.skew = a.avg == 0 ? 0.0 : std::min(100.0, dev / std::fabs(a.avg) * 100.0);
    out.push_back(a);
  }
  return out;
}

}  // namespace flinksim
