#include "tests/conformance/spec_schema.h"

#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/conformance/json_util.h"

namespace flinkguard::conformance {

std::string FlinkVersion::ToString() const {
  return std::to_string(major) + "." + std::to_string(minor);
}

std::optional<FlinkVersion> ParseFlinkVersion(std::string_view text) {
  const auto digit = [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; };
  for (size_t i = 0; i < text.size(); ++i) {
    if (!digit(text[i]) || (i > 0 && digit(text[i - 1]))) continue;
    size_t j = i;
    int major = 0;
    while (j < text.size() && digit(text[j]) && major < 1000)
      major = major * 10 + (text[j++] - '0');
    if (j + 1 >= text.size() || text[j] != '.' || !digit(text[j + 1])) continue;
    ++j;
    int minor = 0;
    while (j < text.size() && digit(text[j]) && minor < 1000)
      minor = minor * 10 + (text[j++] - '0');
    return FlinkVersion{major, minor};
  }
  return std::nullopt;
}

const char* SchemaIssueKindName(SchemaIssueKind kind) {
  switch (kind) {
    case SchemaIssueKind::kTypeMismatch: return "type-mismatch";
    case SchemaIssueKind::kEnum: return "enum";
    case SchemaIssueKind::kUndeclared: return "undeclared";
    case SchemaIssueKind::kMissingRequired: return "missing-required";
    case SchemaIssueKind::kBadDiscriminator: return "bad-discriminator";
    case SchemaIssueKind::kUnresolvedRef: return "unresolved-ref";
  }
  return "?";
}

bool SchemaReport::Has(SchemaIssueKind kind, std::string_view pattern) const {
  for (const auto& f : failures) {
    if (f.kind == kind && f.pattern == pattern) return true;
  }
  return false;
}

std::string SchemaReport::Summary() const {
  std::ostringstream out;
  for (const auto& f : failures) {
    out << "FAIL " << SchemaIssueKindName(f.kind) << " " << (f.path.empty() ? "<root>" : f.path)
        << " (schema " << f.expected << ", body " << f.actual << ")\n";
  }
  if (!absent.empty()) {
    out << "absent:";
    for (const auto& a : absent) out << " " << a;
    out << "\n";
  }
  for (const auto& n : notes) out << "note: " << n << "\n";
  return out.str();
}

namespace {

constexpr std::string_view kCheckpointStats = "checkpoints:CheckpointStatistics";

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::string_view StringMember(const rapidjson::Value& v, const char* key) {
  if (!v.IsObject()) return {};
  auto m = v.FindMember(key);
  if (m == v.MemberEnd() || !m->value.IsString()) return {};
  return {m->value.GetString(), m->value.GetStringLength()};
}

// Quirk 3: types Jackson cannot describe; anything goes.
bool IsOpaque(std::string_view id) {
  return EndsWith(id, ":java:lang:Object") || EndsWith(id, ":JobPlanInfo:RawJson") ||
         EndsWith(id, ":JobAccumulatorsInfo:JobAccumulator") ||
         EndsWith(id, ":JobResourceRequirementsBody");
}

// Quirk 2: the CheckpointStatistics family; returns the base id or "".
std::string_view CheckpointStatsBase(std::string_view id) {
  const size_t at = id.find(kCheckpointStats);
  if (at == std::string_view::npos) return {};
  const size_t end = at + kCheckpointStats.size();
  if (end != id.size() && id[end] != ':') return {};  // CheckpointStatisticsXyz is not the family
  return id.substr(0, end);
}

// Quirk 1: the metric endpoints and which wire format they use.
enum class MetricWire { kNone, kPlain, kAggregated };

MetricWire MetricWireOf(std::string_view method, std::string_view url) {
  if (method != "GET") return MetricWire::kNone;
  static constexpr std::string_view kPlain[] = {
      "/jobmanager/metrics",
      "/jobs/:jobid/metrics",
      "/jobs/:jobid/vertices/:vertexid/metrics",
      "/jobs/:jobid/vertices/:vertexid/subtasks/:subtaskindex/metrics",
      "/jobs/:jobid/vertices/:vertexid/watermarks",
      "/jobs/:jobid/vertices/:vertexid/jm-operator-metrics",
      "/taskmanagers/:taskmanagerid/metrics",
  };
  static constexpr std::string_view kAggregated[] = {
      "/jobs/metrics",
      "/jobs/:jobid/vertices/:vertexid/subtasks/metrics",
      "/taskmanagers/metrics",
  };
  for (auto u : kPlain) {
    if (u == url) return MetricWire::kPlain;
  }
  for (auto u : kAggregated) {
    if (u == url) return MetricWire::kAggregated;
  }
  return MetricWire::kNone;
}

std::string WireSchemas(FlinkVersion version) {
  const std::string skew = version >= FlinkVersion{1, 20} ? R"(,"skew":{"type":"number"})" : "";
  return R"({"plain":{"type":"array","items":{"type":"object","id":"wire:MetricValue",)"
         R"("properties":{"id":{"type":"string","required":true},"value":{"type":"string"}}}},)"
         R"("aggregated":{"type":"array","items":{"type":"object","id":"wire:AggregatedMetric",)"
         R"("properties":{"id":{"type":"string","required":true},"min":{"type":"number"},)"
         R"("max":{"type":"number"},"avg":{"type":"number"},"sum":{"type":"number"})" +
         skew + "}}}}";
}

std::string DescribeValue(const rapidjson::Value& v) {
  if (v.IsString()) {
    std::string s(v.GetString(), v.GetStringLength());
    if (s.size() > 40) s = s.substr(0, 37) + "...";
    return "string \"" + s + "\"";
  }
  if (v.IsNumber() && !v.IsInt64() && !v.IsUint64()) return "number " + ToJson(v);
  return JsonTypeName(TypeOf(v));
}

class Validator {
 public:
  Validator(const SpecSnapshot* spec, SchemaReport& report) : spec_(spec), report_(report) {}

