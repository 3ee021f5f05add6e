#include "agent/http/http_transport.h"

namespace flinkguard {

Result<HttpResponse> HttpTransport::Send(HttpRequest request) {
  Result<HttpResponse> out = Fail(Error::Permanent("request was not run"));
  RequestBatch batch;
  batch.Add(std::move(request), [&out](Result<HttpResponse> r) { out = std::move(r); });
  Run(batch);
  return out;
}

}  // namespace flinkguard
