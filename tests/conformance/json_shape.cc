#include "tests/conformance/json_shape.h"

#include <map>
#include <sstream>
#include <tuple>

#include "tests/conformance/json_util.h"

namespace flinkguard::conformance {

const char* DiffKindName(DiffKind kind) {
  switch (kind) {
    case DiffKind::kMissing: return "missing";
    case DiffKind::kTypeMismatch: return "type-mismatch";
    case DiffKind::kExtra: return "extra";
    case DiffKind::kNotCompared: return "not-compared";
    case DiffKind::kEmpty: return "empty";
    case DiffKind::kUnusedRule: return "unused-rule";
    case DiffKind::kBadRule: return "bad-rule";
  }
  return "?";
}

bool ShapeReport::ok() const {
  for (const auto& d : diffs) {
    if (d.failure) return false;
  }
  return true;
}

std::vector<ShapeDiff> ShapeReport::Failures() const {
  std::vector<ShapeDiff> out;
  for (const auto& d : diffs) {
    if (d.failure) out.push_back(d);
  }
  return out;
}

std::vector<ShapeDiff> ShapeReport::Infos() const {
  std::vector<ShapeDiff> out;
  for (const auto& d : diffs) {
    if (!d.failure) out.push_back(d);
  }
  return out;
}

bool ShapeReport::Has(DiffKind kind, std::string_view path) const {
  const bool by_pattern = path.find("[]") != std::string_view::npos;
  for (const auto& d : diffs) {
    if (d.kind == kind && (by_pattern ? d.pattern == path : d.path == path)) return true;
  }
  return false;
}

std::string ShapeReport::Summary(bool with_info) const {
  using Key = std::tuple<bool, DiffKind, std::string, std::string, std::string, std::string>;
  struct Group {
    size_t count = 0;
    std::string first_path;
  };
  std::map<Key, Group> groups;
  for (const auto& d : diffs) {
    if (!d.failure && !with_info) continue;
    // Failures sort first (false < true on the negated flag).
    Key key{!d.failure, d.kind, d.pattern, d.expected, d.actual, d.note};
    auto [it, inserted] = groups.try_emplace(key);
    if (inserted) it->second.first_path = d.path;
    ++it->second.count;
  }
  std::ostringstream out;
  for (const auto& [key, group] : groups) {
    const auto& [info, kind, pattern, expected, actual, note] = key;
    out << (info ? "info " : "FAIL ") << DiffKindName(kind) << " "
        << (pattern.empty() ? "<root>" : pattern);
    if (!expected.empty() || !actual.empty()) {
      out << " (reference " << expected << ", actual " << actual << ")";
    }
    if (group.count > 1) out << " x" << group.count << " e.g. " << group.first_path;
    if (!note.empty()) out << " -- " << note;
    out << "\n";
  }
  return out.str();
}

namespace {

bool AnyMatches(const std::vector<std::string>& patterns, std::string_view path) {
  for (const auto& p : patterns) {
    if (PathMatches(p, path)) return true;
  }
  return false;
}

class Comparer {
 public:
  explicit Comparer(const ShapeRules& rules)
      : rules_(rules),
        omitted_used_(rules.omitted.size(), false),
        required_null_used_(rules.required_null.size(), false),
        non_empty_used_(rules.non_empty.size(), false) {}

  ShapeReport Run(const rapidjson::Value& reference, const rapidjson::Value& actual) {
    for (const auto& o : rules_.omitted) {
      if (o.reason.empty()) {
        Add(DiffKind::kBadRule, o.path, o.path, "", "", "omission without a reason", true);
      }
    }
    Compare(reference, actual, "", "");
    for (size_t i = 0; i < rules_.omitted.size(); ++i) {
      if (!omitted_used_[i]) {
        Add(DiffKind::kUnusedRule, rules_.omitted[i].path, rules_.omitted[i].path, "", "",
            "omission never used (the field is present or the path is wrong): " +
                rules_.omitted[i].reason,
            true);
      }
    }
    ReportUnused(rules_.required_null, required_null_used_, "required-null rule matched nothing");
    ReportUnused(rules_.non_empty, non_empty_used_, "non-empty rule matched nothing");
    return std::move(report_);
  }

 private:
  void Add(DiffKind kind, std::string path, std::string pattern, std::string expected,
           std::string actual, std::string note, bool failure) {
    report_.diffs.push_back(ShapeDiff{kind, std::move(path), std::move(pattern),
                                      std::move(expected), std::move(actual), std::move(note),
                                      failure});
  }

