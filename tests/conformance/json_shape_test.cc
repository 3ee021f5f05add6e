#include "tests/conformance/json_shape.h"

#include <doctest/doctest.h>

#include "tests/conformance/json_util.h"

namespace flinkguard::conformance {
namespace {

JsonDoc Json(const char* text) {
  auto doc = ParseJson(text);
  REQUIRE_MESSAGE(doc.has_value(), (doc ? "" : doc.error().message));
  return std::move(*doc);
}

// A cut-down checkpoint statistics body in the 1.15 shape.
constexpr const char* kCheckpoints = R"({
  "counts": {"restored": 0, "total": 3, "in_progress": 0, "completed": 2, "failed": 1},
  "summary": {"state_size": {"min": 1, "max": 2, "avg": 1, "p50": 1.5}},
  "latest": {
    "completed": {"className": "completed", "id": 3, "status": "COMPLETED",
                  "trigger_timestamp": 1652348962111, "external_path": "file:/cp/chk-3",
                  "discarded": false, "tasks": {}},
    "savepoint": null, "failed": null, "restored": null},
  "history": [
    {"className": "completed", "id": 3, "status": "COMPLETED", "external_path": "file:/cp/chk-3",
     "discarded": false, "tasks": {"bc76": {"id": 3, "status": "COMPLETED"}}},
    {"className": "failed", "id": 2, "status": "FAILED", "failure_message": "expired",
     "failure_timestamp": 1, "tasks": {}}
  ]
})";

TEST_CASE("a document has the shape of itself, and values do not matter") {
  auto ref = Json(kCheckpoints);
  auto same = Json(kCheckpoints);
  ShapeReport report = CompareShape(*ref, *same);
  CHECK(report.ok());
  CHECK(report.diffs.empty());

  auto other_values = Json(R"({"a": 7, "b": "y", "c": [false], "d": {"e": 0.5}})");
  auto ref_values = Json(R"({"a": 1, "b": "x", "c": [true, true], "d": {"e": 9}})");
  CHECK(CompareShape(*ref_values, *other_values).diffs.empty());
}

TEST_CASE("a missing field is a failure with its path and the reference type") {
  auto ref = Json(kCheckpoints);
  auto actual = Json(kCheckpoints);
  (*actual)["latest"]["completed"].RemoveMember("external_path");
  ShapeReport report = CompareShape(*ref, *actual);
  CHECK_FALSE(report.ok());
  REQUIRE(report.Failures().size() == 1);
  const ShapeDiff d = report.Failures()[0];
  CHECK(d.kind == DiffKind::kMissing);
  CHECK(d.path == "latest.completed.external_path");
  CHECK(d.expected == "string");
  CHECK(d.actual == "absent");
  CHECK(report.Summary().find("FAIL missing latest.completed.external_path") != std::string::npos);
}

TEST_CASE("a type change is a failure; integer and floating numbers are one type") {
  auto ref = Json(R"({"id": 3, "size": 1.5, "ok": true, "tags": ["a"], "o": {}})");
  SUBCASE("number to string") {
    auto actual = Json(R"({"id": "3", "size": 1.5, "ok": true, "tags": ["a"], "o": {}})");
    ShapeReport report = CompareShape(*ref, *actual);
    REQUIRE(report.Failures().size() == 1);
    CHECK(report.Failures()[0].kind == DiffKind::kTypeMismatch);
    CHECK(report.Failures()[0].path == "id");
    CHECK(report.Failures()[0].expected == "number");
    CHECK(report.Failures()[0].actual == "string");
  }
  SUBCASE("integer and double") {
    auto actual = Json(R"({"id": 3.0, "size": 2, "ok": true, "tags": ["a"], "o": {}})");
    CHECK(CompareShape(*ref, *actual).diffs.empty());
  }
  SUBCASE("boolean to number, array to object, object to array") {
    auto actual = Json(R"({"id": 3, "size": 1.5, "ok": 1, "tags": {}, "o": []})");
    ShapeReport report = CompareShape(*ref, *actual);
    CHECK(report.Failures().size() == 3);
    CHECK(report.Has(DiffKind::kTypeMismatch, "ok"));
    CHECK(report.Has(DiffKind::kTypeMismatch, "tags"));
    CHECK(report.Has(DiffKind::kTypeMismatch, "o"));
  }
}

