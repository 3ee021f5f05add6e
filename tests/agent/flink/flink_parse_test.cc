// The Flink client's parsers against every recorded, documented and synthetic response in
// tests/contract/flink-rest/samples, plus broken bodies. Values the agent extracts from the real
// recordings are asserted one by one.
#include "agent/flink/flink_parse.h"

#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <map>

#include "tests/support/test_support.h"

using namespace flinkguard;
using flinkguard::testing::FlinkRestDir;
using flinkguard::testing::ReadFile;

namespace {

std::string Sample(const std::string& rel) { return ReadFile(FlinkRestDir() + "/samples/" + rel); }

// Every parser, by the response file name prefix it applies to. Returns "" on success or the
// error message.
using AnyParser = std::function<std::string(std::string_view, const std::string&)>;
template <typename F>
AnyParser Wrap(F f) {
  return [f](std::string_view body, const std::string& ctx) -> std::string {
    auto r = f(body, ctx);
    return r ? std::string() : r.error().message;
  };
}

const std::vector<std::pair<std::string, AnyParser>>& ParsersByPrefix() {
  static const std::vector<std::pair<std::string, AnyParser>> kParsers = {
      {"GET_config.", Wrap(ParseDashboardConfig)},
      {"GET_overview.", Wrap(ParseClusterOverview)},
      {"GET_jobs_overview.", Wrap(ParseJobsOverview)},
      {"GET_jobs_jobid_checkpoints_config.", Wrap(ParseCheckpointConfig)},
      {"GET_jobs_jobid_checkpoints_triggerid.", nullptr},  // manual checkpoint status: unused
      {"GET_jobs_jobid_checkpoints.", Wrap(ParseCheckpointStats)},
      {"GET_jobs_jobid_exceptions.", Wrap(ParseRootException)},
      {"GET_jobs_jobid_savepoints_triggerid.", Wrap(ParseSavepointStatus)},
      {"GET_jobs_jobid_vertices_vertexid_subtasks_metrics.agg", Wrap(ParseAggregatedMetrics)},
      {"GET_jobs_metrics.agg", Wrap(ParseAggregatedMetrics)},
      {"GET_jobs_jobid_vertices_vertexid_subtasks_0_metrics", Wrap(ParseMetricList)},
      {"GET_jobs_jobid_vertices_vertexid_metrics", Wrap(ParseMetricList)},
      {"GET_jobs_jobid_vertices_vertexid.", nullptr},  // subtask detail: not used by the agent
      {"GET_jobs_jobid_metrics.", Wrap(ParseMetricList)},
      {"GET_jobmanager_metrics.", Wrap(ParseMetricList)},
      {"GET_jobs_jobid_status.", nullptr},
      {"GET_jobs_jobid.", Wrap(ParseJobDetails)},
      {"GET_jobs.", nullptr},  // plain id list: /jobs/overview is used instead
      {"GET_taskmanagers.", Wrap(ParseTaskManagers)},
      {"GET_jars.", Wrap(ParseJars)},
      {"POST_jars_upload.", Wrap(ParseJarUploadId)},
      {"POST_jars_jarid_run.request", nullptr},  // a request body, not a response
      {"POST_jars_jarid_run.", Wrap(ParseJarRunJobId)},
      {"POST_jobs_jobid_savepoints.response", Wrap(ParseTriggerId)},
      {"POST_jobs_jobid_stop.response", Wrap(ParseTriggerId)},
      {"ERROR_", Wrap(ParseErrorBody)},
  };
  return kParsers;
}

const AnyParser* ParserFor(const std::string& file) {
  for (const auto& [prefix, parser] : ParsersByPrefix()) {
    if (file.rfind(prefix, 0) == 0) return &parser;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("every sample file has a parser decision and the chosen parser accepts it") {
  int parsed = 0;
  for (const char* dir : {"real", "docs-example", "synthetic"}) {
    for (const auto& entry : std::filesystem::directory_iterator(FlinkRestDir() + "/samples/" + dir)) {
      const std::string file = entry.path().filename().string();
      CAPTURE(file);
      const AnyParser* parser = ParserFor(file);
      REQUIRE_MESSAGE(parser != nullptr, "no parser decision for this sample");
      if (!*parser) continue;
      const std::string err = (*parser)(ReadFile(entry.path().string()), file);
      CHECK_MESSAGE(err.empty(), err);
      ++parsed;
    }
  }
  CHECK(parsed >= 30);
}

TEST_CASE("truncated and garbled samples give an error naming the context, never a crash") {
  int errors = 0;
  for (const auto& entry : std::filesystem::directory_iterator(FlinkRestDir() + "/samples/real")) {
    const std::string file = entry.path().filename().string();
    const AnyParser* parser = ParserFor(file);
    if (parser == nullptr || !*parser) continue;
    const std::string body = ReadFile(entry.path().string());
    // Every cut point of small bodies, a spread of cut points in large ones.
    const std::size_t step = body.size() > 600 ? body.size() / 200 : 1;
    for (std::size_t cut = 0; cut + 1 < body.size(); cut += step) {
      const std::string err = (*parser)(std::string_view(body).substr(0, cut), "cluster c GET x");
      // A prefix is never a complete JSON document here (each body ends with } or ]).
      REQUIRE_FALSE(err.empty());
      CHECK(err.rfind("cluster c GET x: ", 0) == 0);
      ++errors;
    }
    std::string garbled = body;
    for (std::size_t i = 0; i < garbled.size(); i += 7) garbled[i] = '\x01';
    CHECK_FALSE((*parser)(garbled, "cluster c GET x").empty());
  }
  CHECK(errors > 1000);
  auto html = ParseJobsOverview("<html><body>502 Bad Gateway</body></html>", "cluster a GET /jobs/overview");
  REQUIRE_FALSE(html.has_value());
  CHECK(html.error().kind == ErrorKind::kInvalid);
  CHECK(html.error().message.find("cluster a GET /jobs/overview: body is not valid JSON") == 0);
  CHECK(html.error().message.find("<html><body>502") != std::string::npos);
  CHECK_FALSE(ParseJobsOverview("", "c").has_value());
  CHECK_FALSE(ParseJobsOverview("[1,2]", "c").has_value());
}

TEST_CASE("GET /config: the version is detected per recording") {
  auto c13 = ParseDashboardConfig(Sample("real/GET_config.flink-1.13.6.k8s-operator.json"), "c");
  REQUIRE(c13);
  REQUIRE(c13->version);
  CHECK(c13->version->major == 1);
  CHECK(c13->version->minor == 13);
  CHECK(c13->version->text == "1.13.6");
  CHECK_FALSE(c13->web_submit);
  CHECK_FALSE(c13->web_cancel.has_value());  // the feature flag appeared in 1.14
  auto c14 = ParseDashboardConfig(Sample("real/GET_config.flink-1.14.4.k8s-operator.json"), "c");
  REQUIRE(c14);
  CHECK(c14->version->AtLeast(1, 14));
  CHECK_FALSE(c14->version->AtLeast(1, 15));
  CHECK(c14->web_cancel == std::optional<bool>(false));
  auto v2 = ParseFlinkVersion("2.0-SNAPSHOT");
  REQUIRE(v2);
  CHECK(v2->AtLeast(1, 20));
  CHECK_FALSE(ParseFlinkVersion("latest").has_value());
  auto bad = ParseDashboardConfig(R"({"flink-version":"unknown","features":{}})", "cluster b GET /config");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message.find("$.flink-version") != std::string::npos);
}

TEST_CASE("GET /jobs/overview and /jobs/:id from a real 1.14 cluster") {
  auto ov = ParseJobsOverview(Sample("real/GET_jobs_overview.flink-1.14.2.otel.json"), "c");
  REQUIRE(ov);
  REQUIRE(ov->items.size() == 1);
  const JobOverview& j = ov->items[0];
  CHECK(j.id == "54a5c6e527e00e1bb861272a39fe13e4");
  CHECK(j.name == "State machine job");
  CHECK(j.state == JobStatus::kRunning);
  CHECK_FALSE(j.end_time.has_value());  // -1 sentinel
  CHECK(j.last_modification == 1651445646545);
  CHECK(j.tasks.at("total") == 2);
  CHECK(j.AllTasksRunning());
  CHECK(ov->problems.empty());

  auto d = ParseJobDetails(Sample("real/GET_jobs_jobid.flink-1.14.2.otel.json"), "c");
  REQUIRE(d);
  CHECK(d->state == JobStatus::kRunning);
  CHECK(d->now == 1651462493209);
  CHECK(d->timestamps.at("RESTARTING") == 1651445645389);
  REQUIRE(d->vertices.size() == 2);
  CHECK(d->vertices[0].name == "Source: Custom Source");
  CHECK(d->vertices[0].write_records == std::optional<std::int64_t>(8562805));
  CHECK_FALSE(d->vertices[0].accumulated_backpressured_ms.has_value());  // 1.16+

  auto d16 = ParseJobDetails(Sample("real/GET_jobs_jobid.flink-1.16.k8s-autoscaler.json"), "c");
  REQUIRE(d16);
  REQUIRE(d16->vertices[0].accumulated_busy_ms.has_value());
  CHECK(std::isnan(*d16->vertices[0].accumulated_busy_ms));  // "NaN" as a string
  CHECK(d16->vertices[0].accumulated_backpressured_ms == std::optional<std::int64_t>(0));
}

TEST_CASE("one broken job in /jobs/overview does not hide the others") {
  auto ov = ParseJobsOverview(
      R"({"jobs":[{"jid":"a","name":"ok","state":"RUNNING","tasks":{"total":1,"running":1}},
                  {"name":"no id","state":"RUNNING"},
                  {"jid":"c","name":"new state","state":"HIBERNATING"},
                  7]})",
      "cluster a GET /jobs/overview");
  REQUIRE(ov);
  REQUIRE(ov->items.size() == 2);
  CHECK(ov->items[0].id == "a");
  CHECK(ov->items[1].state_text == "HIBERNATING");
  CHECK_FALSE(ov->items[1].state.has_value());
  REQUIRE(ov->problems.size() == 2);
  CHECK(ov->problems[0].find("$.jobs[1].jid: missing") != std::string::npos);
  CHECK(ov->problems[1].find("$.jobs[3]: expected an object, found number") != std::string::npos);
}

