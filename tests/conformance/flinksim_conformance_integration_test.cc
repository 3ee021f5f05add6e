// flinksim against the real Flink REST contract, for each emulated version (1.18, 1.20, 2.0):
// flinksim runs as a child process on 127.0.0.1; every endpoint it serves is fetched and
//   * validated against Flink's REST API snapshot of that version (types, enums, no invented
//     fields; spec fields flinksim does not send must be listed below with a reason),
//   * compared in shape with the responses recorded from real clusters (samples/real) where
//     there is one, else with the documentation examples or the hand-written synthetic samples,
//   * checked for the documented status code.
// Mutating calls (savepoint, jar upload and run, cancel, stop) and error bodies (404, 409, 400,
// 503) are exercised too. A failing check names the endpoint, the version, the JSON path and
// what was expected and found: each is a discrepancy to fix in flinksim, not in this test.

#include <doctest/doctest.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/conformance/json_shape.h"
#include "tests/conformance/json_util.h"
#include "tests/conformance/spec_schema.h"
#include "tests/support/test_support.h"

namespace flinkguard::conformance {
namespace {

using namespace std::chrono_literals;
using testing::HttpCall;
using testing::HttpReply;

std::string FlinksimBinary() {
#ifdef FLINKGUARD_FLINKSIM_PATH
  return FLINKGUARD_FLINKSIM_PATH;
#else
  return testing::BinaryDir() + "/tests/flinksim/flinksim";
#endif
}

struct Target {
  std::string flag;      // --flink-version
  std::string snapshot;  // spec/<file>
  FlinkVersion version;
};

JsonDoc LoadSample(const std::string& relative) {
  auto doc = ParseJsonFile(testing::FlinkRestDir() + "/samples/" + relative);
  REQUIRE_MESSAGE(doc.has_value(), (doc ? "" : doc.error().message));
  return std::move(*doc);
}

std::string Join(const std::set<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
  return out;
}

std::set<std::string> MetricIds(const rapidjson::Value& list) {
  std::set<std::string> ids;
  if (!list.IsArray()) return ids;
  for (const auto& m : list.GetArray()) {
    if (m.IsObject() && m.HasMember("id") && m["id"].IsString()) ids.insert(m["id"].GetString());
  }
  return ids;
}

// The member `key` of `v`, or null when `v` is not an object or has no such member (RapidJSON's
// operator[] asserts on a missing member; a missing field must be reported, not crash).
const rapidjson::Value& Field(const rapidjson::Value& v, const char* key) {
  static const rapidjson::Value kNull;
  if (!v.IsObject()) return kNull;
  auto m = v.FindMember(key);
  return m == v.MemberEnd() ? kNull : m->value;
}

// Element `i` of `v`, or null.
const rapidjson::Value& Element(const rapidjson::Value& v, rapidjson::SizeType i) {
  static const rapidjson::Value kNull;
  return v.IsArray() && i < v.Size() ? v[i] : kNull;
}

std::string StringAt(const rapidjson::Value& v, const char* key) {
  if (!v.IsObject() || !v.HasMember(key) || !v[key].IsString()) return "";
  return v[key].GetString();
}

// Polls `done` every `step` until it is true or `timeout` passed (at most 10000 polls).
bool PollUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout,
               std::chrono::milliseconds step = 50ms) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  for (int i = 0; i < 10'000; ++i) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() >= end) return false;
    std::this_thread::sleep_for(step);
  }
  return false;
}

// FLINKGUARD_CONFORMANCE_VERBOSE=1 also prints the informational differences (extra fields,
// arrays that could not be compared) of every shape comparison.
bool Verbose() {
  // Read on the test thread only.
  const char* v = std::getenv("FLINKGUARD_CONFORMANCE_VERBOSE");  // NOLINT(concurrency-mt-unsafe)
  return v != nullptr && std::string(v) == "1";
}

// A recorded (or documented, or synthetic) body to compare a response's shape with.
struct SampleRef {
  std::string file;  // under samples/
  ShapeRules rules;
};

// What one call must produce.
struct Expect {
  int status = 0;  // 0: the snapshot's documented success status
  std::vector<SampleRef> samples;
  // Properties the snapshot declares that flinksim does not send, with the reason. Must equal
  // the validator's absent list exactly (an unused entry is stale and fails too).
  std::map<std::string, std::string> absent;
};

// One flinksim process of one version, and the checks run against it.
class Conformance {
 public:
  explicit Conformance(Target target) : target_(std::move(target)) {
    auto spec = SpecSnapshot::Load(testing::FlinkRestDir() + "/spec/" + target_.snapshot);
    REQUIRE_MESSAGE(spec.has_value(), (spec ? "" : spec.error().message));
    spec_.emplace(std::move(*spec));
    const std::string port_file = dir_.File("ports");
    sim_ = testing::ChildProcess::Start(
        {FlinksimBinary(), "--listen", "127.0.0.1:0", "--jobs", "3", "--port-file", port_file,
         "--time-scale", "20", "--flink-version", target_.flag, "--data-dir", dir_.File("data")},
        dir_.File("flinksim.log"));
    auto line = testing::WaitForFileLine(port_file, 15000ms);
    REQUIRE_MESSAGE(line.has_value(), ("flinksim wrote no port file; log:\n" + sim_.Log()));
    const size_t at = line->find("rest=");
    REQUIRE(at != std::string::npos);
    const std::string rest = line->substr(at + 5, line->find(' ', at) - at - 5);
    base_ = "http://" + rest;
  }

