#pragma once

// The machinery under the config loader: reading typed values out of a yaml-cpp tree while
// collecting every problem with its file position and key path. Used only by config.cc (and
// its tests); the schema itself lives there.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "agent/config.h"
#include "agent/config_values.h"

namespace flinkguard {

// A YAML node being read, with the key path that leads to it ("clusters[1].url") and the
// position of its key, used to place problems about a value that has no position of its own
// (an empty value). Cheap to copy (yaml-cpp nodes are handles).
struct YamlValue {
  YAML::Node node;
  std::string path;
  YAML::Mark key_mark;
};

// The path of `key` inside the mapping at `parent`: "parent.key", or parent["key"] when the key
// is not a plain word. A top-level key (parent "") is just "key".
std::string ChildPath(const std::string& parent, std::string_view key);

// Reads values out of one config document. Every typed reader returns nullopt after recording a
// problem, so callers keep going and all problems are found in one pass. Not thread-safe.
// `env` must outlive the reader.
class ConfigReader {
 public:
  // `file` names the document in problems; `base_dir` resolves relative paths ("" = current
  // directory); `source` is the document text, used to locate text values exactly.
  ConfigReader(std::string file, std::string base_dir, std::string_view source,
               const ConfigEnvironment& env);

  const ConfigEnvironment& env() const { return env_; }

  // Records a problem at `where` (1-based) for the key path `key`.
  void Report(SourceLocation where, std::string key, std::string message);
  // Records a problem about `value`, at its position.
  void Report(const YamlValue& value, std::string message);
  // The 1-based position of `value`: its own mark, or its key's when it is empty.
  static SourceLocation LocationOf(const YamlValue& value);
  // Converts a yaml-cpp mark (0-based) to a 1-based location; (0,0) for an invalid mark.
  static SourceLocation ToLocation(const YAML::Mark& mark);

  std::size_t problem_count() const { return problems_.size(); }
  // The problems found so far, ordered by position (stable for equal positions).
  std::vector<ConfigProblem> TakeProblems();

  // A scalar as text. Mappings, lists and empty values are problems; so is "" unless
  // `allow_empty`.
  std::optional<std::string> String(const YamlValue& value, bool allow_empty = false);
  // true or false, written plainly; yes/no/on/off, True, "true" (quoted) are problems.
  std::optional<bool> Bool(const YamlValue& value);
  // A plainly written whole number in [min, max].
  std::optional<std::int64_t> Integer(const YamlValue& value, std::int64_t min, std::int64_t max);
  // A duration (ParseDuration syntax) of at least `min`; `min` of 1ms reads as "greater than
  // 0s" in the message.
  std::optional<Duration> DurationAtLeast(const YamlValue& value, Duration min);
  // A severity name (ParseSeverity).
  std::optional<Severity> SeverityValue(const YamlValue& value);
  // One of `choices` (exact spelling), with a suggestion when the text is close to one.
  template <typename T>
  std::optional<T> Choice(const YamlValue& value,
                          const std::vector<std::pair<std::string, T>>& choices);
  // A text value and where it is (see SourceText).
  std::optional<SourceText> Text(const YamlValue& value);

  // The elements of a list, each with its path "parent[i]"; a non-list is a problem.
  std::optional<std::vector<YamlValue>> List(const YamlValue& value);
  // A list of strings (each non-empty unless `allow_empty_items`).
  std::optional<std::vector<std::string>> StringList(const YamlValue& value,
                                                     bool allow_empty_items = false);
  // The entries of a mapping with free keys (labels, signals), in file order. A non-mapping,
  // a key that is not a scalar, or a repeated key is a problem (the repeat is dropped).
  std::optional<std::vector<std::pair<std::string, YamlValue>>> Entries(const YamlValue& value);
  // A mapping of non-empty string keys to strings (values may be empty only if `allow_empty`).
  std::optional<std::map<std::string, std::string>> StringMap(const YamlValue& value,
                                                              bool allow_empty_values = false);

  // `path` made absolute against the base directory.
  std::string ResolvePath(std::string_view path) const;
  // `value` names a file that must exist and be readable; returns its resolved path.
  std::optional<std::string> ReadableFile(const YamlValue& value);
  // `value` names a file holding a secret; returns its content with surrounding whitespace
  // trimmed. Missing, unreadable, empty or over-64-KiB files are problems; messages name the
  // key and the path, never the content.
  std::optional<Secret> SecretFromFile(const YamlValue& value);
  // `value` names an environment variable holding a secret; unset or empty is a problem.
  std::optional<Secret> SecretFromEnv(const YamlValue& value);

 private:
  // For an empty list item, which yaml-cpp places at the next token: the position of the '-'
  // before `mark` when only blanks separate them, else `mark`.
  YAML::Mark PrecedingDash(const YAML::Mark& mark) const;

  std::string file_;
  std::string base_dir_;
  std::vector<std::string_view> lines_;
  const ConfigEnvironment& env_;
  std::vector<ConfigProblem> problems_;
};

// Reads the fixed-schema mapping at one config path. On construction it reports, each once: a
// value that is not a mapping, keys that are not scalars, repeated keys, and keys not in `known`
// (suggesting the closest known key). Not thread-safe; `reader` must outlive it.
class MapReader {
 public:
  MapReader(ConfigReader& reader, const YamlValue& map, std::vector<std::string> known);

  // False when the value is not a mapping (already reported); Get() then finds nothing.
  bool ok() const { return ok_; }
  const YamlValue& value() const { return map_; }
  // The value of `key` (its first occurrence), or nullopt when absent.
  std::optional<YamlValue> Get(std::string_view key) const;
  bool Has(std::string_view key) const { return Get(key).has_value(); }
  // Like Get(), but reports "missing required key" at the mapping when absent.
  std::optional<YamlValue> Required(std::string_view key);

 private:
  ConfigReader& reader_;
  YamlValue map_;
  bool ok_ = false;
  std::vector<std::pair<std::string, YamlValue>> entries_;
};

// ---- implementation of the template ----

// How a found value reads in a message: "'ten'", "the quoted string 'true'", "a list",
// "a mapping", "an empty value".
std::string DescribeFound(const YAML::Node& node);
// A scalar's text in quotes, "'jm:8081'", for values already known to be text.
std::string QuotedScalar(const YAML::Node& node);

template <typename T>
std::optional<T> ConfigReader::Choice(const YamlValue& value,
                                      const std::vector<std::pair<std::string, T>>& choices) {
  std::vector<std::string> names;
  for (const auto& c : choices) names.push_back(c.first);
  std::string list;
  for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
  if (!value.node.IsScalar()) {
    Report(value, "expected one of " + list + "; found " + DescribeFound(value.node));
    return std::nullopt;
  }
  const std::string& text = value.node.Scalar();
  for (const auto& c : choices) {
    if (c.first == text) return c.second;
  }
  std::string message = "expected one of " + list + "; found " + DescribeFound(value.node);
  if (auto s = ClosestMatch(text, names)) message += "; did you mean '" + *s + "'?";
  Report(value, std::move(message));
  return std::nullopt;
}

}  // namespace flinkguard
