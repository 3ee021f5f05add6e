// CurlTransport against a real HTTP server (civetweb) on 127.0.0.1 with an ephemeral port.
#include "agent/http/curl_transport.h"

#include <civetweb.h>
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace flinkguard;
using namespace std::chrono_literals;

namespace {

// A loopback server whose handlers echo requests, answer slowly, or return Retry-After,
// counting concurrent requests and distinct client connections.
class TestServer {
 public:
  TestServer() {
    const char* options[] = {"listening_ports", "127.0.0.1:0", "num_threads", "64",
                             "enable_keep_alive", "yes", nullptr};
    mg_callbacks callbacks{};
    ctx_ = mg_start(&callbacks, this, options);
    REQUIRE(ctx_ != nullptr);
    mg_server_port ports[1];
    REQUIRE(mg_get_server_ports(ctx_, 1, ports) == 1);
    port_ = ports[0].port;
    mg_set_request_handler(ctx_, "/echo", &TestServer::Echo, this);
    mg_set_request_handler(ctx_, "/slow", &TestServer::Slow, this);
    mg_set_request_handler(ctx_, "/retry", &TestServer::Retry, this);
    mg_set_request_handler(ctx_, "/order", &TestServer::Order, this);
  }
  ~TestServer() { mg_stop(ctx_); }

  std::string Url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  int max_concurrent() const { return max_concurrent_.load(); }
  std::size_t distinct_connections() {
    std::lock_guard<std::mutex> lock(mu_);
    return client_ports_.size();
  }
  int requests() const { return requests_.load(); }
  std::vector<std::string> arrivals() {
    std::lock_guard<std::mutex> lock(mu_);
    return arrivals_;
  }

 private:
  void Enter(mg_connection* conn) {
    ++requests_;
    const int now = ++in_flight_;
    int prev = max_concurrent_.load();
    while (now > prev && !max_concurrent_.compare_exchange_weak(prev, now)) {
    }
    std::lock_guard<std::mutex> lock(mu_);
    client_ports_.insert(mg_get_request_info(conn)->remote_port);
  }
  void Leave() { --in_flight_; }

  static void Reply(mg_connection* conn, int status, const std::string& body,
                    const char* extra_header = "") {
    mg_printf(conn,
              "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n%s\r\n",
              status, body.size(), extra_header);
    mg_write(conn, body.data(), body.size());
  }

  static int Echo(mg_connection* conn, void* self) {
    auto* s = static_cast<TestServer*>(self);
    s->Enter(conn);
    const mg_request_info* ri = mg_get_request_info(conn);
    std::string body;
    char buf[4096];
    for (int i = 0; i < 10000; ++i) {
      const int n = mg_read(conn, buf, sizeof(buf));
      if (n <= 0) break;
      body.append(buf, static_cast<std::size_t>(n));
    }
    const char* ua = mg_get_header(conn, "User-Agent");
    const char* inst = mg_get_header(conn, "X-Flinkguard-Instance");
    const char* custom = mg_get_header(conn, "X-Test");
    std::string out = std::string(ri->request_method) + "|" + body + "|" + (ua ? ua : "") + "|" +
                      (inst ? inst : "") + "|" + (custom ? custom : "");
    Reply(conn, 200, out);
    s->Leave();
    return 200;
  }