  const Target& target() const { return target_; }
  const SpecSnapshot& spec() const { return *spec_; }
  const std::string& dir() const { return dir_.path(); }
  size_t covered() const { return covered_.size(); }
  std::string Label(const std::string& method, const std::string& tmpl) const {
    return "[flink " + target_.flag + "] " + method + " " + tmpl;
  }

  // A request whose body is parsed but not checked (polling, setup).
  JsonDoc Raw(const std::string& method, const std::string& url, const std::string& body = "",
              long* status = nullptr) {
    HttpReply r =
        HttpCall(method, base_ + url, body,
                 body.empty() ? std::vector<std::string>{}
                              : std::vector<std::string>{"Content-Type: application/json"},
                 10000ms);
    if (status != nullptr) *status = r.status;
    auto doc = ParseJson(r.body);
    if (!doc) return std::make_unique<rapidjson::Document>();  // a null value
    return std::move(*doc);
  }

  // Applies a control action (POST /_sim/<action>); the call must succeed.
  void Control(const std::string& action, const std::string& body) {
    HttpReply r = HttpCall("POST", base_ + "/_sim/" + action, body,
                           {"Content-Type: application/json"}, 10000ms);
    REQUIRE_MESSAGE(r.status == 200, ("control " + action + " " + body + " -> " +
                                      std::to_string(r.status) + " " + r.body));
  }

  // Calls an endpoint and checks status, snapshot and sample shapes. Returns the parsed body
  // (a null document when it is not JSON).
  JsonDoc Call(const std::string& method, const std::string& tmpl, const std::string& url,
               const Expect& expect, const std::string& body = "",
               std::vector<std::string> headers = {}) {
    const std::string label = Label(method, tmpl) + " (" + url + ")";
    if (!body.empty() && headers.empty()) headers.emplace_back("Content-Type: application/json");
    HttpReply reply = HttpCall(method, base_ + url, body, headers, 10000ms);
    int status = expect.status;
    if (status == 0) {
      auto documented = spec_->SuccessStatus(method, tmpl);
      CHECK_MESSAGE(documented.has_value(), (label + ": not in " + target_.snapshot +
                                             " (flinksim serves an endpoint the "
                                             "version does not have?)"));
      status = documented ? *documented : 200;
    }
    CHECK_MESSAGE(reply.status == status,
                  (label + ": status " + std::to_string(reply.status) + ", expected " +
                   std::to_string(status) + "; body " + reply.body.substr(0, 300) + reply.error));
    auto doc = ParseJson(reply.body);
    CHECK_MESSAGE(doc.has_value(), (label + ": body is not JSON: " + reply.body.substr(0, 200)));
    if (!doc) return std::make_unique<rapidjson::Document>();
    covered_.insert(method + " " + tmpl);
    const rapidjson::Value& actual = **doc;

    auto report = spec_->ValidateResponse(method, tmpl, actual);
    if (report) {
      CHECK_MESSAGE(report->ok(), (label + " vs " + target_.snapshot + ":\n" + report->Summary()));
      std::set<std::string> unexplained;
      for (const auto& a : report->absent) {
        if (expect.absent.count(a) == 0) unexplained.insert(a);
      }
      std::set<std::string> stale;
      for (const auto& [pattern, reason] : expect.absent) {
        if (report->absent.count(pattern) == 0) stale.insert(pattern + " (" + reason + ")");
      }
      CHECK_MESSAGE(unexplained.empty(), (label + ": declared by " + target_.snapshot +
                                          " but not sent: " + Join(unexplained)));
      CHECK_MESSAGE(stale.empty(),
                    (label + ": listed as deliberately absent but sent: " + Join(stale)));
    }
    for (const SampleRef& sample : expect.samples) {
      JsonDoc reference = LoadSample(sample.file);
      ShapeReport shape = CompareShape(*reference, actual, sample.rules);
      CHECK_MESSAGE(shape.ok(), (label + " vs samples/" + sample.file + ":\n" + shape.Summary()));
      if (Verbose() && !shape.diffs.empty()) {
        MESSAGE(label << " vs samples/" << sample.file << " (info):\n" << shape.Summary());
      }
    }
    return std::move(*doc);
  }

