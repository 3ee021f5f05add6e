#include "tests/conformance/spec_schema.h"

#include <doctest/doctest.h>

#include "tests/conformance/json_util.h"
#include "tests/support/test_support.h"

namespace flinkguard::conformance {
namespace {

JsonDoc Json(const char* text) {
  auto doc = ParseJson(text);
  REQUIRE_MESSAGE(doc.has_value(), (doc ? "" : doc.error().message));
  return std::move(*doc);
}

SpecSnapshot LoadSpec(const std::string& file) {
  auto spec = SpecSnapshot::Load(testing::FlinkRestDir() + "/spec/" + file);
  REQUIRE_MESSAGE(spec.has_value(), (spec ? "" : spec.error().message));
  return std::move(*spec);
}

JsonDoc Sample(const std::string& relative) {
  auto doc = ParseJsonFile(testing::FlinkRestDir() + "/samples/" + relative);
  REQUIRE_MESSAGE(doc.has_value(), (doc ? "" : doc.error().message));
  return std::move(*doc);
}

// A hand-written snapshot in the format of rest_api_v1.snapshot, small enough to reason about.
constexpr const char* kTinySnapshot = R"({"calls": [
  {"url": "/things/:id", "method": "GET", "status-code": "200 OK",
   "request": {"type": "object", "id": "urn:x:EmptyRequestBody"},
   "response": {"type": "object", "id": "urn:x:Thing", "properties": {
     "name": {"type": "string"},
     "state": {"type": "string", "enum": ["RUNNING", "FAILED"]},
     "count": {"type": "integer"},
     "ratio": {"type": "number"},
     "tags": {"type": "array", "items": {"type": "string"}},
     "timestamps": {"type": "object", "additionalProperties": {"type": "integer"}},
     "child": {"type": "object", "id": "urn:x:Child", "properties": {
        "ok": {"type": "boolean"}, "child": {"type": "object", "$ref": "urn:x:Child"}}},
     "other": {"type": "object", "$ref": "urn:x:Child"},
     "status": {"type": "object", "properties": {"id": {"type": "string", "required": true}}},
     "anything": {"type": "any"}}}},
  {"url": "/things/:id", "method": "PATCH", "status-code": "202 Accepted",
   "request": {"type": "object", "id": "urn:x:EmptyRequestBody"},
   "response": {"type": "object", "id": "urn:x:EmptyResponseBody"}},
  {"url": "/broken", "method": "GET", "status-code": "200 OK",
   "request": {"type": "object", "id": "urn:x:EmptyRequestBody"},
   "response": {"type": "object", "$ref": "urn:x:Nowhere"}}
]})";

constexpr const char* kFullThing = R"({"name": "n", "state": "RUNNING", "count": 3,
  "ratio": 0.5, "tags": ["a"], "timestamps": {"RUNNING": 1}, "child": {"ok": true,
  "child": {"ok": false}}, "other": {"ok": true}, "status": {"id": "x"}, "anything": [1]})";

SpecSnapshot Tiny() {
  auto spec = SpecSnapshot::Parse(kTinySnapshot, FlinkVersion{1, 20}, "tiny");
  REQUIRE_MESSAGE(spec.has_value(), (spec ? "" : spec.error().message));
  return std::move(*spec);
}

SchemaReport Validate(const SpecSnapshot& spec, const char* method, const char* url,
                      const rapidjson::Value& body) {
  auto report = spec.ValidateResponse(method, url, body);
  REQUIRE_MESSAGE(report.has_value(), (report ? "" : report.error().message));
  return *report;
}

TEST_CASE("a body that follows the schema validates") {
  SpecSnapshot spec = Tiny();
  auto body = Json(kFullThing);
  SchemaReport report = Validate(spec, "GET", "/things/:id", *body);
  CHECK_MESSAGE(report.ok(), report.Summary());
  // Only the ends of the recursive type are absent.
  CHECK(report.absent == std::set<std::string>{"child.child.child", "other.child"});
  CHECK(spec.SuccessStatus("PATCH", "/things/:id").value() == 202);
  CHECK(spec.Calls().size() == 3);
}

TEST_CASE("declared properties missing from the body are listed, not failed") {
  SpecSnapshot spec = Tiny();
  auto body = Json(R"({"name": "n", "child": {"child": {}}})");
  SchemaReport report = Validate(spec, "GET", "/things/:id", *body);
  CHECK(report.ok());
  CHECK(report.absent == std::set<std::string>{"state", "count", "ratio", "tags", "timestamps",
                                               "other", "status", "anything", "child.ok",
                                               "child.child.ok", "child.child.child"});
}

