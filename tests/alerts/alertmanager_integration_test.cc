// A real Alertmanager (Debian prometheus-alertmanager) on 127.0.0.1 receives flinkguard's firing
// alert with its labels and annotations (read back through GET /api/v2/alerts), then the
// resolved one; Alertmanager's own webhook notifications (to a receiver in this test) show the
// lifecycle from its side: firing, then resolved.

#include <civetweb.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <rapidjson/document.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <mutex>
#include <thread>

#include "agent/alert_wiring.h"
#include "agent/cli_support.h"
#include "agent/http/curl_transport.h"
#include "alerts/receivers.h"
#include "tests/flinksim/http_server.h"
#include "tests/support/test_support.h"

using namespace flinkguard;
using namespace flinkguard::testing;

namespace {

constexpr const char* kAlertmanager = "/usr/bin/prometheus-alertmanager";

int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  close(fd);
  return ntohs(a.sin_port);
}

// Records the bodies Alertmanager's webhook sends.
class Capture {
 public:
  Capture() {
    std::string error;
    listener_ = flinksim::Listener::Start(
        "127.0.0.1:0", 2,
        [this](mg_connection* c, const flinksim::HttpRequest& r) {
          {
            std::lock_guard<std::mutex> lock(mu_);
            bodies_.push_back(r.body);
          }
          flinksim::WriteResponse(c, flinksim::HttpResponse{});
          return 200;
        },
        &error);
    REQUIRE_MESSAGE(listener_ != nullptr, error);
  }
  int port() const { return listener_->port(); }
  // The first body whose status is `status`, waiting up to 15 s.
  std::optional<std::string> WaitFor(const std::string& status) {
    for (int i = 0; i < 750; ++i) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        for (const std::string& b : bodies_) {
          rapidjson::Document d;
          d.Parse(b.c_str());
          if (!d.HasParseError() && d.IsObject() && d.HasMember("status") &&
              status == d["status"].GetString()) {
            return b;
          }
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return std::nullopt;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> bodies_;
  std::unique_ptr<flinksim::Listener> listener_;
};

std::string Str(const rapidjson::Value& v, const char* key) {
  REQUIRE(v.IsObject());
  REQUIRE(v.HasMember(key));
  REQUIRE(v[key].IsString());
  return v[key].GetString();
}

// The alerts Alertmanager holds whose alertname is `name`.
std::vector<std::string> AlertsNamed(const std::string& base, const std::string& name,
                                     rapidjson::Document* doc) {
  const HttpReply r = HttpCall("GET", base + "/api/v2/alerts");
  REQUIRE(r.status == 200);
  doc->Parse(r.body.c_str());
  REQUIRE(doc->IsArray());
  std::vector<std::string> states;
  for (const auto& a : doc->GetArray()) {
    if (Str(a["labels"], "alertname") == name) states.push_back(Str(a["status"], "state"));
  }
  return states;
}

}  // namespace

TEST_CASE(
    "Alertmanager receives the firing alert with its labels and annotations, then the "
    "resolve") {
  TempDir dir("fg-am");
  Capture capture;
  const int port = FreePort();
  const std::string base = "http://127.0.0.1:" + std::to_string(port);
  std::ofstream(dir.File("alertmanager.yml"))
      << "route:\n"
         "  receiver: capture\n"
         "  group_by: [alertname, cluster, job]\n"
         "  group_wait: 100ms\n"
         "  group_interval: 1s\n"
         "  repeat_interval: 1h\n"
         "receivers:\n"
         "  - name: capture\n"
         "    webhook_configs:\n"
         "      - url: http://127.0.0.1:"
      << capture.port() << "/am\n        send_resolved: true\n";
  ChildProcess am =
      ChildProcess::Start({kAlertmanager, "--config.file=" + dir.File("alertmanager.yml"),
                           "--storage.path=" + dir.File("data"),
                           "--web.listen-address=127.0.0.1:" + std::to_string(port),
                           "--cluster.listen-address=", "--log.level=warn"},
                          dir.File("am.log"));
  bool ready = false;
  for (int i = 0; i < 200 && !ready && am.Running(); ++i) {  // at most 10 s
    ready =
        HttpCall("GET", base + "/-/ready", "", {}, std::chrono::milliseconds(500)).status == 200;
    if (!ready) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  REQUIRE_MESSAGE(ready, am.Log());

  // What the agent would send: a rule firing for a job, with the diagnosis.
  AlertPolicy policy;
  policy.receivers = {{"am", Severity::kInfo, 60'000}};
  policy.cluster_urls = {{"yarn-a", "http://jm-a:8081"}};
  policy.instance = "agent-host-1";
  AlertPlanner planner(policy);
  JobSnapshot s;
  s.cluster = "yarn-a";
  s.name = "ads-spend";
  s.job_id = "a1b2c3";
  s.root_exception = "org.apache.kafka.common.errors.TimeoutException: Topic ads not present";
  planner.Observe({s});
  RuleTransition t;
  t.rule = "restart-loop";
  t.job = "ads-spend";
  t.cluster = "yarn-a";
  t.job_id = "a1b2c3";
  t.from = RuleState::kPending;
  t.to = RuleState::kFiring;
  t.severity = Severity::kCritical;
  t.reason = "increase(restarts, 10m) = 7 > 5";
  t.labels = {{"team", "ads"}};
  const std::int64_t start = WallMs() - 1'000;
  AlertBatch fired = planner.OnTransitions({t}, start);
  REQUIRE(fired.entries.size() == 1);
  planner.Commit(fired);

  CurlTransport transport{CurlTransportOptions{}};
  TransportAlertHttp http(transport);
  AlertmanagerNotifier notifier(
      http, HttpReceiverSettings{"am", base + "/", "", std::chrono::seconds(5), ""});
  auto firing = NotificationFromJson(fired.entries[0].payload);
  REQUIRE(firing.has_value());
  const SendOutcome sent = notifier.Send(*firing, fired.entries[0].idempotency_key);
  REQUIRE_MESSAGE(sent.kind == SendOutcome::Kind::kDelivered, sent.error);

  rapidjson::Document doc;
  REQUIRE(AlertsNamed(base, "restart-loop", &doc) == std::vector<std::string>{"active"});
  for (const auto& a : doc.GetArray()) {
    if (Str(a["labels"], "alertname") != "restart-loop") continue;
    const auto& labels = a["labels"];
    CHECK(labels.MemberCount() == 5);
    CHECK(Str(labels, "job") == "ads-spend");
    CHECK(Str(labels, "cluster") == "yarn-a");
    CHECK(Str(labels, "severity") == "critical");
    CHECK(Str(labels, "team") == "ads");
    CHECK_FALSE(labels.HasMember("instance"));  // replica-specific: never a label
    const auto& ann = a["annotations"];
    CHECK(Str(ann, "instance") == "agent-host-1");
    CHECK(Str(ann, "reason") == "increase(restarts, 10m) = 7 > 5");
    CHECK(Str(ann, "root_exception") ==
          "org.apache.kafka.common.errors.TimeoutException: Topic ads not present");
    CHECK(Str(ann, "flink_ui") == "http://jm-a:8081/#/job/a1b2c3/overview");
    CHECK(Str(a, "generatorURL") == "http://jm-a:8081/#/job/a1b2c3/overview");
  }
  // Re-sent while firing (a repeat), it stays one alert.
  AlertBatch repeat = planner.Tick(start + 60'000);
  REQUIRE(repeat.entries.size() == 1);
  planner.Commit(repeat);
  auto again = NotificationFromJson(repeat.entries[0].payload);
  REQUIRE(again.has_value());
  REQUIRE(notifier.Send(*again, repeat.entries[0].idempotency_key).kind ==
          SendOutcome::Kind::kDelivered);
  CHECK(AlertsNamed(base, "restart-loop", &doc).size() == 1);

  auto am_firing = capture.WaitFor("firing");
  REQUIRE_MESSAGE(am_firing.has_value(), am.Log());
  rapidjson::Document f;
  f.Parse(am_firing->c_str());
  CHECK(Str(f, "version") == "4");
  CHECK(Str(f["alerts"][0]["labels"], "job") == "ads-spend");
  CHECK(Str(f["alerts"][0], "endsAt") == "0001-01-01T00:00:00Z");

  // Resolved: the same labels with endsAt.
  t.from = RuleState::kFiring;
  t.to = RuleState::kInactive;
  AlertBatch resolved = planner.OnTransitions({t}, WallMs());
  REQUIRE(resolved.entries.size() == 1);
  planner.Commit(resolved);
  auto r = NotificationFromJson(resolved.entries[0].payload);
  REQUIRE(r.has_value());
  REQUIRE(notifier.Send(*r, resolved.entries[0].idempotency_key).kind ==
          SendOutcome::Kind::kDelivered);
  // GET /api/v2/alerts leaves out resolved alerts.
  CHECK(AlertsNamed(base, "restart-loop", &doc).empty());
  auto am_resolved = capture.WaitFor("resolved");
  REQUIRE_MESSAGE(am_resolved.has_value(), am.Log());
  rapidjson::Document rd;
  rd.Parse(am_resolved->c_str());
  CHECK(Str(rd["alerts"][0], "status") == "resolved");
  CHECK(Str(rd["alerts"][0]["labels"], "alertname") == "restart-loop");
  CHECK(Str(rd["alerts"][0], "endsAt") != "0001-01-01T00:00:00Z");
  CHECK(am.Stop() != -1);
}
