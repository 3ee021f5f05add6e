#include "agent/flink/json_reader.h"

#include <rapidjson/error/en.h>

#include <charconv>
#include <cmath>
#include <limits>

namespace flinkguard {
namespace {

std::string Excerpt(std::string_view body) {
  constexpr std::size_t kMax = 80;
  std::string out;
  for (std::size_t i = 0; i < body.size() && i < kMax; ++i) {
    const auto c = static_cast<unsigned char>(body[i]);
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      static const char* kHex = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
  if (body.size() > kMax) out += "...";
  return out;
}

std::string Join(const std::string& path, std::string_view key) {
  return path + "." + std::string(key);
}

}  // namespace

Result<rapidjson::Document> ParseJsonBody(std::string_view body, const std::string& context) {
  rapidjson::Document doc;
  if (body.empty()) return Fail(Error::Invalid(context + ": empty body where JSON was expected"));
  doc.Parse<rapidjson::kParseNanAndInfFlag>(body.data(), body.size());
  if (doc.HasParseError()) {
    return Fail(Error::Invalid(context + ": body is not valid JSON (" +
                               rapidjson::GetParseError_En(doc.GetParseError()) + " at byte " +
                               std::to_string(doc.GetErrorOffset()) + " of " +
                               std::to_string(body.size()) + "): '" + Excerpt(body) + "'"));
  }
  return doc;
}

const char* JsonTypeName(const rapidjson::Value& v) {
  switch (v.GetType()) {
    case rapidjson::kNullType: return "null";
    case rapidjson::kFalseType:
    case rapidjson::kTrueType: return "boolean";
    case rapidjson::kObjectType: return "object";
    case rapidjson::kArrayType: return "array";
    case rapidjson::kStringType: return "string";
    case rapidjson::kNumberType: return "number";
  }
  return "unknown";
}

std::optional<double> ParseFlinkDouble(std::string_view text) {
  if (text == "NaN") return std::numeric_limits<double>::quiet_NaN();
  if (text == "Infinity") return std::numeric_limits<double>::infinity();
  if (text == "-Infinity") return -std::numeric_limits<double>::infinity();
  if (text.empty()) return std::nullopt;
  double out = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, out);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return out;
}

std::optional<double> ParseFlinkDouble(const rapidjson::Value& v) {
  if (v.IsNumber()) return v.GetDouble();
  if (v.IsString()) return ParseFlinkDouble(std::string_view(v.GetString(), v.GetStringLength()));
  return std::nullopt;
}

const rapidjson::Value* JsonReader::Find(const rapidjson::Value& obj, std::string_view key) {
  if (!obj.IsObject()) return nullptr;
  auto it = obj.FindMember(rapidjson::StringRef(key.data(), key.size()));
  if (it == obj.MemberEnd() || it->value.IsNull()) return nullptr;
  return &it->value;
}

void JsonReader::Problem(const std::string& path, const std::string& what) {
  problems_.push_back(path + ": " + what);
}

Error JsonReader::ToError() const {
  std::string msg = context_ + ": unexpected response shape";
  for (const std::string& p : problems_) msg += "; " + p;
  return Error::Invalid(msg);
}

std::optional<std::string> JsonReader::String(const rapidjson::Value& obj, std::string_view key,
                                              const std::string& path, bool required) {
  const rapidjson::Value* v = Find(obj, key);
  if (v == nullptr) {
    if (required) Problem(Join(path, key), "missing (expected a string)");
    return std::nullopt;
  }
  if (!v->IsString()) {
    Problem(Join(path, key), std::string("expected a string, found ") + JsonTypeName(*v));
    return std::nullopt;
  }
  return std::string(v->GetString(), v->GetStringLength());
}

std::optional<std::int64_t> JsonReader::Int(const rapidjson::Value& obj, std::string_view key,
                                            const std::string& path, bool required) {
  const rapidjson::Value* v = Find(obj, key);
  if (v == nullptr) {
    if (required) Problem(Join(path, key), "missing (expected an integer)");
    return std::nullopt;
  }
  if (v->IsInt64()) return v->GetInt64();
  if (v->IsUint64()) {
    Problem(Join(path, key), "integer out of range");
    return std::nullopt;
  }
  if (v->IsDouble()) {
    // Flink writes some long fields through double-typed getters (e.g. summary averages).
    const double d = v->GetDouble();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.0e18) {
      return static_cast<std::int64_t>(d);
    }
  }
  Problem(Join(path, key), std::string("expected an integer, found ") + JsonTypeName(*v));
  return std::nullopt;
}

std::optional<double> JsonReader::Number(const rapidjson::Value& obj, std::string_view key,
                                         const std::string& path, bool required) {
  const rapidjson::Value* v = Find(obj, key);
  if (v == nullptr) {
    if (required) Problem(Join(path, key), "missing (expected a number)");
    return std::nullopt;
  }
  if (auto d = ParseFlinkDouble(*v)) return d;
  Problem(Join(path, key), std::string("expected a number, found ") + JsonTypeName(*v));
  return std::nullopt;
}

std::optional<bool> JsonReader::Bool(const rapidjson::Value& obj, std::string_view key,
                                     const std::string& path, bool required) {
  const rapidjson::Value* v = Find(obj, key);
  if (v == nullptr) {
    if (required) Problem(Join(path, key), "missing (expected a boolean)");
    return std::nullopt;
  }
  if (!v->IsBool()) {
    Problem(Join(path, key), std::string("expected a boolean, found ") + JsonTypeName(*v));
    return std::nullopt;
  }
  return v->GetBool();
}

const rapidjson::Value* JsonReader::Object(const rapidjson::Value& obj, std::string_view key,
                                           const std::string& path, bool required) {
  const rapidjson::Value* v = Find(obj, key);
  if (v == nullptr) {
    if (required) Problem(Join(path, key), "missing (expected an object)");
    return nullptr;
  }
  if (!v->IsObject()) {
    Problem(Join(path, key), std::string("expected an object, found ") + JsonTypeName(*v));
    return nullptr;
  }
  return v;
}

const rapidjson::Value* JsonReader::Array(const rapidjson::Value& obj, std::string_view key,
                                          const std::string& path, bool required) {
  const rapidjson::Value* v = Find(obj, key);
  if (v == nullptr) {
    if (required) Problem(Join(path, key), "missing (expected an array)");
    return nullptr;
  }
  if (!v->IsArray()) {
    Problem(Join(path, key), std::string("expected an array, found ") + JsonTypeName(*v));
    return nullptr;
  }
  return v;
}

}  // namespace flinkguard
