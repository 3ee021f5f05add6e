#include "tests/agent/ha/zk_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

namespace flinkguard::testing {
namespace {

int FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  int port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

// "imok" from the four-letter word "ruok".
bool Ruok(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  bool ok = false;
  timeval tv{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::write(fd, "ruok", 4) == 4) {
    char buf[8] = {};
    ok = ::read(fd, buf, 4) == 4 && std::string(buf) == "imok";
  }
  ::close(fd);
  return ok;
}

}  // namespace

ZkServer::ZkServer(int tick_ms) : dir_("fg-zk"), port_(FreePort()), tick_ms_(tick_ms) {
  std::ofstream cfg(dir_.File("zoo.cfg"));
  cfg << "tickTime=" << tick_ms_ << "\ndataDir=" << dir_.path() << "/data\nclientPort=" << port_
      << "\nclientPortAddress=127.0.0.1\nmaxClientCnxns=0\nadmin.enableServer=false\n"
         "4lw.commands.whitelist=ruok,srvr,stat,mntr,conf,cons,wchs,dump,envi,isro\n";
}

ZkServer::~ZkServer() { Stop(); }

bool ZkServer::Start() {
  process_ = ChildProcess::Start(
      {"java", "-Xms32m", "-Xmx128m", "-cp",
       "/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar",
       "-Dzookeeper.admin.enableServer=false", "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
       "org.apache.zookeeper.server.ZooKeeperServerMain", dir_.File("zoo.cfg")},
      dir_.File("zk.log"));
  for (int i = 0; i < 300; ++i) {
    if (!process_.Running()) return false;
    if (Ruok(port_)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

void ZkServer::Stop() {
  if (process_.pid() > 0) process_.Stop(std::chrono::milliseconds(5000));
}

ChildProcess StartPython(const std::string& script_path, const std::vector<std::string>& args,
                         const std::string& log_path) {
  std::vector<std::string> argv{"/usr/bin/python3", "-u", script_path};
  argv.insert(argv.end(), args.begin(), args.end());
  return ChildProcess::Start(argv, log_path);
}

}  // namespace flinkguard::testing