TEST_CASE("number-or-string is allowed only where declared (Flink writes NaN as a string)") {
  auto ref = Json(R"({"summary": {"state_size": {"p50": 1.5}, "e2e": {"p50": 3}}})");
  auto actual = Json(R"({"summary": {"state_size": {"p50": "NaN"}, "e2e": {"p50": "NaN"}}})");
  CHECK(CompareShape(*ref, *actual).Failures().size() == 2);
  ShapeRules rules;
  rules.number_or_string = {"summary.*.p50"};
  CHECK(CompareShape(*ref, *actual, rules).ok());
  // The reverse direction too: the reference recorded "NaN", the actual has a number.
  CHECK(CompareShape(*actual, *ref, rules).ok());
  // But not for other types.
  auto boolean = Json(R"({"summary": {"state_size": {"p50": true}, "e2e": {"p50": 1}}})");
  CHECK(CompareShape(*ref, *boolean, rules).Has(DiffKind::kTypeMismatch, "summary.state_size.p50"));
}

TEST_CASE("an extra field is reported as info, not as a failure") {
  auto ref = Json(R"({"a": 1})");
  auto actual = Json(R"({"a": 1, "b": {"c": 1}})");
  ShapeReport report = CompareShape(*ref, *actual);
  CHECK(report.ok());
  REQUIRE(report.Infos().size() == 1);  // not descended into
  CHECK(report.Infos()[0].kind == DiffKind::kExtra);
  CHECK(report.Infos()[0].path == "b");
  CHECK(report.Infos()[0].actual == "object");
}

TEST_CASE("null in the reference matches anything, visibly; required nulls are enforced") {
  auto ref = Json(kCheckpoints);
  auto actual = Json(kCheckpoints);
  rapidjson::Document::AllocatorType& alloc = actual->GetAllocator();
  rapidjson::Value restored(rapidjson::kObjectType);
  restored.AddMember("id", 1, alloc);
  (*actual)["latest"]["restored"] = restored;
  ShapeReport report = CompareShape(*ref, *actual);
  CHECK(report.ok());
  CHECK(report.Has(DiffKind::kNotCompared, "latest.restored"));

  ShapeRules rules;
  rules.required_null = {"latest.restored", "latest.failed"};
  report = CompareShape(*ref, *actual, rules);
  CHECK_FALSE(report.ok());
  REQUIRE(report.Failures().size() == 1);
  CHECK(report.Failures()[0].path == "latest.restored");
  CHECK(report.Failures()[0].expected == "null");
  CHECK(report.Failures()[0].actual == "object");
}

TEST_CASE("null in the actual document where the reference has a value fails unless nullable") {
  auto ref = Json(R"({"entry": [{"name": "Main", "description": "x"}]})");
  auto actual = Json(R"({"entry": [{"name": "Main", "description": null}]})");
  ShapeReport report = CompareShape(*ref, *actual);
  CHECK(report.Has(DiffKind::kTypeMismatch, "entry[0].description"));
  ShapeRules rules;
  rules.nullable = {"entry[].description"};
  report = CompareShape(*ref, *actual, rules);
  CHECK(report.ok());
  CHECK(report.Has(DiffKind::kNotCompared, "entry[0].description"));
}

TEST_CASE("every array element is checked against the reference element shape") {
  auto ref = Json(R"({"vertices": [{"id": "a", "parallelism": 2}, {"id": "b"}]})");
  auto actual = Json(R"({"vertices": [{"id": "x", "parallelism": 1}, {"id": "y", "parallelism": 1},
                             {"id": "z"}, {"id": 4, "parallelism": 1}]})");
  ShapeReport report = CompareShape(*ref, *actual);
  CHECK(report.Failures().size() == 2);
  CHECK(report.Has(DiffKind::kMissing, "vertices[2].parallelism"));
  CHECK(report.Has(DiffKind::kTypeMismatch, "vertices[3].id"));
  CHECK(report.Has(DiffKind::kMissing, "vertices[].parallelism"));  // by pattern
}

