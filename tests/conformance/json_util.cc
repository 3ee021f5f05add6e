#include "tests/conformance/json_util.h"

#include <fstream>
#include <sstream>
#include <vector>

#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace flinkguard::conformance {

const char* JsonTypeName(JsonType type) {
  switch (type) {
    case JsonType::kNull: return "null";
    case JsonType::kBoolean: return "boolean";
    case JsonType::kNumber: return "number";
    case JsonType::kString: return "string";
    case JsonType::kObject: return "object";
    case JsonType::kArray: return "array";
  }
  return "?";
}

JsonType TypeOf(const rapidjson::Value& value) {
  switch (value.GetType()) {
    case rapidjson::kNullType: return JsonType::kNull;
    case rapidjson::kFalseType:
    case rapidjson::kTrueType: return JsonType::kBoolean;
    case rapidjson::kNumberType: return JsonType::kNumber;
    case rapidjson::kStringType: return JsonType::kString;
    case rapidjson::kObjectType: return JsonType::kObject;
    case rapidjson::kArrayType: return JsonType::kArray;
  }
  return JsonType::kNull;
}

Result<JsonDoc> ParseJson(std::string_view text) {
  auto doc = std::make_unique<rapidjson::Document>();
  // A copy keeps the document independent of `text`'s lifetime (ParseInsitu would not).
  doc->Parse(text.data(), text.size());
  if (doc->HasParseError()) {
    return Fail(Error::Invalid("not JSON at offset " + std::to_string(doc->GetErrorOffset()) +
                               ": " + rapidjson::GetParseError_En(doc->GetParseError())));
  }
  return doc;
}

Result<JsonDoc> ParseJsonFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Fail(Error::NotFound(path + ": cannot be read"));
  std::ostringstream buffer;
  buffer << in.rdbuf();
  auto doc = ParseJson(buffer.str());
  if (!doc) return Fail(Error::Invalid(path + ": " + doc.error().message));
  return doc;
}

std::string ToJson(const rapidjson::Value& value) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  value.Accept(writer);
  return {buffer.GetString(), buffer.GetSize()};
}

std::string JoinKey(std::string_view path, std::string_view key) {
  std::string out(path);
  if (!out.empty()) out += '.';
  out += key;
  return out;
}

std::string JoinIndex(std::string_view path, size_t index) {
  return std::string(path) + "[" + std::to_string(index) + "]";
}

std::string JoinAnyIndex(std::string_view path) { return std::string(path) + "[]"; }

namespace {

std::vector<std::string_view> Segments(std::string_view path) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    const size_t dot = path.find('.', start);
    if (dot == std::string_view::npos) {
      out.push_back(path.substr(start));
      return out;
    }
    out.push_back(path.substr(start, dot - start));
    start = dot + 1;
  }
}

// Splits "name[][]" into "name" and "[][]".
std::pair<std::string_view, std::string_view> SplitIndexSuffix(std::string_view segment) {
  size_t end = segment.size();
  while (end >= 2 && segment.substr(end - 2, 2) == "[]") end -= 2;
  return {segment.substr(0, end), segment.substr(end)};
}

}  // namespace

bool PathMatches(std::string_view pattern, std::string_view path) {
  const auto p = Segments(pattern);
  const auto a = Segments(path);
  if (p.size() != a.size()) return false;
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] == a[i]) continue;
    const auto [p_key, p_suffix] = SplitIndexSuffix(p[i]);
    const auto [a_key, a_suffix] = SplitIndexSuffix(a[i]);
    if (p_key != "*" || p_suffix != a_suffix || a_key.empty()) return false;
  }
  return true;
}

}  // namespace flinkguard::conformance
