// A webhook receiver (a real HTTP server on 127.0.0.1) that is down, then answers 500, then 429
// with Retry-After, then recovers; the delivery side is restarted on the same SQLite file in
// between. Every notification arrives, by idempotency key (duplicates allowed, losses not).
// Time for backoff is simulated (DeliverDue takes `now`); the HTTP and the SQLite file are real.
// The last case runs the DeliveryWorker thread against the same server in real time.

#include <civetweb.h>
#include <doctest/doctest.h>
#include <rapidjson/document.h>
#include <sqlite3.h>

#include <atomic>
#include <mutex>
#include <set>
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

constexpr std::int64_t kT0 = 1'763'762'400'000;
constexpr std::int64_t kMin = 60'000;

enum class Mode { kServerError, kTooMany, kOk, kBadRequest };

// The receiver: answers by mode, records the idempotency key of every accepted notification.
class Receiver {
 public:
  std::atomic<Mode> mode{Mode::kOk};
  std::atomic<int> requests{0};

  bool Start(int port) {
    std::string error;
    listener_ = flinksim::Listener::Start(
        "127.0.0.1:" + std::to_string(port), 2,
        [this](mg_connection* c, const flinksim::HttpRequest& r) { return Handle(c, r); }, &error);
    return listener_ != nullptr;
  }
  void Stop() { listener_.reset(); }
  int port() const { return listener_->port(); }
  std::set<std::string> Keys() {
    std::lock_guard<std::mutex> lock(mu_);
    return keys_;
  }
  std::vector<std::string> Problems() {
    std::lock_guard<std::mutex> lock(mu_);
    return problems_;
  }

 private:
  int Handle(mg_connection* c, const flinksim::HttpRequest& r) {
    ++requests;
    const Mode m = mode.load();
    if (m == Mode::kTooMany) {
      mg_printf(c,
                "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 120\r\nContent-Type: "
                "text/plain\r\nContent-Length: 4\r\nConnection: close\r\n\r\nslow");
      return 429;
    }
    if (m == Mode::kServerError || m == Mode::kBadRequest) {
      flinksim::HttpResponse resp;
      resp.status = m == Mode::kServerError ? 500 : 400;
      resp.content_type = "text/plain";
      resp.body = m == Mode::kServerError ? "internal error" : "invalid_payload";
      flinksim::WriteResponse(c, resp);
      return resp.status;
    }
    const std::string key = r.Header("Idempotency-Key");
    rapidjson::Document d;
    d.Parse(r.body.c_str());
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (d.HasParseError() || !d.IsObject() || !d.HasMember("version") ||
          std::string(d["version"].GetString()) != "4" ||
          std::string(d["alerts"][0]["fingerprint"].GetString()) != key || r.path != "/hook" ||
          r.query != "token=s3cret") {
        problems_.push_back(r.Uri() + " " + r.body);
      }
      keys_.insert(key);
    }
    flinksim::HttpResponse resp;
    resp.body = "{}";
    flinksim::WriteResponse(c, resp);
    return 200;
  }

  std::mutex mu_;
  std::set<std::string> keys_;
  std::vector<std::string> problems_;
  std::unique_ptr<flinksim::Listener> listener_;
};

RuleTransition Tr(const std::string& job, bool firing) {
  RuleTransition t;
  t.rule = "job-failed";
  t.job = job;
  t.cluster = "yarn-a";
  t.job_id = "id-" + job;
  t.from = firing ? RuleState::kInactive : RuleState::kFiring;
  t.to = firing ? RuleState::kFiring : RuleState::kInactive;
  t.severity = Severity::kCritical;
  t.reason = "status == FAILED";
  return t;
}

// The delivery side, as the daemon builds it: its own connection, transport and receivers.
struct DeliverySide {
  std::unique_ptr<SqliteHistoryStore> store;
  CurlTransport transport{CurlTransportOptions{}};
  TransportAlertHttp http{transport};
  WebhookNotifier hook;
  std::unique_ptr<OutboxDelivery> delivery;

  DeliverySide(const std::string& path, const std::string& url)
      : hook(http, HttpReceiverSettings{"hook", url, "", std::chrono::seconds(5), "test"}) {
    auto s = SqliteHistoryStore::Open(path);
    REQUIRE(s.has_value());
    store = std::move(*s);
    delivery = std::make_unique<OutboxDelivery>(*store, OutboxDelivery::Notifiers{{"hook", &hook}},
                                                [] { return 0.5; });
  }
};

std::vector<std::string> Column(const std::string& db, const std::string& sql) {
  sqlite3* h = nullptr;
  REQUIRE(sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(h, sql.c_str(), -1, &st, nullptr) == SQLITE_OK);
  std::vector<std::string> out;
  while (sqlite3_step(st) == SQLITE_ROW) {
    const unsigned char* t = sqlite3_column_text(st, 0);
    out.emplace_back(t ? reinterpret_cast<const char*>(t) : "");
  }
  sqlite3_finalize(st);
  sqlite3_close(h);
  return out;
}

}  // namespace

