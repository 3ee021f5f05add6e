// `flinkguard run` as a process against flinksim, with a webhook receiver in this test: a job
// that fails is notified (rule firing, with the root exception and the Flink UI link), its
// recovery is notified when it starts and when it succeeds, and the rule's resolve follows.
// Every wait is bounded in time.

#include <civetweb.h>
#include <doctest/doctest.h>
#include <rapidjson/document.h>

#include <csignal>
#include <fstream>
#include <mutex>
#include <thread>

#include "tests/agent/observer/flinksim_process.h"
#include "tests/flinksim/http_server.h"

namespace flinkguard {
namespace {

using testing::ChildProcess;
using testing::FlinksimProcess;
using namespace std::chrono_literals;

struct Received {
  std::string key;
  std::string status;
  std::string alertname;
  std::string event;
  std::map<std::string, std::string> annotations;
};

class Hook {
 public:
  Hook() {
    std::string error;
    listener_ = flinksim::Listener::Start(
        "127.0.0.1:0", 2,
        [this](mg_connection* c, const flinksim::HttpRequest& r) {
          rapidjson::Document d;
          d.Parse(r.body.c_str());
          if (!d.HasParseError() && d.IsObject() && d.HasMember("alerts")) {
            const auto& a = d["alerts"][0];
            Received x;
            x.key = r.Header("Idempotency-Key");
            x.status = a["status"].GetString();
            x.alertname = a["labels"]["alertname"].GetString();
            for (auto m = a["annotations"].MemberBegin(); m != a["annotations"].MemberEnd(); ++m) {
              x.annotations[m->name.GetString()] = m->value.GetString();
            }
            std::lock_guard<std::mutex> lock(mu_);
            got_.push_back(std::move(x));
          }
          flinksim::WriteResponse(c, flinksim::HttpResponse{});
          return 200;
        },
        &error);
    REQUIRE_MESSAGE(listener_ != nullptr, error);
  }
  int port() const { return listener_->port(); }
  // The first notification of (alertname, status), waiting up to `limit`.
  std::optional<Received> WaitFor(const std::string& alertname, const std::string& status,
                                  std::chrono::milliseconds limit = 40s) {
    for (auto until = std::chrono::steady_clock::now() + limit;
         std::chrono::steady_clock::now() < until;) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        for (const Received& r : got_) {
          if (r.alertname == alertname && r.status == status) return r;
        }
      }
      std::this_thread::sleep_for(50ms);
    }
    return std::nullopt;
  }

 private:
  std::mutex mu_;
  std::vector<Received> got_;
  std::unique_ptr<flinksim::Listener> listener_;
};

}  // namespace

TEST_CASE("run: a failed job and its recovery reach the webhook, from firing to resolved") {
  testing::TempDir dir("fg-alerts-e2e");
  FlinksimProcess sim("cluster-a", {"--jobs", "1", "--flink-version", "1.20"});
  REQUIRE(sim.WaitReady(1));
  Hook hook;
  const std::string config = dir.File("flinkguard.yaml");
  {
    // A jar flinksim can run (its manifest names the job).
    std::ofstream jar(dir.File("job-0.jar"));
    jar << "Manifest-Version: 1.0\nMain-Class: com.example.Events\nflinksim-job-name: job-0\n"
           "flinksim-parallelism: 2\nflinksim-checkpoint-interval: 2000ms\n";
  }
  {
    std::ofstream out(config);
    out << "region: test\nagent:\n  poll_interval: 1s\n  state_dir: " << dir.path()
        << "/state\nclusters:\n  - {name: cluster-a, url: \"" << sim.rest()
        << "\", timeout: 3s, connect_timeout: 1s}\njobs:\n  - name: job-0\n    cluster: "
           "cluster-a\n    jar: "
        << dir.File("job-0.jar")
        << "\nrules:\n  - {name: job-failed, when: \"status == FAILED\", action: recover, "
           "severity: critical}\nalerts:\n  group_interval: 1s\n  receivers:\n"
           "    - {type: webhook, name: hook, url: \"http://127.0.0.1:"
        << hook.port() << "/hook\"}\n";
  }
  ChildProcess agent =
      ChildProcess::Start({FLINKGUARD_BINARY, "run", "--config", config}, dir.File("agent.log"));
  const std::string old_id = sim.JobId("job-0");
  // Let it see the job healthy first.
  for (int i = 0; i < 100 && agent.Log().find("flinkguard running") == std::string::npos; ++i) {
    std::this_thread::sleep_for(50ms);
  }
  std::this_thread::sleep_for(2500ms);
  sim.Control("fail_job",
              R"({"job":"job-0","exception":"java.lang.RuntimeException: boom","terminal":true})");

  auto fired = hook.WaitFor("job-failed", "firing");
  REQUIRE_MESSAGE(fired.has_value(), agent.Log());
  CHECK(fired->annotations["root_exception"].find("java.lang.RuntimeException: boom") !=
        std::string::npos);
  CHECK(fired->annotations["flink_ui"] == sim.rest() + "/#/job/" + old_id + "/overview");
  CHECK(fired->annotations["reason"].find("FAILED") != std::string::npos);

  auto started = hook.WaitFor("flinkguard_recovery", "firing");
  REQUIRE_MESSAGE(started.has_value(), agent.Log());
  CHECK(started->annotations["restore_point"].rfind("checkpoint ", 0) == 0);
  CHECK_FALSE(started->annotations["restore_reason"].empty());

  auto recovered = hook.WaitFor("flinkguard_recovery", "resolved");
  REQUIRE_MESSAGE(recovered.has_value(), agent.Log());
  CHECK(recovered->annotations["summary"].rfind("recovered job-0 on cluster-a", 0) == 0);
  auto resolved = hook.WaitFor("job-failed", "resolved");
  REQUIRE_MESSAGE(resolved.has_value(), agent.Log());

  agent.Signal(SIGTERM);
  for (int i = 0; i < 200 && agent.Running(); ++i) std::this_thread::sleep_for(50ms);
  CHECK(agent.Stop() != -1);
  CHECK(agent.Log().find("http://127.0.0.1:" + std::to_string(hook.port())) == std::string::npos);
}

}  // namespace flinkguard