TEST_CASE("GET /jobs/:id/checkpoints in the 1.13 (@class) and 1.15 (className) shapes") {
  auto s13 = ParseCheckpointStats(
      Sample("real/GET_jobs_jobid_checkpoints.flink-1.13-shape-at-class.k8s-operator.json"), "c");
  REQUIRE(s13);
  REQUIRE(s13->latest_completed);
  CHECK(s13->latest_completed->kind == "completed");
  CHECK(s13->latest_completed->id == 1);
  CHECK(s13->latest_completed->discarded);
  REQUIRE(s13->latest_savepoint);
  CHECK(s13->latest_savepoint->checkpoint_type == "SYNC_SAVEPOINT");
  CHECK(s13->latest_savepoint->external_path ==
        "file:/opt/flink/volume/flink-sp/savepoint-9f096f-cebc9a861a41");
  CHECK_FALSE(s13->latest_savepoint->discarded);
  CHECK_FALSE(s13->latest_failed);
  CHECK(s13->history.size() == 2);

  auto s15 = ParseCheckpointStats(
      Sample("real/GET_jobs_jobid_checkpoints.flink-1.15.k8s-operator.json"), "c");
  REQUIRE(s15);
  CHECK(s15->failed == 9);
  CHECK(s15->completed == 3);
  REQUIRE(s15->latest_completed);
  CHECK(s15->latest_completed->external_path ==
        "file:/flink-data/checkpoints/00000000000000000000000000000000/chk-3");
  CHECK(s15->latest_completed->discarded);
  CHECK(s15->latest_completed->latest_ack_timestamp == std::optional<std::int64_t>(1652348962142));
  CHECK_FALSE(s15->latest_savepoint);
  CHECK(s15->history.size() == 3);

  auto sr = ParseCheckpointStats(
      Sample("real/GET_jobs_jobid_checkpoints.restored-from-savepoint.flink-1.15.k8s-operator.json"),
      "c");
  REQUIRE(sr);
  CHECK(sr->latest_completed->id == 96);
  CHECK_FALSE(sr->latest_completed->discarded);
  CHECK(sr->latest_completed->ExternallyAddressable());
  CHECK(sr->latest_savepoint->id == 51);
  CHECK(sr->latest_savepoint->is_savepoint);
  REQUIRE(sr->latest_restored);
  CHECK(sr->latest_restored->id == 27);
  CHECK(sr->latest_restored->is_savepoint);
  CHECK(sr->latest_restored->external_path ==
        "file:/flink-data/savepoints/savepoint-000000-5930e5326ca7");
  CHECK(sr->history.size() == 10);
}

