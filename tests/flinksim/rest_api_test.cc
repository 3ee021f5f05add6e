// REST API tests through the Simulator (no sockets, ManualClock): version-specific shapes,
// request-body strictness, error bodies, metrics quirks, and a shape check of our answers
// against the recorded Flink responses in tests/contract/flink-rest/samples.

#include <doctest/doctest.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

#include <rapidjson/document.h>

#include "tests/flinksim/simulator.h"
#include "tests/support/test_support.h"

namespace flinksim {
namespace {

constexpr int64_t kT0 = 1'700'000'000'000;

class Env {
 public:
  explicit Env(FlinkVersion v = FlinkVersion::k1_20, int jobs = 2,
               std::map<std::string, std::string> conf = {})
      : dir_("flinksim-rest"), clock_(kT0) {
    SimulatorOptions o;
    o.cluster.version = v;
    o.cluster.data_dir = dir_.path();
    o.cluster.seed = 11;
    o.cluster.config = std::move(conf);
    o.initial_jobs = jobs;
    sim_ = std::make_unique<Simulator>(std::move(o), clock_);
    Advance(1'000);
  }

  void Advance(int64_t ms) {
    clock_.Advance(ms);
    sim_->Tick();
  }
  Simulator& sim() { return *sim_; }
  const std::string& dir() const { return dir_.path(); }

  HttpResponse Call(const std::string& method, const std::string& uri, const std::string& body = "",
                    std::vector<std::pair<std::string, std::string>> headers = {}) {
    HttpRequest r;
    r.method = method;
    size_t q = uri.find('?');
    r.path = uri.substr(0, q);
    r.query = q == std::string::npos ? "" : uri.substr(q + 1);
    r.body = body;
    r.headers = std::move(headers);
    return sim_->HandleRest(r).response;
  }
  // Calls and parses the JSON answer, requiring `status`.
  rapidjson::Document Json(const std::string& method, const std::string& uri, int status = 200,
                           const std::string& body = "") {
    HttpResponse r = Call(method, uri, body);
    INFO(method << " " << uri << " -> " << r.status << " " << r.body.substr(0, 600));
    CHECK(r.status == status);
    CHECK(r.content_type == "application/json; charset=UTF-8");
    rapidjson::Document d;
    d.Parse(r.body.c_str(), r.body.size());
    REQUIRE_FALSE(d.HasParseError());
    return d;
  }
  std::string JobId(const std::string& name) {
    Job* j = sim_->cluster_for_testing().ResolveJob(name);
    REQUIRE(j != nullptr);
    return j->id;
  }
  std::string Action(const std::string& json) {
    rapidjson::Document d;
    d.Parse(json.c_str());
    REQUIRE_FALSE(d.HasParseError());
    int status = 0;
    std::string out = sim_->ApplyAction(d, &status);
    INFO(out);
    REQUIRE(status == 200);
    return out;
  }

 private:
  flinkguard::testing::TempDir dir_;
  ManualClock clock_;
  std::unique_ptr<Simulator> sim_;
};

bool Has(const rapidjson::Value& v, const char* key) { return v.IsObject() && v.HasMember(key); }
std::string Str(const rapidjson::Value& v) {
  return std::string(v.GetString(), v.GetStringLength());
}
bool ArrayHasId(const rapidjson::Value& arr, const std::string& id) {
  for (const auto& m : arr.GetArray()) {
    if (Str(m["id"]) == id) return true;
  }
  return false;
}

// --- shape comparison against recorded responses ---------------------------------------------

const char* TypeName(const rapidjson::Value& v) {
  if (v.IsNull()) return "null";
  if (v.IsBool()) return "boolean";
  if (v.IsNumber()) return "number";
  if (v.IsString()) return "string";
  if (v.IsObject()) return "object";
  return "array";
}

struct ShapeOptions {
  std::set<std::string> allow_missing;     // patterns (arrays as "[]")
  std::set<std::string> number_or_string;  // NaN-capable doubles
};

// Every key of `ref` must exist in `act` with the same JSON type (null in the reference
// matches anything). Array elements of `act` are compared with the reference's first element.
void CompareShape(const rapidjson::Value& ref, const rapidjson::Value& act, const std::string& path,
                  const ShapeOptions& opt, std::vector<std::string>* problems) {
  if (ref.IsNull()) return;
  std::string rt = TypeName(ref);
  std::string at = TypeName(act);
  if (rt != at) {
    bool nan_ok = opt.number_or_string.count(path) != 0 &&
                  ((rt == "number" && at == "string") || (rt == "string" && at == "number"));
    if (!nan_ok) problems->push_back(path + ": expected " + rt + ", got " + at);
    return;
  }
  if (ref.IsObject()) {
    for (auto it = ref.MemberBegin(); it != ref.MemberEnd(); ++it) {
      std::string key(it->name.GetString(), it->name.GetStringLength());
      std::string sub = path.empty() ? key : path + "." + key;
      if (!act.HasMember(key.c_str())) {
        if (opt.allow_missing.count(sub) == 0) problems->push_back(sub + ": missing");
        continue;
      }
      CompareShape(it->value, act[key.c_str()], sub, opt, problems);
    }
  } else if (ref.IsArray() && !ref.Empty()) {
    for (const auto& el : act.GetArray()) {
      // Polymorphic arrays (checkpoint history) compare against an element of the same class.
      const rapidjson::Value* match = &ref[0];
      if (el.IsObject() && el.HasMember("className")) {
        match = nullptr;
        for (const auto& r : ref.GetArray()) {
          if (r.IsObject() && r.HasMember("className") && r["className"] == el["className"])
            match = &r;
        }
      }
      if (match != nullptr) CompareShape(*match, el, path + "[]", opt, problems);
    }
  }
}

void CheckAgainstSample(const std::string& sample, const rapidjson::Value& actual,
                        const ShapeOptions& opt = {}) {
  std::string text =
      flinkguard::testing::ReadFile(flinkguard::testing::FlinkRestDir() + "/samples/" + sample);
  rapidjson::Document ref;
  ref.Parse(text.c_str(), text.size());
  REQUIRE_FALSE(ref.HasParseError());
  std::vector<std::string> problems;
  CompareShape(ref, actual, "", opt, &problems);
  std::string all;
  for (const auto& p : problems) all += p + "\n";
  INFO(sample << "\n" << all);
  CHECK(problems.empty());
}

// ---------------------------------------------------------------------------------------------

TEST_CASE("cluster endpoints: /config, /overview, /jobs, /jobs/overview, also under /v1") {
  Env env(FlinkVersion::k1_20, 3);
  auto config = env.Json("GET", "/config");
  CHECK(Str(config["flink-version"]) == "1.20.1");
  CHECK(config["features"]["web-submit"].GetBool());
  CheckAgainstSample("real/GET_config.flink-1.14.4.k8s-operator.json", config);

  auto overview = env.Json("GET", "/v1/overview");
  CHECK(overview["jobs-running"].GetInt() == 3);
  CHECK(overview["slots-total"].GetInt() - overview["slots-available"].GetInt() == 6);
  CheckAgainstSample("synthetic/GET_overview.flink-1.16plus-shape.SYNTHETIC.json", overview);

  auto jobs = env.Json("GET", "/jobs");
  CHECK(jobs["jobs"].Size() == 3);
  CheckAgainstSample("real/GET_jobs.flink-1.14.2.otel.json", jobs);

  auto list = env.Json("GET", "/v1/jobs/overview");
  REQUIRE(list["jobs"].Size() == 3);
  const auto& j0 = list["jobs"][0];
  CHECK(Str(j0["name"]) == "job-0");
  CHECK(Str(j0["state"]) == "RUNNING");
  CHECK(j0["tasks"]["running"].GetInt() == 6);
  CHECK(j0["tasks"]["total"].GetInt() == 6);
  CHECK(j0["end-time"].GetInt64() == -1);
  CHECK_FALSE(Has(j0, "pending-operators"));
  CheckAgainstSample("real/GET_jobs_overview.flink-1.14.2.otel.json", list);
}

TEST_CASE(
    "job details follow the recorded shapes; 1.20 adds job-type/slotSharingGroupId, 2.0 "
    "pending-operators") {
  for (FlinkVersion v : {FlinkVersion::k1_18, FlinkVersion::k1_20, FlinkVersion::k2_0}) {
    CAPTURE(static_cast<int>(v));
    Env env(v, 1);
    std::string id = env.JobId("job-0");
    auto d = env.Json("GET", "/jobs/" + id);
    CHECK(Str(d["state"]) == "RUNNING");
    CHECK(d["maxParallelism"].GetInt() == -1);
    CHECK(d["timestamps"].MemberCount() == 11);
    CHECK(d["timestamps"]["FAILED"].GetInt64() == 0);
    CHECK(d["status-counts"]["RUNNING"].GetInt() == 3);
    CHECK(d["vertices"][0]["tasks"]["RUNNING"].GetInt() == 2);
    CHECK(Str(d["vertices"][0]["metrics"]["accumulated-busy-time"]) == "NaN");
    CHECK(d["vertices"][1]["metrics"]["accumulated-busy-time"].IsDouble());
    CHECK(Has(d, "job-type") == (v != FlinkVersion::k1_18));
    CHECK(Has(d["vertices"][0], "slotSharingGroupId") == (v != FlinkVersion::k1_18));
    CHECK(Has(d, "pending-operators") == (v == FlinkVersion::k2_0));
    CHECK(Has(d, "stream-graph") == (v == FlinkVersion::k2_0));
    ShapeOptions opt;
    opt.number_or_string = {"vertices[].metrics.accumulated-busy-time"};
    // Source nodes have no "inputs" (as in Flink); the reference's first node is a sink.
    opt.allow_missing = {"plan.nodes[].inputs"};
    CheckAgainstSample("real/GET_jobs_jobid.flink-1.16.k8s-autoscaler.json", d, opt);
    CheckAgainstSample("real/GET_jobs_jobid.flink-1.15.k8s-autoscaler.json", d, opt);
    CheckAgainstSample("real/GET_jobs_jobid.flink-1.14.2.otel.json", d, opt);
    if (v != FlinkVersion::k1_18) {
      CheckAgainstSample("real/GET_jobs_jobid.dev-build-2023-10.k8s-autoscaler.json", d, opt);
    }
    auto status = env.Json("GET", "/jobs/" + id + "/status");
    CHECK(Str(status["status"]) == "RUNNING");
    CheckAgainstSample("synthetic/GET_jobs_jobid_status.SYNTHETIC.json", status);

    std::string vid = Str(d["vertices"][0]["id"]);
    auto vertex = env.Json("GET", "/jobs/" + id + "/vertices/" + vid);
    REQUIRE(vertex["subtasks"].Size() == 2);
    CHECK(Has(vertex["subtasks"][0], "host") == (v != FlinkVersion::k2_0));
    CHECK(Has(vertex["subtasks"][0], "endpoint") == (v != FlinkVersion::k1_18));
    CHECK(Has(vertex, "aggregated"));
    ShapeOptions vopt;
    if (v == FlinkVersion::k2_0) vopt.allow_missing = {"subtasks[].host"};
    CheckAgainstSample("real/GET_jobs_jobid_vertices_vertexid.flink-1.14.2.otel.json", vertex,
                       vopt);
  }
}

TEST_CASE("errors: unknown route, unknown job, malformed id, all as Flink words them") {
  Env env;
  auto route = env.Json("GET", "/jobz", 404);
  REQUIRE(route["errors"].Size() == 1);
  CHECK(Str(route["errors"][0]) == "Not found: /jobz");
  auto route_q = env.Json("GET", "/jobz?x=1", 404);
  CHECK(Str(route_q["errors"][0]) == "Not found: /jobz?x=1");
  const std::string unknown = "0123456789abcdef0123456789abcdef";
  auto job = env.Json("GET", "/jobs/" + unknown, 404);
  CHECK(Str(job["errors"][0]).find("Job " + unknown + " not found") != std::string::npos);
  CheckAgainstSample("synthetic/ERROR_404_job_not_found.SYNTHETIC.json", job);
  CHECK(env.Call("GET", "/jobs/" + unknown + "/checkpoints").status == 404);
  CHECK(env.Call("GET", "/jobs/" + unknown + "/exceptions").status == 404);
  // Metric endpoints read the metric store: unknown jobs give an empty list.
  CHECK(env.Call("GET", "/jobs/" + unknown + "/metrics?get=numRestarts").body == "[]");
  auto bad = env.Json("GET", "/jobs/not-a-job-id", 400);
  CHECK(Str(bad["errors"][0]).find("Cannot resolve path parameter (jobid)") != std::string::npos);
  CHECK(env.Call("DELETE", "/jobs/" + unknown).status == 404);
}

TEST_CASE(
    "checkpoints: counts, summary percentiles (NaN before the first), latest, history, config") {
  Env env(FlinkVersion::k1_20, 1);
  std::string id = env.JobId("job-0");
  auto before = env.Json("GET", "/jobs/" + id + "/checkpoints");
  CHECK(before["counts"]["completed"].GetInt() == 0);
  CHECK(Str(before["summary"]["state_size"]["p99"]) == "NaN");
  CHECK(before["summary"]["state_size"]["avg"].GetInt() == 0);
  CHECK(before["latest"]["completed"].IsNull());
  CHECK(before["history"].Size() == 0);
  env.Advance(35'000);
  env.Action(
      R"({"action":"checkpoints","job":"job-0","mode":"fail","message":"Checkpoint was declined"})");
  env.Advance(10'000);
  auto cp = env.Json("GET", "/jobs/" + id + "/checkpoints");
  CHECK(cp["counts"]["completed"].GetInt() == 3);
  CHECK(cp["counts"]["failed"].GetInt() == 1);
  CHECK(cp["summary"]["end_to_end_duration"]["p50"].IsNumber());
  const auto& latest = cp["latest"]["completed"];
  CHECK(Str(latest["className"]) == "completed");
  CHECK(latest["discarded"].GetBool() == false);
  CHECK(Str(latest["external_path"]).find("/chk-3") != std::string::npos);
  CHECK(latest["savepointFormat"].IsNull());
  CHECK(Str(cp["latest"]["failed"]["failure_message"]) == "Checkpoint was declined");
  CHECK(Str(cp["history"][0]["className"]) == "failed");
  CHECK(cp["history"][1]["discarded"].GetBool() == false);
  CHECK(cp["history"][2]["discarded"].GetBool() == true);
  ShapeOptions opt;
  CheckAgainstSample("real/GET_jobs_jobid_checkpoints.flink-1.15.k8s-operator.json", cp, opt);

  auto config = env.Json("GET", "/jobs/" + id + "/checkpoints/config");
  CHECK(config["interval"].GetInt() == 10'000);
  CHECK(config["externalization"]["enabled"].GetBool());
  CHECK_FALSE(config["externalization"]["delete_on_cancellation"].GetBool());
  CheckAgainstSample("synthetic/GET_jobs_jobid_checkpoints_config.SYNTHETIC.json", config);

  auto details = env.Json("GET", "/jobs/" + id + "/checkpoints/details/3");
  CHECK(details["tasks"].MemberCount() == 3);
  CHECK(env.Call("GET", "/jobs/" + id + "/checkpoints/details/999").status == 404);
}

TEST_CASE("restore from a savepoint through the REST API fills latest.restored and the counters") {
  Env env(FlinkVersion::k1_20, 1);
  std::string id = env.JobId("job-0");
  auto trigger = env.Json("POST", "/jobs/" + id + "/savepoints", 202,
                          R"({"target-directory":")" + env.dir() + R"(/sp","cancel-job":true})");
  std::string tid = Str(trigger["request-id"]);
  auto progress = env.Json("GET", "/jobs/" + id + "/savepoints/" + tid);
  CHECK(Str(progress["status"]["id"]) == "IN_PROGRESS");
  CHECK(progress["operation"].IsNull());
  CheckAgainstSample("synthetic/GET_jobs_jobid_savepoints_triggerid.in-progress.SYNTHETIC.json",
                     progress);
  env.Advance(2'000);
  auto done = env.Json("GET", "/jobs/" + id + "/savepoints/" + tid);
  CHECK(Str(done["status"]["id"]) == "COMPLETED");
  std::string location = Str(done["operation"]["location"]);
  CheckAgainstSample("synthetic/GET_jobs_jobid_savepoints_triggerid.completed.SYNTHETIC.json",
                     done);
  CHECK(Str(env.Json("GET", "/jobs/" + id + "/status")["status"]) == "CANCELED");

  std::string jar = Str(env.Json("GET", "/jars")["files"][0]["id"]);
  auto run = env.Json("POST", "/jars/" + jar + "/run", 200,
                      R"({"savepointPath":")" + location + R"(","claimMode":"NO_CLAIM"})");
  std::string rid = Str(run["jobid"]);
  env.Advance(1'500);
  auto sp = env.Json("POST", "/jobs/" + rid + "/savepoints", 202, "{}");
  env.Advance(12'000);
  auto cp = env.Json("GET", "/jobs/" + rid + "/checkpoints");
  CHECK(cp["counts"]["restored"].GetInt() == 1);
  CHECK(cp["latest"]["restored"]["is_savepoint"].GetBool());
  CHECK(Str(cp["latest"]["restored"]["external_path"]) == location);
  CHECK(cp["latest"]["savepoint"]["is_savepoint"].GetBool());
  CHECK(Str(cp["latest"]["savepoint"]["savepointFormat"]) == "CANONICAL");
  CheckAgainstSample(
      "real/GET_jobs_jobid_checkpoints.restored-from-savepoint.flink-1.15.k8s-operator.json", cp);
  auto metrics = env.Json("GET", "/jobs/" + rid + "/metrics?get=lastCheckpointRestoreTimestamp");
  CHECK(std::stoll(Str(metrics[0]["value"])) > kT0);
}

TEST_CASE(
    "exceptions: 1.x has root-exception/all-exceptions next to the history; 2.0 only the history") {
  for (FlinkVersion v : {FlinkVersion::k1_18, FlinkVersion::k1_20, FlinkVersion::k2_0}) {
    CAPTURE(static_cast<int>(v));
    Env env(v, 1);
    std::string id = env.JobId("job-0");
    auto clean = env.Json("GET", "/jobs/" + id + "/exceptions");
    if (v != FlinkVersion::k2_0) {
      CHECK(clean["root-exception"].IsNull());
      CHECK(clean["timestamp"].IsNull());
    }
    CHECK(clean["exceptionHistory"]["entries"].Size() == 0);
    env.Action(
        R"({"action":"fail_job","job":"job-0","exception":"java.lang.RuntimeException: first"})");
    env.Advance(3'000);
    env.Action(
        R"({"action":"fail_job","job":"job-0","exception_class":"java.io.IOException","message":"second"})");
    env.Advance(3'000);
    auto ex = env.Json("GET", "/jobs/" + id + "/exceptions");
    const auto& entries = ex["exceptionHistory"]["entries"];
    REQUIRE(entries.Size() == 2);
    CHECK(Str(entries[0]["exceptionName"]) == "java.io.IOException");  // newest first
    CHECK(Str(entries[0]["stacktrace"]).find("java.io.IOException: second\n\tat ") == 0);
    CHECK(Str(entries[1]["exceptionName"]) == "java.lang.RuntimeException");
    CHECK(Str(entries[0]["taskName"]) == "Map (1/2) - execution #1");
    CHECK(Has(entries[0], "failureLabels"));
    CHECK(Has(entries[0], "location") == (v != FlinkVersion::k2_0));
    CHECK(Has(entries[0], "endpoint") == (v != FlinkVersion::k1_18));
    CHECK(Has(ex, "root-exception") == (v != FlinkVersion::k2_0));
    CHECK(Has(ex, "all-exceptions") == (v != FlinkVersion::k2_0));
    CHECK(Has(ex, "truncated") == (v != FlinkVersion::k2_0));
    auto limited = env.Json("GET", "/jobs/" + id + "/exceptions?maxExceptions=1");
    CHECK(limited["exceptionHistory"]["entries"].Size() == 1);
    CHECK(limited["exceptionHistory"]["truncated"].GetBool());
    ShapeOptions opt;
    if (v == FlinkVersion::k2_0) {
      opt.allow_missing = {"root-exception", "timestamp", "all-exceptions", "truncated",
                           "exceptionHistory.entries[].location"};
      CheckAgainstSample("synthetic/GET_jobs_jobid_exceptions.flink-2.x-shape.SYNTHETIC.json", ex);
    }
    CheckAgainstSample("real/GET_jobs_jobid_exceptions.flink-1.17.k8s-operator.json", ex, opt);
    CHECK(env.Call("GET", "/jobs/" + id + "/exceptions?maxExceptions=x").status == 400);
  }
}

TEST_CASE("job metrics: strings, version-specific names, -1 and n/a before the first checkpoint") {
  for (FlinkVersion v : {FlinkVersion::k1_18, FlinkVersion::k1_20, FlinkVersion::k2_0}) {
    CAPTURE(static_cast<int>(v));
    Env env(v, 1);
    std::string id = env.JobId("job-0");
    auto ids = env.Json("GET", "/jobs/" + id + "/metrics");
    CHECK_FALSE(Has(ids[0], "value"));
    CHECK(ArrayHasId(ids, "numRestarts"));
    CHECK(ArrayHasId(ids, "lastCompletedCheckpointId"));
    CHECK(ArrayHasId(ids, "fullRestarts") == (v != FlinkVersion::k2_0));
    CHECK(ArrayHasId(ids, "numRescales") == (v == FlinkVersion::k2_0));
    CHECK(ArrayHasId(ids, "lastCheckpointCompletedTimestamp") == (v == FlinkVersion::k2_0));
    CheckAgainstSample("real/GET_jobs_jobid_metrics.no-get-param.flink-1.14.2.otel.json", ids);
    auto values = env.Json(
        "GET", "/jobs/" + id +
                   "/metrics?get=lastCheckpointDuration,lastCheckpointExternalPath,bogus,uptime");
    REQUIRE(values.Size() == 3);  // unknown ids are silently left out
    CHECK(Str(values[0]["value"]) == "-1");
    CHECK(Str(values[1]["value"]) == "n/a");
    CHECK(std::stoll(Str(values[2]["value"])) > 0);
    CheckAgainstSample("real/GET_jobs_jobid_metrics.get-all.flink-1.14.2.otel.json", values);
    env.Advance(11'000);
    auto after =
        env.Json("GET", "/jobs/" + id +
                            "/metrics?get=lastCheckpointExternalPath,numberOfCompletedCheckpoints");
    CHECK(StartsWith(Str(after[0]["value"]), "file:"));
    CHECK(Str(after[1]["value"]) == "1");
  }
}

TEST_CASE(
    "vertex metrics carry subtask prefixes; the aggregated endpoint has numbers and Flink's "
    "empty-list quirk") {
  Env env(FlinkVersion::k1_20, 1);
  std::string id = env.JobId("job-0");
  auto details = env.Json("GET", "/jobs/" + id);
  std::string source = Str(details["vertices"][0]["id"]);
  auto ids = env.Json("GET", "/jobs/" + id + "/vertices/" + source + "/metrics");
  CHECK(ArrayHasId(ids, "0.numRecordsOutPerSecond"));
  CHECK(ArrayHasId(ids, "1.Source__Events.numRecordsOutPerSecond"));
  CHECK(ArrayHasId(ids, "0.Source__Events.pendingRecords"));
  auto vals = env.Json(
      "GET", "/jobs/" + id + "/vertices/" + source +
                 "/metrics?get=0.busyTimeMsPerSecond,0.Source__Events.numRecordsOutPerSecond");
  REQUIRE(vals.Size() == 2);
  CHECK(Str(vals[0]["value"]) == "NaN");
  CHECK(std::stod(Str(vals[1]["value"])) > 0);
  CheckAgainstSample("synthetic/GET_jobs_jobid_vertices_vertexid_metrics.get.SYNTHETIC.json", vals);

  auto agg = env.Json(
      "GET", "/jobs/" + id + "/vertices/" + source +
                 "/subtasks/metrics?get=Source__Events.numRecordsOutPerSecond&agg=sum,max");
  REQUIRE(agg.Size() == 1);
  CHECK(agg[0]["sum"].IsDouble());
  CHECK(agg[0]["max"].IsDouble());
  CHECK_FALSE(Has(agg[0], "min"));
  CheckAgainstSample(
      "synthetic/GET_jobs_jobid_vertices_vertexid_subtasks_metrics.agg.SYNTHETIC.json", agg);
  auto quirk =
      env.Json("GET", "/jobs/" + id + "/vertices/" + source +
                          "/subtasks/metrics?get=Source__Events.numRecordsOutPerSecond,nope");
  CHECK(quirk.Size() == 0);
  auto some = env.Json("GET", "/jobs/" + id + "/vertices/" + source +
                                  "/subtasks/metrics?get=numRecordsOutPerSecond&subtasks=1");
  CHECK(some[0]["sum"].GetDouble() == doctest::Approx(some[0]["max"].GetDouble()));
  auto sub = env.Json(
      "GET", "/jobs/" + id + "/vertices/" + source + "/subtasks/0/metrics?get=isBackPressured");
  CHECK(Str(sub[0]["value"]) == "false");
  std::string all_ids;
  auto id_list = env.Json("GET", "/jobs/" + id + "/vertices/" + source + "/subtasks/0/metrics");
  for (const auto& m : id_list.GetArray()) {
    all_ids += (all_ids.empty() ? "" : ",") + Str(m["id"]);
  }
  auto all =
      env.Json("GET", "/jobs/" + id + "/vertices/" + source + "/subtasks/0/metrics?get=" + all_ids);
  CHECK(all.Size() > 40);
  CheckAgainstSample(
      "real/GET_jobs_jobid_vertices_vertexid_subtasks_0_metrics.get-all.flink-1.14.2.otel.json",
      all);

  auto jobs_agg = env.Json("GET", "/jobs/metrics?get=numRestarts");
  REQUIRE(jobs_agg.Size() == 1);
  CHECK(Has(jobs_agg[0], "skew"));
  CheckAgainstSample("synthetic/GET_jobs_metrics.agg.SYNTHETIC.json", jobs_agg);
  Env old(FlinkVersion::k1_18, 1);
  CHECK_FALSE(Has(old.Json("GET", "/jobs/metrics?get=numRestarts")[0], "skew"));
  CHECK(old.Call("GET", "/jobs/metrics?get=numRestarts&agg=skew").status == 400);

  auto bp = env.Json("GET", "/jobs/" + id + "/vertices/" + source + "/backpressure");
  CHECK(Str(bp["status"]) == "ok");
  CHECK(Str(bp["backpressure-level"]) == "ok");
  auto jm = env.Json("GET", "/jobmanager/metrics?get=numRunningJobs,taskSlotsTotal");
  CHECK(jm.Size() == 2);
  CheckAgainstSample("real/GET_jobmanager_metrics.get-all.flink-1.14.2.otel.json", jm);
}

TEST_CASE("task managers and configuration") {
  Env env(FlinkVersion::k1_18, 1);
  auto tms = env.Json("GET", "/taskmanagers");
  REQUIRE(tms["taskmanagers"].Size() == 2);
  CheckAgainstSample("real/GET_taskmanagers.flink-1.14.2.otel.json", tms);
  int free_slots = 0;
  for (const auto& tm : tms["taskmanagers"].GetArray()) free_slots += tm["freeSlots"].GetInt();
  CHECK(free_slots == env.Json("GET", "/overview")["slots-available"].GetInt());
  auto one = env.Json("GET", "/taskmanagers/" + Str(tms["taskmanagers"][0]["id"]));
  CHECK(Has(one, "allocatedSlots"));

  auto keys = [](const rapidjson::Document& d) {
    std::set<std::string> out;
    for (const auto& e : d.GetArray()) out.insert(Str(e["key"]));
    return out;
  };
  auto old_conf = keys(env.Json("GET", "/jobmanager/config"));
  CHECK(old_conf.count("state.savepoints.dir") == 1);
  CHECK(old_conf.count("state.checkpoints.dir") == 1);
  CHECK(old_conf.count("restart-strategy.type") == 1);
  CHECK(old_conf.count("restart-strategy.fixed-delay.attempts") == 1);
  Env modern(FlinkVersion::k1_20, 0);
  auto new_conf = keys(modern.Json("GET", "/jobmanager/config"));
  CHECK(new_conf.count("execution.checkpointing.savepoint-dir") == 1);
  CHECK(new_conf.count("state.savepoints.dir") == 0);
}

TEST_CASE(
    "jar run bodies: 1.18 is strict (claimMode unknown), 1.20 lenient, 2.0 drops programArgs") {
  {
    Env env(FlinkVersion::k1_18, 1);
    std::string jar = Str(env.Json("GET", "/jars")["files"][0]["id"]);
    auto strict = env.Json("POST", "/jars/" + jar + "/run", 400, R"({"claimMode":"CLAIM"})");
    CHECK(
        Str(strict["errors"][0]).find("Request did not match expected format JarRunRequestBody.") !=
        std::string::npos);
    CHECK(Str(strict["errors"][0]).find("Unrecognized field \"claimMode\"") != std::string::npos);
    env.Json("POST", "/jars/" + jar + "/run", 200,
             R"({"restoreMode":"NO_CLAIM","programArgs":"--a b"})");
    env.Json("POST", "/jars/" + jar + "/run", 400, R"({"restoreMode":"SOMETIMES"})");
    env.Json("POST", "/jars/" + jar + "/run", 400, R"({"parallelism":"two"})");
    env.Json("POST", "/jars/" + jar + "/run", 400, "not json");
  }
  {
    Env env(FlinkVersion::k1_20, 1);
    std::string jar = Str(env.Json("GET", "/jars")["files"][0]["id"]);
    auto ok = env.Json(
        "POST", "/jars/" + jar + "/run", 200,
        R"({"claimMode":"CLAIM","restoreMode":"NO_CLAIM","whatever":1,"parallelism":3,)"
        R"("programArgsList":["--x","1"],"flinkConfiguration":{"execution.checkpointing.interval":"2 s"}})");
    std::string id = Str(ok["jobid"]);
    Job* job = env.sim().cluster_for_testing().FindJob(id);
    REQUIRE(job != nullptr);
    CHECK(job->settings.claim_mode == "CLAIM");
    CHECK(job->settings.checkpoint_interval_ms == 2'000);
    CHECK(job->vertices[0].parallelism == 3);
    CHECK(job->program_args == std::vector<std::string>{"--x", "1"});
    CheckAgainstSample("docs-example/POST_jars_jarid_run.playground-docs.json", ok);
  }
  {
    Env env(FlinkVersion::k2_0, 1);
    std::string jar = Str(env.Json("GET", "/jars")["files"][0]["id"]);
    auto ok = env.Json("POST", "/jars/" + jar + "/run", 200, R"({"programArgs":"--ignored yes"})");
    CHECK(env.sim().cluster_for_testing().FindJob(Str(ok["jobid"]))->program_args.empty());
  }
}

TEST_CASE("duplicate job ids are rejected with 400 Could not execute application") {
  Env env(FlinkVersion::k1_20, 1);
  std::string id = env.JobId("job-0");
  std::string jar = Str(env.Json("GET", "/jars")["files"][0]["id"]);
  auto dup = env.Json("POST", "/jars/" + jar + "/run", 400, R"({"jobId":")" + id + R"("})");
  CHECK(Str(dup["errors"][0]).find("DuplicateJobSubmissionException") != std::string::npos);
  env.Json("POST", "/jars/" + jar + "/run", 400, R"({"jobId":"xyz"})");
  auto fresh = env.Json("POST", "/jars/" + jar + "/run", 200,
                        R"({"jobId":"00000000000000000000000000000001"})");
  CHECK(Str(fresh["jobid"]) == "00000000000000000000000000000001");
}

TEST_CASE("cancel: 202 {} and 409 for a finished job; mode=stop is 308") {
  Env env(FlinkVersion::k1_20, 2);
  std::string a = env.JobId("job-0");
  std::string b = env.JobId("job-1");
  auto r = env.Call("PATCH", "/jobs/" + a + "?mode=cancel");
  CHECK(r.status == 202);
  CHECK(r.body == "{}");
  env.Advance(1'000);
  CHECK(env.Call("PATCH", "/jobs/" + a).status == 202);  // already CANCELED: acknowledged
  CHECK(env.Call("PATCH", "/jobs/" + b + "?mode=stop").status == 308);
  env.Json("POST", "/jobs/" + b + "/stop", 202, R"({"drain":false})");
  env.Advance(2'000);
  CHECK(Str(env.Json("GET", "/jobs/" + b)["state"]) == "FINISHED");
  auto conflict = env.Json("PATCH", "/jobs/" + b + "?mode=cancel", 409);
  CHECK(Str(conflict["errors"][0]).find("FINISHED") != std::string::npos);
  CHECK(env.Call("PATCH", "/jobs/0123456789abcdef0123456789abcdef?mode=cancel").status == 404);
  auto overview = env.Json("GET", "/overview");
  CHECK(overview["jobs-cancelled"].GetInt() == 1);
  CHECK(overview["jobs-finished"].GetInt() == 1);
}

TEST_CASE(
    "savepoint trigger: 400 without directory, idempotent trigger ids, 404 for unknown triggers, "
    "failure causes") {
  Env env(FlinkVersion::k1_18, 1, {{"state.savepoints.dir", ""}});
  std::string id = env.JobId("job-0");
  auto missing = env.Json("POST", "/jobs/" + id + "/savepoints", 400, "{}");
  CHECK(Str(missing["errors"][0]).find("Config key [state.savepoints.dir] is not set") !=
        std::string::npos);
  const std::string tid = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
  std::string body = R"({"target-directory":")" + env.dir() + R"(/sp","triggerId":")" + tid +
                     R"(","formatType":"NATIVE"})";
  CHECK(Str(env.Json("POST", "/jobs/" + id + "/savepoints", 202, body)["request-id"]) == tid);
  CHECK(Str(env.Json("POST", "/jobs/" + id + "/savepoints", 202, body)["request-id"]) == tid);
  env.Advance(2'000);
  CHECK(env.Json("GET", "/jobs/" + id + "/checkpoints")["counts"]["completed"].GetInt() == 1);
  env.Json("GET", "/jobs/" + id + "/savepoints/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", 404);
  env.Json("POST", "/jobs/" + id + "/savepoints", 400, R"({"target-directory":"/x","bogus":true})");

  env.Action(R"({"action":"checkpoints","job":"job-0","mode":"fail","message":"disk full"})");
  auto t2 = Str(env.Json("POST", "/jobs/" + id + "/savepoints", 202,
                         R"({"target-directory":"/tmp/x"})")["request-id"]);
  env.Advance(2'000);
  auto failed = env.Json("GET", "/jobs/" + id + "/savepoints/" + t2);
  CHECK(Str(failed["status"]["id"]) == "COMPLETED");
  CHECK(Str(failed["operation"]["failure-cause"]["class"]) ==
        "java.util.concurrent.CompletionException");
  CHECK(Str(failed["operation"]["failure-cause"]["stack-trace"]).find("disk full") !=
        std::string::npos);
  CHECK(StartsWith(Str(failed["operation"]["failure-cause"]["serialized-throwable"]), "rO0ABXNy"));
  CheckAgainstSample("synthetic/GET_jobs_jobid_savepoints_triggerid.failed.SYNTHETIC.json", failed);
}

TEST_CASE("jars: multipart upload (jar names only), list, run, delete") {
  Env env(FlinkVersion::k1_20, 0);
  const std::string boundary = "----flinksimboundary";
  auto multipart = [&](const std::string& filename, const std::string& data) {
    return "--" + boundary + "\r\nContent-Disposition: form-data; name=\"jarfile\"; filename=\"" +
           filename + "\"\r\nContent-Type: application/x-java-archive\r\n\r\n" + data + "\r\n--" +
           boundary + "--\r\n";
  };
  std::vector<std::pair<std::string, std::string>> headers = {
      {"Content-Type", "multipart/form-data; boundary=" + boundary}};
  auto up = env.Call("POST", "/jars/upload",
                     multipart("pipeline.jar",
                               "PK\x03\x04 fake\nMain-Class: com.acme.Pipeline\n"
                               "flinksim-operators: in=Source: Kafka,parse=Parse,out=Sink: S3\n"),
                     headers);
  REQUIRE(up.status == 200);
  rapidjson::Document d;
  d.Parse(up.body.c_str());
  CHECK(Str(d["status"]) == "success");
  std::string filename = Str(d["filename"]);
  std::string jar_id = filename.substr(filename.rfind('/') + 1);
  CHECK(EndsWith(jar_id, "_pipeline.jar"));
  CHECK(ReadWholeFile(filename).has_value());
  CheckAgainstSample("docs-example/POST_jars_upload.playground-docs.json", d);

  auto bad = env.Call("POST", "/jars/upload", multipart("notes.txt", "x"), headers);
  CHECK(bad.status == 400);
  CHECK(bad.body.find("Only Jar files are allowed.") != std::string::npos);
  CHECK(env.Call("POST", "/jars/upload", "{}").status == 400);

  auto jars = env.Json("GET", "/jars");
  REQUIRE(jars["files"].Size() == 1);
  CHECK(Str(jars["files"][0]["entry"][0]["name"]) == "com.acme.Pipeline");
  CheckAgainstSample("synthetic/GET_jars.SYNTHETIC.json", jars);

  std::string id = Str(env.Json("POST", "/jars/" + jar_id + "/run", 200, "{}")["jobid"]);
  env.Advance(1'500);
  auto details = env.Json("GET", "/jobs/" + id);
  CHECK(Str(details["name"]) == "pipeline");
  REQUIRE(details["vertices"].Size() == 3);
  CHECK(Str(details["vertices"][0]["name"]) == "Source: Kafka");
  CHECK(Str(env.Json("GET", "/jobs/" + id + "/vertices/" + Str(details["vertices"][0]["id"]) +
                                "/metrics?get=0.Source__Kafka.pendingRecords")[0]["id"]) ==
        "0.Source__Kafka.pendingRecords");
  CHECK(env.Call("DELETE", "/jars/" + jar_id).status == 200);
  CHECK(env.Call("DELETE", "/jars/" + jar_id).status == 400);
  CHECK(env.Call("POST", "/jars/" + jar_id + "/run", "{}").status == 400);
}

TEST_CASE("a restore from a missing path is accepted (200) and the job then FAILS") {
  Env env(FlinkVersion::k1_20, 1);
  std::string jar = Str(env.Json("GET", "/jars")["files"][0]["id"]);
  auto run =
      env.Json("POST", "/jars/" + jar + "/run", 200, R"({"savepointPath":"/does/not/exist"})");
  std::string id = Str(run["jobid"]);
  env.Advance(500);
  CHECK(Str(env.Json("GET", "/jobs/" + id + "/status")["status"]) == "FAILED");
  auto ex = env.Json("GET", "/jobs/" + id + "/exceptions");
  CHECK(Str(ex["root-exception"])
            .find("Cannot find checkpoint or savepoint file/directory '/does/not/exist'") !=
        std::string::npos);
  CHECK(env.Json("GET", "/jobs/" + id + "/metrics").Size() == 0);
}

}  // namespace
}  // namespace flinksim
