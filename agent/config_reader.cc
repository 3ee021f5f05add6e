#include "agent/config_reader.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <memory>
#include <system_error>
#include <tuple>

namespace flinkguard {
namespace {

constexpr std::size_t kMaxSecretBytes = std::size_t{64} * 1024;

// yaml-cpp gives plain (unquoted) scalars the tag "?" and quoted or block scalars "!".
bool IsPlain(const YAML::Node& node) { return node.Tag() == "?"; }

bool IsPlainWord(std::string_view key) {
  return !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
}

std::string_view TrimSpace(std::string_view s) {
  const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

// strerror() is not thread-safe; a reload may run beside other threads.
std::string ErrnoText(int err) { return std::error_code(err, std::generic_category()).message(); }

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

// Opens a regular file for reading; on failure returns nullptr and a reason.
std::unique_ptr<std::FILE, FileCloser> OpenRegularFile(const std::string& path, std::string* why) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (ec) {
    *why = ec == std::errc::no_such_file_or_directory ? "No such file or directory" : ec.message();
    return nullptr;
  }
  if (std::filesystem::is_directory(status)) {
    *why = "it is a directory";
    return nullptr;
  }
  std::unique_ptr<std::FILE, FileCloser> f(std::fopen(path.c_str(), "rb"));
  if (!f) *why = ErrnoText(errno);
  return f;
}

}  // namespace

std::string ChildPath(const std::string& parent, std::string_view key) {
  if (IsPlainWord(key)) return parent.empty() ? std::string(key) : parent + "." + std::string(key);
  return parent + "[\"" + QuoteForMessage(key, 60) + "\"]";
}

std::string DescribeFound(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined: return "an empty value";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Map: return "a mapping";
    case YAML::NodeType::Scalar: break;
  }
  const std::string quoted = "'" + QuoteForMessage(node.Scalar()) + "'";
  return IsPlain(node) ? quoted : "the quoted string " + quoted;
}

std::string QuotedScalar(const YAML::Node& node) {
  return "'" + QuoteForMessage(node.Scalar()) + "'";
}

ConfigReader::ConfigReader(std::string file, std::string base_dir, std::string_view source,
                           const ConfigEnvironment& env)
    : file_(std::move(file)), base_dir_(std::move(base_dir)), env_(env) {
  std::size_t start = 0;
  while (start <= source.size()) {
    std::size_t end = source.find('\n', start);
    if (end == std::string_view::npos) end = source.size();
    std::string_view line = source.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines_.push_back(line);
    start = end + 1;
  }
}

SourceLocation ConfigReader::ToLocation(const YAML::Mark& mark) {
  if (mark.line < 0 || mark.column < 0) return {};
  return {mark.line + 1, mark.column + 1};
}

SourceLocation ConfigReader::LocationOf(const YamlValue& value) {
  if (!value.node.IsDefined() || value.node.IsNull() || value.node.Mark().line < 0) {
    return ToLocation(value.key_mark);
  }
  return ToLocation(value.node.Mark());
}

void ConfigReader::Report(SourceLocation where, std::string key, std::string message) {
  problems_.push_back({file_, where.line, where.column, std::move(key), std::move(message)});
}

void ConfigReader::Report(const YamlValue& value, std::string message) {
  Report(LocationOf(value), value.path, std::move(message));
}

std::vector<ConfigProblem> ConfigReader::TakeProblems() {
  std::stable_sort(problems_.begin(), problems_.end(),
                   [](const ConfigProblem& a, const ConfigProblem& b) {
                     return std::tie(a.line, a.column) < std::tie(b.line, b.column);
                   });
  return std::move(problems_);
}

std::optional<std::string> ConfigReader::String(const YamlValue& value, bool allow_empty) {
  if (!value.node.IsScalar()) {
    Report(value, "expected a string; found " + DescribeFound(value.node));
    return std::nullopt;
  }
  if (value.node.Scalar().empty() && !allow_empty) {
    Report(value, "expected a non-empty string; found ''");
    return std::nullopt;
  }
  return value.node.Scalar();
}