TEST_CASE("every notification arrives through a receiver outage, 500s, 429 and a restart") {
  TempDir dir("fg-outbox");
  const std::string db = dir.File("history.db");
  // A port that nobody listens on: bound once, then released (the receiver is "down").
  Receiver receiver;
  REQUIRE(receiver.Start(0));
  const int port = receiver.port();
  receiver.Stop();
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/hook?token=s3cret";

  // The agent side: 12 jobs fail, 5 of them come back; written as the loop writes them.
  std::set<std::string> enqueued;
  {
    auto store = SqliteHistoryStore::Open(db);
    REQUIRE(store.has_value());
    AlertPolicy policy;
    policy.receivers = {{"hook", Severity::kInfo, 0}};
    AlertPlanner planner(policy);
    std::vector<RuleTransition> fire, resolve;
    for (int i = 0; i < 12; ++i) fire.push_back(Tr("job-" + std::to_string(i), true));
    for (int i = 0; i < 5; ++i) resolve.push_back(Tr("job-" + std::to_string(i), false));
    for (auto* batch : {&fire, &resolve}) {
      AlertBatch b = planner.OnTransitions(*batch, batch == &fire ? kT0 : kT0 + 1);
      for (const OutboxEntry& e : b.entries) enqueued.insert(e.idempotency_key);
      REQUIRE(WriteAlerts(**store, planner, std::move(b)).has_value());
    }
  }
  REQUIRE(enqueued.size() == 17);

  std::int64_t now = kT0 + 2;
  auto side = std::make_unique<DeliverySide>(db, url);
  // Down: connection refused, every entry retried.
  CHECK(side->delivery->DeliverDue(now).value() == 17);
  CHECK(side->delivery->Counts().attempts.at({"hook", "retry"}) == 17);
  CHECK(side->delivery->Counts().pending == 17);
  // The stored error says what failed without the URL (it holds a token).
  for (const std::string& e : Column(db, "SELECT last_error FROM outbox")) {
    CHECK(e.find("s3cret") == std::string::npos);
    CHECK(e.find("receiver hook") == 0);
  }

  // Up, but failing with 500.
  REQUIRE(receiver.Start(port));
  receiver.mode = Mode::kServerError;
  now += 10 * kMin;
  CHECK(side->delivery->DeliverDue(now).value() == 17);
  CHECK(receiver.requests.load() == 17);
  CHECK(Column(db, "SELECT DISTINCT last_error FROM outbox") ==
        std::vector<std::string>{"receiver hook: HTTP 500: internal error"});

  // The delivery side restarts: a new connection to the same file, a new transport.
  side.reset();
  side = std::make_unique<DeliverySide>(db, url);
  CHECK(side->delivery->DeliverDue(now).value() == 0);  // nothing due yet: backoff survived

  // 429 with Retry-After: 120 s.
  receiver.mode = Mode::kTooMany;
  now += 10 * kMin;
  CHECK(side->delivery->DeliverDue(now).value() == 17);
  CHECK(side->store->Due(now + 119'999, 100)->empty());  // Retry-After beats the 8-16 s backoff
  CHECK(side->store->Due(now + 120'000, 100)->size() == 17);

  // Recovered: everything arrives.
  receiver.mode = Mode::kOk;
  for (int pass = 0; pass < 10 && side->store->PendingDepth()->pending > 0; ++pass) {
    now += 10 * kMin;
    REQUIRE(side->delivery->DeliverDue(now).has_value());
  }
  CHECK(side->store->PendingDepth()->pending == 0);
  const std::set<std::string> got = receiver.Keys();
  for (const std::string& k : enqueued) CHECK_MESSAGE(got.count(k) == 1, k);
  CHECK(receiver.Problems().empty());
  CHECK(side->delivery->Counts().attempts.at({"hook", "delivered"}) == 17);
  CHECK(Column(db, "SELECT COUNT(*) FROM outbox WHERE state = 'delivered'") ==
        std::vector<std::string>{"17"});

  // A 400 is permanent: dead-lettered with the receiver's answer, never retried.
  {
    auto store = SqliteHistoryStore::Open(db);
    REQUIRE(store.has_value());
    AlertPolicy policy;
    policy.receivers = {{"hook", Severity::kInfo, 0}};
    AlertPlanner planner(policy);
    REQUIRE(
        WriteAlerts(**store, planner, planner.OnTransitions({Tr("job-x", true)}, now)).has_value());
  }
  receiver.mode = Mode::kBadRequest;
  CHECK(side->delivery->DeliverDue(now).value() == 1);
  CHECK(Column(db,
               "SELECT state || ': ' || last_error FROM outbox WHERE idempotency_key LIKE "
               "'job-failed/yarn-a/job-x/%'") ==
        std::vector<std::string>{"dead: receiver hook: HTTP 400: invalid_payload"});
  CHECK(side->store->Due(now + 100 * 60 * kMin, 100)->empty());
}

TEST_CASE("the delivery worker thread sends what an earlier run left pending, then new entries") {
  TempDir dir("fg-outbox");
  const std::string db = dir.File("history.db");
  Receiver receiver;
  REQUIRE(receiver.Start(0));
  const std::string url =
      "http://127.0.0.1:" + std::to_string(receiver.port()) + "/hook?token=s3cret";
  auto store = SqliteHistoryStore::Open(db);
  REQUIRE(store.has_value());
  AlertPolicy policy;
  policy.receivers = {{"hook", Severity::kInfo, 0}};
  AlertPlanner planner(policy);
  AlertBatch first = planner.OnTransitions({Tr("job-a", true)}, WallMs());
  const std::string first_key = first.entries.at(0).idempotency_key;
  REQUIRE(WriteAlerts(**store, planner, std::move(first)).has_value());

  DeliverySide side(db, url);
  DeliveryWorker worker(
      std::move(side.delivery), [] { return WallMs(); }, std::chrono::seconds(1),
      [](const Error& e) { FAIL(e.message); });
  auto arrived = [&](const std::string& key) {
    for (int i = 0; i < 500; ++i) {  // at most 10 s
      if (receiver.Keys().count(key) != 0) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  };
  CHECK(arrived(first_key));
  // The loop's connection writes while the worker's reads and writes the same file.
  AlertBatch second = planner.OnTransitions({Tr("job-a", false)}, WallMs());
  const std::string second_key = second.entries.at(0).idempotency_key;
  REQUIRE(WriteAlerts(**store, planner, std::move(second)).has_value());
  worker.Wake();
  CHECK(arrived(second_key));
  CHECK(receiver.Problems().empty());
}

TEST_CASE("PagerDuty and Slack receivers over real HTTP: 202 and 'ok' deliver, 400 is permanent") {
  std::mutex mu;
  std::vector<std::pair<std::string, std::string>> got;  // (path, body)
  std::atomic<int> status{202};
  std::string error;
  auto listener = flinksim::Listener::Start(
      "127.0.0.1:0", 2,
      [&](mg_connection* c, const flinksim::HttpRequest& r) {
        {
          std::lock_guard<std::mutex> lock(mu);
          got.emplace_back(r.path, r.body);
        }
        flinksim::HttpResponse resp;
        resp.status = status.load();
        resp.content_type = r.path == "/slack" ? "text/plain" : "application/json";
        resp.body = r.path == "/slack" ? (resp.status == 200 ? "ok" : "invalid_payload")
                                       : R"({"status":"success","dedup_key":"x"})";
        flinksim::WriteResponse(c, resp);
        return resp.status;
      },
      &error);
  REQUIRE_MESSAGE(listener != nullptr, error);
  const std::string base = "http://127.0.0.1:" + std::to_string(listener->port());
  CurlTransport transport{CurlTransportOptions{}};
  TransportAlertHttp http(transport);
  AlertPolicy policy;
  policy.receivers = {{"pd", Severity::kInfo, 0}};
  AlertPlanner planner(policy);
  auto n =
      NotificationFromJson(planner.OnTransitions({Tr("job-p", true)}, kT0).entries.at(0).payload);
  REQUIRE(n.has_value());

  PagerDutyNotifier pd(
      http, HttpReceiverSettings{"pd", base + "/v2/enqueue", "0123456789abcdef0123456789abcdef",
                                 std::chrono::seconds(5), ""});
  CHECK(pd.Send(*n, "k").kind == SendOutcome::Kind::kDelivered);
  status = 200;
  SlackNotifier slack(
      http, HttpReceiverSettings{"slack", base + "/slack", "", std::chrono::seconds(5), ""});
  CHECK(slack.Send(*n, "k").kind == SendOutcome::Kind::kDelivered);
  status = 400;
  const SendOutcome bad = slack.Send(*n, "k");
  CHECK(bad.kind == SendOutcome::Kind::kPermanent);
  CHECK(bad.error == "receiver slack: HTTP 400: invalid_payload");

  std::lock_guard<std::mutex> lock(mu);
  REQUIRE(got.size() == 3);
  CHECK(got[0].first == "/v2/enqueue");
  rapidjson::Document d;
  d.Parse(got[0].second.c_str());
  REQUIRE(d.IsObject());
  CHECK(std::string(d["routing_key"].GetString()) == "0123456789abcdef0123456789abcdef");
  CHECK(std::string(d["event_action"].GetString()) == "trigger");
  CHECK(std::string(d["dedup_key"].GetString()) == "flinkguard/job-failed/yarn-a/job-p");
  CHECK(std::string(d["payload"]["severity"].GetString()) == "critical");
  rapidjson::Document s;
  s.Parse(got[1].second.c_str());
  REQUIRE(s.IsObject());
  CHECK(std::string(s["text"].GetString()).find("job-failed firing for job-p") !=
        std::string::npos);
}