TEST_CASE("a checkpoint that is not externally addressable is not a restore point") {
  CheckpointEntry e;
  e.external_path = "<checkpoint-not-externally-addressable>";
  CHECK_FALSE(e.ExternallyAddressable());
  e.external_path = "";
  CHECK_FALSE(e.ExternallyAddressable());
  e.external_path = "s3://b/chk-3";
  CHECK(e.ExternallyAddressable());
  auto s = ParseCheckpointStats(
      R"({"counts":{"restored":0,"total":0,"in_progress":0,"completed":0,"failed":0},
          "latest":{"completed":null,"savepoint":null,"failed":null,"restored":null},"history":[]})",
      "c");
  REQUIRE(s);
  CHECK_FALSE(s->latest_completed);
}

TEST_CASE("metric lists: values are strings, NaN and sentinels survive") {
  auto m = ParseMetricList(Sample("real/GET_jobs_jobid_metrics.get-all.flink-1.14.2.otel.json"), "c");
  REQUIRE(m);
  std::map<std::string, MetricEntry> by_id;
  for (const auto& e : *m) by_id[e.id] = e;
  CHECK(by_id.at("numRestarts").AsDouble() == std::optional<double>(1.0));
  CHECK(by_id.at("totalNumberOfCheckpoints").AsDouble() == std::optional<double>(6641.0));
  CHECK(by_id.at("lastCheckpointExternalPath").value ==
        std::optional<std::string>("<checkpoint-not-externally-addressable>"));
  CHECK_FALSE(by_id.at("lastCheckpointExternalPath").AsDouble().has_value());

  auto ids = ParseMetricList(Sample("real/GET_jobs_jobid_metrics.no-get-param.flink-1.14.2.otel.json"), "c");
  REQUIRE(ids);
  CHECK(ids->size() == 15);
  for (const auto& e : *ids) CHECK_FALSE(e.value.has_value());

  auto sub = ParseMetricList(
      Sample("real/GET_jobs_jobid_vertices_vertexid_subtasks_0_metrics.get-all.flink-1.14.2.otel.json"), "c");
  REQUIRE(sub);
  bool saw_nan = false, saw_min_watermark = false;
  for (const auto& e : *sub) {
    if (e.id == "busyTimeMsPerSecond") saw_nan = e.AsDouble() && std::isnan(*e.AsDouble());
    if (e.id == "Source__Custom_Source.currentOutputWatermark") {
      saw_min_watermark = e.AsDouble() && *e.AsDouble() < -9.2e18;
    }
  }
  CHECK(saw_nan);
  CHECK(saw_min_watermark);

  auto agg = ParseAggregatedMetrics(
      Sample("synthetic/GET_jobs_jobid_vertices_vertexid_subtasks_metrics.agg.SYNTHETIC.json"), "c");
  REQUIRE(agg);
  REQUIRE(agg->size() == 2);
  CHECK((*agg)[0].sum == std::optional<double>(1602.45));
  CHECK_FALSE((*agg)[0].avg.has_value());  // only the requested aggregations appear
  CHECK(ParseAggregatedMetrics("[]", "c")->empty());  // the empty-list quirk is not an error
}