std::optional<bool> ConfigReader::Bool(const YamlValue& value) {
  if (value.node.IsScalar() && IsPlain(value.node)) {
    if (value.node.Scalar() == "true") return true;
    if (value.node.Scalar() == "false") return false;
  }
  Report(value, "expected true or false; found " + DescribeFound(value.node));
  return std::nullopt;
}

std::optional<std::int64_t> ConfigReader::Integer(const YamlValue& value, std::int64_t min,
                                                  std::int64_t max) {
  const std::string range =
      "a whole number from " + std::to_string(min) +
      (max == std::numeric_limits<std::int64_t>::max() ? " up" : " to " + std::to_string(max));
  if (!value.node.IsScalar() || !IsPlain(value.node)) {
    Report(value, "expected " + range + "; found " + DescribeFound(value.node));
    return std::nullopt;
  }
  std::string_view text = value.node.Scalar();
  const bool negative = !text.empty() && text.front() == '-';
  if (negative || (!text.empty() && text.front() == '+')) text.remove_prefix(1);
  if (text.empty() || text.size() > 18 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    Report(value, "expected " + range + "; found " + DescribeFound(value.node));
    return std::nullopt;
  }
  std::int64_t n = 0;
  for (char c : text) n = n * 10 + (c - '0');
  if (negative) n = -n;
  if (n < min || n > max) {
    Report(value, "expected " + range + "; found " + DescribeFound(value.node));
    return std::nullopt;
  }
  return n;
}

std::optional<Duration> ConfigReader::DurationAtLeast(const YamlValue& value, Duration min) {
  if (!value.node.IsScalar()) {
    Report(value,
           "expected a duration such as 500ms, 10s, 5m, 1h; found " + DescribeFound(value.node));
    return std::nullopt;
  }
  auto d = ParseDuration(value.node.Scalar());
  if (!d) {
    // ParseDuration's message quotes the text and says what was wrong with it.
    Report(value, d.error().message);
    return std::nullopt;
  }
  if (*d < min) {
    Report(value, (min == Duration(1) ? std::string("expected a duration greater than 0s")
                                      : "expected a duration of at least " + FormatDuration(min)) +
                      "; found " + DescribeFound(value.node));
    return std::nullopt;
  }
  return *d;
}

std::optional<Severity> ConfigReader::SeverityValue(const YamlValue& value) {
  return Choice<Severity>(value, {{"info", Severity::kInfo},
                                  {"warning", Severity::kWarning},
                                  {"critical", Severity::kCritical}});
}

std::optional<SourceText> ConfigReader::Text(const YamlValue& value) {
  auto text = String(value);
  if (!text) return std::nullopt;
  SourceText out;
  out.text = std::move(*text);
  out.location = LocationOf(value);
  const YAML::Mark mark = value.node.Mark();
  if (mark.line < 0 || static_cast<std::size_t>(mark.line) >= lines_.size()) return out;
  const std::string_view line = lines_[static_cast<std::size_t>(mark.line)];
  auto start = static_cast<std::size_t>(mark.column);
  if (start >= line.size()) return out;
  char quote = 0;
  if (line[start] == '\'' || line[start] == '"') {
    quote = line[start];
    ++start;
  }
  // Exact only when the file holds the text verbatim (no escapes, no folding over lines).
  if (line.substr(start, out.text.size()) == out.text &&
      (quote == 0 ||
       (start + out.text.size() < line.size() && line[start + out.text.size()] == quote))) {
    out.location.column = static_cast<int>(start) + 1;
    out.exact = true;
  }
  return out;
}

