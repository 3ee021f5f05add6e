#pragma once

// Scenario files: YAML lists of control actions scheduled on simulated time, e.g.
//   - {at: 30s, action: fail_job, job: job-1, exception: "java.lang.RuntimeException: boom"}
// The top level is either that list or a map with the list under `actions`. Each step is
// turned into the same JSON action object the control API accepts.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <rapidjson/document.h>

namespace flinksim {

struct ScenarioStep {
  int64_t at_ms = 0;                            // simulated ms after flinksim started
  std::shared_ptr<rapidjson::Document> action;  // JSON object with "action" and its arguments
  std::string description;                      // "step 3 (line 5)" for error messages
};

// Parses a scenario document. Throws std::runtime_error naming the step and what is wrong
// (startup configuration error). Steps are returned sorted by `at` (stable).
std::vector<ScenarioStep> ParseScenario(const std::string& yaml_text);
// Reads and parses a scenario file; errors name the file.
std::vector<ScenarioStep> LoadScenarioFile(const std::string& path);

}  // namespace flinksim
