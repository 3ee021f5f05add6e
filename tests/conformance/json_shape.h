#pragma once

// Compares the *shape* of a JSON document with a reference document (typically a response body
// recorded from a real Flink cluster): which fields exist, where, and with which JSON type.
// Values are never compared. Used to check that flinksim answers like Flink does.
//
// Semantics, in the order they are applied to each (reference, actual) pair of values:
// * A path listed in `required_null` must be null in the actual document.
// * null in the reference matches anything (Flink writes null for absent optional objects such
//   as `latest.failed`); a non-null actual value there is reported as kNotCompared (info),
//   because there is nothing to compare it with.
// * null in the actual document where the reference has a value is a type mismatch, unless the
//   path is listed in `nullable` (then kNotCompared, info).
// * Integers and floating numbers are the same type ("number"). A string where the reference
//   has a number (or the reverse) is a mismatch unless the path is in `number_or_string` (Flink
//   writes NaN/Infinity doubles as the strings "NaN", "Infinity", "-Infinity").
// * Objects: every reference key must be present (else kMissing, a failure, unless listed in
//   `omitted` with a reason: then kMissing as info, carrying the reason); keys only in the
//   actual document are kExtra (info) and are not descended into.
// * Maps with a fixed key vocabulary (`enum_key_maps`, e.g. `timestamps`, `status-counts`,
//   `vertices[].tasks`) are objects as above, but the values of extra keys are also checked
//   against the map's value shape (the reference's first value).
// * Maps keyed by identifiers (`id_key_maps`, e.g. checkpoint `tasks` keyed by vertex id): key
//   sets are not compared; every actual value is checked against the reference's first value.
//   In patterns their keys are written `*`.
// * Arrays: every actual element is checked against one reference element: the one with the same
//   discriminator (`className` / `@class` by default, for polymorphic arrays such as checkpoint
//   `history`) when the actual element has one, else the first. An actual element whose
//   discriminator value appears in no reference element is kNotCompared (info). An empty actual
//   array where the reference has elements, or a non-empty one where the reference is empty,
//   is kNotCompared (info); listing the path in `non_empty` makes an empty actual array (or
//   id-keyed map) a failure (kEmpty).
// * Rules that must match something to mean anything (`omitted`, `required_null`, `non_empty`)
//   are failures (kUnusedRule) when they matched nothing, so the lists cannot rot; an omission
//   without a reason is a failure (kBadRule).
//
// Paths use the notation of json_util.h. Rule paths are patterns (`[]` for any index, `*` for
// any key).

#include <string>
#include <string_view>
#include <vector>

#include <rapidjson/document.h>

namespace flinkguard::conformance {

enum class DiffKind {
  kMissing,       // in the reference, absent from the actual document
  kTypeMismatch,  // present in both, different JSON types
  kExtra,         // only in the actual document (info)
  kNotCompared,   // nothing to compare with (info): empty array, null reference, ...
  kEmpty,         // an array or id-keyed map required to be non-empty is empty
  kUnusedRule,    // an omission / required-null / non-empty rule that matched nothing
  kBadRule,       // an omission without a reason
};

// "missing", "type-mismatch", "extra", "not-compared", "empty", "unused-rule", "bad-rule".
const char* DiffKindName(DiffKind kind);

struct ShapeDiff {
  DiffKind kind = DiffKind::kMissing;
  std::string path;      // concrete: "history[3].external_path"; "" is the root
  std::string pattern;   // normalised: "history[].external_path"
  std::string expected;  // JSON type in the reference, or "absent"
  std::string actual;    // JSON type in the actual document, or "absent"
  std::string note;      // omission reason, discriminator, rule text, ...
  bool failure = false;  // false for info entries (kExtra, kNotCompared, allowed kMissing)
};

// A field deliberately left out of the actual document, and why (e.g. {"plan", "job graph not
// emulated"}). `path` is a pattern.
struct Omission {
  std::string path;
  std::string reason;
};

struct ShapeRules {
  std::vector<Omission> omitted;
  std::vector<std::string> number_or_string;
  std::vector<std::string> nullable;
  std::vector<std::string> required_null;
  std::vector<std::string> non_empty;
  std::vector<std::string> enum_key_maps;
  std::vector<std::string> id_key_maps;
  std::vector<std::string> discriminators{"className", "@class"};
};

struct ShapeReport {
  std::vector<ShapeDiff> diffs;  // in document order

  bool ok() const;  // no diff is a failure
  std::vector<ShapeDiff> Failures() const;
  std::vector<ShapeDiff> Infos() const;
  // True when a diff of `kind` has this concrete path (or pattern, when `path` contains "[]").
  bool Has(DiffKind kind, std::string_view path) const;
  // One line per distinct (failure, kind, pattern, types, note), with a count and the first
  // concrete path; failures first. Info lines are left out unless `with_info`.
  std::string Summary(bool with_info = true) const;
};

// Compares the shape of `actual` with `reference` under `rules` (see the header comment).
ShapeReport CompareShape(const rapidjson::Value& reference, const rapidjson::Value& actual,
                         const ShapeRules& rules = {});

}  // namespace flinkguard::conformance