TEST_CASE("exceptions: 1.17 legacy+history shape and the 2.x history-only shape") {
  auto e17 = ParseRootException(Sample("real/GET_jobs_jobid_exceptions.flink-1.17.k8s-operator.json"), "c");
  REQUIRE(e17);
  REQUIRE(e17->has_value());
  const RootException& x = **e17;
  CHECK(x.exception_name == "org.apache.flink.util.FlinkExpectedException");
  CHECK(x.task_name == "Source: Custom Source (2/2) - execution #0");
  CHECK(x.endpoint == "10.244.0.93:37079");  // `location` before 1.19
  CHECK(x.timestamp == std::optional<std::int64_t>(1755995361447));
  CHECK(x.FirstLines(1) ==
        "org.apache.flink.util.FlinkExpectedException: The TaskExecutor is shutting down.");

  auto e2 = ParseRootException(Sample("synthetic/GET_jobs_jobid_exceptions.flink-2.x-shape.SYNTHETIC.json"), "c");
  REQUIRE(e2);
  REQUIRE(e2->has_value());
  CHECK((*e2)->exception_name == "java.lang.RuntimeException");
  CHECK((*e2)->endpoint == "10.0.3.17:35241");

  auto legacy_only = ParseRootException(
      R"({"root-exception":"java.io.IOException: disk\n\tat x","timestamp":5,"all-exceptions":[],
          "truncated":false,"exceptionHistory":{"entries":[],"truncated":false}})", "c");
  REQUIRE(legacy_only);
  REQUIRE(legacy_only->has_value());
  CHECK((*legacy_only)->exception_name == "java.io.IOException");
  auto none = ParseRootException(R"({"exceptionHistory":{"entries":[],"truncated":false}})", "c");
  REQUIRE(none);
  CHECK_FALSE(none->has_value());
}

