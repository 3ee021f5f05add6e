#include "agent/flink/flink_rest_client.h"

#include <doctest/doctest.h>

#include "tests/support/test_support.h"

using namespace flinkguard;
using flinkguard::testing::FlinkRestDir;
using flinkguard::testing::ReadFile;

namespace {

HttpResponse Reply(long status, std::string body) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

std::string Synthetic(const std::string& name) {
  return ReadFile(FlinkRestDir() + "/samples/synthetic/" + name);
}

}  // namespace

TEST_CASE("requests carry the endpoint's base URL, timeouts and headers") {
  FlinkRestClient c({.cluster = "yarn-a", .base_url = "http://jm:8081/",
                     .timeout = std::chrono::milliseconds(1234),
                     .headers = {{"Authorization", "Bearer x"}}});
  HttpRequest r = c.Request("POST", "/jars/abc/run", R"({"parallelism":2})");
  CHECK(r.url == "http://jm:8081/jars/abc/run");
  CHECK(r.method == "POST");
  CHECK(r.timeout.count() == 1234);
  CHECK(r.headers.size() == 3);
  CHECK(c.Context("GET", "/jobs/overview") == "cluster yarn-a GET /jobs/overview");
}

TEST_CASE("statuses map to error kinds with Flink's first error line") {
  FlinkRestClient c({.cluster = "a", .base_url = "http://x"});
  auto parse = [](std::string_view body, const std::string& ctx) { return ParseJobDetails(body, ctx); };
  auto nf = c.Handle("GET", "/jobs/0123", Reply(404, Synthetic("ERROR_404_job_not_found.SYNTHETIC.json")), parse);
  REQUIRE_FALSE(nf);
  CHECK(nf.error().kind == ErrorKind::kNotFound);
  CHECK(nf.error().message ==
        "cluster a GET /jobs/0123: HTTP 404: org.apache.flink.runtime.rest.handler.RestHandlerException: "
        "Job 0123456789abcdef0123456789abcdef not found");
  auto le = c.Handle("GET", "/jobs/0123", Reply(503, Synthetic("ERROR_503_leader_election.SYNTHETIC.json")), parse);
  REQUIRE_FALSE(le);
  CHECK(le.error().kind == ErrorKind::kTransient);
  CHECK(le.error().message.find("leader election") != std::string::npos);
  auto ie = c.Handle("GET", "/jobs/0123", Reply(500, Synthetic("ERROR_500_internal.SYNTHETIC.json")), parse);
  REQUIRE_FALSE(ie);
  CHECK(ie.error().kind == ErrorKind::kTransient);
  CHECK(ie.error().message.find("HTTP 500: <Exception on server side:") != std::string::npos);
  CHECK(c.Handle("PATCH", "/jobs/1", Reply(409, R"({"errors":["terminal"]})"), parse).error().kind ==
        ErrorKind::kConflict);
  CHECK(c.Handle("POST", "/jars/1/run", Reply(400, R"({"errors":["bad"]})"), parse).error().kind ==
        ErrorKind::kInvalid);
  auto gw = c.Handle("GET", "/x", Reply(502, "<html>bad gateway</html>"), parse);
  CHECK(gw.error().message == "cluster a GET /x: HTTP 502: non-JSON error body");
  auto transport = c.Handle("GET", "/x", Result<HttpResponse>(Fail(Error::Transient("GET http://x/x: refused"))), parse);
  CHECK(transport.error().kind == ErrorKind::kTransient);
  CHECK(transport.error().message == "cluster a GET /x: GET http://x/x: refused");
  auto ok = c.Handle("GET", "/config",
                     Reply(200, ReadFile(FlinkRestDir() + "/samples/real/GET_config.flink-1.14.4.k8s-operator.json")),
                     [](std::string_view b, const std::string& ctx) { return ParseDashboardConfig(b, ctx); });
  REQUIRE(ok);
  CHECK(ok->version->minor == 14);
}