  // Calls an endpoint that must fail with `status` and Flink's error body.
  void CallError(const std::string& method, const std::string& tmpl, const std::string& url,
                 long status, const std::string& sample, const std::string& body = "") {
    const std::string label = Label(method, tmpl) + " (" + url + ")";
    HttpReply reply =
        HttpCall(method, base_ + url, body,
                 body.empty() ? std::vector<std::string>{}
                              : std::vector<std::string>{"Content-Type: application/json"},
                 10000ms);
    CHECK_MESSAGE(reply.status == status,
                  (label + ": status " + std::to_string(reply.status) + ", expected " +
                   std::to_string(status) + "; body " + reply.body.substr(0, 300) + reply.error));
    auto doc = ParseJson(reply.body);
    CHECK_MESSAGE(doc.has_value(),
                  (label + ": error body is not JSON: " + reply.body.substr(0, 200)));
    if (!doc) return;
    errors_.insert(std::to_string(status) + " " + method + " " + tmpl);
    const SchemaReport report = ValidateErrorBody(**doc);
    CHECK_MESSAGE(report.ok(), (label + ": error body:\n" + report.Summary()));
    ShapeReport shape = CompareShape(*LoadSample(sample), **doc);
    CHECK_MESSAGE(shape.ok(), (label + " vs samples/" + sample + ":\n" + shape.Summary()));
  }

  // Waits until the --jobs jobs run with every task RUNNING and each has completed a
  // checkpoint. Returns their ids in the order /jobs/overview lists them.
  std::vector<std::string> WaitReady() {
    std::vector<std::string> ids;
    const bool running = PollUntil(
        [&] {
          ids.clear();
          JsonDoc overview = Raw("GET", "/jobs/overview");
          if (!Field(*overview, "jobs").IsArray()) return false;
          for (const auto& job : Field(*overview, "jobs").GetArray()) {
            if (StringAt(job, "state") != "RUNNING") return false;
            const rapidjson::Value& tasks = Field(job, "tasks");
            if (!tasks.IsObject() || Field(tasks, "running") != Field(tasks, "total")) return false;
            ids.push_back(StringAt(job, "jid"));
          }
          return ids.size() == 3;
        },
        60000ms, 100ms);
    REQUIRE_MESSAGE(running, ("jobs not RUNNING in time; log:\n" + sim_.Log()));
    for (const auto& id : ids) {
      const bool checkpointed = PollUntil(
          [&] {
            JsonDoc cp = Raw("GET", "/jobs/" + id + "/checkpoints");
            const rapidjson::Value& completed = Field(Field(*cp, "counts"), "completed");
            return completed.IsInt64() && completed.GetInt64() >= 1;
          },
          60000ms, 100ms);
      REQUIRE_MESSAGE(checkpointed, ("no completed checkpoint for " + id));
    }
    return ids;
  }

  std::string JobState(const std::string& job) {
    JsonDoc status = Raw("GET", "/jobs/" + job);
    return StringAt(*status, "state");
  }

  bool WaitForState(const std::string& job, const std::string& state,
                    std::chrono::milliseconds timeout = 30000ms) {
    return PollUntil([&] { return JobState(job) == state; }, timeout);
  }

  void PrintCoverage() const {
    std::string endpoints;
    for (const auto& e : covered_) endpoints += "\n  " + e;
    std::string errors;
    for (const auto& e : errors_) errors += "\n  " + e;
    MESSAGE("flinksim " << target_.flag << ": " << covered_.size()
                        << " endpoints checked:" << endpoints << "\nerror responses:" << errors);
  }

 private:
  Target target_;
  testing::TempDir dir_{"fg-conformance"};
  testing::ChildProcess sim_;
  std::string base_;
  std::optional<SpecSnapshot> spec_;
  std::set<std::string> covered_;
  std::set<std::string> errors_;
};

// ---------------------------------------------------------------------------------------------
// Shape rules per endpoint.

ShapeRules OverviewListRules() {
  ShapeRules r;
  r.enum_key_maps = {"jobs[].tasks"};
  r.non_empty = {"jobs"};
  return r;
}

ShapeRules JobDetailsRules() {
  ShapeRules r;
  r.enum_key_maps = {"timestamps", "status-counts", "vertices[].tasks"};
  r.number_or_string = {"vertices[].metrics.accumulated-busy-time"};
  r.non_empty = {"vertices", "plan.nodes"};
  r.omitted = {{"plan.nodes[].inputs",
                "the reference's first plan node has inputs; source nodes have none (also in "
                "the reference)"}};
  return r;
}

ShapeRules CheckpointRules(bool savepoint_expected) {
  ShapeRules r;
  r.id_key_maps = {"latest.completed.tasks", "latest.savepoint.tasks", "latest.failed.tasks",
                   "history[].tasks"};
  r.number_or_string = {"summary.*.p50", "summary.*.p90", "summary.*.p95", "summary.*.p99",
                        "summary.*.p999"};
  r.non_empty = {"history"};
  r.nullable = {"latest.restored", "latest.failed"};
  if (!savepoint_expected) r.nullable.emplace_back("latest.savepoint");
  return r;
}

