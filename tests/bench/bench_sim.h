#pragma once

// One flinksim child process for the benchmarks: time scale 1 (Flink-like timings), job-0
// running, its data under its own temp dir, stopped by PID when destroyed. No test framework.

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/support/test_support.h"

namespace flinkguard::testing {

using namespace std::chrono_literals;

// "rest=127.0.0.1:41234 control=..." -> "http://127.0.0.1:41234" for `key`.
inline std::string Endpoint(const std::string& line, const std::string& key) {
  const std::size_t pos = line.find(key + "=");
  if (pos == std::string::npos) return "";
  const std::size_t start = pos + key.size() + 1;
  const std::size_t end = line.find(' ', start);
  return "http://" + line.substr(start, end == std::string::npos ? end : end - start);
}

// One flinksim child process at time scale 1 running job-0, its data under its own temp dir.
// Stopped by PID (SIGTERM, then SIGKILL) when destroyed.
class Sim {
 public:
  Sim(const std::string& binary, const std::vector<std::string>& extra) : dir_("bench-flinksim") {
    std::vector<std::string> argv = testing::FlinksimArgv(binary, dir_, 1);
    for (const char* a : {"--flink-version", "1.20", "--jobs", "1", "--checkpoint-interval", "2s"}) {
      argv.emplace_back(a);
    }
    argv.insert(argv.end(), extra.begin(), extra.end());
    proc_ = ChildProcess::Start(argv, dir_.File("flinksim.log"));
    const std::optional<std::string> line = testing::WaitForFileLine(dir_.File("ports"), 15s);
    if (!line) throw std::runtime_error("flinksim did not start within 15 s: " + proc_.Log());
    rest_ = Endpoint(*line, "rest");
    control_ = Endpoint(*line, "control");
    if (rest_.empty() || control_.empty()) {
      throw std::runtime_error("flinksim wrote an unexpected port line: " + *line);
    }
  }
  Sim(const Sim&) = delete;
  Sim& operator=(const Sim&) = delete;
  ~Sim() { proc_.Stop(5000ms); }

  const std::string& rest() const { return rest_; }
  const TempDir& dir() const { return dir_; }

  // POST /_sim/<action> on the control listener; throws unless it was accepted.
  void Control(const std::string& action, const std::string& body = "{}") const {
    HttpReply r = HttpCall("POST", control_ + "/_sim/" + action, body,
                           {"Content-Type: application/json"}, 2000ms);
    if (r.status != 200) {
      throw std::runtime_error("flinksim " + action + " " + body + ": " + std::to_string(r.status) +
                               " " + r.body + r.error);
    }
  }
  HttpReply Get(const std::string& path) const {
    return HttpCall("GET", control_ + path, "", {}, 2000ms);
  }

 private:
  TempDir dir_;
  ChildProcess proc_;
  std::string rest_;
  std::string control_;
};

}  // namespace flinkguard::testing