std::optional<std::vector<YamlValue>> ConfigReader::List(const YamlValue& value) {
  if (!value.node.IsSequence()) {
    Report(value, "expected a list; found " + DescribeFound(value.node));
    return std::nullopt;
  }
  std::vector<YamlValue> out;
  std::size_t i = 0;
  for (const YAML::Node& item : value.node) {
    // yaml-cpp places an empty item at the token after it; point at its '-' instead.
    YAML::Mark mark = item.Mark().line >= 0 ? item.Mark() : value.node.Mark();
    if (item.IsNull()) mark = PrecedingDash(mark);
    out.push_back({item, value.path + "[" + std::to_string(i) + "]", mark});
    ++i;
  }
  return out;
}

std::optional<std::vector<std::string>> ConfigReader::StringList(const YamlValue& value,
                                                                 bool allow_empty_items) {
  auto items = List(value);
  if (!items) return std::nullopt;
  std::vector<std::string> out;
  bool all_ok = true;
  for (const YamlValue& item : *items) {
    auto s = String(item, allow_empty_items);
    if (s) {
      out.push_back(std::move(*s));
    } else {
      all_ok = false;
    }
  }
  if (!all_ok) return std::nullopt;
  return out;
}

YAML::Mark ConfigReader::PrecedingDash(const YAML::Mark& mark) const {
  if (mark.line < 0 || static_cast<std::size_t>(mark.line) >= lines_.size()) return mark;
  auto line = static_cast<std::size_t>(mark.line);
  std::size_t column =
      std::min(static_cast<std::size_t>(std::max(mark.column, 0)), lines_[line].size());
  while (true) {
    // Look left of `column` on this line, then at whole earlier lines, skipping blanks only.
    const std::string_view text = lines_[line].substr(0, column);
    const std::size_t last = text.find_last_not_of(" \t");
    if (last != std::string_view::npos) {
      if (text[last] != '-') return mark;
      YAML::Mark dash = mark;
      dash.line = static_cast<int>(line);
      dash.column = static_cast<int>(last);
      return dash;
    }
    if (line == 0) return mark;
    --line;
    column = lines_[line].size();
  }
}

std::optional<std::vector<std::pair<std::string, YamlValue>>> ConfigReader::Entries(
    const YamlValue& value) {
  if (!value.node.IsMap()) {
    Report(value, "expected a mapping; found " + DescribeFound(value.node));
    return std::nullopt;
  }
  std::vector<std::pair<std::string, YamlValue>> out;
  std::map<std::string, YAML::Mark> seen;
  for (const auto& kv : value.node) {
    const YAML::Node& key = kv.first;
    if (!key.IsScalar()) {
      Report(ToLocation(key.Mark().line >= 0 ? key.Mark() : value.node.Mark()), value.path,
             "expected a plain text key; found " + DescribeFound(key) + " as a key");
      continue;
    }
    const std::string& name = key.Scalar();
    const std::string path = ChildPath(value.path, name);
    if (auto it = seen.find(name); it != seen.end()) {
      Report(ToLocation(key.Mark()), path,
             "duplicate key '" + QuoteForMessage(name) + "' (first at line " +
                 std::to_string(it->second.line + 1) + ")");
      continue;
    }
    seen.emplace(name, key.Mark());
    out.emplace_back(name, YamlValue{kv.second, path, key.Mark()});
  }
  return out;
}

std::optional<std::map<std::string, std::string>> ConfigReader::StringMap(const YamlValue& value,
                                                                          bool allow_empty_values) {
  auto entries = Entries(value);
  if (!entries) return std::nullopt;
  std::map<std::string, std::string> out;
  bool all_ok = true;
  for (auto& [key, v] : *entries) {
    if (key.empty()) {
      Report(v, "expected a non-empty key; found ''");
      all_ok = false;
      continue;
    }
    auto s = String(v, allow_empty_values);
    if (s) {
      out.emplace(key, std::move(*s));
    } else {
      all_ok = false;
    }
  }
  if (!all_ok) return std::nullopt;
  return out;
}

std::string ConfigReader::ResolvePath(std::string_view path) const {
  std::filesystem::path p(path);
  if (p.is_absolute() || base_dir_.empty()) return p.lexically_normal().string();
  return (std::filesystem::path(base_dir_) / p).lexically_normal().string();
}

