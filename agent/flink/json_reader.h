#pragma once

#include <rapidjson/document.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rules/error.h"

namespace flinkguard {

// Parses `body` as JSON. A body that is empty, not JSON, or cut short is an Error (kInvalid)
// naming `context` (e.g. "cluster yarn-a GET /jobs/overview"), the parser's complaint and the
// byte offset, and the first bytes of the body (non-printable bytes escaped) so a person can
// see what the server really sent.
Result<rapidjson::Document> ParseJsonBody(std::string_view body, const std::string& context);

// Reads typed fields out of a parsed Flink response while collecting problems instead of
// throwing. Paths in problems use `$.a.b[3].c`. Flink specifics handled here: doubles that
// arrive as the strings "NaN"/"Infinity"/"-Infinity", metric values that are always strings,
// and fields that older versions do not send (absent is not an error unless required).
// Not thread-safe; one reader per response.
class JsonReader {
 public:
  explicit JsonReader(std::string context) : context_(std::move(context)) {}

  // The member `key` of `obj` when `obj` is an object that has it and it is not null.
  static const rapidjson::Value* Find(const rapidjson::Value& obj, std::string_view key);

  // Each returns the value, or std::nullopt when absent/null (recording a problem when
  // `required`) or of the wrong type (always recording a problem).
  std::optional<std::string> String(const rapidjson::Value& obj, std::string_view key,
                                    const std::string& path, bool required = false);
  std::optional<std::int64_t> Int(const rapidjson::Value& obj, std::string_view key,
                                  const std::string& path, bool required = false);
  std::optional<double> Number(const rapidjson::Value& obj, std::string_view key,
                               const std::string& path, bool required = false);
  std::optional<bool> Bool(const rapidjson::Value& obj, std::string_view key,
                           const std::string& path, bool required = false);
  // The member as an object/array, or nullptr (recording a problem when required or mistyped).
  const rapidjson::Value* Object(const rapidjson::Value& obj, std::string_view key,
                                 const std::string& path, bool required = false);
  const rapidjson::Value* Array(const rapidjson::Value& obj, std::string_view key,
                                const std::string& path, bool required = false);

  // Records a problem at `path`.
  void Problem(const std::string& path, const std::string& what);

  bool ok() const { return problems_.empty(); }
  const std::vector<std::string>& problems() const { return problems_; }
  const std::string& context() const { return context_; }
  // An Error (kInvalid) carrying the context and every problem, for callers that must fail.
  Error ToError() const;

 private:
  std::string context_;
  std::vector<std::string> problems_;
};

// "object", "array", "string", "number", "true"/"false" → "boolean", "null".
const char* JsonTypeName(const rapidjson::Value& v);

// Parses a Flink double written as a number or as a string ("812.35", "NaN", "Infinity",
// "-Infinity"). std::nullopt for anything else.
std::optional<double> ParseFlinkDouble(const rapidjson::Value& v);
std::optional<double> ParseFlinkDouble(std::string_view text);

}  // namespace flinkguard
