#pragma once

// Flink's JobManager REST API over the flinksim model: routing (with and without the /v1
// prefix), version-specific JSON shapes, request-body parsing (strict up to 1.19, lenient from
// 1.20) and Flink's error bodies. No sockets: HttpRequest in, HttpResponse out.

#include <string>
#include <vector>

#include "tests/flinksim/cluster.h"
#include "tests/flinksim/http_types.h"

namespace flinksim {

// {"errors":[...]} with the given status.
HttpResponse ErrorResponse(int status, const std::vector<std::string>& errors);
// Maps a model error to Flink's status code and body (500 uses the two-string form).
HttpResponse SimErrorResponse(const SimError& error);

class RestApi {
 public:
  // `cluster` must outlive this object. `rest_base_url` is what GET /jars reports as
  // "address" (e.g. "http://127.0.0.1:8081").
  RestApi(Cluster& cluster, std::string rest_base_url);

  // Handles one request. The caller advances the cluster to the current simulated time first
  // and serialises calls (the model is not thread-safe).
  HttpResponse Handle(const HttpRequest& request);

  void set_rest_base_url(std::string url) { rest_base_url_ = std::move(url); }

 private:
  Cluster& cluster_;
  std::string rest_base_url_;
};

}  // namespace flinksim