std::optional<std::string> ConfigReader::ReadableFile(const YamlValue& value) {
  auto path = String(value);
  if (!path) return std::nullopt;
  const std::string resolved = ResolvePath(*path);
  std::string why;
  if (!OpenRegularFile(resolved, &why)) {
    Report(value, "cannot read file '" + QuoteForMessage(resolved) + "': " + why);
    return std::nullopt;
  }
  return resolved;
}

std::optional<Secret> ConfigReader::SecretFromFile(const YamlValue& value) {
  auto path = String(value);
  if (!path) return std::nullopt;
  const std::string resolved = ResolvePath(*path);
  const std::string shown = "'" + QuoteForMessage(resolved) + "'";
  std::string why;
  auto f = OpenRegularFile(resolved, &why);
  if (!f) {
    Report(value, "cannot read secret file " + shown + ": " + why);
    return std::nullopt;
  }
  std::string content;
  char buf[4096];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, f.get())) > 0) {
    content.append(buf, n);
    if (content.size() > kMaxSecretBytes) {
      Report(value, "secret file " + shown + " is larger than 64 KiB; expected one credential");
      return std::nullopt;
    }
  }
  if (std::ferror(f.get())) {
    Report(value, "cannot read secret file " + shown + ": " + ErrnoText(errno));
    return std::nullopt;
  }
  const std::string_view trimmed = TrimSpace(content);
  if (trimmed.empty()) {
    Report(value, "secret file " + shown + " is empty; expected the credential in it");
    return std::nullopt;
  }
  return Secret(std::string(trimmed), "file " + resolved);
}

std::optional<Secret> ConfigReader::SecretFromEnv(const YamlValue& value) {
  auto name = String(value);
  if (!name) return std::nullopt;
  if (!IsEnvVarName(*name)) {
    Report(value, "expected the name of an environment variable ([A-Za-z_][A-Za-z0-9_]*); found " +
                      QuotedScalar(value.node));
    return std::nullopt;
  }
  std::optional<std::string> content = env_.get_env ? env_.get_env(*name) : std::nullopt;
  if (!content) {
    Report(value, "environment variable " + *name + " is not set; expected it to hold the secret");
    return std::nullopt;
  }
  const std::string_view trimmed = TrimSpace(*content);
  if (trimmed.empty()) {
    Report(value, "environment variable " + *name + " is empty; expected it to hold the secret");
    return std::nullopt;
  }
  return Secret(std::string(trimmed), "env " + *name);
}

MapReader::MapReader(ConfigReader& reader, const YamlValue& map, std::vector<std::string> known)
    : reader_(reader), map_(map) {
  if (!map.node.IsMap()) {
    reader.Report(map, "expected a mapping; found " + DescribeFound(map.node));
    return;
  }
  ok_ = true;
  auto entries = reader.Entries(map);
  if (!entries) return;
  for (auto& entry : *entries) {
    const std::string& key = entry.first;
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      std::string message = "unknown key '" + QuoteForMessage(key) + "'";
      if (key == "<<") {
        message += " (YAML merge keys are not supported; repeat the settings)";
      } else if (auto s = ClosestMatch(key, known)) {
        message += "; did you mean '" + *s + "'?";
      } else {
        std::string list;
        for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
        message += "; expected one of " + list;
      }
      reader.Report(ConfigReader::ToLocation(entry.second.key_mark), entry.second.path,
                    std::move(message));
      continue;
    }
    entries_.push_back(std::move(entry));
  }
}

std::optional<YamlValue> MapReader::Get(std::string_view key) const {
  for (const auto& [k, v] : entries_) {
    if (k == key) return v;
  }
  return std::nullopt;
}

std::optional<YamlValue> MapReader::Required(std::string_view key) {
  auto v = Get(key);
  if (!v && ok_) {
    reader_.Report(ConfigReader::LocationOf(map_), ChildPath(map_.path, key),
                   "missing required key '" + std::string(key) + "'");
  }
  return v;
}

}  // namespace flinkguard
