#pragma once

// A thin streaming JSON writer over RapidJSON with the conventions of Flink's Jackson setup:
// NaN/Infinity doubles become the strings "NaN"/"Infinity"/"-Infinity", doubles keep a
// fractional part ("3.0"), and keys are written in the order given.

#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace flinksim {

class JsonOut {
 public:
  JsonOut() : writer_(buffer_) {}
  JsonOut(const JsonOut&) = delete;
  JsonOut& operator=(const JsonOut&) = delete;

  JsonOut& BeginObject() {
    writer_.StartObject();
    return *this;
  }
  JsonOut& EndObject() {
    writer_.EndObject();
    return *this;
  }
  JsonOut& BeginArray() {
    writer_.StartArray();
    return *this;
  }
  JsonOut& EndArray() {
    writer_.EndArray();
    return *this;
  }
  JsonOut& Key(std::string_view key) {
    writer_.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
    return *this;
  }
  JsonOut& Str(std::string_view value) {
    writer_.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
    return *this;
  }
  JsonOut& Int(int64_t value) {
    writer_.Int64(value);
    return *this;
  }
  JsonOut& Bool(bool value) {
    writer_.Bool(value);
    return *this;
  }
  JsonOut& Null() {
    writer_.Null();
    return *this;
  }
  // A Java double: NaN/Infinity as strings, otherwise always with a fractional part.
  JsonOut& Double(double value) {
    if (std::isnan(value)) return Str("NaN");
    if (std::isinf(value)) return Str(value > 0 ? "Infinity" : "-Infinity");
    writer_.Double(value);
    return *this;
  }
  // A double that is written without ".0" when integral (as the recorded checkpoint summary
  // percentiles show), NaN as "NaN".
  JsonOut& Number(double value) {
    if (std::isfinite(value) && value == std::floor(value) && std::fabs(value) < 9.0e15) {
      return Int(static_cast<int64_t>(value));
    }
    return Double(value);
  }
  // Raw, already serialised JSON value.
  JsonOut& Raw(std::string_view json) {
    writer_.RawValue(json.data(), json.size(), rapidjson::kObjectType);
    return *this;
  }

  // Shorthands for "key": value.
  JsonOut& KV(std::string_view k, std::string_view v) { return Key(k).Str(v); }
  JsonOut& KV(std::string_view k, const char* v) { return Key(k).Str(v); }
  JsonOut& KV(std::string_view k, const std::string& v) { return Key(k).Str(v); }
  JsonOut& KV(std::string_view k, int64_t v) { return Key(k).Int(v); }
  JsonOut& KV(std::string_view k, int v) { return Key(k).Int(v); }
  JsonOut& KV(std::string_view k, bool v) { return Key(k).Bool(v); }

  std::string str() const { return std::string(buffer_.GetString(), buffer_.GetSize()); }

 private:
  rapidjson::StringBuffer buffer_;
  rapidjson::Writer<rapidjson::StringBuffer> writer_;
};

}  // namespace flinksim
