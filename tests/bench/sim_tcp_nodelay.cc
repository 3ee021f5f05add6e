// A preload library for observe_bench --sim-tcp-nodelay: sets TCP_NODELAY on every socket the
// process accepts. flinksim's HTTP server (civetweb without its `tcp_nodelay` option) writes a
// response's head and body in two writes; with Nagle's algorithm on, the body waits for the
// client's delayed ACK of the head (~40 ms on Linux), so every request on a kept-alive connection
// takes ~40 ms whatever the load. Preloading this library into flinksim removes that stall
// without changing flinksim, so the benchmark can show what the agent itself costs.
// Loaded with LD_PRELOAD; not for sanitizer builds (the ASan runtime must come first).

#include <dlfcn.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

namespace {

using AcceptFn = int (*)(int, sockaddr*, socklen_t*);
using Accept4Fn = int (*)(int, sockaddr*, socklen_t*, int);

int WithNoDelay(int fd) {
  if (fd >= 0) {
    int one = 1;
    // Not a TCP socket (a Unix socket): the call fails harmlessly.
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
  return fd;
}

}  // namespace

extern "C" int accept(int sockfd, sockaddr* addr, socklen_t* addrlen) {
  static const auto real = reinterpret_cast<AcceptFn>(dlsym(RTLD_NEXT, "accept"));
  return WithNoDelay(real(sockfd, addr, addrlen));
}

extern "C" int accept4(int sockfd, sockaddr* addr, socklen_t* addrlen, int flags) {
  static const auto real = reinterpret_cast<Accept4Fn>(dlsym(RTLD_NEXT, "accept4"));
  return WithNoDelay(real(sockfd, addr, addrlen, flags));
}
