#include "tests/flinksim/scenario.h"

#include <algorithm>
#include <stdexcept>

#include <yaml-cpp/yaml.h>

#include "tests/flinksim/util.h"

namespace flinksim {
namespace {

rapidjson::Value ToJson(const YAML::Node& node, rapidjson::Document::AllocatorType& alloc) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      rapidjson::Value obj(rapidjson::kObjectType);
      for (const auto& kv : node) {
        std::string key = kv.first.as<std::string>();
        obj.AddMember(rapidjson::Value(key.c_str(), alloc), ToJson(kv.second, alloc), alloc);
      }
      return obj;
    }
    case YAML::NodeType::Sequence: {
      rapidjson::Value arr(rapidjson::kArrayType);
      for (const auto& item : node) arr.PushBack(ToJson(item, alloc), alloc);
      return arr;
    }
    case YAML::NodeType::Scalar: {
      // Scalars stay strings; the action reader converts numbers, booleans and durations.
      std::string s = node.as<std::string>();
      return rapidjson::Value(s.c_str(), alloc);
    }
    default: return rapidjson::Value(rapidjson::kNullType);
  }
}

}  // namespace

std::vector<ScenarioStep> ParseScenario(const std::string& yaml_text) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    throw std::runtime_error("scenario: invalid YAML at line " + std::to_string(e.mark.line + 1) +
                             ": " + e.msg);
  }
  YAML::Node list = root;
  if (root.IsMap()) {
    list = root["actions"] ? root["actions"] : root["steps"];
  }
  std::vector<ScenarioStep> steps;
  if (!list || list.IsNull()) return steps;
  if (!list.IsSequence())
    throw std::runtime_error("scenario: expected a list of actions (or a map with `actions`)");
  int index = 0;
  for (const auto& item : list) {
    ++index;
    std::string where = "scenario step " + std::to_string(index) + " (line " +
                        std::to_string(item.Mark().line + 1) + ")";
    if (!item.IsMap())
      throw std::runtime_error(where + ": expected a map like {at: 30s, action: ...}");
    if (!item["action"]) throw std::runtime_error(where + ": missing key `action`");
    ScenarioStep step;
    step.description = where;
    std::string at = item["at"] ? item["at"].as<std::string>() : "0";
    auto ms = ParseDurationMs(at);
    if (!ms) throw std::runtime_error(where + ": key `at`: cannot parse duration '" + at + "'");
    step.at_ms = *ms;
    step.action = std::make_shared<rapidjson::Document>();
    step.action->SetObject();
    rapidjson::Value v = ToJson(item, step.action->GetAllocator());
    step.action->CopyFrom(v, step.action->GetAllocator());
    steps.push_back(std::move(step));
  }
  std::stable_sort(steps.begin(), steps.end(),
                   [](const ScenarioStep& a, const ScenarioStep& b) { return a.at_ms < b.at_ms; });
  return steps;
}

std::vector<ScenarioStep> LoadScenarioFile(const std::string& path) {
  auto text = ReadWholeFile(path);
  if (!text) throw std::runtime_error("scenario file " + path + ": cannot be read");
  try {
    return ParseScenario(*text);
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(path + ": " + e.what());
  }
}

}  // namespace flinksim
