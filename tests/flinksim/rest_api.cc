#include "tests/flinksim/rest_api.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <set>

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include "tests/flinksim/java_errors.h"
#include "tests/flinksim/json_out.h"
#include "tests/flinksim/metrics.h"
#include "tests/flinksim/multipart.h"

namespace flinksim {
namespace {

using Params = std::vector<std::string>;

// ---------------------------------------------------------------------------------------------
// Small helpers

HttpResponse Json(int status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

HttpResponse Bad(const std::string& text) { return ErrorResponse(400, {text}); }

std::string FlinkRevision(const std::string& version) {
  // Made-up but stable build identifiers per release line.
  if (StartsWith(version, "1.18")) return "a8c8b1c @ 2024-01-11T07:58:06+01:00";
  if (StartsWith(version, "1.20")) return "8b4e8d4 @ 2025-01-24T11:12:37+01:00";
  return "d8ee4e8 @ 2025-03-17T09:45:02+01:00";
}

std::string FlinkCommit(const std::string& version) {
  std::string rev = FlinkRevision(version);
  return rev.substr(0, rev.find(' '));
}

bool Match(const Params& segs, std::initializer_list<const char*> pattern, Params* captures) {
  if (segs.size() != pattern.size()) return false;
  Params caps;
  size_t i = 0;
  for (const char* p : pattern) {
    if (p[0] == ':') {
      caps.push_back(segs[i]);
    } else if (segs[i] != p) {
      return false;
    }
    ++i;
  }
  *captures = std::move(caps);
  return true;
}

std::optional<std::string> Query(const HttpRequest& req, const std::string& key) {
  auto params = req.QueryParams();
  auto it = params.find(key);
  if (it == params.end() || it->second.empty()) return std::nullopt;
  return it->second.front();
}

// Comma-separated values of a query parameter, merging repeated occurrences.
std::vector<std::string> QueryList(const HttpRequest& req, const std::string& key) {
  std::vector<std::string> out;
  auto params = req.QueryParams();
  auto it = params.find(key);
  if (it == params.end()) return out;
  for (const auto& v : it->second) {
    for (auto& piece : Split(v, ',')) out.push_back(piece);
  }
  return out;
}

const char* BackpressureLevel(double ratio) {
  if (ratio <= 0.10) return "ok";
  if (ratio <= 0.5) return "low";
  return "high";
}

// ExecutionJobVertex.getAggregateJobVertexState.
ExecState AggregateState(const std::array<int, kNumExecStates>& counts, int parallelism) {
  auto c = [&](ExecState s) { return counts[static_cast<size_t>(s)]; };
  if (c(ExecState::kFailed) > 0) return ExecState::kFailed;
  if (c(ExecState::kCanceling) > 0) return ExecState::kCanceling;
  if (c(ExecState::kCanceled) > 0) return ExecState::kCanceled;
  if (c(ExecState::kInitializing) > 0) return ExecState::kInitializing;
  if (c(ExecState::kRunning) > 0) return ExecState::kRunning;
  if (c(ExecState::kFinished) > 0) {
    return c(ExecState::kFinished) == parallelism ? ExecState::kFinished : ExecState::kRunning;
  }
  return ExecState::kCreated;
}

std::array<int, kNumExecStates> SubtaskCounts(const Job& job, size_t vi) {
  std::array<int, kNumExecStates> counts{};
  for (int s = 0; s < job.vertices[vi].parallelism; ++s) {
    ++counts[static_cast<size_t>(job.SubtaskState(vi, s))];
  }
  return counts;
}

const TaskManager* SubtaskTm(const Cluster& cluster, const Job& job, int subtask) {
  if (!job.slots_allocated || job.slot_tm.empty()) return nullptr;
  size_t slot = static_cast<size_t>(subtask) % job.slot_tm.size();
  return &cluster.taskmanagers()[job.slot_tm[slot]];
}

void WriteStateCounts(JsonOut& j, const std::array<int, kNumExecStates>& counts) {
  j.BeginObject();
  for (size_t i = 0; i < kNumExecStates; ++i) j.KV(Name(ExecStateAt(i)), counts[i]);
  j.EndObject();
}

struct IoMetrics {
  int64_t read_bytes = 0;
  int64_t write_bytes = 0;
  int64_t read_records = 0;
  int64_t write_records = 0;
  int64_t backpressured = 0;
  int64_t idle = 0;
  double busy = 0;
};

IoMetrics VertexIo(const Vertex& v, int share_of) {
  auto part = [&](double total) {
    return static_cast<int64_t>(std::floor(total / static_cast<double>(std::max(1, share_of))));
  };
  IoMetrics m;
  m.read_bytes = part(v.bytes_in);
  m.write_bytes = part(v.bytes_out);
  m.read_records = part(v.records_in);
  m.write_records = part(v.records_out);
  m.backpressured = part(v.backpressured_ms);
  m.idle = part(v.idle_ms);
  m.busy = std::isnan(v.busy_ms)
               ? v.busy_ms
               : std::floor(v.busy_ms / static_cast<double>(std::max(1, share_of)));
  return m;
}

void WriteIo(JsonOut& j, const IoMetrics& m) {
  j.BeginObject();
  j.KV("read-bytes", m.read_bytes).KV("read-bytes-complete", true);
  j.KV("write-bytes", m.write_bytes).KV("write-bytes-complete", true);
  j.KV("read-records", m.read_records).KV("read-records-complete", true);
  j.KV("write-records", m.write_records).KV("write-records-complete", true);
  j.KV("accumulated-backpressured-time", m.backpressured);
  j.KV("accumulated-idle-time", m.idle);
  j.Key("accumulated-busy-time").Double(m.busy);
  j.EndObject();
}

// Commons-math Percentile (legacy estimation), as used by Flink's DescriptiveStatistics.
double Percentile(std::vector<int64_t> values, double p) {
  if (values.empty()) return std::nan("");
  std::sort(values.begin(), values.end());
  const double n = static_cast<double>(values.size());
  const double pos = p * (n + 1) / 100.0;
  if (pos < 1) return static_cast<double>(values.front());
  if (pos >= n) return static_cast<double>(values.back());
  const double fpos = std::floor(pos);
  const size_t i = static_cast<size_t>(fpos);
  const double lower = static_cast<double>(values[i - 1]);
  const double upper = static_cast<double>(values[i]);
  return lower + (pos - fpos) * (upper - lower);
}

void WriteSummary(JsonOut& j, const std::vector<int64_t>& values) {
  j.BeginObject();
  if (values.empty()) {
    j.KV("min", 0).KV("max", 0).KV("avg", 0);
  } else {
    int64_t sum = 0;
    for (int64_t v : values) sum += v;
    j.KV("min", *std::min_element(values.begin(), values.end()));
    j.KV("max", *std::max_element(values.begin(), values.end()));
    j.KV("avg", sum / static_cast<int64_t>(values.size()));
  }
  for (auto [key, p] :
       {std::pair{"p50", 50.0}, {"p90", 90.0}, {"p95", 95.0}, {"p99", 99.0}, {"p999", 99.9}}) {
    j.Key(key).Number(Percentile(values, p));
  }
  j.EndObject();
}

void WriteCheckpoint(JsonOut& j, const Cluster& cluster, const CheckpointRecord& r) {
  using S = CheckpointRecord::State;
  j.BeginObject();
  j.KV("className", r.state == S::kCompleted ? "completed"
                    : r.state == S::kFailed  ? "failed"
                                             : "in_progress");
  j.KV("id", r.id);
  j.KV("status", r.state == S::kCompleted ? "COMPLETED"
                 : r.state == S::kFailed  ? "FAILED"
                                          : "IN_PROGRESS");
  j.KV("is_savepoint", r.is_savepoint);
  j.Key("savepointFormat");
  if (r.savepoint_format.empty()) {
    j.Null();
  } else {
    j.Str(r.savepoint_format);
  }
  j.KV("trigger_timestamp", r.trigger_ts);
  const bool done = r.state == S::kCompleted;
  j.KV("latest_ack_timestamp", done ? r.ack_ts : -1);
  j.KV("checkpointed_size", done ? r.checkpointed_size : 0);
  j.KV("state_size", done ? r.state_size : 0);
  int64_t e2e =
      done ? r.ack_ts - r.trigger_ts
           : (r.state == S::kFailed ? r.failure_ts - r.trigger_ts : cluster.now() - r.trigger_ts);
  j.KV("end_to_end_duration", e2e);
  j.KV("alignment_buffered", 0);
  j.KV("processed_data", done ? r.processed_data : 0);
  j.KV("persisted_data", 0);
  j.KV("num_subtasks", r.num_subtasks);
  j.KV("num_acknowledged_subtasks", r.num_acked);
  j.KV("checkpoint_type", r.type);
  j.Key("tasks").BeginObject().EndObject();
  if (r.state == S::kCompleted) {
    j.KV("external_path", r.external_path);
    j.KV("discarded", r.discarded);
  } else if (r.state == S::kFailed) {
    j.KV("failure_timestamp", r.failure_ts);
    j.KV("failure_message", r.failure_message);
  }
  j.EndObject();
}

void WriteTaskManager(JsonOut& j, const Cluster& cluster, const TaskManager& tm, bool details) {
  const int64_t free = tm.FreeSlots();
  const int64_t slots = tm.slots;
  auto resource = [&](int64_t n) {
    j.BeginObject();
    j.Key("cpuCores").Double(static_cast<double>(n));
    j.KV("taskHeapMemory", 383 * n / 8);
    j.KV("taskOffHeapMemory", 0);
    j.KV("managedMemory", 512 * n / 8);
    j.KV("networkMemory", 128 * n / 8);
    j.Key("extendedResources").BeginObject().EndObject();
    j.EndObject();
  };
  j.BeginObject();
  j.KV("id", tm.id);
  j.KV("path", tm.path);
  j.KV("dataPort", tm.data_port);
  j.KV("jmxPort", -1);
  j.KV("timeSinceLastHeartbeat", cluster.now() - (cluster.now() - tm.registered_at) % 10'000);
  j.KV("slotsNumber", slots);
  j.KV("freeSlots", free);
  j.Key("totalResource");
  resource(slots);
  j.Key("freeResource");
  resource(free);
  j.Key("hardware").BeginObject();
  j.KV("cpuCores", 8)
      .KV("physicalMemory", int64_t{16'647'884'800})
      .KV("freeMemory", int64_t{536'870'912});
  j.KV("managedMemory", int64_t{536'870'920});
  j.EndObject();
  j.Key("memoryConfiguration").BeginObject();
  j.KV("frameworkHeap", int64_t{134'217'728}).KV("taskHeap", int64_t{402'653'174});
  j.KV("frameworkOffHeap", int64_t{134'217'728}).KV("taskOffHeap", 0);
  j.KV("networkMemory", int64_t{134'217'730}).KV("managedMemory", int64_t{536'870'920});
  j.KV("jvmMetaspace", int64_t{268'435'456}).KV("jvmOverhead", int64_t{201'326'592});
  j.KV("totalFlinkMemory", int64_t{1'342'177'280}).KV("totalProcessMemory", int64_t{1'811'939'328});
  j.EndObject();
  j.KV("blocked", false);
  if (details) {
    j.Key("allocatedSlots").BeginArray();
    for (const auto& owner : tm.slot_owner) {
      if (owner.empty()) continue;
      j.BeginObject().KV("jobId", owner).Key("resource");
      resource(1);
      j.EndObject();
    }
    j.EndArray();
    const int64_t used = slots - free;
    j.Key("metrics").BeginObject();
    j.KV("heapUsed", 120'000'000 + 10'000'000 * used).KV("heapCommitted", int64_t{536'870'912});
    j.KV("heapMax", int64_t{536'870'912}).KV("nonHeapUsed", int64_t{80'000'000});
    j.KV("nonHeapCommitted", int64_t{90'000'000}).KV("nonHeapMax", int64_t{780'140'544});
    j.KV("directCount", 20).KV("directUsed", int64_t{625'945}).KV("directMax", int64_t{625'944});
    j.KV("mappedCount", 0).KV("mappedUsed", 0).KV("mappedMax", 0);
    if (!AtLeast(cluster.version(), FlinkVersion::k2_0)) {
      j.KV("memorySegmentsAvailable", 4096 - 64 * used).KV("memorySegmentsTotal", 4096);
    }
    j.KV("nettyShuffleMemorySegmentsAvailable", 4096 - 64 * used);
    j.KV("nettyShuffleMemorySegmentsUsed", 64 * used);
    j.KV("nettyShuffleMemorySegmentsTotal", 4096);
    j.KV("nettyShuffleMemoryAvailable", (4096 - 64 * used) * 32768);
    j.KV("nettyShuffleMemoryUsed", 64 * used * 32768);
    j.KV("nettyShuffleMemoryTotal", int64_t{4096} * 32768);
    j.Key("garbageCollectors").BeginArray();
    j.BeginObject().KV("name", "G1_Young_Generation").KV("count", 18).KV("time", 293).EndObject();
    j.BeginObject().KV("name", "G1_Old_Generation").KV("count", 0).KV("time", 0).EndObject();
    j.EndArray();
    j.EndObject();
  }
  j.EndObject();
}

std::string MetricListJson(const MetricList& list, bool with_values) {
  JsonOut j;
  j.BeginArray();
  for (const auto& m : list) {
    j.BeginObject().KV("id", m.id);
    if (with_values) j.KV("value", m.value);
    j.EndObject();
  }
  j.EndArray();
  return j.str();
}

// GET ...metrics[?get=a,b]: ids only without get=, values for the known requested ids.
HttpResponse MetricResponse(const MetricList& all, const HttpRequest& req) {
  auto wanted = QueryList(req, "get");
  if (wanted.empty()) return Json(200, MetricListJson(all, false));
  MetricList out;
  for (const auto& id : wanted) {
    auto it =
        std::find_if(all.begin(), all.end(), [&](const MetricValue& m) { return m.id == id; });
    if (it != all.end()) out.push_back(*it);
  }
  return Json(200, MetricListJson(out, true));
}

HttpResponse AggregatedResponse(const Cluster& cluster, const std::vector<MetricList>& stores,
                                const HttpRequest& req) {
  auto wanted = QueryList(req, "get");
  if (wanted.empty()) {
    std::vector<std::string> ids;
    std::set<std::string> seen;
    for (const auto& s : stores) {
      for (const auto& m : s) {
        if (seen.insert(m.id).second) ids.push_back(m.id);
      }
    }
    JsonOut j;
    j.BeginArray();
    for (const auto& id : ids) j.BeginObject().KV("id", id).EndObject();
    j.EndArray();
    return Json(200, j.str());
  }
  AggregationSpec spec;
  auto aggs = QueryList(req, "agg");
  const bool skew_known = AtLeast(cluster.version(), FlinkVersion::k1_20);
  if (!aggs.empty()) {
    spec = AggregationSpec{false, false, false, false, false};
    for (const auto& a : aggs) {
      std::string l = ToLower(a);
      if (l == "min") {
        spec.min = true;
      } else if (l == "max") {
        spec.max = true;
      } else if (l == "avg") {
        spec.avg = true;
      } else if (l == "sum") {
        spec.sum = true;
      } else if (l == "skew" && skew_known) {
        spec.skew = true;
      } else {
        return Bad(java::BadParameter("query", "agg", a));
      }
    }
  }
  if (!skew_known) spec.skew = false;
  auto result = Aggregate(stores, wanted);
  JsonOut j;
  j.BeginArray();
  for (const auto& a : result) {
    j.BeginObject().KV("id", a.id);
    if (spec.min) j.Key("min").Double(a.min);
    if (spec.max) j.Key("max").Double(a.max);
    if (spec.avg) j.Key("avg").Double(a.avg);
    if (spec.sum) j.Key("sum").Double(a.sum);
    if (spec.skew) j.Key("skew").Double(a.skew);
    j.EndObject();
  }
  j.EndArray();
  return Json(200, j.str());
}

// Parses "0,2-5" (subtask selection); nullopt on malformed input.
std::optional<std::set<int>> ParseRanges(const std::vector<std::string>& pieces) {
  std::set<int> out;
  for (const auto& p : pieces) {
    try {
      size_t dash = p.find('-');
      if (dash == std::string::npos) {
        out.insert(std::stoi(p));
      } else {
        int a = std::stoi(p.substr(0, dash));
        int b = std::stoi(p.substr(dash + 1));
        for (int i = a; i <= b && i - a < 100'000; ++i) out.insert(i);
      }
    } catch (...) {
      return std::nullopt;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Request bodies

struct BodySpec {
  const char* simple_name;  // e.g. "JarRunRequestBody"
  const char* class_name;   // fully qualified
  std::vector<std::string> known_fields;
};

// Parses a JSON object body (empty = {}). Unknown fields fail on <= 1.19 (strict Jackson
// mapping), are ignored from 1.20 (FLINK-35302).
std::optional<HttpResponse> ParseBody(const Cluster& cluster, const std::string& body,
                                      const BodySpec& spec, rapidjson::Document* doc) {
  std::string text = Trim(body).empty() ? "{}" : body;
  doc->Parse(text.c_str(), text.size());
  if (doc->HasParseError() || !doc->IsObject()) {
    std::string detail =
        "org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonParseException: " +
        std::string(doc->HasParseError() ? rapidjson::GetParseError_En(doc->GetParseError())
                                         : "Cannot deserialize value of type `" +
                                               std::string(spec.class_name) + "`");
    return Bad(java::RequestFormatMismatch(spec.simple_name, detail));
  }
  const bool strict = !AtLeast(cluster.version(), FlinkVersion::k1_20);
  if (strict) {
    for (auto it = doc->MemberBegin(); it != doc->MemberEnd(); ++it) {
      std::string field(it->name.GetString(), it->name.GetStringLength());
      if (std::find(spec.known_fields.begin(), spec.known_fields.end(), field) !=
          spec.known_fields.end())
        continue;
      std::string known;
      for (size_t i = 0; i < spec.known_fields.size(); ++i) {
        known += (i ? ", \"" : "\"") + spec.known_fields[i] + "\"";
      }
      std::string detail =
          "org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.exc."
          "UnrecognizedPropertyException: "
          "Unrecognized field \"" +
          field + "\" (class " + spec.class_name + "), not marked as ignorable (" +
          std::to_string(spec.known_fields.size()) + " known properties: " + known + "])";
      return Bad(java::RequestFormatMismatch(spec.simple_name, detail));
    }
  }
  return std::nullopt;
}

// Field access: absent and null read as nullptr.
const rapidjson::Value* Member(const rapidjson::Document& doc, const char* key) {
  auto it = doc.FindMember(key);
  if (it == doc.MemberEnd() || it->value.IsNull()) return nullptr;
  return &it->value;
}

std::string TypeMismatch(const BodySpec& spec, const std::string& field, const char* type) {
  return java::RequestFormatMismatch(spec.simple_name,
                                     "org.apache.flink.shaded.jackson2.com.fasterxml.jackson."
                                     "databind.exc.MismatchedInputException: "
                                     "Cannot deserialize value of type `" +
                                         std::string(type) + "` (through reference chain: " +
                                         spec.class_name + "[\"" + field + "\"])");
}

// ---------------------------------------------------------------------------------------------
// Endpoints

class Handler {
 public:
  Handler(Cluster& cluster, const std::string& base_url) : c_(cluster), base_url_(base_url) {}

  HttpResponse Dispatch(const HttpRequest& req);

 private:
  FlinkVersion v() const { return c_.version(); }
  bool V120() const { return AtLeast(v(), FlinkVersion::k1_20); }
  bool V20() const { return AtLeast(v(), FlinkVersion::k2_0); }

  HttpResponse NotFound(const HttpRequest& req) {
    return ErrorResponse(404, {"Not found: " + req.Uri()});
  }
  // Resolves :jobid; on failure fills `error`.
  const Job* JobOr(const std::string& id, std::optional<HttpResponse>* error) {
    if (!IsHex32(id)) {
      *error = Bad(java::BadParameter("path", "jobid", id));
      return nullptr;
    }
    const Job* job = c_.FindJob(id);
    if (job == nullptr) *error = ErrorResponse(404, {java::JobNotFound(ToLower(id))});
    return job;
  }
  std::optional<size_t> VertexIndex(const Job& job, const std::string& vid) {
    for (size_t i = 0; i < job.vertices.size(); ++i) {
      if (job.vertices[i].id == ToLower(vid)) return i;
    }
    return std::nullopt;
  }

  HttpResponse Config();
  HttpResponse Overview();
  HttpResponse Jobs();
  HttpResponse JobsOverview();
  HttpResponse JobDetails(const Job& job);
  void WritePlan(JsonOut& j, const Job& job);
  HttpResponse Checkpoints(const Job& job);
  HttpResponse CheckpointConfig(const Job& job);
  HttpResponse CheckpointDetails(const Job& job, const std::string& cid);
  HttpResponse Exceptions(const Job& job, const HttpRequest& req);
  HttpResponse VertexDetails(const Job& job, size_t vi);
  HttpResponse Backpressure(const Job& job, size_t vi);
  HttpResponse TaskManagers();
  HttpResponse JobManagerConfig(const Job* job);
  HttpResponse Jars();
  HttpResponse Upload(const HttpRequest& req);
  HttpResponse Run(const std::string& jar_id, const HttpRequest& req);
  HttpResponse Cancel(const std::string& job_id, const HttpRequest& req);
  HttpResponse Savepoint(const std::string& job_id, const HttpRequest& req, bool stop);
  HttpResponse SavepointStatus(const std::string& job_id, const std::string& trigger);

  Cluster& c_;
  const std::string& base_url_;
};

HttpResponse Handler::Config() {
  JsonOut j;
  j.BeginObject();
  j.KV("refresh-interval", 3000);
  j.KV("timezone-name", "Coordinated Universal Time");
  j.KV("timezone-offset", 0);
  j.KV("flink-version", c_.version_string());
  j.KV("flink-revision", FlinkRevision(c_.version_string()));
  j.Key("features").BeginObject();
  j.KV("web-submit", true).KV("web-cancel", true).KV("web-rescale", false).KV("web-history", false);
  j.EndObject();
  j.EndObject();
  return Json(200, j.str());
}

HttpResponse Handler::Overview() {
  int running = 0;
  int finished = 0;
  int cancelled = 0;
  int failed = 0;
  for (const auto& job : c_.jobs()) {
    switch (job->status) {
      case JobStatus::kFinished: ++finished; break;
      case JobStatus::kCanceled: ++cancelled; break;
      case JobStatus::kFailed: ++failed; break;
      default: ++running;
    }
  }
  JsonOut j;
  j.BeginObject();
  j.KV("taskmanagers", static_cast<int64_t>(c_.taskmanagers().size()));
  j.KV("slots-total", c_.TotalSlots());
  j.KV("slots-available", c_.FreeSlots());
  j.KV("taskmanagers-blocked", 0);
  j.KV("slots-free-and-blocked", 0);
  j.KV("jobs-running", running).KV("jobs-finished", finished);
  j.KV("jobs-cancelled", cancelled).KV("jobs-failed", failed);
  j.KV("flink-version", c_.version_string());
  j.KV("flink-commit", FlinkCommit(c_.version_string()));
  j.EndObject();
  return Json(200, j.str());
}

HttpResponse Handler::Jobs() {
  JsonOut j;
  j.BeginObject().Key("jobs").BeginArray();
  for (const auto& job : c_.jobs())
    j.BeginObject().KV("id", job->id).KV("status", Name(job->status)).EndObject();
  j.EndArray().EndObject();
  return Json(200, j.str());
}

HttpResponse Handler::JobsOverview() {
  JsonOut j;
  j.BeginObject().Key("jobs").BeginArray();
  for (const auto& job : c_.jobs()) {
    std::array<int, kNumExecStates> counts{};
    int total = 0;
    for (size_t vi = 0; vi < job->vertices.size(); ++vi) {
      auto sc = SubtaskCounts(*job, vi);
      for (size_t i = 0; i < kNumExecStates; ++i) counts[i] += sc[i];
      total += job->vertices[vi].parallelism;
    }
    j.BeginObject();
    j.KV("jid", job->id).KV("name", job->name).KV("state", Name(job->status));
    j.KV("start-time", job->start_time).KV("end-time", job->end_time);
    j.KV("duration", job->Duration(c_.now())).KV("last-modification", job->last_modification);
    j.Key("tasks").BeginObject();
    j.KV("total", total);
    for (ExecState s :
         {ExecState::kCreated, ExecState::kScheduled, ExecState::kDeploying, ExecState::kRunning,
          ExecState::kFinished, ExecState::kCanceling, ExecState::kCanceled, ExecState::kFailed,
          ExecState::kReconciling, ExecState::kInitializing}) {
      j.KV(ToLower(Name(s)), counts[static_cast<size_t>(s)]);
    }
    j.EndObject();
    if (V20()) j.KV("pending-operators", 0);
    j.EndObject();
  }
  j.EndArray().EndObject();
  return Json(200, j.str());
}

void Handler::WritePlan(JsonOut& j, const Job& job) {
  j.BeginObject();
  j.KV("jid", job.id).KV("name", job.name).KV("type", "STREAMING");
  j.Key("nodes").BeginArray();
  for (size_t k = job.vertices.size(); k-- > 0;) {
    const Vertex& vx = job.vertices[k];
    j.BeginObject();
    j.KV("id", vx.id).KV("parallelism", vx.parallelism);
    j.KV("operator", "").KV("operator_strategy", "");
    j.KV("description", vx.name + "<br/>");
    if (V120()) j.Key("operator_metadata").BeginArray().BeginObject().EndObject().EndArray();
    if (k > 0) {
      j.Key("inputs").BeginArray().BeginObject();
      j.KV("num", 0).KV("id", job.vertices[k - 1].id);
      j.KV("ship_strategy", k == 1 ? "REBALANCE" : "HASH").KV("exchange", "pipelined_bounded");
      j.EndObject().EndArray();
    }
    j.Key("optimizer_properties").BeginObject().EndObject();
    j.EndObject();
  }
  j.EndArray();
  j.EndObject();
}

HttpResponse Handler::JobDetails(const Job& job) {
  const int64_t now = c_.now();
  JsonOut j;
  j.BeginObject();
  j.KV("jid", job.id).KV("name", job.name).KV("isStoppable", false).KV("state", Name(job.status));
  if (V120()) j.KV("job-type", "STREAMING");
  j.KV("start-time", job.start_time).KV("end-time", job.end_time).KV("duration", job.Duration(now));
  j.KV("maxParallelism", -1).KV("now", now);
  j.Key("timestamps").BeginObject();
  for (size_t i = 0; i < kNumJobStatuses; ++i) j.KV(Name(JobStatusAt(i)), job.timestamps[i]);
  j.EndObject();
  std::array<int, kNumExecStates> vertex_states{};
  j.Key("vertices").BeginArray();
  for (size_t vi = 0; vi < job.vertices.size(); ++vi) {
    const Vertex& vx = job.vertices[vi];
    auto counts = SubtaskCounts(job, vi);
    ExecState agg = AggregateState(counts, vx.parallelism);
    ++vertex_states[static_cast<size_t>(agg)];
    int64_t start = job.deploy_time > 0 ? job.deploy_time : -1;
    int64_t end = -1;
    int64_t duration = -1;
    if (start > 0) {
      if (IsTerminal(job.task_state)) {
        end = job.task_timestamps[static_cast<size_t>(job.task_state)];
        duration = end - start;
      } else {
        duration = now - start;
      }
    }
    j.BeginObject();
    j.KV("id", vx.id);
    if (V120()) j.KV("slotSharingGroupId", vx.slot_sharing_group_id);
    j.KV("name", vx.name)
        .KV("maxParallelism", vx.max_parallelism)
        .KV("parallelism", vx.parallelism);
    j.KV("status", Name(agg)).KV("start-time", start).KV("end-time", end).KV("duration", duration);
    j.Key("tasks");
    WriteStateCounts(j, counts);
    j.Key("metrics");
    WriteIo(j, VertexIo(vx, 1));
    j.EndObject();
  }
  j.EndArray();
  j.Key("status-counts");
  WriteStateCounts(j, vertex_states);
  j.Key("plan");
  WritePlan(j, job);
  if (V20()) {
    j.KV("pending-operators", 0);
    j.Key("stream-graph").BeginObject().KV("pending_operators", 0).Key("nodes").BeginArray();
    for (size_t vi = 0; vi < job.vertices.size(); ++vi) {
      const Vertex& vx = job.vertices[vi];
      j.BeginObject();
      j.KV("id", std::to_string(vi + 1)).KV("parallelism", vx.parallelism);
      j.KV("operator", vx.name).KV("description", vx.name).KV("job_vertex_id", vx.id);
      j.Key("inputs").BeginArray();
      if (vi > 0) {
        j.BeginObject().KV("num", 0).KV("id", std::to_string(vi));
        j.KV("ship_strategy", vi == 1 ? "REBALANCE" : "HASH")
            .KV("exchange", "pipelined_bounded")
            .EndObject();
      }
      j.EndArray();
      j.EndObject();
    }
    j.EndArray().EndObject();
  }
  j.EndObject();
  return Json(200, j.str());
}

HttpResponse Handler::Checkpoints(const Job& job) {
  if (!job.settings.checkpointing) {
    return ErrorResponse(
        404, {JavaStackTrace("org.apache.flink.runtime.rest.handler.RestHandlerException",
                             "Checkpointing has not been enabled.", {})});
  }
  const int in_progress =
      (job.pending_checkpoint ? 1 : 0) + static_cast<int>(job.pending_savepoints.size());
  JsonOut j;
  j.BeginObject();
  j.Key("counts").BeginObject();
  j.KV("restored", job.restored ? 1 : 0);
  j.KV("total", job.count_completed + job.count_failed + in_progress);
  j.KV("in_progress", in_progress)
      .KV("completed", job.count_completed)
      .KV("failed", job.count_failed);
  j.EndObject();
  std::vector<int64_t> zeros(job.completed_sizes.size(), 0);
  j.Key("summary").BeginObject();
  j.Key("checkpointed_size");
  WriteSummary(j, job.completed_sizes);
  j.Key("state_size");
  WriteSummary(j, job.completed_sizes);
  j.Key("end_to_end_duration");
  WriteSummary(j, job.completed_durations);
  j.Key("alignment_buffered");
  WriteSummary(j, zeros);
  j.Key("processed_data");
  WriteSummary(j, job.completed_processed);
  j.Key("persisted_data");
  WriteSummary(j, zeros);
  j.EndObject();
  auto latest = [&](const char* key, const std::optional<int64_t>& id) {
    j.Key(key);
    auto it = id ? job.checkpoints.find(*id) : job.checkpoints.end();
    if (it == job.checkpoints.end()) {
      j.Null();
    } else {
      WriteCheckpoint(j, c_, it->second);
    }
  };
  j.Key("latest").BeginObject();
  latest("completed", job.latest_completed);
  latest("savepoint", job.latest_savepoint);
  latest("failed", job.latest_failed);
  j.Key("restored");
  if (job.restored) {
    j.BeginObject();
    j.KV("id", job.restored->id).KV("restore_timestamp", job.restored->restore_ts);
    j.KV("is_savepoint", job.restored->is_savepoint)
        .KV("external_path", job.restored->external_path);
    j.EndObject();
  } else {
    j.Null();
  }
  j.EndObject();
  j.Key("history").BeginArray();
  for (int64_t id : job.history) {
    auto it = job.checkpoints.find(id);
    if (it != job.checkpoints.end()) WriteCheckpoint(j, c_, it->second);
  }
  j.EndArray();
  j.EndObject();
  return Json(200, j.str());
}

HttpResponse Handler::CheckpointConfig(const Job& job) {
  if (!job.settings.checkpointing) {
    return ErrorResponse(
        404, {JavaStackTrace("org.apache.flink.runtime.rest.handler.RestHandlerException",
                             "Checkpointing is not enabled for this job (" + job.id + ").", {})});
  }
  const JobSettings& s = job.settings;
  JsonOut j;
  j.BeginObject();
  j.KV("mode", "exactly_once")
      .KV("interval", s.checkpoint_interval_ms)
      .KV("timeout", s.checkpoint_timeout_ms);
  j.KV("min_pause", s.min_pause_ms).KV("max_concurrent", 1);
  j.Key("externalization")
      .BeginObject()
      .KV("enabled", true)
      .KV("delete_on_cancellation", false)
      .EndObject();
  j.KV("state_backend", "HashMapStateBackend")
      .KV("checkpoint_storage", "FileSystemCheckpointStorage");
  j.KV("unaligned_checkpoints", false).KV("tolerable_failed_checkpoints", s.tolerable_failed);
  j.KV("aligned_checkpoint_timeout", 0).KV("checkpoints_after_tasks_finish", true);
  j.KV("state_changelog_enabled", false).KV("changelog_periodic_materialization_interval", 600'000);
  j.KV("changelog_storage", "memory");
  j.EndObject();
  return Json(200, j.str());
}

HttpResponse Handler::CheckpointDetails(const Job& job, const std::string& cid) {
  int64_t id = 0;
  try {
    size_t used = 0;
    id = std::stoll(cid, &used);
    if (used != cid.size()) throw std::invalid_argument(cid);
  } catch (...) {
    return Bad(java::BadParameter("path", "checkpointid", cid));
  }
  auto it = job.checkpoints.find(id);
  bool listed = std::find(job.history.begin(), job.history.end(), id) != job.history.end();
  if (it == job.checkpoints.end() || !listed) {
    return ErrorResponse(
        404, {JavaStackTrace("org.apache.flink.runtime.rest.NotFoundException",
                             "Could not find checkpointing statistics for checkpoint " + cid + ".",
                             {"org.apache.flink.runtime.rest.handler.job.checkpoints."
                              "CheckpointStatisticDetailsHandler.handleCheckpointStatsRequest("
                              "CheckpointStatisticDetailsHandler.java:92)"})});
  }
  // The per-checkpoint view: like the history entry, with one task entry per vertex.
  JsonOut list;
  WriteCheckpoint(list, c_, it->second);
  rapidjson::Document d;
  std::string base = list.str();
  d.Parse(base.c_str(), base.size());
  auto& alloc = d.GetAllocator();
  rapidjson::Value tasks(rapidjson::kObjectType);
  const CheckpointRecord& r = it->second;
  const bool done = r.state == CheckpointRecord::State::kCompleted;
  for (const auto& vx : job.vertices) {
    rapidjson::Value t(rapidjson::kObjectType);
    t.AddMember("id", r.id, alloc);
    t.AddMember("status",
                rapidjson::Value(done                                          ? "COMPLETED"
                                 : r.state == CheckpointRecord::State::kFailed ? "FAILED"
                                                                               : "IN_PROGRESS",
                                 alloc),
                alloc);
    t.AddMember("latest_ack_timestamp", done ? r.ack_ts : int64_t{-1}, alloc);
    int64_t share = done ? r.state_size / static_cast<int64_t>(job.vertices.size()) : 0;
    t.AddMember("checkpointed_size", share, alloc);
    t.AddMember("state_size", share, alloc);
    t.AddMember("end_to_end_duration", done ? r.ack_ts - r.trigger_ts : int64_t{0}, alloc);
    t.AddMember("alignment_buffered", 0, alloc);
    t.AddMember("processed_data", 0, alloc);
    t.AddMember("persisted_data", 0, alloc);
    t.AddMember("num_subtasks", vx.parallelism, alloc);
    t.AddMember("num_acknowledged_subtasks", done ? vx.parallelism : 0, alloc);
    tasks.AddMember(rapidjson::Value(vx.id.c_str(), alloc), t, alloc);
  }
  d["tasks"] = tasks;
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  d.Accept(w);
  return Json(200, std::string(sb.GetString(), sb.GetSize()));
}

HttpResponse Handler::Exceptions(const Job& job, const HttpRequest& req) {
  int max_exceptions = 20;
  if (auto m = Query(req, "maxExceptions")) {
    try {
      size_t used = 0;
      max_exceptions = std::stoi(*m, &used);
      if (used != m->size()) throw std::invalid_argument(*m);
    } catch (...) {
      return Bad(java::BadParameter("query", "maxExceptions", *m));
    }
  }
  auto filters = QueryList(req, "failureLabelFilter");
  for (const auto& f : filters) {
    if (f.find(':') == std::string::npos)
      return Bad(java::BadParameter("query", "failureLabelFilter", f));
  }
  JsonOut j;
  j.BeginObject();
  if (!V20()) {
    j.Key("root-exception");
    if (job.root_failure) {
      j.Str(job.root_failure->first);
    } else {
      j.Null();
    }
    j.Key("timestamp");
    if (job.root_failure) {
      j.Int(job.root_failure->second);
    } else {
      j.Null();
    }
    j.Key("all-exceptions").BeginArray();
    if (job.status == JobStatus::kFailed && job.failed_task_exception && max_exceptions > 0) {
      const ExceptionRecord& e = *job.failed_task_exception;
      j.BeginObject();
      j.KV("exception", e.stacktrace)
          .KV("task", e.task_name.substr(0, e.task_name.find(" - execution")));
      j.KV("location", e.endpoint);
      if (V120()) j.KV("endpoint", e.endpoint);
      j.KV("timestamp", e.timestamp).KV("taskManagerId", e.tm_id);
      j.EndObject();
    }
    j.EndArray();
    j.KV("truncated", false);
  }
  j.Key("exceptionHistory").BeginObject().Key("entries").BeginArray();
  size_t shown = 0;
  const size_t total = filters.empty() ? job.exceptions.size() : 0;
  if (filters.empty()) {
    for (auto it = job.exceptions.rbegin(); it != job.exceptions.rend(); ++it) {
      if (static_cast<int>(shown) >= max_exceptions) break;
      const ExceptionRecord& e = *it;
      j.BeginObject();
      j.KV("exceptionName", e.class_name)
          .KV("stacktrace", e.stacktrace)
          .KV("timestamp", e.timestamp);
      if (!e.global) {
        j.KV("taskName", e.task_name);
        if (!V20()) j.KV("location", e.endpoint);
        if (V120()) j.KV("endpoint", e.endpoint);
        j.KV("taskManagerId", e.tm_id);
      }
      j.Key("failureLabels").BeginObject().EndObject();
      j.Key("concurrentExceptions").BeginArray().EndArray();
      j.EndObject();
      ++shown;
    }
  }
  j.EndArray();
  j.KV("truncated", shown < total);
  j.EndObject();
  j.EndObject();
  return Json(200, j.str());
}

HttpResponse Handler::VertexDetails(const Job& job, size_t vi) {
  const Vertex& vx = job.vertices[vi];
  const int64_t now = c_.now();
  JsonOut j;
  j.BeginObject();
  j.KV("id", vx.id)
      .KV("name", vx.name)
      .KV("parallelism", vx.parallelism)
      .KV("maxParallelism", vx.max_parallelism);
  j.KV("now", now);
  static constexpr ExecState kLifecycle[] = {ExecState::kCreated, ExecState::kScheduled,
                                             ExecState::kDeploying, ExecState::kInitializing,
                                             ExecState::kRunning};
  std::array<int64_t, 5> status_duration{};
  for (size_t k = 0; k < 5; ++k) {
    int64_t ts = job.task_timestamps[static_cast<size_t>(kLifecycle[k])];
    if (ts == 0) continue;
    int64_t until = 0;
    for (size_t n = k + 1; n < 5 && until == 0; ++n)
      until = job.task_timestamps[static_cast<size_t>(kLifecycle[n])];
    if (until == 0) {
      until = job.task_state == kLifecycle[k] ? now : ts;
      for (size_t s = 0; s < kNumExecStates; ++s) {
        if (IsTerminal(ExecStateAt(s)) && job.task_timestamps[s] > ts &&
            job.task_state == ExecStateAt(s)) {
          until = job.task_timestamps[s];
        }
      }
    }
    status_duration[k] = std::max<int64_t>(0, until - ts);
  }
  IoMetrics per = VertexIo(vx, vx.parallelism);
  j.Key("subtasks").BeginArray();
  for (int s = 0; s < vx.parallelism; ++s) {
    const ExecState st = job.SubtaskState(vi, s);
    const TaskManager* tm = SubtaskTm(c_, job, s);
    int64_t start = job.deploy_time > 0 ? job.deploy_time : -1;
    int64_t end = -1;
    int64_t duration = -1;
    if (start > 0) {
      if (IsTerminal(st)) {
        end = job.task_timestamps[static_cast<size_t>(job.task_state)];
        duration = end - start;
      } else {
        duration = now - start;
      }
    }
    j.BeginObject();
    j.KV("subtask", s).KV("status", Name(st)).KV("attempt", job.attempt);
    std::string endpoint = tm ? tm->host + ":" + std::to_string(tm->data_port) : "(unassigned)";
    if (!V20()) j.KV("host", tm ? tm->host : "(unassigned)");
    if (V120()) j.KV("endpoint", endpoint);
    j.KV("start-time", start).KV("end-time", end).KV("duration", duration);
    j.Key("metrics");
    WriteIo(j, per);
    j.KV("taskmanager-id", tm ? tm->id : "(unassigned)");
    j.Key("status-duration").BeginObject();
    for (size_t k = 0; k < 5; ++k) j.KV(Name(kLifecycle[k]), status_duration[k]);
    j.EndObject();
    j.KV("start_time", start);
    j.EndObject();
  }
  j.EndArray();
  // 1.17+: aggregated IO metrics and status durations over the subtasks (all equal here).
  auto stats = [&](int64_t value, int64_t n) {
    j.BeginObject();
    j.KV("min", value).KV("max", value).KV("avg", value).KV("sum", value * n);
    j.KV("median", value).KV("p25", value).KV("p75", value).KV("p95", value);
    j.EndObject();
  };
  const int64_t n = vx.parallelism;
  j.Key("aggregated").BeginObject();
  j.Key("metrics").BeginObject();
  j.Key("read-bytes");
  stats(per.read_bytes, n);
  j.Key("write-bytes");
  stats(per.write_bytes, n);
  j.Key("read-records");
  stats(per.read_records, n);
  j.Key("write-records");
  stats(per.write_records, n);
  j.Key("accumulated-backpressured-time");
  stats(per.backpressured, n);
  j.Key("accumulated-idle-time");
  stats(per.idle, n);
  j.Key("accumulated-busy-time");
  stats(std::isnan(per.busy) ? 0 : static_cast<int64_t>(per.busy), n);
  j.EndObject();
  j.Key("status-duration").BeginObject();
  for (size_t k = 0; k < 5; ++k) {
    j.Key(Name(kLifecycle[k]));
    stats(status_duration[k], n);
  }
  j.EndObject();
  j.EndObject();
  j.EndObject();
  return Json(200, j.str());
}

HttpResponse Handler::Backpressure(const Job& job, size_t vi) {
  JsonOut j;
  j.BeginObject();
  if (!Cluster::TasksHaveMetrics(job) || job.task_state != ExecState::kRunning) {
    j.KV("status", "deprecated");
    j.EndObject();
    return Json(200, j.str());
  }
  const Vertex& vx = job.vertices[vi];
  const SubtaskRates r = c_.Rates(job, vi);
  const double ratio = r.backpressured_ms_per_s / 1000.0;
  const double idle = r.idle_ms_per_s / 1000.0;
  const double busy = std::isnan(r.busy_ms_per_s) ? std::nan("") : r.busy_ms_per_s / 1000.0;
  j.KV("status", "ok").KV("backpressure-level", BackpressureLevel(ratio));
  j.KV("backpressureLevel", BackpressureLevel(ratio)).KV("end-timestamp", c_.now());
  j.Key("subtasks").BeginArray();
  for (int s = 0; s < vx.parallelism; ++s) {
    j.BeginObject().KV("subtask", s).KV("attempt-number", job.attempt);
    j.KV("backpressure-level", BackpressureLevel(ratio))
        .KV("backpressureLevel", BackpressureLevel(ratio));
    j.Key("ratio").Double(ratio).Key("idleRatio").Double(idle).Key("busyRatio").Double(busy);
    j.EndObject();
  }
  j.EndArray();
  j.EndObject();
  return Json(200, j.str());
}

HttpResponse Handler::TaskManagers() {
  JsonOut j;
  j.BeginObject().Key("taskmanagers").BeginArray();
  for (const auto& tm : c_.taskmanagers()) WriteTaskManager(j, c_, tm, false);
  j.EndArray().EndObject();
  return Json(200, j.str());
}

HttpResponse Handler::JobManagerConfig(const Job* job) {
  auto entries = c_.Configuration();
  if (job != nullptr) {
    for (const auto& [k, val] : job->job_config) {
      auto it =
          std::find_if(entries.begin(), entries.end(), [&](const auto& e) { return e.first == k; });
      if (it != entries.end()) {
        it->second = val;
      } else {
        entries.emplace_back(k, val);
      }
    }
    entries.emplace_back("$internal.pipeline.job-id", job->id);
    entries.emplace_back("pipeline.name", job->name);
  }
  JsonOut j;
  j.BeginArray();
  for (const auto& [k, val] : entries) j.BeginObject().KV("key", k).KV("value", val).EndObject();
  j.EndArray();
  return Json(200, j.str());
}

HttpResponse Handler::Jars() {
  std::vector<const Jar*> jars;
  for (const auto& jar : c_.jars()) jars.push_back(&jar);
  std::stable_sort(jars.begin(), jars.end(),
                   [](const Jar* a, const Jar* b) { return a->uploaded > b->uploaded; });
  JsonOut j;
  j.BeginObject().KV("address", base_url_).Key("files").BeginArray();
  for (const Jar* jar : jars) {
    j.BeginObject().KV("id", jar->id).KV("name", jar->name).KV("uploaded", jar->uploaded);
    j.Key("entry").BeginArray();
    if (!jar->entry_class.empty())
      j.BeginObject().KV("name", jar->entry_class).Key("description").Null().EndObject();
    j.EndArray();
    j.EndObject();
  }
  j.EndArray().EndObject();
  return Json(200, j.str());
}

HttpResponse Handler::Upload(const HttpRequest& req) {
  auto parts = ParseMultipart(req.Header("Content-Type"), req.body);
  std::vector<const FormPart*> files;
  if (parts) {
    for (const auto& p : *parts) {
      if (!p.filename.empty()) files.push_back(&p);
    }
  }
  if (files.size() != 1) return Bad(java::UploadNotOneFile(static_cast<int>(files.size())));
  auto jar = c_.UploadJar(files.front()->filename, files.front()->data);
  if (!jar) return SimErrorResponse(jar.error());
  JsonOut j;
  j.BeginObject().KV("filename", jar->path).KV("status", "success").EndObject();
  return Json(200, j.str());
}

HttpResponse Handler::Run(const std::string& jar_id, const HttpRequest& req) {
  BodySpec spec{
      "JarRunRequestBody", "org.apache.flink.runtime.webmonitor.handlers.JarRunRequestBody", {}};
  spec.known_fields = {"entryClass",  "programArgsList",       "parallelism",
                       "jobId",       "allowNonRestoredState", "savepointPath",
                       "restoreMode", "flinkConfiguration"};
  if (!V20()) spec.known_fields.push_back("programArgs");
  if (V120()) spec.known_fields.push_back("claimMode");
  rapidjson::Document doc;
  if (auto err = ParseBody(c_, req.body, spec, &doc)) return *err;
  RunRequest run;
  auto str = [&](const char* key, std::optional<std::string>* out) -> std::optional<HttpResponse> {
    if (const auto* m = Member(doc, key)) {
      if (!m->IsString()) return Bad(TypeMismatch(spec, key, "java.lang.String"));
      *out = std::string(m->GetString(), m->GetStringLength());
    }
    return std::nullopt;
  };
  std::optional<std::string> entry;
  std::optional<std::string> job_id;
  std::optional<std::string> savepoint;
  std::optional<std::string> restore_mode;
  std::optional<std::string> claim_mode;
  std::optional<std::string> program_args;
  for (auto [key, out] : std::initializer_list<std::pair<const char*, std::optional<std::string>*>>{
           {"entryClass", &entry},
           {"jobId", &job_id},
           {"savepointPath", &savepoint},
           {"restoreMode", &restore_mode}}) {
    if (auto e = str(key, out)) return *e;
  }
  if (V120()) {
    if (auto e = str("claimMode", &claim_mode)) return *e;
  }
  if (!V20()) {
    if (auto e = str("programArgs", &program_args)) return *e;
  }
  if (const auto* m = Member(doc, "programArgsList")) {
    if (!m->IsArray())
      return Bad(TypeMismatch(spec, "programArgsList", "java.util.ArrayList<java.lang.String>"));
    for (const auto& a : m->GetArray()) {
      if (!a.IsString()) return Bad(TypeMismatch(spec, "programArgsList", "java.lang.String"));
      run.program_args.emplace_back(a.GetString(), a.GetStringLength());
    }
  } else if (program_args) {
    run.program_args = Split(*program_args, ' ');
  }
  if (const auto* m = Member(doc, "parallelism")) {
    if (!m->IsInt()) return Bad(TypeMismatch(spec, "parallelism", "java.lang.Integer"));
    run.parallelism = m->GetInt();
  }
  if (const auto* m = Member(doc, "allowNonRestoredState")) {
    if (!m->IsBool()) return Bad(TypeMismatch(spec, "allowNonRestoredState", "java.lang.Boolean"));
    run.allow_non_restored_state = m->GetBool();
  } else if (auto q = Query(req, "allowNonRestoredState")) {
    run.allow_non_restored_state = ToLower(*q) == "true";
  }
  if (const auto* m = Member(doc, "flinkConfiguration")) {
    if (!m->IsObject())
      return Bad(TypeMismatch(spec, "flinkConfiguration",
                              "java.util.Map<java.lang.String,java.lang.String>"));
    for (auto it = m->MemberBegin(); it != m->MemberEnd(); ++it) {
      std::string key(it->name.GetString(), it->name.GetStringLength());
      const auto& val = it->value;
      if (val.IsString()) {
        run.flink_configuration[key] = std::string(val.GetString(), val.GetStringLength());
      } else if (val.IsBool()) {
        run.flink_configuration[key] = val.GetBool() ? "true" : "false";
      } else if (val.IsInt64()) {
        run.flink_configuration[key] = std::to_string(val.GetInt64());
      } else if (val.IsNumber()) {
        run.flink_configuration[key] = JavaDoubleToString(val.GetDouble());
      } else {
        return Bad(TypeMismatch(spec, "flinkConfiguration", "java.lang.String"));
      }
    }
  }
  for (const auto* mode : {&restore_mode, &claim_mode}) {
    if (*mode && **mode != "CLAIM" && **mode != "NO_CLAIM" && **mode != "LEGACY") {
      return Bad(java::RequestFormatMismatch(
          spec.simple_name,
          "org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.exc."
          "InvalidFormatException: Cannot "
          "deserialize value of type `org.apache.flink.core.execution.RecoveryClaimMode` from "
          "String \"" +
              **mode +
              "\": not one of the values accepted for Enum class: [NO_CLAIM, LEGACY, CLAIM]"));
    }
  }
  if (job_id && !IsHex32(*job_id)) {
    return Bad(java::RequestFormatMismatch(
        spec.simple_name,
        "org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonMappingException: " +
            Trim(java::InvalidJobId(*job_id).substr(0, java::InvalidJobId(*job_id).find('\n')))));
  }
  run.entry_class = entry.value_or(Query(req, "entry-class").value_or(""));
  run.job_id = job_id;
  run.savepoint_path = savepoint ? savepoint : Query(req, "savepointPath");
  if (run.savepoint_path && run.savepoint_path->empty()) run.savepoint_path.reset();
  // claimMode (1.20+) wins over the deprecated restoreMode.
  run.claim_mode = claim_mode ? claim_mode : restore_mode;
  if (!run.parallelism) {
    if (auto q = Query(req, "parallelism")) {
      try {
        run.parallelism = std::stoi(*q);
      } catch (...) {
        return Bad(java::BadParameter("query", "parallelism", *q));
      }
    }
  }
  auto id = c_.RunJar(jar_id, run);
  if (!id) return SimErrorResponse(id.error());
  JsonOut j;
  j.BeginObject().KV("jobid", *id).EndObject();
  return Json(200, j.str());
}

HttpResponse Handler::Cancel(const std::string& job_id, const HttpRequest& req) {
  if (!IsHex32(job_id)) return Bad(java::BadParameter("path", "jobid", job_id));
  if (auto mode = Query(req, "mode")) {
    std::string m = ToLower(*mode);
    if (m == "stop") return ErrorResponse(308, {java::StopModeRemoved()});
    if (m != "cancel") return Bad(java::BadParameter("query", "mode", *mode));
  }
  auto r = c_.CancelJob(job_id);
  if (!r) return SimErrorResponse(r.error());
  return Json(202, "{}");
}

HttpResponse Handler::Savepoint(const std::string& job_id, const HttpRequest& req, bool stop) {
  if (!IsHex32(job_id)) return Bad(java::BadParameter("path", "jobid", job_id));
  BodySpec spec =
      stop
          ? BodySpec{"StopWithSavepointRequestBody",
                     "org.apache.flink.runtime.rest.messages.job.savepoints.stop."
                     "StopWithSavepointRequestBody",
                     {"targetDirectory", "drain", "formatType", "triggerId"}}
          : BodySpec{
                "SavepointTriggerRequestBody",
                "org.apache.flink.runtime.rest.messages.job.savepoints.SavepointTriggerRequestBody",
                {"target-directory", "cancel-job", "formatType", "triggerId"}};
  rapidjson::Document doc;
  if (auto err = ParseBody(c_, req.body, spec, &doc)) return *err;
  SavepointRequest sp;
  sp.stop = stop;
  const char* dir_key = stop ? "targetDirectory" : "target-directory";
  if (const auto* m = Member(doc, dir_key)) {
    if (!m->IsString()) return Bad(TypeMismatch(spec, dir_key, "java.lang.String"));
    sp.target_directory = std::string(m->GetString(), m->GetStringLength());
  }
  const char* flag_key = stop ? "drain" : "cancel-job";
  if (const auto* m = Member(doc, flag_key)) {
    if (!m->IsBool()) return Bad(TypeMismatch(spec, flag_key, "boolean"));
    (stop ? sp.drain : sp.cancel_job) = m->GetBool();
  }
  if (const auto* m = Member(doc, "formatType")) {
    std::string f = m->IsString() ? m->GetString() : "";
    if (f != "CANONICAL" && f != "NATIVE") {
      return Bad(java::RequestFormatMismatch(
          spec.simple_name,
          "org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.exc."
          "InvalidFormatException: Cannot "
          "deserialize value of type `org.apache.flink.core.execution.SavepointFormatType` from "
          "String \"" +
              f + "\": not one of the values accepted for Enum class: [NATIVE, CANONICAL]"));
    }
    sp.format = f;
  }
  if (const auto* m = Member(doc, "triggerId")) {
    std::string t = m->IsString() ? m->GetString() : "";
    if (!IsHex32(t)) {
      return Bad(java::RequestFormatMismatch(spec.simple_name,
                                             "org.apache.flink.shaded.jackson2.com.fasterxml."
                                             "jackson.databind.JsonMappingException: Could not "
                                             "deserialize TriggerId \"" +
                                                 t + "\""));
    }
    sp.trigger_id = t;
  }
  auto trigger = c_.TriggerSavepoint(job_id, sp);
  if (!trigger) return SimErrorResponse(trigger.error());
  JsonOut j;
  j.BeginObject().KV("request-id", *trigger).EndObject();
  return Json(202, j.str());
}

HttpResponse Handler::SavepointStatus(const std::string& job_id, const std::string& trigger) {
  if (!IsHex32(job_id)) return Bad(java::BadParameter("path", "jobid", job_id));
  if (!IsHex32(trigger)) return Bad(java::BadParameter("path", "triggerid", trigger));
  const SavepointOperation* op = c_.FindSavepointOperation(job_id, trigger);
  if (op == nullptr)
    return ErrorResponse(404, {java::UnknownSavepointTrigger(ToLower(trigger), ToLower(job_id))});
  JsonOut j;
  j.BeginObject();
  j.Key("status").BeginObject().KV("id", op->done ? "COMPLETED" : "IN_PROGRESS").EndObject();
  j.Key("operation");
  if (!op->done) {
    j.Null();
  } else if (op->failure_class.empty()) {
    j.BeginObject().KV("location", op->location).EndObject();
  } else {
    // A Java-serialised SerializedThrowable starts with AC ED 00 05 73 72 and the class name.
    std::string serialized("\xAC\xED\x00\x05\x73\x72", 6);
    const std::string cls = "org.apache.flink.util.SerializedThrowable";
    serialized.push_back(static_cast<char>(cls.size() >> 8));
    serialized.push_back(static_cast<char>(cls.size() & 0xFF));
    serialized +=
        cls + op->failure_stack.substr(0, std::min<size_t>(op->failure_stack.size(), 512));
    j.BeginObject().Key("failure-cause").BeginObject();
    j.KV("class", op->failure_class).KV("stack-trace", op->failure_stack);
    j.KV("serialized-throwable", Base64Encode(serialized));
    j.EndObject().EndObject();
  }
  j.EndObject();
  return Json(200, j.str());
}

HttpResponse Handler::Dispatch(const HttpRequest& req) {
  std::string path = req.path;
  if (path == "/v1" || StartsWith(path, "/v1/")) path = path.substr(3);
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  const Params segs = Split(path, '/');
  const std::string& m = req.method;
  Params p;
  std::optional<HttpResponse> err;

  if (m == "GET") {
    if (Match(segs, {"config"}, &p)) return Config();
    if (Match(segs, {"overview"}, &p)) return Overview();
    if (Match(segs, {"jobs"}, &p)) return Jobs();
    if (Match(segs, {"jobs", "overview"}, &p)) return JobsOverview();
    if (Match(segs, {"jobs", "metrics"}, &p)) {
      auto wanted_jobs = QueryList(req, "jobs");
      std::vector<MetricList> stores;
      for (const auto& job : c_.jobs()) {
        if (!wanted_jobs.empty() &&
            std::find(wanted_jobs.begin(), wanted_jobs.end(), job->id) == wanted_jobs.end()) {
          continue;
        }
        stores.push_back(JobScopeMetrics(c_, *job));
      }
      return AggregatedResponse(c_, stores, req);
    }
    if (Match(segs, {"taskmanagers"}, &p)) return TaskManagers();
    if (Match(segs, {"taskmanagers", "metrics"}, &p)) {
      std::vector<MetricList> stores;
      auto wanted = QueryList(req, "taskmanagers");
      for (const auto& tm : c_.taskmanagers()) {
        if (wanted.empty() || std::find(wanted.begin(), wanted.end(), tm.id) != wanted.end()) {
          stores.push_back(TaskManagerMetrics(c_, tm));
        }
      }
      return AggregatedResponse(c_, stores, req);
    }
    if (Match(segs, {"taskmanagers", ":tm"}, &p) ||
        Match(segs, {"taskmanagers", ":tm", "metrics"}, &p)) {
      for (const auto& tm : c_.taskmanagers()) {
        if (tm.id != p[0]) continue;
        if (segs.size() == 3) return MetricResponse(TaskManagerMetrics(c_, tm), req);
        JsonOut j;
        WriteTaskManager(j, c_, tm, true);
        return Json(200, j.str());
      }
      if (segs.size() == 3) return Json(200, "[]");
      return ErrorResponse(404, {JavaStackTrace("org.apache.flink.runtime.rest.NotFoundException",
                                                "Could not find TaskManager " + p[0] + ".", {})});
    }
    if (Match(segs, {"jobmanager", "config"}, &p)) return JobManagerConfig(nullptr);
    if (Match(segs, {"jobmanager", "metrics"}, &p))
      return MetricResponse(JobManagerMetrics(c_), req);
    if (Match(segs, {"jars"}, &p)) return Jars();
    if (Match(segs, {"jobs", ":jobid"}, &p)) {
      const Job* job = JobOr(p[0], &err);
      return job ? JobDetails(*job) : *err;
    }
    if (Match(segs, {"jobs", ":jobid", "status"}, &p)) {
      const Job* job = JobOr(p[0], &err);
      if (!job) return *err;
      JsonOut j;
      j.BeginObject().KV("status", Name(job->status)).EndObject();
      return Json(200, j.str());
    }
    if (Match(segs, {"jobs", ":jobid", "plan"}, &p)) {
      const Job* job = JobOr(p[0], &err);
      if (!job) return *err;
      JsonOut j;
      j.BeginObject().Key("plan");
      WritePlan(j, *job);
      j.EndObject();
      return Json(200, j.str());
    }
    if (Match(segs, {"jobs", ":jobid", "config"}, &p)) {
      const Job* job = JobOr(p[0], &err);
      if (!job) return *err;
      JsonOut j;
      j.BeginObject()
          .KV("jid", job->id)
          .KV("name", job->name)
          .Key("execution-config")
          .BeginObject();
      j.KV("execution-mode", "PIPELINED")
          .KV("restart-strategy", "Cluster level default restart strategy");
      j.KV("job-parallelism", job->MaxParallelism()).KV("object-reuse-mode", false);
      j.Key("user-config").BeginObject().EndObject();
      j.EndObject().EndObject();
      return Json(200, j.str());
    }
    if (Match(segs, {"jobs", ":jobid", "jobmanager", "config"}, &p)) {
      const Job* job = JobOr(p[0], &err);
      return job ? JobManagerConfig(job) : *err;
    }
    if (Match(segs, {"jobs", ":jobid", "checkpoints"}, &p)) {
      const Job* job = JobOr(p[0], &err);
      return job ? Checkpoints(*job) : *err;
    }
    if (Match(segs, {"jobs", ":jobid", "checkpoints", "config"}, &p)) {
      const Job* job = JobOr(p[0], &err);
      return job ? CheckpointConfig(*job) : *err;
    }
    if (Match(segs, {"jobs", ":jobid", "checkpoints", "details", ":cid"}, &p)) {
      const Job* job = JobOr(p[0], &err);
      return job ? CheckpointDetails(*job, p[1]) : *err;
    }
    if (Match(segs, {"jobs", ":jobid", "exceptions"}, &p)) {
      const Job* job = JobOr(p[0], &err);
      return job ? Exceptions(*job, req) : *err;
    }
    if (Match(segs, {"jobs", ":jobid", "metrics"}, &p)) {
      if (!IsHex32(p[0])) return Bad(java::BadParameter("path", "jobid", p[0]));
      const Job* job = c_.FindJob(p[0]);
      return MetricResponse(job ? JobScopeMetrics(c_, *job) : MetricList{}, req);
    }
    if (Match(segs, {"jobs", ":jobid", "savepoints", ":trigger"}, &p))
      return SavepointStatus(p[0], p[1]);
    if (segs.size() >= 4 && segs[0] == "jobs" && segs[2] == "vertices") {
      if (!IsHex32(segs[1])) return Bad(java::BadParameter("path", "jobid", segs[1]));
      if (!IsHex32(segs[3])) return Bad(java::BadParameter("path", "vertexid", segs[3]));
      const Job* job = c_.FindJob(segs[1]);
      // (Not a conditional expression: GCC's -O2 maybe-uninitialized analysis misreads it.)
      std::optional<size_t> vi;
      if (job != nullptr) vi = VertexIndex(*job, segs[3]);
      // Metric endpoints read the metric store and never 404 on unknown jobs/vertices.
      if (Match(segs, {"jobs", ":j", "vertices", ":v", "metrics"}, &p)) {
        MetricList all;
        if (vi) {
          for (int s = 0; s < job->vertices[*vi].parallelism; ++s) {
            for (auto& mv : SubtaskMetrics(c_, *job, *vi, s))
              all.push_back({std::to_string(s) + "." + mv.id, mv.value});
          }
        }
        return MetricResponse(all, req);
      }
      if (Match(segs, {"jobs", ":j", "vertices", ":v", "subtasks", "metrics"}, &p)) {
        std::vector<MetricList> stores;
        if (vi) {
          auto sel = ParseRanges(QueryList(req, "subtasks"));
          if (!sel)
            return Bad(
                java::BadParameter("query", "subtasks", Query(req, "subtasks").value_or("")));
          for (int s = 0; s < job->vertices[*vi].parallelism; ++s) {
            if (sel->empty() || sel->count(s) != 0)
              stores.push_back(SubtaskMetrics(c_, *job, *vi, s));
          }
        }
        return AggregatedResponse(c_, stores, req);
      }
      if (Match(segs, {"jobs", ":j", "vertices", ":v", "subtasks", ":idx", "metrics"}, &p)) {
        MetricList all;
        try {
          int s = std::stoi(p[2]);
          if (vi) all = SubtaskMetrics(c_, *job, *vi, s);
        } catch (...) {
          return Bad(java::BadParameter("path", "subtaskindex", p[2]));
        }
        return MetricResponse(all, req);
      }
      if (Match(segs, {"jobs", ":j", "vertices", ":v", "watermarks"}, &p)) {
        MetricList all;
        if (vi) {
          for (int s = 0; s < job->vertices[*vi].parallelism; ++s) {
            for (auto& mv : SubtaskMetrics(c_, *job, *vi, s)) {
              if (mv.id == "currentInputWatermark")
                all.push_back({std::to_string(s) + ".currentInputWatermark", mv.value});
            }
          }
        }
        return Json(200, MetricListJson(all, true));
      }
      bool known_route = Match(segs, {"jobs", ":j", "vertices", ":v"}, &p) ||
                         Match(segs, {"jobs", ":j", "vertices", ":v", "backpressure"}, &p);
      if (!known_route) return NotFound(req);
      if (job == nullptr) return ErrorResponse(404, {java::JobNotFound(ToLower(segs[1]))});
      if (!vi) return ErrorResponse(404, {java::VertexNotFound(ToLower(segs[3]))});
      if (segs.size() == 4) return VertexDetails(*job, *vi);
      return Backpressure(*job, *vi);
    }
    return NotFound(req);
  }
  if (m == "PATCH" && Match(segs, {"jobs", ":jobid"}, &p)) return Cancel(p[0], req);
  if (m == "POST") {
    if (Match(segs, {"jars", "upload"}, &p)) return Upload(req);
    if (Match(segs, {"jars", ":jarid", "run"}, &p)) return Run(p[0], req);
    if (Match(segs, {"jobs", ":jobid", "savepoints"}, &p)) return Savepoint(p[0], req, false);
    if (Match(segs, {"jobs", ":jobid", "stop"}, &p)) return Savepoint(p[0], req, true);
    return NotFound(req);
  }
  if (m == "DELETE" && Match(segs, {"jars", ":jarid"}, &p)) {
    if (!c_.DeleteJar(p[0])) return Bad(java::JarDeleteNotFound(p[0], c_.upload_dir()));
    return Json(200, "{}");
  }
  return NotFound(req);
}

}  // namespace

// ---------------------------------------------------------------------------------------------

HttpResponse ErrorResponse(int status, const std::vector<std::string>& errors) {
  JsonOut j;
  j.BeginObject().Key("errors").BeginArray();
  for (const auto& e : errors) j.Str(e);
  j.EndArray().EndObject();
  return Json(status, j.str());
}

HttpResponse SimErrorResponse(const SimError& error) {
  switch (error.kind) {
    case ErrorKind::kBadRequest: return ErrorResponse(400, {error.text});
    case ErrorKind::kNotFound: return ErrorResponse(404, {error.text});
    case ErrorKind::kConflict: return ErrorResponse(409, {error.text});
    case ErrorKind::kInternal: break;
  }
  return ErrorResponse(500, {"Internal server error.", java::ServerSideException(error.text)});
}

RestApi::RestApi(Cluster& cluster, std::string rest_base_url)
    : cluster_(cluster), rest_base_url_(std::move(rest_base_url)) {}

HttpResponse RestApi::Handle(const HttpRequest& request) {
  Handler h(cluster_, rest_base_url_);
  return h.Dispatch(request);
}

}  // namespace flinksim