  void Check(const rapidjson::Value& schema, const rapidjson::Value& body, const std::string& path,
             const std::string& pattern) {
    const rapidjson::Value* s = Resolve(schema, path, pattern);
    if (s == nullptr || body.IsNull()) return;
    const std::string_view type = StringMember(*s, "type");
    if (type.empty() || type == "any") return;
    if (type == "integer") {
      if (!body.IsInt64() && !body.IsUint64())
        Fail(SchemaIssueKind::kTypeMismatch, path, pattern, "integer", DescribeValue(body));
    } else if (type == "number") {
      if (body.IsNumber()) return;
      const std::string_view str = body.IsString() ? body.GetString() : "";
      if (str == "NaN" || str == "Infinity" || str == "-Infinity") return;
      Fail(SchemaIssueKind::kTypeMismatch, path, pattern, "number", DescribeValue(body));
    } else if (type == "string") {
      if (!body.IsString()) {
        Fail(SchemaIssueKind::kTypeMismatch, path, pattern, "string", DescribeValue(body));
        return;
      }
      CheckEnum(*s, body, path, pattern);
    } else if (type == "boolean") {
      if (!body.IsBool())
        Fail(SchemaIssueKind::kTypeMismatch, path, pattern, "boolean", DescribeValue(body));
    } else if (type == "array") {
      if (!body.IsArray()) {
        Fail(SchemaIssueKind::kTypeMismatch, path, pattern, "array", DescribeValue(body));
        return;
      }
      auto items = s->FindMember("items");
      if (items == s->MemberEnd() || !items->value.IsObject()) return;
      for (rapidjson::SizeType i = 0; i < body.Size(); ++i) {
        Check(items->value, body[i], JoinIndex(path, i), JoinAnyIndex(pattern));
      }
    } else if (type == "object") {
      if (!body.IsObject()) {
        Fail(SchemaIssueKind::kTypeMismatch, path, pattern, "object", DescribeValue(body));
        return;
      }
      CheckObject(*s, body, path, pattern);
    } else {
      Fail(SchemaIssueKind::kTypeMismatch, path, pattern,
           "unknown schema type '" + std::string(type) + "'", DescribeValue(body));
    }
  }

 private:
  void Fail(SchemaIssueKind kind, const std::string& path, const std::string& pattern,
            std::string expected, std::string actual) {
    report_.failures.push_back(
        SchemaIssue{kind, path, pattern, std::move(expected), std::move(actual)});
  }