TEST_CASE("a type change is a failure, recursively and through $ref") {
  SpecSnapshot spec = Tiny();
  auto body = Json(R"({"count": "3", "ratio": "abc", "tags": [1], "timestamps": {"A": "1"},
                       "child": {"child": {"ok": "yes"}}, "other": {"ok": 1}})");
  SchemaReport report = Validate(spec, "GET", "/things/:id", *body);
  CHECK(report.failures.size() == 6);
  CHECK(report.Has(SchemaIssueKind::kTypeMismatch, "count"));
  CHECK(report.Has(SchemaIssueKind::kTypeMismatch, "ratio"));
  CHECK(report.Has(SchemaIssueKind::kTypeMismatch, "tags[]"));
  CHECK(report.Has(SchemaIssueKind::kTypeMismatch, "timestamps.*"));
  CHECK(report.Has(SchemaIssueKind::kTypeMismatch, "child.child.ok"));
  CHECK(report.Has(SchemaIssueKind::kTypeMismatch, "other.ok"));
}

TEST_CASE("integer needs a whole number; number accepts Flink's NaN/Infinity strings") {
  SpecSnapshot spec = Tiny();
  CHECK(Validate(spec, "GET", "/things/:id", *Json(R"({"count": 3.5})"))
            .Has(SchemaIssueKind::kTypeMismatch, "count"));
  CHECK(Validate(spec, "GET", "/things/:id", *Json(R"({"count": 3.0})"))
            .Has(SchemaIssueKind::kTypeMismatch, "count"));
  CHECK(Validate(spec, "GET", "/things/:id", *Json(R"({"count": -9223372036854775808})")).ok());
  for (const char* ok : {R"({"ratio": 1})", R"({"ratio": "NaN"})", R"({"ratio": "-Infinity"})"}) {
    CHECK(Validate(spec, "GET", "/things/:id", *Json(ok)).ok());
  }
  CHECK_FALSE(Validate(spec, "GET", "/things/:id", *Json(R"({"ratio": "nan"})")).ok());
}

TEST_CASE("a property the schema does not declare is a failure (no invented fields)") {
  SpecSnapshot spec = Tiny();
  auto body = Json(R"({"name": "n", "bogus": 1, "child": {"child": {"extra": true}}})");
  SchemaReport report = Validate(spec, "GET", "/things/:id", *body);
  CHECK(report.failures.size() == 2);
  CHECK(report.Has(SchemaIssueKind::kUndeclared, "bogus"));
  CHECK(report.Has(SchemaIssueKind::kUndeclared, "child.child.extra"));
}

TEST_CASE("a value outside the enum is a failure") {
  SpecSnapshot spec = Tiny();
  SchemaReport report = Validate(spec, "GET", "/things/:id", *Json(R"({"state": "RUNNNG"})"));
  REQUIRE(report.failures.size() == 1);
  CHECK(report.failures[0].kind == SchemaIssueKind::kEnum);
  CHECK(report.failures[0].expected == "enum RUNNING|FAILED");
}

TEST_CASE("required properties, nulls, empty bodies and unresolved references") {
  SpecSnapshot spec = Tiny();
  CHECK(Validate(spec, "GET", "/things/:id", *Json(R"({"status": {}})"))
            .Has(SchemaIssueKind::kMissingRequired, "status.id"));
  // Null is accepted for any declared property (Java references), and counts as present.
  SchemaReport nulls = Validate(spec, "GET", "/things/:id", *Json(R"({"name": null})"));
  CHECK(nulls.ok());
  CHECK(nulls.absent.count("name") == 0);
  // EmptyResponseBody admits nothing but {}.
  CHECK(Validate(spec, "PATCH", "/things/:id", *Json("{}")).ok());
  CHECK(Validate(spec, "PATCH", "/things/:id", *Json(R"({"a": 1})"))
            .Has(SchemaIssueKind::kUndeclared, "a"));
  CHECK(Validate(spec, "GET", "/broken", *Json("{}")).Has(SchemaIssueKind::kUnresolvedRef, ""));
  auto missing = spec.ValidateResponse("GET", "/nothing", *Json("{}"));
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().kind == ErrorKind::kNotFound);
}