ShapeRules VertexRules(FlinkVersion v) {
  ShapeRules r;
  r.non_empty = {"subtasks"};
  r.number_or_string = {"subtasks[].metrics.accumulated-busy-time"};
  if (v >= FlinkVersion{2, 0}) {
    r.omitted = {{"subtasks[].host", "removed in 2.0 (endpoint, 1.19+, replaces it)"}};
  }
  return r;
}

// Flink writes `other-concurrent-attempts` only when speculative execution runs concurrent
// attempts of a subtask (@JsonInclude(NON_EMPTY)); flinksim has none.
const std::map<std::string, std::string> kNoConcurrentAttempts = {
    {"subtasks[].other-concurrent-attempts",
     "only written for concurrent (speculative) attempts, which flinksim does not run"}};

// Aggregations that were not asked for are not written.
std::map<std::string, std::string> NotAsked(const std::vector<std::string>& aggs) {
  std::map<std::string, std::string> out;
  for (const auto& a : aggs) out["[]." + a] = "aggregation not asked for";
  return out;
}

ShapeRules TaskManagerRules() {
  ShapeRules r;
  r.non_empty = {"taskmanagers"};
  r.id_key_maps = {"taskmanagers[].totalResource.extendedResources",
                   "taskmanagers[].freeResource.extendedResources"};
  return r;
}

ShapeRules NonEmptyList() {
  ShapeRules r;
  r.non_empty = {""};
  return r;
}

// The ids of a recorded metric list, as the ids to ask flinksim for.
std::vector<std::string> SampleMetricIds(const std::string& sample) {
  JsonDoc doc = LoadSample(sample);
  const std::set<std::string> ids = MetricIds(*doc);
  return {ids.begin(), ids.end()};
}

std::string GetParam(const std::vector<std::string>& ids) {
  std::string out;
  for (const auto& id : ids) out += (out.empty() ? "" : ",") + id;
  return out;
}

// Every id asked for must be listed (Flink silently leaves out unknown ids; flinksim must know
// the ids a real cluster reports), except the ones in `not_expected` (id -> reason).
void CheckMetricIds(const Conformance& c, const std::string& tmpl,
                    const std::vector<std::string>& asked, const rapidjson::Value& reply,
                    const std::map<std::string, std::string>& not_expected) {
  const std::set<std::string> got = MetricIds(reply);
  std::set<std::string> missing;
  std::set<std::string> stale;
  for (const auto& id : asked) {
    const bool excused = not_expected.count(id) != 0;
    if (got.count(id) == 0 && !excused) missing.insert(id);
    if (got.count(id) != 0 && excused) stale.insert(id + " (" + not_expected.at(id) + ")");
  }
  CHECK_MESSAGE(missing.empty(), (c.Label("GET", tmpl) +
                                  ": metric ids a real cluster reports "
                                  "but flinksim does not: " +
                                  Join(missing)));
  CHECK_MESSAGE(stale.empty(),
                (c.Label("GET", tmpl) + ": listed as not expected but reported: " + Join(stale)));
}

// ---------------------------------------------------------------------------------------------