  const rapidjson::Value* Resolve(const rapidjson::Value& schema, const std::string& path,
                                  const std::string& pattern) {
    const std::string_view ref = StringMember(schema, "$ref");
    if (ref.empty()) return &schema;
    const rapidjson::Value* target = spec_ ? spec_->FindSchemaById(ref) : nullptr;
    if (target == nullptr) {
      Fail(SchemaIssueKind::kUnresolvedRef, path, pattern, std::string(ref), "-");
    }
    return target;
  }

  void CheckEnum(const rapidjson::Value& schema, const rapidjson::Value& body,
                 const std::string& path, const std::string& pattern) {
    auto e = schema.FindMember("enum");
    if (e == schema.MemberEnd() || !e->value.IsArray()) return;
    std::string allowed;
    for (const auto& option : e->value.GetArray()) {
      if (option == body) return;
      if (!allowed.empty()) allowed += "|";
      allowed += option.IsString() ? option.GetString() : ToJson(option);
    }
    Fail(SchemaIssueKind::kEnum, path, pattern, "enum " + allowed, DescribeValue(body));
  }

  void CheckObject(const rapidjson::Value& schema, const rapidjson::Value& body,
                   const std::string& path, const std::string& pattern) {
    const std::string_view id = StringMember(schema, "id");
    if (IsOpaque(id)) {
      report_.notes.insert("opaque type " + std::string(id) + " at '" + pattern +
                           "': content not described by the snapshot, not checked");
      return;
    }
    const std::string_view base = CheckpointStatsBase(id);
    if (!base.empty()) {
      CheckCheckpointStatistics(schema, id, base, body, path, pattern);
      return;
    }
    CheckMembers(schema, body, path, pattern, {});
  }

  // Quirk 2 (see the header).
  void CheckCheckpointStatistics(const rapidjson::Value& schema, std::string_view id,
                                 std::string_view base, const rapidjson::Value& body,
                                 const std::string& path, const std::string& pattern) {
    const bool modern = spec_ == nullptr || spec_->version() >= FlinkVersion{1, 15};
    const std::string key = modern ? "className" : "@class";
    const std::string other = modern ? "@class" : "className";
    report_.notes.insert("checkpoint statistics: subtype selected by the type id '" + key +
                         "' (not listed in the snapshot)");
    if (body.HasMember(other.c_str())) {
      Fail(SchemaIssueKind::kUndeclared, JoinKey(path, other), JoinKey(pattern, other),
           "type id is '" + key + "' in this version", "present");
    }
    const std::vector<std::string> skip{key, other};
    auto m = body.FindMember(key.c_str());
    if (m == body.MemberEnd() || !m->value.IsString()) {
      Fail(m == body.MemberEnd() ? SchemaIssueKind::kMissingRequired
                                 : SchemaIssueKind::kTypeMismatch,
           JoinKey(path, key), JoinKey(pattern, key), "type id completed|failed|in_progress",
           m == body.MemberEnd() ? "absent" : DescribeValue(m->value));
      CheckMembers(schema, body, path, pattern, skip);
      return;
    }
    const std::string_view value(m->value.GetString(), m->value.GetStringLength());
    std::string target(base);
    if (value == "completed") {
      target += ":CompletedCheckpointStatistics";
    } else if (value == "failed") {
      target += ":FailedCheckpointStatistics";
    } else if (value != "in_progress") {
      Fail(SchemaIssueKind::kBadDiscriminator, JoinKey(path, key), JoinKey(pattern, key),
           "completed|failed|in_progress", DescribeValue(m->value));
      CheckMembers(schema, body, path, pattern, skip);
      return;
    }
    if (id != base && id != target) {
      Fail(SchemaIssueKind::kBadDiscriminator, JoinKey(path, key), JoinKey(pattern, key),
           "declared " + std::string(id.substr(base.size() + 1)), DescribeValue(m->value));
    }
    const rapidjson::Value* subtype = spec_ ? spec_->FindSchemaById(target) : nullptr;
    if (subtype == nullptr) {
      Fail(SchemaIssueKind::kUnresolvedRef, path, pattern, target, "-");
      subtype = &schema;
    }
    CheckMembers(*subtype, body, path, pattern, skip);
  }