TEST_CASE("polymorphic arrays pick the reference element with the same discriminator") {
  auto ref = Json(kCheckpoints);
  SUBCASE("failed entries are compared with the failed reference entry") {
    auto actual = Json(kCheckpoints);
    CHECK(CompareShape(*ref, *actual).ok());
    (*actual)["history"][1].RemoveMember("failure_message");
    ShapeReport report = CompareShape(*ref, *actual);
    REQUIRE(report.Failures().size() == 1);
    CHECK(report.Failures()[0].path == "history[1].failure_message");
  }
  SUBCASE("a subtype the reference does not have is not compared, and says so") {
    auto actual = Json(R"({"history": [{"className": "in_progress", "id": 9}]})");
    auto ref_history = Json(R"({"history": [{"className": "completed", "id": 3,
                                             "external_path": "p"}]})");
    ShapeReport report = CompareShape(*ref_history, *actual);
    CHECK(report.ok());
    REQUIRE(report.Infos().size() == 1);
    CHECK(report.Infos()[0].kind == DiffKind::kNotCompared);
    CHECK(report.Infos()[0].note == "no reference element with className=in_progress");
  }
  SUBCASE("the pre-1.15 discriminator name shows up as missing/extra") {
    auto old = Json(R"({"history": [{"@class": "completed", "id": 3}]})");
    auto actual = Json(R"({"history": [{"className": "completed", "id": 3}]})");
    ShapeReport report = CompareShape(*old, *actual);
    CHECK(report.Has(DiffKind::kMissing, "history[0].@class"));
    CHECK(report.Has(DiffKind::kExtra, "history[0].className"));
  }
}

TEST_CASE("an empty actual array is not silently ok; non-empty can be demanded") {
  auto ref = Json(kCheckpoints);
  auto actual = Json(kCheckpoints);
  (*actual)["history"].Clear();
  ShapeReport report = CompareShape(*ref, *actual);
  CHECK(report.ok());
  CHECK(report.Has(DiffKind::kNotCompared, "history"));

  ShapeRules rules;
  rules.non_empty = {"history"};
  report = CompareShape(*ref, *actual, rules);
  CHECK_FALSE(report.ok());
  CHECK(report.Has(DiffKind::kEmpty, "history"));

  // A reference array that is empty cannot say anything about the actual elements.
  auto empty_ref = Json(R"({"all-exceptions": []})");
  auto full = Json(R"({"all-exceptions": [{"exception": "x"}]})");
  CHECK(CompareShape(*empty_ref, *full).Has(DiffKind::kNotCompared, "all-exceptions"));
}

TEST_CASE("maps with a fixed key vocabulary are compared by key set and value shape") {
  auto ref = Json(R"({"timestamps": {"RUNNING": 5, "CREATED": 1, "FAILED": 0}})");
  auto actual = Json(R"({"timestamps": {"RUNNING": 5, "CREATED": 1, "INITIALIZING": "x"}})");
  ShapeRules rules;
  rules.enum_key_maps = {"timestamps"};
  ShapeReport report = CompareShape(*ref, *actual, rules);
  CHECK(report.Has(DiffKind::kMissing, "timestamps.FAILED"));
  CHECK(report.Has(DiffKind::kExtra, "timestamps.INITIALIZING"));
  // The extra key's value is still checked against the map's value shape.
  CHECK(report.Has(DiffKind::kTypeMismatch, "timestamps.INITIALIZING"));
  CHECK(report.Failures().size() == 2);
}

TEST_CASE("maps keyed by identifiers are compared by value shape only") {
  auto ref = Json(kCheckpoints);
  auto actual = Json(kCheckpoints);
  rapidjson::Document::AllocatorType& alloc = actual->GetAllocator();
  rapidjson::Value& tasks = (*actual)["history"][0]["tasks"];
  tasks.RemoveAllMembers();
  rapidjson::Value task(rapidjson::kObjectType);
  task.AddMember("id", 3, alloc);
  tasks.AddMember("20ba", task, alloc);
  ShapeRules rules;
  rules.id_key_maps = {"history[].tasks", "latest.completed.tasks"};
  ShapeReport report = CompareShape(*ref, *actual, rules);
  CHECK(report.Has(DiffKind::kMissing, "history[0].tasks.20ba.status"));
  CHECK(report.Has(DiffKind::kMissing, "history[].tasks.*.status"));
  CHECK_FALSE(report.Has(DiffKind::kMissing, "history[0].tasks.bc76"));
  CHECK(report.Failures().size() == 1);
}

