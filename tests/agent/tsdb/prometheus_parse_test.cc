#include <doctest/doctest.h>

#include <cmath>

#include "agent/tsdb/prometheus_client.h"

using namespace flinkguard;

TEST_CASE("a vector result maps each series to its job by label") {
  auto r = ParsePromQueryResponse(R"({"status":"success","data":{"resultType":"vector","result":[
      {"metric":{"job_name":"ads"},"value":[1700000000.5,"812.25"]},
      {"metric":{"job_name":"clicks"},"value":[1700000000.5,"NaN"]},
      {"metric":{"job_name":"fraud"},"value":[1700000000.5,"+Inf"]}]},
      "warnings":["query touched many series"]})",
                                  "job_name", "tsdb q");
  REQUIRE(r);
  CHECK(r->by_job.size() == 3);
  CHECK(r->by_job.at("ads") == 812.25);
  CHECK(std::isnan(r->by_job.at("clicks")));
  CHECK(std::isinf(r->by_job.at("fraud")));
  CHECK(r->evaluated_at_ms == 1700000000500);
  CHECK(r->warnings == std::vector<std::string>{"query touched many series"});
  CHECK(r->problems.empty());
}

TEST_CASE("a configurable label, unlabelled and duplicate series are reported, not guessed") {
  auto r = ParsePromQueryResponse(R"({"status":"success","data":{"resultType":"vector","result":[
      {"metric":{"flink_job":"a"},"value":[1,"1"]},
      {"metric":{"job_name":"a"},"value":[1,"2"]},
      {"metric":{"flink_job":"b","subtask":"0"},"value":[1,"3"]},
      {"metric":{"flink_job":"b","subtask":"1"},"value":[1,"4"]},
      {"metric":{"flink_job":"c"},"value":[1,4]}]}})",
                                  "flink_job", "tsdb q");
  REQUIRE(r);
  CHECK(r->by_job.size() == 1);
  CHECK(r->by_job.at("a") == 1);
  REQUIRE(r->problems.size() == 3);
  CHECK(r->problems[0].find("result[1]: series has no 'flink_job' label") != std::string::npos);
  CHECK(r->problems[1].find("several series for flink_job=\"b\"") != std::string::npos);
  CHECK(r->problems[2].find("result[4]") != std::string::npos);  // value not a string
}

TEST_CASE("scalar results, errors, and wrong result types") {
  auto s = ParsePromQueryResponse(R"({"status":"success","data":{"resultType":"scalar","result":[2,"42"]}})",
                                  "job_name", "c");
  REQUIRE(s);
  CHECK(s->is_scalar);
  CHECK(s->scalar == 42);
  auto bad = ParsePromQueryResponse(
      R"({"status":"error","errorType":"bad_data","error":"1:5: parse error: unexpected identifier"})",
      "job_name", "tsdb http://p:9090 query 'sum(x'");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().kind == ErrorKind::kInvalid);
  CHECK(bad.error().message ==
        "tsdb http://p:9090 query 'sum(x': Prometheus error (bad_data): 1:5: parse error: unexpected identifier");
  auto busy = ParsePromQueryResponse(R"({"status":"error","errorType":"timeout","error":"query timed out"})",
                                     "job_name", "c");
  REQUIRE_FALSE(busy);
  CHECK(busy.error().kind == ErrorKind::kTransient);
  auto matrix = ParsePromQueryResponse(R"({"status":"success","data":{"resultType":"matrix","result":[]}})",
                                       "job_name", "c");
  REQUIRE_FALSE(matrix);
  CHECK(matrix.error().message.find("expected vector or scalar, found 'matrix'") != std::string::npos);
  CHECK_FALSE(ParsePromQueryResponse("<html>", "job_name", "c").has_value());
  CHECK_FALSE(ParsePromQueryResponse(R"({"status":"success"})", "job_name", "c").has_value());
}

TEST_CASE("queries are URL-encoded") {
  CHECK(UrlEncode(R"(sum by (job_name) (rate(x{a="b"}[1m])))") ==
        "sum%20by%20%28job_name%29%20%28rate%28x%7Ba%3D%22b%22%7D%5B1m%5D%29%29");
}
