#include "tests/packaging/notify_listener.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <sstream>
#include <stdexcept>

namespace flinkguard::testing {

NotifyListener::NotifyListener(std::string path) : path_(std::move(path)) {
  sockaddr_un addr{};
  if (path_.size() >= sizeof(addr.sun_path)) {
    throw std::runtime_error("notify socket path too long: " + path_);
  }
  fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw std::runtime_error("socket(AF_UNIX): " + std::string(std::strerror(errno)));
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path_.c_str(), path_.size() + 1);
  if (::bind(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    const std::string why = std::strerror(errno);
    ::close(fd_);
    throw std::runtime_error("bind " + path_ + ": " + why);
  }
}

NotifyListener::~NotifyListener() {
  if (fd_ >= 0) ::close(fd_);
  ::unlink(path_.c_str());
}

std::optional<std::string> NotifyListener::Next(std::chrono::milliseconds limit) {
  pollfd p{fd_, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(limit.count())) <= 0) return std::nullopt;
  char buf[4096];
  const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
  if (n < 0) return std::nullopt;
  return std::string(buf, static_cast<std::size_t>(n));
}

std::optional<std::string> NotifyListener::WaitFor(const std::string& line,
                                                   std::chrono::milliseconds limit,
                                                   std::vector<std::string>* before) {
  const auto until = std::chrono::steady_clock::now() + limit;
  for (int i = 0; i < 10'000; ++i) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        until - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    std::optional<std::string> m = Next(left);
    if (!m) break;
    if (HasLine(*m, line)) return m;
    if (before != nullptr) before->push_back(*m);
  }
  return std::nullopt;
}

bool HasLine(const std::string& message, const std::string& line) {
  std::istringstream in(message);
  for (std::string l; std::getline(in, l);) {
    if (l == line) return true;
  }
  return false;
}

std::optional<std::string> Field(const std::string& message, const std::string& key) {
  std::istringstream in(message);
  for (std::string l; std::getline(in, l);) {
    if (l.rfind(key + "=", 0) == 0) return l.substr(key.size() + 1);
  }
  return std::nullopt;
}

}  // namespace flinkguard::testing