TEST_CASE("checkpoint statistics: mutations of a real 1.15 body are caught by the 1.18 spec") {
  SpecSnapshot spec = LoadSpec("rest_api_v1.flink-1.18.0.snapshot");
  auto body = Sample("real/GET_jobs_jobid_checkpoints.flink-1.15.k8s-operator.json");
  const char* url = "/jobs/:jobid/checkpoints";
  REQUIRE(Validate(spec, "GET", url, *body).ok());
  rapidjson::Document::AllocatorType& alloc = body->GetAllocator();
  rapidjson::Value& completed = (*body)["latest"]["completed"];

  SUBCASE("missing field") {
    completed.RemoveMember("external_path");
    SchemaReport report = Validate(spec, "GET", url, *body);
    CHECK(report.ok());
    CHECK(report.absent.count("latest.completed.external_path") == 1);
  }
  SUBCASE("type change") {
    (*body)["counts"]["total"].SetString("12");
    CHECK(Validate(spec, "GET", url, *body).Has(SchemaIssueKind::kTypeMismatch, "counts.total"));
  }
  SUBCASE("extra field in a polymorphic element") {
    (*body)["history"][0].AddMember("bogus", 1, alloc);
    CHECK(Validate(spec, "GET", url, *body).Has(SchemaIssueKind::kUndeclared, "history[].bogus"));
  }
  SUBCASE("wrong enum") {
    completed["checkpoint_type"].SetString("WEIRD");
    CHECK(Validate(spec, "GET", url, *body)
              .Has(SchemaIssueKind::kEnum, "latest.completed.checkpoint_type"));
  }
  SUBCASE("subtype fields are checked against the subtype the type id names") {
    // A completed entry has no failure_message; relabelled "failed" it lacks external_path's
    // declaration and contradicts the declared CompletedCheckpointStatistics.
    completed["className"].SetString("failed");
    SchemaReport report = Validate(spec, "GET", url, *body);
    CHECK(report.Has(SchemaIssueKind::kBadDiscriminator, "latest.completed.className"));
    CHECK(report.Has(SchemaIssueKind::kUndeclared, "latest.completed.external_path"));
  }
  SUBCASE("the type id is required and version-specific") {
    (*body)["history"][1].RemoveMember("className");
    (*body)["history"][2].AddMember("@class", "completed", alloc);
    SchemaReport report = Validate(spec, "GET", url, *body);
    CHECK(report.Has(SchemaIssueKind::kMissingRequired, "history[].className"));
    CHECK(report.Has(SchemaIssueKind::kUndeclared, "history[].@class"));
  }
  SUBCASE("unknown type id") {
    (*body)["history"][0]["className"].SetString("pending");
    CHECK(Validate(spec, "GET", url, *body)
              .Has(SchemaIssueKind::kBadDiscriminator, "history[].className"));
  }
}

TEST_CASE("metric endpoints are validated as the bare array Flink sends (spec quirk)") {
  SpecSnapshot v118 = LoadSpec("rest_api_v1.flink-1.18.0.snapshot");
  SpecSnapshot v120 = LoadSpec("rest_api_v1.flink-1.20.snapshot");
  const char* job_metrics = "/jobs/:jobid/metrics";
  SchemaReport ok = Validate(v118, "GET", job_metrics,
                             *Json(R"([{"id": "numRestarts", "value": "1"}, {"id": "x"}])"));
  CHECK(ok.ok());
  REQUIRE(ok.notes.size() == 1);
  CHECK(ok.notes.begin()->find("bare array") != std::string::npos);
  CHECK(Validate(v118, "GET", job_metrics,
                 *Json(R"({"metrics": [{"id": "numRestarts", "value": "1"}]})"))
            .Has(SchemaIssueKind::kTypeMismatch, ""));
  CHECK(Validate(v118, "GET", job_metrics, *Json(R"([{"id": "numRestarts", "value": 1}])"))
            .Has(SchemaIssueKind::kTypeMismatch, "[].value"));
  CHECK(Validate(v118, "GET", job_metrics, *Json(R"([{"value": "1"}])"))
            .Has(SchemaIssueKind::kMissingRequired, "[].id"));
  CHECK(Validate(v118, "GET", job_metrics, *Json(R"([{"id": "a", "min": 1.0}])"))
            .Has(SchemaIssueKind::kUndeclared, "[].min"));

  const char* agg = "/jobs/metrics";
  auto with_skew = Json(R"([{"id": "numRestarts", "min": 0, "max": 3.0, "skew": 100.0}])");
  CHECK(Validate(v118, "GET", agg, *with_skew).Has(SchemaIssueKind::kUndeclared, "[].skew"));
  CHECK(Validate(v120, "GET", agg, *with_skew).ok());
  CHECK(Validate(v120, "GET", agg, *Json(R"([{"id": "a", "sum": "NaN"}])")).ok());
  CHECK(Validate(v120, "GET", agg, *Json(R"([{"id": "a", "sum": "3.0"}])"))
            .Has(SchemaIssueKind::kTypeMismatch, "[].sum"));
  CHECK(Validate(v120, "GET", agg, *Json(R"([{"id": "a", "value": "3.0"}])"))
            .Has(SchemaIssueKind::kUndeclared, "[].value"));
}