  void CheckMembers(const rapidjson::Value& schema, const rapidjson::Value& body,
                    const std::string& path, const std::string& pattern,
                    const std::vector<std::string>& skip) {
    const std::string_view id = StringMember(schema, "id");
    auto props_it = schema.FindMember("properties");
    const rapidjson::Value* props =
        props_it != schema.MemberEnd() && props_it->value.IsObject() ? &props_it->value : nullptr;
    auto ap_it = schema.FindMember("additionalProperties");
    const rapidjson::Value* ap = nullptr;
    bool ap_any = false;
    if (ap_it != schema.MemberEnd()) {
      if (ap_it->value.IsObject()) ap = &ap_it->value;
      if (ap_it->value.IsTrue()) ap_any = true;
    }
    for (auto m = body.MemberBegin(); m != body.MemberEnd(); ++m) {
      const std::string key(m->name.GetString(), m->name.GetStringLength());
      bool skipped = false;
      for (const auto& s : skip) skipped = skipped || s == key;
      if (skipped) continue;
      if (props != nullptr && props->HasMember(m->name)) {
        const rapidjson::Value& prop = (*props)[m->name];
        // Quirk 4: JobDetailsInfo.plan declared a string before 1.17, raw JSON on the wire.
        if (key == "plan" && EndsWith(id, ":JobDetailsInfo") &&
            StringMember(prop, "type") == "string") {
          report_.notes.insert("JobDetailsInfo.plan declared string, written as raw JSON");
          continue;
        }
        Check(prop, m->value, JoinKey(path, key), JoinKey(pattern, key));
      } else if (ap != nullptr) {
        Check(*ap, m->value, JoinKey(path, key), JoinKey(pattern, "*"));
      } else if (!ap_any) {
        Fail(SchemaIssueKind::kUndeclared, JoinKey(path, key), JoinKey(pattern, key),
             "not declared", DescribeValue(m->value));
      }
    }
    if (props == nullptr) return;
    for (auto p = props->MemberBegin(); p != props->MemberEnd(); ++p) {
      if (body.HasMember(p->name)) continue;
      const std::string key(p->name.GetString(), p->name.GetStringLength());
      auto required = p->value.FindMember("required");
      if (required != p->value.MemberEnd() && required->value.IsTrue()) {
        Fail(SchemaIssueKind::kMissingRequired, JoinKey(path, key), JoinKey(pattern, key),
             "required", "absent");
      }
      report_.absent.insert(JoinKey(pattern, key));
    }
  }