void RunSuite(const Target& target) {
  Conformance c(target);
  const FlinkVersion v = target.version;
  const bool v120 = v >= FlinkVersion{1, 20};
  const bool v20 = v >= FlinkVersion{2, 0};
  const std::vector<std::string> jobs = c.WaitReady();
  const std::string& job = jobs[0];      // inspected, then a savepoint
  const std::string& failing = jobs[1];  // one injected task failure, for the exception history
  const std::string& stopped = jobs[2];  // stop-with-savepoint, then a cancel that conflicts

  // --- cluster level
  c.Call("GET", "/config", "/config",
         {.samples = {{"real/GET_config.flink-1.14.4.k8s-operator.json", {}}}});
  c.Call("GET", "/overview", "/overview",
         {.samples = {{"synthetic/GET_overview.flink-1.16plus-shape.SYNTHETIC.json", {}}}});
  c.Call("GET", "/jobs", "/jobs",
         {.samples = {{"real/GET_jobs.flink-1.14.2.otel.json", OverviewListRules()}}});
  c.Call("GET", "/jobs/overview", "/jobs/overview",
         {.samples = {{"real/GET_jobs_overview.flink-1.14.2.otel.json", OverviewListRules()}}});
  JsonDoc tms =
      c.Call("GET", "/taskmanagers", "/taskmanagers",
             {.samples = {{"real/GET_taskmanagers.flink-1.14.2.otel.json", TaskManagerRules()}}});
  const std::string tm = StringAt(Element(Field(*tms, "taskmanagers"), 0), "id");
  REQUIRE_FALSE(tm.empty());
  c.Call("GET", "/taskmanagers/:taskmanagerid", "/taskmanagers/" + tm, {});
  c.Call("GET", "/jobmanager/config", "/jobmanager/config", {});
  {
    // The recorded JVM ran Parallel GC (PS_*); Flink's images run G1 since Java 11.
    std::vector<std::string> ids;
    for (std::string id :
         SampleMetricIds("real/GET_jobmanager_metrics.get-all.flink-1.14.2.otel.json")) {
      for (auto [from, to] : {std::pair{"PS_Scavenge", "G1_Young_Generation"},
                              std::pair{"PS_MarkSweep", "G1_Old_Generation"}}) {
        const size_t at = id.find(from);
        if (at != std::string::npos) id.replace(at, std::string(from).size(), to);
      }
      ids.push_back(id);
    }
    JsonDoc jm = c.Call("GET", "/jobmanager/metrics", "/jobmanager/metrics?get=" + GetParam(ids),
                        {.samples = {{"real/GET_jobmanager_metrics.get-all.flink-1.14.2.otel.json",
                                      NonEmptyList()}}});
    CheckMetricIds(c, "/jobmanager/metrics", ids, *jm, {});
  }
  c.Call("GET", "/taskmanagers/:taskmanagerid/metrics",
         "/taskmanagers/" + tm + "/metrics?get=Status.JVM.Memory.Heap.Used,Status.JVM.CPU.Load",
         {.samples = {
              {"real/GET_jobmanager_metrics.get-all.flink-1.14.2.otel.json", NonEmptyList()}}});
  c.Call("GET", "/taskmanagers/metrics",
         "/taskmanagers/metrics?get=Status.JVM.Memory.Heap.Used&agg=min,max,avg,sum",
         {.absent = v120 ? NotAsked({"skew"}) : NotAsked({})});

  // --- one running job
  {
    std::vector<SampleRef> samples = {
        {"real/GET_jobs_jobid.flink-1.16.k8s-autoscaler.json", JobDetailsRules()},
        {"real/GET_jobs_jobid.flink-1.15.k8s-autoscaler.json", JobDetailsRules()}};
    if (v120) {
      samples.push_back(
          {"real/GET_jobs_jobid.dev-build-2023-10.k8s-autoscaler.json", JobDetailsRules()});
    }
    c.Call("GET", "/jobs/:jobid", "/jobs/" + job, {.samples = samples});
  }
  JsonDoc details = c.Raw("GET", "/jobs/" + job);
  const rapidjson::Value& vertices = Field(*details, "vertices");
  REQUIRE(vertices.IsArray());
  REQUIRE(vertices.Size() >= 2);
  const std::string source = StringAt(vertices[0], "id");
  const std::string source_name = StringAt(vertices[0], "name");
  REQUIRE_FALSE(source.empty());
  c.Call("GET", "/jobs/:jobid/status", "/jobs/" + job + "/status",
         {.samples = {{"synthetic/GET_jobs_jobid_status.SYNTHETIC.json", {}}}});
  c.Call("GET", "/jobs/:jobid/plan", "/jobs/" + job + "/plan", {});
  c.Call("GET", "/jobs/:jobid/config", "/jobs/" + job + "/config", {});
  c.Call("GET", "/jobs/:jobid/jobmanager/config", "/jobs/" + job + "/jobmanager/config", {});
  JsonDoc checkpoints = c.Call(
      "GET", "/jobs/:jobid/checkpoints", "/jobs/" + job + "/checkpoints",
      {.samples = {
           {"real/GET_jobs_jobid_checkpoints.flink-1.15.k8s-operator.json", CheckpointRules(false)},
           {"real/GET_jobs_jobid_checkpoints.restored-from-savepoint.flink-1.15.k8s-operator.json",
            CheckpointRules(false)}}});
  const rapidjson::Value& last_id = Field(Field(Field(*checkpoints, "latest"), "completed"), "id");
  CHECK(last_id.IsInt64());
  if (last_id.IsInt64()) {
    const auto id = last_id.GetInt64();
    c.Call("GET", "/jobs/:jobid/checkpoints/details/:checkpointid",
           "/jobs/" + job + "/checkpoints/details/" + std::to_string(id), {});
  }
  c.Call("GET", "/jobs/:jobid/checkpoints/config", "/jobs/" + job + "/checkpoints/config",
         {.samples = {{"synthetic/GET_jobs_jobid_checkpoints_config.SYNTHETIC.json", {}}}});
  {
    std::vector<std::string> ids =
        SampleMetricIds("real/GET_jobs_jobid_metrics.get-all.flink-1.14.2.otel.json");
    std::map<std::string, std::string> not_expected;
    if (v20) not_expected["fullRestarts"] = "removed in 2.0";
    JsonDoc m =
        c.Call("GET", "/jobs/:jobid/metrics", "/jobs/" + job + "/metrics?get=" + GetParam(ids),
               {.samples = {{"real/GET_jobs_jobid_metrics.get-all.flink-1.14.2.otel.json",
                             NonEmptyList()}}});
    CheckMetricIds(c, "/jobs/:jobid/metrics", ids, *m, not_expected);
    JsonDoc names =
        c.Call("GET", "/jobs/:jobid/metrics", "/jobs/" + job + "/metrics",
               {.samples = {{"real/GET_jobs_jobid_metrics.no-get-param.flink-1.14.2.otel.json",
                             NonEmptyList()}},
                .absent = {{"[].value", "without get= Flink lists ids only"}}});
    CheckMetricIds(c, "/jobs/:jobid/metrics (no get=)", ids, *names, not_expected);
  }
  const std::string vertex_url = "/jobs/" + job + "/vertices/" + source;
  c.Call("GET", "/jobs/:jobid/vertices/:vertexid", vertex_url,
         {.samples = {{"real/GET_jobs_jobid_vertices_vertexid.flink-1.14.2.otel.json",
                       VertexRules(v)}},
          .absent = kNoConcurrentAttempts});
  {
    // The recorded source operator was "Source: Custom Source"; ask for the same metrics of
    // flinksim's source operator.
    std::string op;
    for (char ch : source_name) op += (ch == ' ' || ch == '.' || ch == ':' || ch == ',') ? '_' : ch;
    std::vector<std::string> ids;
    for (std::string id : SampleMetricIds("real/"
                                          "GET_jobs_jobid_vertices_vertexid_subtasks_0_metrics.get-"
                                          "all.flink-1.14.2.otel.json")) {
      const std::string recorded = "Source__Custom_Source.";
      if (id.rfind(recorded, 0) == 0) id = op + "." + id.substr(recorded.size());
      ids.push_back(id);
    }
    JsonDoc m = c.Call(
        "GET", "/jobs/:jobid/vertices/:vertexid/subtasks/:subtaskindex/metrics",
        vertex_url + "/subtasks/0/metrics?get=" + GetParam(ids),
        {.samples = {
             {"real/"
              "GET_jobs_jobid_vertices_vertexid_subtasks_0_metrics.get-all.flink-1.14.2.otel.json",
              NonEmptyList()}}});
    CheckMetricIds(c, "/jobs/:jobid/vertices/:vertexid/subtasks/:subtaskindex/metrics", ids, *m,
                   {});
  }
  {
    const std::vector<std::string> ids = {"0.numRecordsInPerSecond", "1.numRecordsInPerSecond",
                                          "0.busyTimeMsPerSecond"};
    JsonDoc m = c.Call(
        "GET", "/jobs/:jobid/vertices/:vertexid/metrics",
        vertex_url + "/metrics?get=" + GetParam(ids),
        {.samples = {{"synthetic/GET_jobs_jobid_vertices_vertexid_metrics.get.SYNTHETIC.json",
                      NonEmptyList()}}});
    CheckMetricIds(c, "/jobs/:jobid/vertices/:vertexid/metrics", ids, *m, {});
  }
  c.Call(
      "GET", "/jobs/:jobid/vertices/:vertexid/subtasks/metrics",
      vertex_url +
          "/subtasks/metrics?get=numRecordsOutPerSecond,backPressuredTimeMsPerSecond&agg=max,sum",
      {.samples =
           {{"synthetic/GET_jobs_jobid_vertices_vertexid_subtasks_metrics.agg.SYNTHETIC.json",
             NonEmptyList()}},
       .absent = v120 ? NotAsked({"min", "avg", "skew"}) : NotAsked({"min", "avg"})});
  {
    Expect agg{.samples = {{"synthetic/GET_jobs_metrics.agg.SYNTHETIC.json", NonEmptyList()}}};
    if (!v120) {
      agg.samples[0].rules.omitted = {{"[].skew", "the skew aggregation is 1.20+"}};
    }
    c.Call("GET", "/jobs/metrics", "/jobs/metrics?get=numRestarts", agg);
  }
  c.Call("GET", "/jobs/:jobid/vertices/:vertexid/backpressure", vertex_url + "/backpressure",
         {.absent = kNoConcurrentAttempts});
  c.Call("GET", "/jobs/:jobid/vertices/:vertexid/watermarks", vertex_url + "/watermarks", {});

  // --- exception history after one injected task failure
  c.Control("fail_job", R"({"job":")" + failing + R"("})");
  REQUIRE_MESSAGE((PollUntil([&] { return c.JobState(failing) == "RESTARTING"; }, 30000ms, 20ms) ||
                   c.JobState(failing) == "RUNNING"),
                  ("injected failure did not restart the job"));
  REQUIRE(c.WaitForState(failing, "RUNNING"));
  {
    ShapeRules rules;
    rules.non_empty = {"exceptionHistory.entries"};
    const std::string sample =
        v20 ? "synthetic/GET_jobs_jobid_exceptions.flink-2.x-shape.SYNTHETIC.json"
            : "real/GET_jobs_jobid_exceptions.flink-1.17.k8s-operator.json";
    c.Call("GET", "/jobs/:jobid/exceptions", "/jobs/" + failing + "/exceptions?maxExceptions=5",
           {.samples = {{sample, rules}}});
  }

  // --- savepoint: held IN_PROGRESS by stalling snapshots, then released
  const std::string savepoint_dir = c.dir() + "/savepoints";
  c.Control("checkpoints", R"({"job":")" + job + R"(","mode":"stall"})");
  const std::string savepoint_body = R"({"target-directory":"file://)" + savepoint_dir +
                                     R"(","cancel-job":false,"formatType":"CANONICAL"})";
  {
    auto request = c.spec().ValidateRequest("POST", "/jobs/:jobid/savepoints",
                                            *ParseJson(savepoint_body).value());
    REQUIRE(request.has_value());
    CHECK_MESSAGE(request->ok(), (request->Summary()));
  }
  JsonDoc trigger =
      c.Call("POST", "/jobs/:jobid/savepoints", "/jobs/" + job + "/savepoints",
             {.samples = {{"synthetic/POST_jobs_jobid_savepoints.response.SYNTHETIC.json", {}}}},
             savepoint_body);
  const std::string trigger_id = StringAt(*trigger, "request-id");
  REQUIRE_FALSE(trigger_id.empty());
  const std::string status_url = "/jobs/" + job + "/savepoints/" + trigger_id;
  {
    ShapeRules in_progress;
    in_progress.required_null = {"operation"};
    JsonDoc s = c.Call(
        "GET", "/jobs/:jobid/savepoints/:triggerid", status_url,
        {.samples = {{"synthetic/GET_jobs_jobid_savepoints_triggerid.in-progress.SYNTHETIC.json",
                      in_progress}}});
    CHECK(StringAt(Field(*s, "status"), "id") == "IN_PROGRESS");
  }
  c.Control("checkpoints", R"({"job":")" + job + R"(","mode":"ok"})");
  REQUIRE_MESSAGE(PollUntil(
                      [&] {
                        JsonDoc s = c.Raw("GET", status_url);
                        return StringAt(Field(*s, "status"), "id") == "COMPLETED";
                      },
                      30000ms),
                  ("savepoint did not complete"));
  {
    JsonDoc s = c.Call(
        "GET", "/jobs/:jobid/savepoints/:triggerid", status_url,
        {.samples = {
             {"synthetic/GET_jobs_jobid_savepoints_triggerid.completed.SYNTHETIC.json", {}},
             {"docs-example/GET_jobs_jobid_savepoints_triggerid.completed.playground-docs.json",
              {}}}});
    CHECK_MESSAGE(StringAt(Field(*s, "operation"), "location").rfind("file:", 0) == 0,
                  ("savepoint location: " + ToJson(*s)));
  }
  c.Call(
      "GET", "/jobs/:jobid/checkpoints", "/jobs/" + job + "/checkpoints",
      {.samples = {
           {"real/GET_jobs_jobid_checkpoints.restored-from-savepoint.flink-1.15.k8s-operator.json",
            CheckpointRules(true)}}});
  c.CallError("GET", "/jobs/:jobid/savepoints/:triggerid",
              "/jobs/" + job + "/savepoints/0123456789abcdef0123456789abcdef", 404,
              "synthetic/ERROR_404_job_not_found.SYNTHETIC.json");

  // --- jar upload and run
  const std::string boundary = "flinkguardconformance7d1f";
  const std::string jar =
      "Manifest-Version: 1.0\nMain-Class: com.example.conformance.Job\n"
      "flinksim-job-name: conformance-job\nflinksim-parallelism: 1\n";
  const std::string multipart = "--" + boundary +
                                "\r\nContent-Disposition: form-data; name=\"jarfile\"; "
                                "filename=\"conformance-job.jar\"\r\n"
                                "Content-Type: application/x-java-archive\r\n\r\n" +
                                jar + "\r\n--" + boundary + "--\r\n";
  JsonDoc upload = c.Call("POST", "/jars/upload", "/jars/upload",
                          {.samples = {{"docs-example/POST_jars_upload.playground-docs.json", {}}}},
                          multipart, {"Content-Type: multipart/form-data; boundary=" + boundary});
  std::string jar_id = StringAt(*upload, "filename");
  jar_id = jar_id.substr(jar_id.rfind('/') + 1);
  REQUIRE_FALSE(jar_id.empty());
  {
    ShapeRules jars;
    jars.non_empty = {"files", "files[].entry"};
    c.Call("GET", "/jars", "/jars", {.samples = {{"synthetic/GET_jars.SYNTHETIC.json", jars}}});
  }
  const std::string run_body =
      std::string(
          R"({"entryClass":"com.example.conformance.Job","programArgsList":["--mode","conformance"],)") +
      R"("parallelism":1,")" + (v120 ? "claimMode" : "restoreMode") + R"(":"NO_CLAIM"})";
  {
    auto request =
        c.spec().ValidateRequest("POST", "/jars/:jarid/run", *ParseJson(run_body).value());
    REQUIRE(request.has_value());
    CHECK_MESSAGE(request->ok(), (request->Summary()));
  }
  JsonDoc run = c.Call("POST", "/jars/:jarid/run", "/jars/" + jar_id + "/run",
                       {.samples = {{"docs-example/POST_jars_jarid_run.playground-docs.json", {}}}},
                       run_body);
  const std::string submitted = StringAt(*run, "jobid");
  REQUIRE_FALSE(submitted.empty());
  CHECK(c.WaitForState(submitted, "RUNNING"));
  // Unknown request fields: rejected with 400 up to 1.19, ignored from 1.20 (FLINK-35302).
  const std::string unknown_field =
      R"({"entryClass":"com.example.conformance.Job","noSuchField":1})";
  std::string lenient_job;
  if (v120) {
    JsonDoc lenient =
        c.Call("POST", "/jars/:jarid/run", "/jars/" + jar_id + "/run",
               {.samples = {{"docs-example/POST_jars_jarid_run.playground-docs.json", {}}}},
               unknown_field);
    lenient_job = StringAt(*lenient, "jobid");
  } else {
    c.CallError("POST", "/jars/:jarid/run", "/jars/" + jar_id + "/run", 400,
                "synthetic/ERROR_404_job_not_found.SYNTHETIC.json", unknown_field);
  }

  // --- cancel: 202 {}, again on the CANCELED job (acknowledged, as Flink's Dispatcher does)
  c.Call("PATCH", "/jobs/:jobid", "/jobs/" + submitted + "?mode=cancel", {});
  CHECK(c.WaitForState(submitted, "CANCELED"));
  c.Call("PATCH", "/jobs/:jobid", "/jobs/" + submitted + "?mode=cancel", {});
  if (!lenient_job.empty()) c.Call("PATCH", "/jobs/:jobid", "/jobs/" + lenient_job, {});

  // --- stop with savepoint, then cancelling the FINISHED job conflicts (409)
  const std::string stop_body = R"({"targetDirectory":"file://)" + savepoint_dir +
                                R"(","drain":false,"formatType":"CANONICAL"})";
  {
    auto request =
        c.spec().ValidateRequest("POST", "/jobs/:jobid/stop", *ParseJson(stop_body).value());
    REQUIRE(request.has_value());
    CHECK_MESSAGE(request->ok(), (request->Summary()));
  }
  JsonDoc stop =
      c.Call("POST", "/jobs/:jobid/stop", "/jobs/" + stopped + "/stop",
             {.samples = {{"docs-example/POST_jobs_jobid_stop.response.playground-docs.json", {}}}},
             stop_body);
  const std::string stop_trigger = StringAt(*stop, "request-id");
  REQUIRE_FALSE(stop_trigger.empty());
  REQUIRE_MESSAGE(PollUntil(
                      [&] {
                        JsonDoc s =
                            c.Raw("GET", "/jobs/" + stopped + "/savepoints/" + stop_trigger);
                        return StringAt(Field(*s, "status"), "id") == "COMPLETED";
                      },
                      30000ms),
                  ("stop-with-savepoint did not complete"));
  c.Call("GET", "/jobs/:jobid/savepoints/:triggerid",
         "/jobs/" + stopped + "/savepoints/" + stop_trigger,
         {.samples = {
              {"synthetic/GET_jobs_jobid_savepoints_triggerid.completed.SYNTHETIC.json", {}}}});
  CHECK(c.WaitForState(stopped, "FINISHED"));
  c.CallError("PATCH", "/jobs/:jobid", "/jobs/" + stopped + "?mode=cancel", 409,
              "synthetic/ERROR_404_job_not_found.SYNTHETIC.json");

  // --- errors
  c.CallError("GET", "/jobs/:jobid", "/jobs/0123456789abcdef0123456789abcdef", 404,
              "synthetic/ERROR_404_job_not_found.SYNTHETIC.json");
  c.CallError("GET", "<unknown path>", "/jobz", 404,
              "synthetic/ERROR_404_unknown_path.SYNTHETIC.json");
  c.Control("leader_election", R"({"requests":1})");
  c.CallError("GET", "/jobs/overview", "/jobs/overview", 503,
              "synthetic/ERROR_503_leader_election.SYNTHETIC.json");
  long after = 0;
  c.Raw("GET", "/jobs/overview", "", &after);
  CHECK_MESSAGE(after == 200, ("the leader election lasted longer than the one request asked for"));

  c.PrintCoverage();
  CHECK_MESSAGE(c.covered() >= 15, ("only " + std::to_string(c.covered()) + " endpoints covered"));
}

TEST_CASE("flinksim --flink-version 1.18 conforms to Flink 1.18") {
  RunSuite({"1.18", "rest_api_v1.flink-1.18.0.snapshot", {1, 18}});
}

TEST_CASE("flinksim --flink-version 1.20 conforms to Flink 1.20") {
  RunSuite({"1.20", "rest_api_v1.flink-1.20.snapshot", {1, 20}});
}

TEST_CASE("flinksim --flink-version 2.0 conforms to Flink 2.0") {
  RunSuite({"2.0", "rest_api_v1.flink-2.0.snapshot", {2, 0}});
}

}  // namespace
}  // namespace flinkguard::conformance
