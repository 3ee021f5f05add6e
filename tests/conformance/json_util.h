#pragma once

// Small JSON helpers shared by the shape comparator and the spec validator: JSON types, parsing
// into an owned document, and the path notation used in every report.
//
// Paths: object keys are joined with '.', array elements are written `[i]` in concrete paths
// (`history[3].external_path`) and `[]` in patterns (`history[].external_path`). The root is the
// empty string, so the elements of a bare top-level array are `[0]`, `[1]`, ... and `[]`.
// In a pattern, a key segment `*` matches any single key (`summary.*.p50`). Keys that contain
// '.' or '[' are not expressible in patterns; reports show them verbatim.

#include <memory>
#include <string>
#include <string_view>

#include <rapidjson/document.h>

#include "rules/error.h"

namespace flinkguard::conformance {

// The JSON type of a value. Integers and floating numbers are both kNumber.
enum class JsonType { kNull, kBoolean, kNumber, kString, kObject, kArray };

// "null", "boolean", "number", "string", "object", "array".
const char* JsonTypeName(JsonType type);
JsonType TypeOf(const rapidjson::Value& value);

// A parsed JSON document. Held by pointer so Values taken from it stay valid when the owner
// moves.
using JsonDoc = std::unique_ptr<rapidjson::Document>;

// Parses `text` as one JSON document (no NaN/Infinity literals, which Flink never writes: it
// writes them as strings). Error kInvalid with the offset and RapidJSON's reason on failure.
Result<JsonDoc> ParseJson(std::string_view text);

// Parses the file at `path`; kNotFound when it cannot be read, kInvalid when it is not JSON.
// Both messages name the path.
Result<JsonDoc> ParseJsonFile(const std::string& path);

// Compact serialisation, for messages.
std::string ToJson(const rapidjson::Value& value);

// Path building (see the notation above).
std::string JoinKey(std::string_view path, std::string_view key);
std::string JoinIndex(std::string_view path, size_t index);
std::string JoinAnyIndex(std::string_view path);  // `path[]`

// True when the normalised path `path` (indices written `[]`) matches `pattern`: the same number
// of segments, each equal or `*` for the key part.
bool PathMatches(std::string_view pattern, std::string_view path);

}  // namespace flinkguard::conformance