  const SpecSnapshot* spec_;
  SchemaReport& report_;
};

void IndexIds(const rapidjson::Value& schema,
              std::unordered_map<std::string, const rapidjson::Value*>& ids) {
  if (!schema.IsObject()) return;
  const std::string_view id = StringMember(schema, "id");
  if (!id.empty() && !schema.HasMember("$ref")) ids.emplace(std::string(id), &schema);
  auto props = schema.FindMember("properties");
  if (props != schema.MemberEnd() && props->value.IsObject()) {
    for (auto p = props->value.MemberBegin(); p != props->value.MemberEnd(); ++p) {
      IndexIds(p->value, ids);
    }
  }
  for (const char* key : {"items", "additionalProperties"}) {
    auto m = schema.FindMember(key);
    if (m != schema.MemberEnd()) IndexIds(m->value, ids);
  }
}

}  // namespace

Result<SpecSnapshot> SpecSnapshot::Load(const std::string& path) {
  const std::string file = std::filesystem::path(path).filename().string();
  const auto version = ParseFlinkVersion(file);
  if (!version) return Fail(Error::Invalid(path + ": no Flink version in the file name"));
  std::ifstream in(path, std::ios::binary);
  if (!in) return Fail(Error::NotFound(path + ": cannot be read"));
  std::ostringstream text;
  text << in.rdbuf();
  return Parse(text.str(), *version, file);
}

Result<SpecSnapshot> SpecSnapshot::Parse(std::string_view text, FlinkVersion version,
                                         std::string name) {
  auto doc = ParseJson(text);
  if (!doc) return Fail(Error::Invalid(name + ": " + doc.error().message));
  SpecSnapshot spec;
  spec.name_ = std::move(name);
  spec.version_ = version;
  spec.doc_ = std::move(*doc);
  const rapidjson::Value& root = *spec.doc_;
  if (!root.IsObject() || !root.HasMember("calls") || !root["calls"].IsArray()) {
    return Fail(Error::Invalid(spec.name_ + ": no \"calls\" array"));
  }
  for (const auto& call : root["calls"].GetArray()) {
    const std::string method(StringMember(call, "method"));
    const std::string url(StringMember(call, "url"));
    if (method.empty() || url.empty() || !call.HasMember("request") ||
        !call.HasMember("response")) {
      return Fail(Error::Invalid(spec.name_ + ": a call without method/url/request/response"));
    }
    spec.calls_[{method, url}] = &call;
    spec.call_order_.emplace_back(method, url);
    IndexIds(call["request"], spec.ids_);
    IndexIds(call["response"], spec.ids_);
  }
  auto wire = ParseJson(WireSchemas(version));
  if (!wire) return Fail(Error::Permanent("built-in metric schema: " + wire.error().message));
  spec.wire_ = std::move(*wire);
  return spec;
}

const rapidjson::Value* SpecSnapshot::FindCall(std::string_view method,
                                               std::string_view url) const {
  auto it = calls_.find({std::string(method), std::string(url)});
  return it == calls_.end() ? nullptr : it->second;
}

bool SpecSnapshot::HasCall(std::string_view method, std::string_view url) const {
  return FindCall(method, url) != nullptr;
}

std::vector<std::pair<std::string, std::string>> SpecSnapshot::Calls() const { return call_order_; }

Result<int> SpecSnapshot::SuccessStatus(std::string_view method, std::string_view url) const {
  const rapidjson::Value* call = FindCall(method, url);
  if (call == nullptr) {
    return Fail(
        Error::NotFound(name_ + ": no call " + std::string(method) + " " + std::string(url)));
  }
  const std::string_view status = StringMember(*call, "status-code");
  int code = 0;
  for (char c : status) {
    if (!std::isdigit(static_cast<unsigned char>(c))) break;
    code = code * 10 + (c - '0');
  }
  if (code == 0) return Fail(Error::Invalid(name_ + ": bad status-code '" + std::string(status)));
  return code;
}

const rapidjson::Value* SpecSnapshot::FindSchemaById(std::string_view id) const {
  auto it = ids_.find(std::string(id));
  return it == ids_.end() ? nullptr : it->second;
}

Result<SchemaReport> SpecSnapshot::Validate(std::string_view method, std::string_view url,
                                            const rapidjson::Value& body, const char* which) const {
  const rapidjson::Value* call = FindCall(method, url);
  if (call == nullptr) {
    return Fail(
        Error::NotFound(name_ + ": no call " + std::string(method) + " " + std::string(url)));
  }
  SchemaReport report;
  Validator validator(this, report);
  const rapidjson::Value* schema = &(*call)[which];
  const MetricWire wire =
      std::string_view(which) == "response" ? MetricWireOf(method, url) : MetricWire::kNone;
  if (wire != MetricWire::kNone) {
    schema = &(*wire_)[wire == MetricWire::kPlain ? "plain" : "aggregated"];
    report.notes.insert("metric endpoint: the snapshot declares " + ToJson((*call)[which]) +
                        "; validated against the wire format (a bare array)");
  }
  validator.Check(*schema, body, "", "");
  return report;
}

Result<SchemaReport> SpecSnapshot::ValidateResponse(std::string_view method, std::string_view url,
                                                    const rapidjson::Value& body) const {
  return Validate(method, url, body, "response");
}

Result<SchemaReport> SpecSnapshot::ValidateRequest(std::string_view method, std::string_view url,
                                                   const rapidjson::Value& body) const {
  return Validate(method, url, body, "request");
}

SchemaReport ValidateErrorBody(const rapidjson::Value& body) {
  static const JsonDoc schema =
      ParseJson(R"({"type":"object","id":"ErrorResponseBody","properties":)"
                R"({"errors":{"type":"array","required":true,"items":{"type":"string"}}}})")
          .value();
  SchemaReport report;
  Validator(nullptr, report).Check(*schema, body, "", "");
  if (body.IsObject() && body.HasMember("errors") && body["errors"].IsArray() &&
      body["errors"].Empty()) {
    report.failures.push_back(SchemaIssue{SchemaIssueKind::kTypeMismatch, "errors", "errors",
                                          "non-empty array of strings", "empty array"});
  }
  return report;
}

}  // namespace flinkguard::conformance