TEST_CASE("savepoint status: in progress, success, and failure reported as COMPLETED") {
  auto ip = ParseSavepointStatus(Sample("synthetic/GET_jobs_jobid_savepoints_triggerid.in-progress.SYNTHETIC.json"), "c");
  REQUIRE(ip);
  CHECK(ip->in_progress);
  auto ok = ParseSavepointStatus(Sample("synthetic/GET_jobs_jobid_savepoints_triggerid.completed.SYNTHETIC.json"), "c");
  REQUIRE(ok);
  CHECK(ok->location == std::optional<std::string>("s3://bucket/savepoints/savepoint-3f2a1b-0c9d8e7f6a5b"));
  CHECK_FALSE(ok->failure_class);
  auto failed = ParseSavepointStatus(Sample("synthetic/GET_jobs_jobid_savepoints_triggerid.failed.SYNTHETIC.json"), "c");
  REQUIRE(failed);
  CHECK_FALSE(failed->in_progress);
  CHECK_FALSE(failed->location);  // never trust COMPLETED without looking for failure-cause
  CHECK(failed->failure_class == std::optional<std::string>("java.util.concurrent.CompletionException"));
  CHECK(failed->failure_stacktrace.find("Checkpoint expired") != std::string::npos);
  auto docs = ParseSavepointStatus(
      Sample("docs-example/GET_jobs_jobid_savepoints_triggerid.completed.playground-docs.json"), "c");
  REQUIRE(docs);
  CHECK(docs->location == std::optional<std::string>("<savepoint-path>"));
  CHECK_FALSE(ParseSavepointStatus(R"({"status":{"id":"WHATEVER"}})", "c").has_value());
}

TEST_CASE("job control replies, jars, task managers and error bodies") {
  CHECK(*ParseTriggerId(Sample("synthetic/POST_jobs_jobid_savepoints.response.SYNTHETIC.json"), "c") ==
        "5ac3f1e2b7d94c0e8f1a2b3c4d5e6f70");
  CHECK(*ParseJarUploadId(R"({"filename":"/tmp/flink-web-1/flink-web-upload/abc_job.jar","status":"success"})", "c") ==
        "abc_job.jar");
  CHECK_FALSE(ParseJarUploadId(R"({"filename":"/x/","status":"success"})", "c").has_value());
  auto jars = ParseJars(Sample("synthetic/GET_jars.SYNTHETIC.json"), "c");
  REQUIRE(jars);
  REQUIRE(jars->items.size() == 1);
  CHECK(jars->items[0].entry_classes == std::vector<std::string>{"com.example.job.Main"});
  auto tms = ParseTaskManagers(Sample("real/GET_taskmanagers.flink-1.14.2.otel.json"), "c");
  REQUIRE(tms);
  REQUIRE(tms->items.size() == 1);
  CHECK(tms->items[0].slots == 8);
  CHECK(tms->items[0].free_slots == 7);
  CHECK(tms->items[0].last_heartbeat == 1651461830558);  // an epoch timestamp despite its name
  auto err = ParseErrorBody(Sample("synthetic/ERROR_503_leader_election.SYNTHETIC.json"), "c");
  REQUIRE(err);
  REQUIRE(err->size() == 1);
  CHECK((*err)[0].find("leader election") != std::string::npos);
}

