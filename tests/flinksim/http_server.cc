#include "tests/flinksim/http_server.h"

#include <civetweb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <vector>

namespace flinksim {
namespace {

constexpr long long kMaxBodyBytes = 512LL * 1024 * 1024;

const char* Reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 202: return "Accepted";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Unknown";
  }
}

HttpRequest ReadRequest(mg_connection* conn) {
  const mg_request_info* info = mg_get_request_info(conn);
  HttpRequest req;
  req.method = info->request_method ? info->request_method : "GET";
  req.path = info->local_uri ? info->local_uri : (info->request_uri ? info->request_uri : "/");
  req.query = info->query_string ? info->query_string : "";
  for (int i = 0; i < info->num_headers; ++i) {
    req.headers.emplace_back(info->http_headers[i].name ? info->http_headers[i].name : "",
                             info->http_headers[i].value ? info->http_headers[i].value : "");
  }
  // A request with neither Content-Length nor Transfer-Encoding has no body (RFC 9112 6.3):
  // most requests (GETs) need no buffer allocated and cleared.
  if (info->content_length <= 0 && mg_get_header(conn, "Transfer-Encoding") == nullptr) return req;
  std::vector<char> buf(64 * 1024);
  long long total = 0;
  // Bounded by the declared length (or EOF) and a hard cap.
  for (int guard = 0; guard < 1'000'000 && total < kMaxBodyBytes; ++guard) {
    int n = mg_read(conn, buf.data(), buf.size());
    if (n <= 0) break;
    req.body.append(buf.data(), static_cast<size_t>(n));
    total += n;
  }
  return req;
}

// Shuts down this process's listening sockets bound to `port`. civetweb only notices mg_stop
// at its next polling quantum (up to 2 s); until then the kernel would still accept (and later
// reset) connections. After shutdown() new connections are refused at once, and the master
// thread wakes up immediately.
void ShutdownListeningSockets(int port) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd", ec)) {
    const std::string name = entry.path().filename().string();
    char* end = nullptr;
    const long fd_long = std::strtol(name.c_str(), &end, 10);
    if (end == name.c_str() || *end != '\0') continue;
    const int fd = static_cast<int>(fd_long);
    int listening = 0;
    socklen_t len = sizeof(listening);
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || listening == 0)
      continue;
    sockaddr_storage addr{};
    socklen_t alen = sizeof(addr);
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &alen) != 0) continue;
    int bound = -1;
    if (addr.ss_family == AF_INET) {
      bound = ntohs(reinterpret_cast<const sockaddr_in*>(&addr)->sin_port);
    } else if (addr.ss_family == AF_INET6) {
      bound = ntohs(reinterpret_cast<const sockaddr_in6*>(&addr)->sin6_port);
    }
    if (bound == port) shutdown(fd, SHUT_RDWR);
  }
}

}  // namespace

void WriteResponse(mg_connection* conn, const HttpResponse& response) {
  // Head and body in one write, as Netty flushes a full response: with TCP_NODELAY two writes
  // would be two segments, two wake-ups of the client and two send calls here.
  std::string out;
  out.reserve(160 + response.content_type.size() + response.body.size());
  out += "HTTP/1.1 ";
  out += std::to_string(response.status);
  out += ' ';
  out += Reason(response.status);
  out += "\r\nContent-Type: ";
  out += response.content_type;
  out += "\r\nAccess-Control-Allow-Origin: *\r\nContent-Length: ";
  out += std::to_string(response.body.size());
  out += "\r\n\r\n";
  out += response.body;
  mg_write(conn, out.data(), out.size());
}

std::unique_ptr<Listener> Listener::Start(const std::string& host_port, int threads,
                                          Handler handler, std::string* error) {
  std::unique_ptr<Listener> l(new Listener());
  l->handler_ = std::move(handler);
  std::string thread_count = std::to_string(threads < 1 ? 1 : threads);
  // clang-format off
  const char* options[] = {"listening_ports",
                           host_port.c_str(),
                           "num_threads",
                           thread_count.c_str(),
                           "enable_keep_alive",
                           "yes",
                           "keep_alive_timeout_ms",
                           "5000",
                           "request_timeout_ms",
                           "30000",
                           // Flink's REST server (Netty) sets TCP_NODELAY; without it a response
                           // written in pieces waits ~40 ms for the client's delayed ACK.
                           "tcp_nodelay",
                           "1",
                           nullptr};
  // clang-format on
  mg_callbacks callbacks;
  std::memset(&callbacks, 0, sizeof(callbacks));
  callbacks.begin_request = &Listener::OnRequest;
  callbacks.log_message = [](const mg_connection*, const char*) { return 1; };  // quiet
  mg_init_data init;
  std::memset(&init, 0, sizeof(init));
  init.callbacks = &callbacks;
  init.user_data = l.get();
  init.configuration_options = options;
  mg_error_data err;
  std::memset(&err, 0, sizeof(err));
  char text[256] = {0};
  err.text = text;
  err.text_buffer_size = sizeof(text);
  l->ctx_ = mg_start2(&init, &err);
  if (l->ctx_ == nullptr) {
    if (error) *error = "cannot listen on " + host_port + ": " + text;
    return nullptr;
  }
  mg_server_port ports[4];
  std::memset(ports, 0, sizeof(ports));
  int n = mg_get_server_ports(l->ctx_, 4, ports);
  if (n < 1) {
    if (error) *error = "cannot determine the bound port for " + host_port;
    return nullptr;
  }
  l->port_ = ports[0].port;
  return l;
}

Listener::~Listener() {
  if (ctx_ == nullptr) return;
  ShutdownListeningSockets(port_);
  mg_stop(ctx_);
}

int Listener::OnRequest(mg_connection* conn) {
  auto* self = static_cast<Listener*>(mg_get_user_data(mg_get_context(conn)));
  HttpRequest req = ReadRequest(conn);
  int status = self->handler_(conn, req);
  return status > 0 ? status : 1;
}

}  // namespace flinksim
