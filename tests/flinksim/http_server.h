#pragma once

// civetweb adapter: one listening context per port, each request converted to an HttpRequest
// and handed to a callback that writes the answer.

#include <functional>
#include <memory>
#include <string>

#include "tests/flinksim/http_types.h"

struct mg_context;
struct mg_connection;

namespace flinksim {

class Listener {
 public:
  // Called on a civetweb worker thread for every request; writes the reply with
  // WriteResponse() (or nothing, to drop the connection). Returns the HTTP status for logs.
  using Handler = std::function<int(mg_connection* conn, const HttpRequest& request)>;

  // Binds `host_port` ("127.0.0.1:0" = ephemeral) with `threads` workers. nullptr and
  // `*error` set when binding fails.
  static std::unique_ptr<Listener> Start(const std::string& host_port, int threads, Handler handler,
                                         std::string* error);
  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // The bound port.
  int port() const { return port_; }

 private:
  Listener() = default;
  static int OnRequest(mg_connection* conn);

  mg_context* ctx_ = nullptr;
  Handler handler_;
  int port_ = 0;
};

// Writes a complete HTTP/1.1 response (status line, Content-Type, Content-Length, CORS header
// as Flink sends it, body).
void WriteResponse(mg_connection* conn, const HttpResponse& response);

}  // namespace flinksim