  static int Slow(mg_connection* conn, void* self) {
    auto* s = static_cast<TestServer*>(self);
    s->Enter(conn);
    const mg_request_info* ri = mg_get_request_info(conn);
    int ms = 100;
    if (ri->query_string != nullptr && std::strncmp(ri->query_string, "ms=", 3) == 0) {
      ms = std::atoi(ri->query_string + 3);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    Reply(conn, 200, "{}");
    s->Leave();
    return 200;
  }

  static int Order(mg_connection* conn, void* self) {
    auto* s = static_cast<TestServer*>(self);
    s->Enter(conn);
    {
      std::lock_guard<std::mutex> lock(s->mu_);
      const char* q = mg_get_request_info(conn)->query_string;
      s->arrivals_.emplace_back(q ? q : "");
    }
    Reply(conn, 200, "{}");
    s->Leave();
    return 200;
  }

  static int Retry(mg_connection* conn, void* self) {
    auto* s = static_cast<TestServer*>(self);
    s->Enter(conn);
    Reply(conn, 429, R"({"errors":["slow down"]})", "Retry-After: 7\r\n");
    s->Leave();
    return 429;
  }

  mg_context* ctx_ = nullptr;
  int port_ = 0;
  std::atomic<int> in_flight_{0};
  std::atomic<int> max_concurrent_{0};
  std::atomic<int> requests_{0};
  std::mutex mu_;
  std::set<int> client_ports_;
  std::vector<std::string> arrivals_;
};

}  // namespace

TEST_CASE("a request carries method, body, headers and the agent's identity") {
  TestServer server;
  CurlTransport t({.user_agent = "flinkguard/test", .instance_id = "agent-7"});
  HttpRequest req;
  req.method = "POST";
  req.url = server.Url("/echo");
  req.body = R"({"a":1})";
  req.headers = {{"X-Test", "yes"}, {"Content-Type", "application/json"}};
  auto r = t.Send(req);
  REQUIRE(r.has_value());
  CHECK(r->status == 200);
  CHECK(r->content_type == "application/json");
  CHECK(r->body == R"(POST|{"a":1}|flinkguard/test|agent-7|yes)");
  req.method = "PATCH";
  req.body.clear();
  CHECK(t.Send(req)->body == "PATCH||flinkguard/test|agent-7|yes");
}

TEST_CASE("HTTP error statuses are responses, and Retry-After is read") {
  TestServer server;
  CurlTransport t({});
  auto r = t.Send({.url = server.Url("/retry")});
  REQUIRE(r.has_value());
  CHECK(r->status == 429);
  CHECK(r->retry_after == std::optional<std::chrono::seconds>(7s));
  auto missing = t.Send({.url = server.Url("/nothing-here")});
  REQUIRE(missing.has_value());
  CHECK(missing->status == 404);
}

TEST_CASE("transport failures are transient errors naming the URL") {
  CurlTransport t({});
  auto refused = t.Send({.url = "http://127.0.0.1:1/jobs/overview"});
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().kind == ErrorKind::kTransient);
  CHECK(refused.error().message.find("GET http://127.0.0.1:1/jobs/overview: ") == 0);

  TestServer server;
  auto timed_out = t.Send({.url = server.Url("/slow?ms=1500"), .timeout = 200ms});
  REQUIRE_FALSE(timed_out.has_value());
  CHECK(timed_out.error().kind == ErrorKind::kTransient);
  CHECK(timed_out.error().message.find("/slow?ms=1500") != std::string::npos);
}

TEST_CASE("a batch runs concurrently, callbacks add follow-ups, connections are reused") {
  TestServer server;
  CurlTransport t({.max_total_connections = 16, .max_host_connections = 16});
  RequestBatch batch;
  int firsts = 0, follow_ups = 0;
  for (int i = 0; i < 32; ++i) {
    batch.Add({.url = server.Url("/slow?ms=50")}, [&](Result<HttpResponse> r) {
      REQUIRE(r.has_value());
      ++firsts;
      batch.Add({.url = server.Url("/echo")}, [&](Result<HttpResponse> r2) {
        REQUIRE(r2.has_value());
        CHECK(r2->status == 200);
        ++follow_ups;
      });
    });
  }
  t.Run(batch);
  CHECK(firsts == 32);
  CHECK(follow_ups == 32);
  CHECK(server.requests() == 64);
  CHECK(server.max_concurrent() > 1);        // really concurrent
  CHECK(server.max_concurrent() <= 16);      // within the limit
  CHECK(server.distinct_connections() <= 16);  // 64 requests over at most 16 connections
  // A second run reuses the kept-alive connections instead of opening new ones.
  const std::size_t before = server.distinct_connections();
  RequestBatch again;
  int n = 0;
  for (int i = 0; i < 8; ++i) again.Add({.url = server.Url("/echo")}, [&](Result<HttpResponse>) { ++n; });
  t.Run(again);
  CHECK(n == 8);
  CHECK(server.distinct_connections() == before);
}