  void ReportUnused(const std::vector<std::string>& patterns, const std::vector<bool>& used,
                    const std::string& note) {
    for (size_t i = 0; i < patterns.size(); ++i) {
      if (!used[i]) Add(DiffKind::kUnusedRule, patterns[i], patterns[i], "", "", note, true);
    }
  }

  // Marks every rule of `patterns` that matches `pattern` as used; true if any did.
  static bool MatchAndMark(const std::vector<std::string>& patterns, std::vector<bool>& used,
                           std::string_view pattern) {
    bool any = false;
    for (size_t i = 0; i < patterns.size(); ++i) {
      if (PathMatches(patterns[i], pattern)) {
        used[i] = true;
        any = true;
      }
    }
    return any;
  }

  void Compare(const rapidjson::Value& ref, const rapidjson::Value& act, const std::string& path,
               const std::string& pattern) {
    const JsonType rt = TypeOf(ref);
    const JsonType at = TypeOf(act);
    if (MatchAndMark(rules_.required_null, required_null_used_, pattern)) {
      if (at != JsonType::kNull) {
        Add(DiffKind::kTypeMismatch, path, pattern, "null", JsonTypeName(at), "required to be null",
            true);
      }
      return;
    }
    if (rt == JsonType::kNull) {
      if (at != JsonType::kNull) {
        Add(DiffKind::kNotCompared, path, pattern, "null", JsonTypeName(at),
            "reference value is null", false);
      }
      return;
    }
    if (at == JsonType::kNull) {
      const bool allowed = AnyMatches(rules_.nullable, pattern);
      Add(allowed ? DiffKind::kNotCompared : DiffKind::kTypeMismatch, path, pattern,
          JsonTypeName(rt), "null", allowed ? "declared nullable" : "", !allowed);
      return;
    }
    if (rt != at) {
      const bool number_string = (rt == JsonType::kNumber || rt == JsonType::kString) &&
                                 (at == JsonType::kNumber || at == JsonType::kString);
      if (!(number_string && AnyMatches(rules_.number_or_string, pattern))) {
        Add(DiffKind::kTypeMismatch, path, pattern, JsonTypeName(rt), JsonTypeName(at), "", true);
      }
      return;
    }
    if (rt == JsonType::kArray) {
      CompareArray(ref, act, path, pattern);
    } else if (rt == JsonType::kObject) {
      if (AnyMatches(rules_.id_key_maps, pattern)) {
        CompareIdMap(ref, act, path, pattern);
      } else {
        CompareObject(ref, act, path, pattern, AnyMatches(rules_.enum_key_maps, pattern));
      }
    }
  }

  void CompareObject(const rapidjson::Value& ref, const rapidjson::Value& act,
                     const std::string& path, const std::string& pattern, bool enum_keyed) {
    for (auto m = ref.MemberBegin(); m != ref.MemberEnd(); ++m) {
      const std::string_view key(m->name.GetString(), m->name.GetStringLength());
      const std::string p = JoinKey(path, key);
      const std::string pt = JoinKey(pattern, key);
      auto found = act.FindMember(m->name);
      if (found != act.MemberEnd()) {
        Compare(m->value, found->value, p, pt);
        continue;
      }
      const Omission* omission = nullptr;
      for (size_t i = 0; i < rules_.omitted.size(); ++i) {
        if (PathMatches(rules_.omitted[i].path, pt)) {
          omitted_used_[i] = true;
          omission = &rules_.omitted[i];
          break;
        }
      }
      Add(DiffKind::kMissing, p, pt, JsonTypeName(TypeOf(m->value)), "absent",
          omission ? "deliberately omitted: " + omission->reason : "", omission == nullptr);
    }
    for (auto m = act.MemberBegin(); m != act.MemberEnd(); ++m) {
      if (ref.HasMember(m->name)) continue;
      const std::string_view key(m->name.GetString(), m->name.GetStringLength());
      const std::string p = JoinKey(path, key);
      const std::string pt = JoinKey(pattern, key);
      Add(DiffKind::kExtra, p, pt, "absent", JsonTypeName(TypeOf(m->value)), "", false);
      if (enum_keyed && ref.MemberCount() > 0) Compare(ref.MemberBegin()->value, m->value, p, pt);
    }
  }

