#pragma once

// The service manager's end of systemd's notification protocol, for tests: a unix datagram
// socket bound in a temp dir, whose path goes into a child's NOTIFY_SOCKET. Test-only code.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace flinkguard::testing {

class NotifyListener {
 public:
  // Binds an AF_UNIX SOCK_DGRAM socket at `path` (which must not exist). Throws
  // std::runtime_error naming the path when it cannot.
  explicit NotifyListener(std::string path);
  NotifyListener(const NotifyListener&) = delete;
  NotifyListener& operator=(const NotifyListener&) = delete;
  ~NotifyListener();

  const std::string& path() const { return path_; }

  // The next datagram, waiting at most `limit`; std::nullopt when none came.
  std::optional<std::string> Next(std::chrono::milliseconds limit);

  // Reads datagrams (at most `limit` in all) until one holds the line `line` (e.g. "READY=1")
  // and returns it; every datagram read before it is appended to `before` when given.
  std::optional<std::string> WaitFor(const std::string& line, std::chrono::milliseconds limit,
                                     std::vector<std::string>* before = nullptr);

 private:
  std::string path_;
  int fd_ = -1;
};

// True when the notification `message` ("K=V" lines) holds the line `line`.
bool HasLine(const std::string& message, const std::string& line);
// The value of `key` in `message`; std::nullopt when it has no such line.
std::optional<std::string> Field(const std::string& message, const std::string& key);

}  // namespace flinkguard::testing