TEST_CASE("a delayed request starts after its delay, behind requests without one") {
  TestServer server;
  CurlTransport t({});
  RequestBatch batch;
  int done = 0;
  HttpRequest later{.url = server.Url("/order?later")};
  later.delay = 300ms;
  batch.Add(later, [&](Result<HttpResponse> r) { done += r.has_value() ? 1 : 0; });
  // Follow-ups added by a callback run in the same Run, also after the delayed one's siblings.
  batch.Add({.url = server.Url("/order?now")}, [&](Result<HttpResponse> r) {
    done += r.has_value() ? 1 : 0;
    batch.Add({.url = server.Url("/order?follow-up")}, [&](Result<HttpResponse> r2) {
      done += r2.has_value() ? 1 : 0;
    });
  });
  t.Run(batch);
  CHECK(done == 3);
  CHECK(server.arrivals() == std::vector<std::string>{"now", "follow-up", "later"});
}

TEST_CASE("one host's backlog does not hold back the requests for another host") {
  TestServer busy;
  TestServer quiet;
  CurlTransport t({.max_total_connections = 4, .max_host_connections = 2});
  RequestBatch batch;
  int busy_done = 0;
  int busy_done_when_quiet_finished = -1;
  int quiet_done = 0;
  // The busy host's requests are queued first; with 2 connections it needs ~10 rounds.
  for (int i = 0; i < 20; ++i) {
    batch.Add({.url = busy.Url("/slow?ms=50")}, [&](Result<HttpResponse> r) {
      CHECK(r.has_value());
      ++busy_done;
    });
  }
  for (int i = 0; i < 4; ++i) {
    batch.Add({.url = quiet.Url("/echo")}, [&](Result<HttpResponse> r) {
      CHECK(r.has_value());
      if (++quiet_done == 4) busy_done_when_quiet_finished = busy_done;
    });
  }
  t.Run(batch);
  CHECK(busy_done == 20);
  CHECK(quiet_done == 4);
  // The quiet host got its own connections from the start instead of waiting behind the
  // busy host's queue.
  CHECK(busy_done_when_quiet_finished >= 0);
  CHECK(busy_done_when_quiet_finished <= 4);
  CHECK(busy.max_concurrent() <= 2);
}

TEST_CASE("with more busy hosts than connections allow, each host keeps to its share") {
  // 4 connections for 4 hosts: one each. Without shares, round-robin admission gave a freed
  // connection's slot to the next host in turn, which opened a second connection while the
  // first host's idle one was dropped — new connections all through the batch.
  std::vector<std::unique_ptr<TestServer>> servers;
  for (int i = 0; i < 4; ++i) servers.push_back(std::make_unique<TestServer>());
  CurlTransport t({.max_total_connections = 4, .max_host_connections = 4});
  RequestBatch batch;
  int done = 0;
  for (int round = 0; round < 6; ++round) {
    for (int i = 0; i < 4; ++i) {
      // Different durations per host, so that hosts free their connections at different times.
      batch.Add({.url = servers[static_cast<std::size_t>(i)]->Url("/slow?ms=" +
                                                                  std::to_string(10 + 15 * i))},
                [&](Result<HttpResponse> r) {
                  CHECK(r.has_value());
                  ++done;
                });
    }
  }
  t.Run(batch);
  CHECK(done == 24);
  std::size_t connections = 0;
  for (auto& s : servers) {
    CHECK(s->requests() == 6);
    connections += s->distinct_connections();
  }
  // One per host while all four are busy; a host left alone at the end may add one or two.
  CHECK(connections <= 7);
  // The first host, the fastest, never had more than its one connection while others waited.
  CHECK(servers[0]->max_concurrent() == 1);
}

