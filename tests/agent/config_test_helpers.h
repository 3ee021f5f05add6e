#pragma once

// Helpers shared by the config and CLI tests: a fake environment, loading YAML text, finding a
// problem by key, writing files.

#include <doctest/doctest.h>

#include <fstream>
#include <map>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "agent/config.h"

namespace flinkguard {

// So doctest can show locations in failed checks.
inline std::ostream& operator<<(std::ostream& os, const SourceLocation& l) {
  return os << l.line << ":" << l.column;
}

}  // namespace flinkguard

namespace flinkguard::testing {

// A ConfigEnvironment whose variables are exactly `vars` and whose host name is `hostname`.
inline ConfigEnvironment FakeEnvironment(std::map<std::string, std::string> vars = {},
                                         std::string hostname = "agent-host-1") {
  ConfigEnvironment env;
  env.get_env = [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
  env.hostname = std::move(hostname);
  return env;
}

// Loads `yaml` as "test.yaml" with relative paths under `base_dir`.
inline ConfigLoadResult LoadYaml(std::string_view yaml, const ConfigEnvironment& env,
                                 const std::string& base_dir = "") {
  return LoadConfigFromString(yaml, "test.yaml", base_dir, env);
}

inline ConfigLoadResult LoadYaml(std::string_view yaml) {
  return LoadYaml(yaml, FakeEnvironment());
}

// All problems, formatted, one per line (for failure messages).
inline std::string AllProblems(const ConfigLoadResult& r) {
  std::string out;
  for (const auto& p : r.problems) out += FormatProblem(p) + "\n";
  return out;
}

// The problems whose key path is exactly `key`.
inline std::vector<ConfigProblem> ProblemsAt(const ConfigLoadResult& r, std::string_view key) {
  std::vector<ConfigProblem> out;
  for (const auto& p : r.problems) {
    if (p.key == key) out.push_back(p);
  }
  return out;
}

// The only problem at `key`; fails the test when there is not exactly one.
inline ConfigProblem OnlyProblemAt(const ConfigLoadResult& r, std::string_view key) {
  auto found = ProblemsAt(r, key);
  INFO("problems:\n" << AllProblems(r));
  REQUIRE(found.size() == 1);
  return found.front();
}

inline bool Contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

inline void WriteFile(const std::string& path, std::string_view content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  REQUIRE(out.good());
  out << content;
}

// A smallest valid config, to which tests append sections.
inline constexpr std::string_view kMinimal =
    "region: r1\n"
    "clusters:\n"
    "  - {name: a, url: \"http://jm-a:8081\"}\n";

}  // namespace flinkguard::testing
