#pragma once

// Validates JSON bodies against Flink's REST API stability snapshot
// (tests/contract/flink-rest/spec/rest_api_v1.<version>.snapshot): a list of calls, each with a
// url template, method, success status and Jackson-generated JSON schemas for the request and
// response bodies (`type`, `properties`, `items`, `additionalProperties`, `enum`, `required`,
// `id` and `$ref`).
//
// Rules applied to a body:
// * types are checked recursively through properties, items, additionalProperties and $refs;
//   "integer" needs a JSON number without a fraction; "number" accepts any JSON number and the
//   strings "NaN", "Infinity", "-Infinity" (Flink's Jackson setup writes non-finite doubles so);
//   "any" accepts everything;
// * a string value must be one of the schema's `enum` values when it has one;
// * null is accepted for every property (the schemas come from Java reference types and say
//   nothing about nullability), except that a `required` property may not be absent;
// * a property present in the body but declared nowhere in the schema is a failure (kUndeclared),
//   so an emulator cannot invent fields; an object schema with neither `properties` nor
//   `additionalProperties` admits no property at all (EmptyResponseBody must be `{}`), unless it
//   is one of the opaque types below;
// * properties declared but absent from the body are collected in SchemaReport::absent, as
//   patterns, so a test can assert that list equals the fields it deliberately leaves out.
//
// Known quirks of the snapshots, handled explicitly (each use is recorded in
// SchemaReport::notes):
// 1. Metric endpoints (GET .../metrics, .../watermarks, .../jm-operator-metrics): the snapshot
//    declares `"type":"any"` (and the OpenAPI yml an object / `{"metrics":[...]}`), but on the
//    wire Flink returns a bare JSON array. Those calls are validated against the wire format
//    instead: an array of {"id": string (required), "value": string} for plain metric lists;
//    {"id": string (required), "min"/"max"/"avg"/"sum": number, "skew": number (1.20+)} for
//    the aggregated ones (/jobs/metrics, /taskmanagers/metrics, .../subtasks/metrics).
// 2. Checkpoint statistics are polymorphic (Jackson @JsonTypeInfo): the snapshot lists the base
//    type CheckpointStatistics for `history[]` and omits the type id property. The type id is
//    `className` from 1.15 and `@class` before; it is required, must be one of completed,
//    failed, in_progress, and selects the subtype schema (CompletedCheckpointStatistics adds
//    external_path/discarded, FailedCheckpointStatistics adds failure_*; in_progress uses the
//    base). Where the schema names a subtype (`latest.completed`), the type id must agree.
// 3. Opaque types whose content Jackson cannot describe (custom serializers / raw JSON):
//    java.lang.Object (async operation results), JobPlanInfo.RawJson (the job plan),
//    JobAccumulatorsInfo.JobAccumulator, JobResourceRequirementsBody: any content.
// 4. In snapshots before 1.17, JobDetailsInfo.plan is declared a string but Flink writes it as
//    raw JSON (an object): any JSON value is accepted there.
// Error bodies are declared nowhere in the snapshot; ValidateErrorBody checks them instead.

#include <compare>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <rapidjson/document.h>

#include "rules/error.h"

namespace flinkguard::conformance {

struct FlinkVersion {
  int major = 0;
  int minor = 0;
  friend auto operator<=>(const FlinkVersion&, const FlinkVersion&) = default;
  std::string ToString() const;  // "1.18"
};

// The first "<major>.<minor>" in `text`: "1.18.0" -> 1.18, "flink-2.0" -> 2.0,
// "master-2.3-SNAPSHOT" -> 2.3. std::nullopt when there is none.
std::optional<FlinkVersion> ParseFlinkVersion(std::string_view text);

enum class SchemaIssueKind {
  kTypeMismatch,      // wrong JSON type for the declared schema type
  kEnum,              // a string not in the declared enum
  kUndeclared,        // a property the schema does not declare
  kMissingRequired,   // a `required` property (or a polymorphic type id) is absent
  kBadDiscriminator,  // a polymorphic type id with an unknown or contradicting value
  kUnresolvedRef,     // a $ref to an id the snapshot does not define
};

// "type-mismatch", "enum", "undeclared", "missing-required", "bad-discriminator",
// "unresolved-ref".
const char* SchemaIssueKindName(SchemaIssueKind kind);

struct SchemaIssue {
  SchemaIssueKind kind = SchemaIssueKind::kTypeMismatch;
  std::string path;      // concrete ("history[2].status"); "" is the root
  std::string pattern;   // normalised ("history[].status")
  std::string expected;  // declared type / enum values / ...
  std::string actual;    // what the body has
};

struct SchemaReport {
  std::vector<SchemaIssue> failures;
  std::set<std::string> absent;  // patterns of declared properties the body does not have
  std::set<std::string> notes;   // which quirks (see the header comment) were applied

  bool ok() const { return failures.empty(); }
  // True when a failure of `kind` has this pattern.
  bool Has(SchemaIssueKind kind, std::string_view pattern) const;
  // One line per failure, then the absent list, then the notes.
  std::string Summary() const;
};

// One loaded snapshot. Movable; the schemas stay where they are when it moves.
class SpecSnapshot {
 public:
  // Loads `path`; the Flink version is read from the file name (rest_api_v1.flink-1.18.0.snapshot
  // -> 1.18). kNotFound / kInvalid errors name the path.
  static Result<SpecSnapshot> Load(const std::string& path);
  // Parses snapshot text for `version`; `name` appears in messages.
  static Result<SpecSnapshot> Parse(std::string_view text, FlinkVersion version, std::string name);

  const std::string& name() const { return name_; }
  FlinkVersion version() const { return version_; }

  // Calls are keyed by method (upper case) and url template ("/jobs/:jobid/checkpoints").
  bool HasCall(std::string_view method, std::string_view url) const;
  std::vector<std::pair<std::string, std::string>> Calls() const;  // (method, url), file order
  // The documented success status (e.g. 200, 202); kNotFound when there is no such call.
  Result<int> SuccessStatus(std::string_view method, std::string_view url) const;

  // Validates a response / request body of the call; kNotFound when the snapshot has no such
  // call. The report is never "ok" by omission: failures list everything found.
  Result<SchemaReport> ValidateResponse(std::string_view method, std::string_view url,
                                        const rapidjson::Value& body) const;
  Result<SchemaReport> ValidateRequest(std::string_view method, std::string_view url,
                                       const rapidjson::Value& body) const;

  // The schema with this `id`, or nullptr.
  const rapidjson::Value* FindSchemaById(std::string_view id) const;

 private:
  SpecSnapshot() = default;
  const rapidjson::Value* FindCall(std::string_view method, std::string_view url) const;
  Result<SchemaReport> Validate(std::string_view method, std::string_view url,
                                const rapidjson::Value& body, const char* which) const;

  std::string name_;
  FlinkVersion version_;
  std::unique_ptr<rapidjson::Document> doc_;
  std::unique_ptr<rapidjson::Document> wire_;  // quirk 1: the metric wire formats
  std::map<std::pair<std::string, std::string>, const rapidjson::Value*> calls_;
  std::vector<std::pair<std::string, std::string>> call_order_;
  std::unordered_map<std::string, const rapidjson::Value*> ids_;
};

// Checks a Flink error body: exactly {"errors": [<string>, ...]} with at least one string
// (ErrorResponseBody). Undeclared fields and wrong types are failures as above.
SchemaReport ValidateErrorBody(const rapidjson::Value& body);

}  // namespace flinkguard::conformance
