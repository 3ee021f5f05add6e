#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "agent/http/http_transport.h"

namespace flinkguard {

struct CurlTransportOptions {
  std::size_t max_total_connections = 256;  // requests in flight across all hosts
  std::size_t max_host_connections = 8;     // per host:port; keep-alive connections are reused
  std::string user_agent = "flinkguard";    // sent as User-Agent on every request
  std::string instance_id;                  // sent as X-Flinkguard-Instance when not empty
};

// HttpTransport on libcurl's multi interface: one event loop on the caller's thread, many
// requests in flight, connections kept alive and reused across Run calls.
// Not thread-safe: one thread at a time.
class CurlTransport final : public HttpTransport {
 public:
  explicit CurlTransport(CurlTransportOptions options);
  ~CurlTransport() override;
  CurlTransport(const CurlTransport&) = delete;
  CurlTransport& operator=(const CurlTransport&) = delete;

  void Run(RequestBatch& batch) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace flinkguard
