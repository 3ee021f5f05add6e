#include "tests/agent/observer/flinksim_process.h"

#include <doctest/doctest.h>

#include <thread>

namespace flinkguard::testing {
namespace {

// "rest=127.0.0.1:41234 control=..." -> "http://127.0.0.1:41234" for `key`.
std::string Endpoint(const std::string& line, const std::string& key) {
  const std::size_t pos = line.find(key + "=");
  if (pos == std::string::npos) return "";
  const std::size_t start = pos + key.size() + 1;
  const std::size_t end = line.find(' ', start);
  return "http://" + line.substr(start, end == std::string::npos ? end : end - start);
}

// Calls `done()` every 50 ms until it returns true, at most `limit`; bounded in count too.
template <typename Pred>
bool PollUntil(Pred done, std::chrono::milliseconds limit) {
  const auto end = std::chrono::steady_clock::now() + limit;
  for (int i = 0; i < 1000 && std::chrono::steady_clock::now() < end; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return done();
}

}  // namespace

std::string FlinksimBinary() { return FLINKSIM_BINARY; }

rapidjson::Document ParseJson(const std::string& body) {
  rapidjson::Document d;
  d.Parse(body.c_str(), body.size());
  if (d.HasParseError()) d.SetNull();
  return d;
}

std::int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

FlinksimProcess::FlinksimProcess(std::string cluster_name, const std::vector<std::string>& extra)
    : name_(std::move(cluster_name)), dir_("flinksim-" + name_) {
  std::vector<std::string> argv = FlinksimArgv(FlinksimBinary(), dir_, kTimeScale);
  argv.insert(argv.end(), extra.begin(), extra.end());
  proc_ = ChildProcess::Start(argv, dir_.File("flinksim.log"));
  const std::optional<std::string> line = WaitForFileLine(dir_.File("ports"), 15s);
  INFO(proc_.Log());
  REQUIRE(line.has_value());
  rest_ = Endpoint(*line, "rest");
  control_ = Endpoint(*line, "control");
  REQUIRE(!rest_.empty());
  REQUIRE(!control_.empty());
}

ObservedCluster FlinksimProcess::Cluster(std::chrono::milliseconds timeout) const {
  ObservedCluster c;
  c.endpoint.cluster = name_;
  c.endpoint.base_url = rest_;
  c.endpoint.timeout = timeout;
  c.endpoint.connect_timeout = std::min(timeout, std::chrono::milliseconds(1000));
  c.az = "az-" + name_;
  return c;
}

HttpReply FlinksimProcess::Control(const std::string& action, const std::string& body) const {
  HttpReply r =
      HttpCall("POST", control_ + "/_sim/" + action, body, {"Content-Type: application/json"});
  INFO(name_ << ": " << action << " " << body << " -> " << r.status << " " << r.body << r.error);
  CHECK(r.status == 200);
  return r;
}

rapidjson::Document FlinksimProcess::SimJobs() const {
  HttpReply r = HttpCall("GET", control_ + "/_sim/jobs");
  INFO(name_ << ": GET /_sim/jobs -> " << r.status << " " << r.error);
  CHECK(r.status == 200);
  return ParseJson(r.body);
}

const rapidjson::Value& FlinksimProcess::SimJob(const rapidjson::Document& doc,
                                                const std::string& job) {
  const rapidjson::Value* found = nullptr;
  if (doc.IsObject() && doc.HasMember("jobs") && doc["jobs"].IsArray()) {
    for (const auto& j : doc["jobs"].GetArray()) {
      if (j["name"].GetString() == job) found = &j;
    }
  }
  INFO("flinksim has no job named " << job);
  REQUIRE(found != nullptr);
  return *found;
}

std::string FlinksimProcess::JobId(const std::string& job) const {
  const rapidjson::Document doc = SimJobs();
  return SimJob(doc, job)["id"].GetString();
}

HttpReply FlinksimProcess::Get(const std::string& path) const {
  return HttpCall("GET", rest_ + path, "", {}, 2000ms);
}

bool FlinksimProcess::WaitReady(int jobs) const {
  return PollUntil(
      [&] {
        const rapidjson::Document doc = SimJobs();
        if (!doc.IsObject() || !doc.HasMember("jobs")) return false;
        int ready = 0;
        for (const auto& j : doc["jobs"].GetArray()) {
          if (std::string(j["status"].GetString()) == "RUNNING" &&
              std::string(j["task_state"].GetString()) == "RUNNING" &&
              j["checkpoints"]["completed"].GetInt64() >= 1) {
            ++ready;
          }
        }
        return ready == jobs;
      },
      15s);
}

bool FlinksimProcess::WaitRestRefused() const {
  return PollUntil(
      [&] {
        HttpReply r = HttpCall("GET", rest_ + "/config", "", {}, 500ms);
        return r.status == 0;
      },
      10s);
}

bool FlinksimProcess::WaitRestAnswers() const {
  return PollUntil([&] { return Get("/config").status == 200; }, 10s);
}

std::vector<std::string> FlinksimProcess::Mutations() const {
  std::vector<std::string> out;
  rapidjson::Document doc = ParseJson(HttpCall("GET", rest_ + "/_sim/requests").body);
  if (!doc.IsObject() || !doc.HasMember("requests") || !doc["requests"].IsArray()) return out;
  for (const auto& r : doc["requests"].GetArray()) {
    out.push_back(std::string(r["method"].GetString()) + " " + r["path"].GetString());
  }
  return out;
}

}  // namespace flinkguard::testing