TEST_CASE("request bodies the agent will send are checked against the request schema") {
  SpecSnapshot v118 = LoadSpec("rest_api_v1.flink-1.18.0.snapshot");
  SpecSnapshot v120 = LoadSpec("rest_api_v1.flink-1.20.snapshot");
  SpecSnapshot v20 = LoadSpec("rest_api_v1.flink-2.0.snapshot");
  auto run = Sample("synthetic/POST_jars_jarid_run.request.flink-1.20plus.SYNTHETIC.json");
  const char* url = "/jars/:jarid/run";
  CHECK(v120.ValidateRequest("POST", url, *run).value().ok());
  CHECK(v20.ValidateRequest("POST", url, *run).value().ok());
  // 1.18 does not know claimMode (and rejects unknown fields with 400).
  CHECK(v118.ValidateRequest("POST", url, *run)
            .value()
            .Has(SchemaIssueKind::kUndeclared, "claimMode"));
  // 2.0 removed programArgs.
  auto old_args = Json(R"({"programArgs": "--a b"})");
  CHECK(v120.ValidateRequest("POST", url, *old_args).value().ok());
  CHECK(v20.ValidateRequest("POST", url, *old_args)
            .value()
            .Has(SchemaIssueKind::kUndeclared, "programArgs"));
  CHECK(v120.ValidateRequest("POST", url, *Json(R"({"claimMode": "CLAIMED"})"))
            .value()
            .Has(SchemaIssueKind::kEnum, "claimMode"));
  // Savepoint trigger and cancel.
  CHECK(v118.ValidateRequest("POST", "/jobs/:jobid/savepoints",
                             *Json(R"({"target-directory": "file:/sp", "cancel-job": false,
                                       "formatType": "CANONICAL",
                                       "triggerId": "0123456789abcdef0123456789abcdef"})"))
            .value()
            .ok());
  CHECK(v118.ValidateRequest("PATCH", "/jobs/:jobid", *Json("{}")).value().ok());
}

TEST_CASE("error bodies") {
  for (const char* file : {"synthetic/ERROR_404_job_not_found.SYNTHETIC.json",
                           "synthetic/ERROR_404_unknown_path.SYNTHETIC.json",
                           "synthetic/ERROR_500_internal.SYNTHETIC.json",
                           "synthetic/ERROR_503_leader_election.SYNTHETIC.json"}) {
    CAPTURE(file);
    CHECK(ValidateErrorBody(*Sample(file)).ok());
  }
  CHECK(
      ValidateErrorBody(*Json(R"({"errors": []})")).Has(SchemaIssueKind::kTypeMismatch, "errors"));
  CHECK(
      ValidateErrorBody(*Json(R"({"errors": "x"})")).Has(SchemaIssueKind::kTypeMismatch, "errors"));
  SchemaReport wrong_name = ValidateErrorBody(*Json(R"({"error": ["x"]})"));
  CHECK(wrong_name.Has(SchemaIssueKind::kUndeclared, "error"));
  CHECK(wrong_name.Has(SchemaIssueKind::kMissingRequired, "errors"));
}

TEST_CASE("versions are read from snapshot file names") {
  CHECK(ParseFlinkVersion("rest_api_v1.flink-1.18.0.snapshot") == FlinkVersion{1, 18});
  CHECK(ParseFlinkVersion("rest_api_v1.flink-2.0.snapshot") == FlinkVersion{2, 0});
  CHECK(ParseFlinkVersion("rest_api_v1.master-2.3-SNAPSHOT.snapshot") == FlinkVersion{2, 3});
  CHECK(ParseFlinkVersion("rest_api_v1.snapshot") == std::nullopt);
  CHECK(FlinkVersion{1, 9} < FlinkVersion{1, 13});
  CHECK(LoadSpec("rest_api_v1.flink-1.20.snapshot").version() == FlinkVersion{1, 20});
  CHECK(LoadSpec("rest_api_v1.flink-1.20.snapshot")
            .SuccessStatus("POST", "/jobs/:jobid/stop")
            .value() == 202);
  auto missing =
      SpecSnapshot::Load(testing::FlinkRestDir() + "/spec/rest_api_v1.flink-9.9.snapshot");
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().kind == ErrorKind::kNotFound);
}

}  // namespace
}  // namespace flinkguard::conformance