TEST_CASE("a deliberate omission needs a reason, is reported as info, and must be used") {
  auto ref = Json(R"({"jid": "a", "plan": {"nodes": []}, "vertices": [{"id": "v", "x": 1}]})");
  auto actual = Json(R"({"jid": "a", "vertices": [{"id": "v"}, {"id": "w"}]})");

  ShapeReport report = CompareShape(*ref, *actual);
  CHECK(report.Has(DiffKind::kMissing, "plan"));
  CHECK(report.Failures().size() == 3);

  ShapeRules rules;
  rules.omitted = {{"plan", "job graph not emulated"}, {"vertices[].x", "not emulated"}};
  report = CompareShape(*ref, *actual, rules);
  CHECK(report.ok());
  const auto infos = report.Infos();
  REQUIRE(infos.size() == 3);
  CHECK(infos[0].note == "deliberately omitted: job graph not emulated");

  SUBCASE("an omission that is never used fails, so the list cannot rot") {
    rules.omitted.push_back({"vertices[].name", "was left out once"});
    report = CompareShape(*ref, *actual, rules);
    CHECK_FALSE(report.ok());
    REQUIRE(report.Failures().size() == 1);
    CHECK(report.Failures()[0].kind == DiffKind::kUnusedRule);
    CHECK(report.Failures()[0].path == "vertices[].name");
  }
  SUBCASE("an omission without a reason fails") {
    rules.omitted[0].reason.clear();
    report = CompareShape(*ref, *actual, rules);
    REQUIRE(report.Failures().size() == 1);
    CHECK(report.Failures()[0].kind == DiffKind::kBadRule);
  }
}

TEST_CASE("required-null and non-empty rules that match nothing fail") {
  auto doc = Json(R"({"a": null, "b": [1]})");
  ShapeRules rules;
  rules.required_null = {"a", "zz"};
  rules.non_empty = {"b", "c"};
  ShapeReport report = CompareShape(*doc, *doc, rules);
  CHECK(report.Failures().size() == 2);
  CHECK(report.Has(DiffKind::kUnusedRule, "zz"));
  CHECK(report.Has(DiffKind::kUnusedRule, "c"));
}

TEST_CASE("bare top-level arrays (metric lists) are compared element by element") {
  auto ref = Json(R"([{"id": "numRestarts", "value": "1"}])");
  auto actual = Json(R"([{"id": "numRestarts", "value": 1}, {"id": "uptime"}])");
  ShapeReport report = CompareShape(*ref, *actual);
  CHECK(report.Has(DiffKind::kTypeMismatch, "[0].value"));
  CHECK(report.Has(DiffKind::kMissing, "[1].value"));
  CHECK(report.Has(DiffKind::kMissing, "[].value"));
}

TEST_CASE("the summary groups repeated differences") {
  auto ref = Json(R"({"h": [{"a": 1, "b": 2}]})");
  auto actual = Json(R"({"h": [{"a": 1}, {"a": 1}, {"a": 1}], "x": 1})");
  ShapeReport report = CompareShape(*ref, *actual);
  const std::string summary = report.Summary();
  CHECK(summary.find("FAIL missing h[].b (reference number, actual absent) x3 e.g. h[0].b") !=
        std::string::npos);
  CHECK(summary.find("info extra x") != std::string::npos);
  CHECK(report.Summary(false).find("info") == std::string::npos);
}

TEST_CASE("path patterns") {
  CHECK(PathMatches("a.b", "a.b"));
  CHECK(PathMatches("a[].b", "a[].b"));
  CHECK(PathMatches("summary.*.p50", "summary.state_size.p50"));
  CHECK(PathMatches("*[].x", "tasks[].x"));
  CHECK_FALSE(PathMatches("*.x", "tasks[].x"));
  CHECK_FALSE(PathMatches("a.b", "a.b.c"));
  CHECK_FALSE(PathMatches("a.*", "a"));
  CHECK(PathMatches("[].value", "[].value"));
}

}  // namespace
}  // namespace flinkguard::conformance