  bool CheckNonEmpty(size_t size, const std::string& path, const std::string& pattern,
                     JsonType type) {
    if (MatchAndMark(rules_.non_empty, non_empty_used_, pattern) && size == 0) {
      Add(DiffKind::kEmpty, path, pattern, "non-empty", std::string("empty ") + JsonTypeName(type),
          "required to be non-empty", true);
      return false;
    }
    return true;
  }

  void CompareIdMap(const rapidjson::Value& ref, const rapidjson::Value& act,
                    const std::string& path, const std::string& pattern) {
    if (!CheckNonEmpty(act.MemberCount(), path, pattern, JsonType::kObject)) return;
    if (act.MemberCount() == 0) {
      if (ref.MemberCount() > 0) {
        Add(DiffKind::kNotCompared, path, pattern, "object", "object",
            "actual map is empty; the reference has " + std::to_string(ref.MemberCount()) +
                " entries",
            false);
      }
      return;
    }
    if (ref.MemberCount() == 0) {
      Add(DiffKind::kNotCompared, path, pattern, "object", "object",
          "reference map is empty; " + std::to_string(act.MemberCount()) +
              " actual entries not compared",
          false);
      return;
    }
    const rapidjson::Value& shape = ref.MemberBegin()->value;
    const std::string pt = JoinKey(pattern, "*");
    for (auto m = act.MemberBegin(); m != act.MemberEnd(); ++m) {
      const std::string_view key(m->name.GetString(), m->name.GetStringLength());
      Compare(shape, m->value, JoinKey(path, key), pt);
    }
  }

  // The discriminator of an array element: the first configured key present with a string value.
  const rapidjson::Value* Discriminator(const rapidjson::Value& element,
                                        std::string* key_out) const {
    if (!element.IsObject()) return nullptr;
    for (const auto& key : rules_.discriminators) {
      auto m = element.FindMember(key.c_str());
      if (m != element.MemberEnd() && m->value.IsString()) {
        *key_out = key;
        return &m->value;
      }
    }
    return nullptr;
  }

  const rapidjson::Value* PickReference(const rapidjson::Value& ref_array,
                                        const rapidjson::Value& element, std::string* note) const {
    std::string key;
    const rapidjson::Value* value = Discriminator(element, &key);
    if (value == nullptr) return &ref_array[0];
    const rapidjson::Value* other_key_match = nullptr;
    for (const auto& candidate : ref_array.GetArray()) {
      std::string candidate_key;
      const rapidjson::Value* cv = Discriminator(candidate, &candidate_key);
      if (cv == nullptr || *cv != *value) continue;
      if (candidate_key == key) return &candidate;
      // Same subtype under the other discriminator name (`@class` before 1.15): compare with it,
      // so the renamed discriminator shows up as missing/extra.
      if (other_key_match == nullptr) other_key_match = &candidate;
    }
    if (other_key_match != nullptr) return other_key_match;
    *note = "no reference element with " + key + "=" + value->GetString();
    return nullptr;
  }

  void CompareArray(const rapidjson::Value& ref, const rapidjson::Value& act,
                    const std::string& path, const std::string& pattern) {
    if (!CheckNonEmpty(act.Size(), path, pattern, JsonType::kArray)) return;
    if (act.Empty()) {
      if (!ref.Empty()) {
        Add(DiffKind::kNotCompared, path, pattern, "array", "array",
            "actual array is empty; the reference has " + std::to_string(ref.Size()) + " elements",
            false);
      }
      return;
    }
    if (ref.Empty()) {
      Add(DiffKind::kNotCompared, path, pattern, "array", "array",
          "reference array is empty; " + std::to_string(act.Size()) +
              " actual elements not compared",
          false);
      return;
    }
    const std::string pt = JoinAnyIndex(pattern);
    for (rapidjson::SizeType i = 0; i < act.Size(); ++i) {
      std::string note;
      const rapidjson::Value* reference = PickReference(ref, act[i], &note);
      if (reference == nullptr) {
        Add(DiffKind::kNotCompared, JoinIndex(path, i), pt, "", JsonTypeName(TypeOf(act[i])), note,
            false);
        continue;
      }
      Compare(*reference, act[i], JoinIndex(path, i), pt);
    }
  }

  const ShapeRules& rules_;
  std::vector<bool> omitted_used_;
  std::vector<bool> required_null_used_;
  std::vector<bool> non_empty_used_;
  ShapeReport report_;
};

}  // namespace

ShapeReport CompareShape(const rapidjson::Value& reference, const rapidjson::Value& actual,
                         const ShapeRules& rules) {
  return Comparer(rules).Run(reference, actual);
}

}  // namespace flinkguard::conformance
