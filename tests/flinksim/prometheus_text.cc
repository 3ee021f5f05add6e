#include "tests/flinksim/prometheus_text.h"

#include <cmath>
#include <map>
#include <vector>

#include "tests/flinksim/metrics.h"

namespace flinksim {
namespace {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Exposition {
 public:
  void Add(std::string scope, std::string metric, const Labels& labels, const std::string& value) {
    // Metrics in a sub-group ("buffers.inPoolUsage") carry the group in their scope.
    if (size_t dot = metric.rfind('.'); dot != std::string::npos) {
      scope += "_" + Sanitize(metric.substr(0, dot));
      metric = metric.substr(dot + 1);
    }
    std::string family = "flink_" + scope + "_" + Sanitize(metric);
    auto it = index_.find(family);
    if (it == index_.end()) {
      it = index_.emplace(family, families_.size()).first;
      families_.push_back({family, metric + " (scope: " + scope + ")", {}});
    }
    std::string line = family + "{";
    for (const auto& [k, v] : labels) line += k + "=\"" + Escape(PrometheusLabelValue(v)) + "\",";
    line += "} " + Number(value) + "\n";
    families_[it->second].lines.push_back(std::move(line));
  }

  std::string Text() const {
    std::string out;
    for (const auto& f : families_) {
      out += "# HELP " + f.name + " " + f.help + "\n";
      out += "# TYPE " + f.name + " gauge\n";
      for (const auto& l : f.lines) out += l;
    }
    return out;
  }

 private:
  struct Family {
    std::string name;
    std::string help;
    std::vector<std::string> lines;
  };

  static std::string Sanitize(const std::string& metric) {
    std::string out = metric;
    for (char& c : out) {
      bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == ':' || c == '_';
      if (!ok) c = '_';
    }
    return out;
  }
  static std::string Escape(const std::string& v) {
    std::string out;
    for (char c : v) {
      if (c == '\\' || c == '"') out.push_back('\\');
      if (c == '\n') {
        out += "\\n";
        continue;
      }
      out.push_back(c);
    }
    return out;
  }
  // Gauge values become doubles; booleans 1/0; anything non-numeric 0 (as Flink's reporter).
  static std::string Number(const std::string& value) {
    if (value == "true") return "1.0";
    if (value == "false") return "0.0";
    if (value == "NaN") return "NaN";
    try {
      size_t used = 0;
      double d = std::stod(value, &used);
      if (used != value.size()) return "0.0";
      return JavaDoubleToString(d);
    } catch (...) {
      return "0.0";
    }
  }

  std::vector<Family> families_;
  std::map<std::string, size_t> index_;
};

// Task-scope metrics exported over Prometheus. Flink exports every metric; flinksim leaves out
// the network-stack details (Shuffle.*, numBuffers*, local/remote byte counters) to keep a
// scrape of 100 jobs small. The REST metric endpoints still list them.
bool ExportedTaskMetric(const std::string& name) {
  static const char* const kExported[] = {"numRecordsIn",
                                          "numRecordsOut",
                                          "numRecordsInPerSecond",
                                          "numRecordsOutPerSecond",
                                          "numBytesInPerSecond",
                                          "numBytesOutPerSecond",
                                          "backPressuredTimeMsPerSecond",
                                          "softBackPressuredTimeMsPerSecond",
                                          "hardBackPressuredTimeMsPerSecond",
                                          "idleTimeMsPerSecond",
                                          "busyTimeMsPerSecond",
                                          "isBackPressured",
                                          "currentInputWatermark",
                                          "checkpointStartDelayNanos",
                                          "buffers.inPoolUsage",
                                          "buffers.outPoolUsage"};
  for (const char* n : kExported) {
    if (name == n) return true;
  }
  return false;
}

}  // namespace

std::string PrometheusExposition(const Cluster& cluster) {
  Exposition e;
  const std::string host = "localhost";
  for (const auto& m : JobManagerMetrics(cluster))
    e.Add("jobmanager", m.id, {{"host", host}}, m.value);
  for (const auto& tm : cluster.taskmanagers()) {
    for (const auto& m : TaskManagerMetrics(cluster, tm)) {
      e.Add("taskmanager", m.id, {{"host", tm.host}, {"tm_id", tm.id}}, m.value);
    }
  }
  for (const auto& job : cluster.jobs()) {
    for (const auto& m : JobScopeMetrics(cluster, *job)) {
      e.Add("jobmanager_job", m.id, {{"job_id", job->id}, {"job_name", job->name}, {"host", host}},
            m.value);
    }
  }
  for (const auto& job : cluster.jobs()) {
    if (job->status != JobStatus::kRunning || job->task_state != ExecState::kRunning) continue;
    for (size_t vi = 0; vi < job->vertices.size(); ++vi) {
      const Vertex& v = job->vertices[vi];
      for (int s = 0; s < v.parallelism; ++s) {
        const TaskManager& tm =
            cluster.taskmanagers()[job->slot_tm[static_cast<size_t>(s) % job->slot_tm.size()]];
        const std::string attempt_id = StableHex32(job->id + "/" + v.id + "/" + std::to_string(s) +
                                                   "/" + std::to_string(job->attempt));
        Labels task_labels = {{"job_id", job->id},
                              {"job_name", job->name},
                              {"task_name", v.name},
                              {"subtask_index", std::to_string(s)},
                              {"task_attempt_num", std::to_string(job->attempt)},
                              {"tm_id", tm.id},
                              {"host", tm.host},
                              {"task_id", v.id},
                              {"task_attempt_id", attempt_id}};
        Labels op_labels = {{"job_id", job->id},
                            {"job_name", job->name},
                            {"task_name", v.name},
                            {"operator_name", v.name},
                            {"subtask_index", std::to_string(s)},
                            {"task_attempt_num", std::to_string(job->attempt)},
                            {"tm_id", tm.id},
                            {"host", tm.host},
                            {"task_id", v.id},
                            {"operator_id", v.id},
                            {"task_attempt_id", attempt_id}};
        for (const auto& sample : SubtaskSamples(cluster, *job, vi, s)) {
          if (sample.operator_scope) {
            e.Add("taskmanager_job_task_operator", sample.name, op_labels, sample.value);
          } else if (ExportedTaskMetric(sample.name)) {
            e.Add("taskmanager_job_task", sample.name, task_labels, sample.value);
          }
        }
      }
    }
  }
  return e.Text();
}

}  // namespace flinksim