namespace {

// "" when the scan and the document parser agree on `body` (values and error text).
std::string MetricListsDiffer(const std::string& body) {
  auto a = ParseMetricList(body, "ctx");
  auto b = ScanMetricList(body, "ctx");
  if (a.has_value() != b.has_value()) return "one failed, the other did not";
  if (!a) return a.error().message == b.error().message ? "" : "errors differ";
  if (a->size() != b->size()) return "sizes differ";
  for (std::size_t i = 0; i < a->size(); ++i) {
    if ((*a)[i].id != (*b)[i].id || (*a)[i].value != (*b)[i].value) return "entry differs";
  }
  return "";
}

bool SameDouble(const std::optional<double>& x, const std::optional<double>& y) {
  if (x.has_value() != y.has_value()) return false;
  if (!x) return true;
  return (std::isnan(*x) && std::isnan(*y)) || *x == *y;
}

std::string AggregatesDiffer(const std::string& body) {
  auto a = ParseAggregatedMetrics(body, "ctx");
  auto b = ScanAggregatedMetrics(body, "ctx");
  if (a.has_value() != b.has_value()) return "one failed, the other did not";
  if (!a) return a.error().message == b.error().message ? "" : "errors differ";
  if (a->size() != b->size()) return "sizes differ";
  for (std::size_t i = 0; i < a->size(); ++i) {
    const AggregatedMetric& x = (*a)[i];
    const AggregatedMetric& y = (*b)[i];
    if (x.id != y.id || !SameDouble(x.min, y.min) || !SameDouble(x.max, y.max) ||
        !SameDouble(x.avg, y.avg) || !SameDouble(x.sum, y.sum) || !SameDouble(x.skew, y.skew))
      return "entry differs";
  }
  return "";
}

}  // namespace

TEST_CASE("the metric scans give what the document parsers give, on every sample and odd body") {
  int compared = 0;
  for (const char* dir : {"real", "docs-example", "synthetic"}) {
    for (const auto& entry :
         std::filesystem::directory_iterator(FlinkRestDir() + "/samples/" + dir)) {
      const std::string file = entry.path().filename().string();
      CAPTURE(file);
      const std::string body = ReadFile(entry.path().string());
      // Every body, metric or not: a body of another shape must end in the same Error.
      CHECK(MetricListsDiffer(body) == "");
      CHECK(AggregatesDiffer(body) == "");
      ++compared;
    }
  }
  CHECK(compared > 30);
  const std::vector<std::string> odd = {
      "",
      " ",
      "[]",
      "[ ]  ",
      "{}",
      "null",
      "42",
      "\"x\"",
      "[1]",
      "[[]]",
      "[null]",
      "[{}]",
      R"([{"id":"a"}])",
      R"([{"id":"a","value":"1"},{"id":"b","value":"2.5"}])",
      R"([{"id":"a","value":null}])",
      R"([{"id":"a","value":"1","value":"2"}])",
      R"([{"id":"a","value":null,"value":"2"}])",
      R"([{"id":"a","id":"b","value":"1"}])",
      R"([{"id":null,"id":"b"}])",
      R"([{"id":1}])",
      R"([{"id":"a","value":1}])",
      R"([{"id":"a","value":true}])",
      R"([{"id":"a","value":{"x":1}}])",
      R"([{"id":"a","value":["1"]}])",
      R"([{"id":"a","other":{"x":[1,{"id":"z"}]},"value":"3"}])",
      R"([{"value":"3"}])",
      R"([{"id":"a","min":1,"max":2,"avg":1.5,"sum":3,"skew":0}])",
      R"([{"id":"a","sum":null}])",
      R"([{"id":"a","sum":"NaN","max":"Infinity"}])",
      R"([{"id":"a","sum":NaN}])",
      R"([{"id":"a","sum":-Infinity,"min":12345678901234567890}])",
      R"([{"id":"a","sum":1,"sum":2}])",
      R"([{"id":"a","sum":null,"sum":2}])",
      R"([{"id":"a","sum":"x"}])",
      R"([{"id":"a","sum":[1]}])",
      R"([{"id":"a","value":"1"}] trailing)",
      R"([{"id":"a","value":"1"})",
      R"([{"id":"a","val)",
      "[{\"id\":\"\\u00e9\\n\",\"value\":\"caf\xc3\xa9\"}]",
  };
  for (const std::string& body : odd) {
    CAPTURE(body);
    CHECK(MetricListsDiffer(body) == "");
    CHECK(AggregatesDiffer(body) == "");
  }
  // The common shapes really are read by the scan (not only through the fallback): values.
  auto m = ScanMetricList(R"([{"id":"numRestarts","value":"3"},{"id":"uptime"}])", "ctx");
  REQUIRE(m);
  REQUIRE(m->size() == 2);
  CHECK((*m)[0].AsDouble() == 3.0);
  CHECK(!(*m)[1].value);
  auto g = ScanAggregatedMetrics(R"([{"id":"numRecordsOutPerSecond","sum":812.5}])", "ctx");
  REQUIRE(g);
  REQUIRE(g->size() == 1);
  CHECK(g->at(0).sum == 812.5);
  CHECK(!g->at(0).min);
}
