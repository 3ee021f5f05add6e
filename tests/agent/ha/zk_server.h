#pragma once

// A throwaway ZooKeeper server for tests: Debian's zookeeper jar run by java on 127.0.0.1 with
// an ephemeral port and a data dir under a TempDir, stopped by its PID. Stop() and Start() again
// keep the port and the data (a server restart).

#include <string>

#include "tests/support/test_support.h"

namespace flinkguard::testing {

class ZkServer {
 public:
  // tick_ms: ZooKeeper's tickTime; sessions may last 2..20 ticks.
  explicit ZkServer(int tick_ms = 500);
  ~ZkServer();
  ZkServer(const ZkServer&) = delete;
  ZkServer& operator=(const ZkServer&) = delete;

  // Starts the server and waits (at most 30 s) until it answers "ruok"; false when it did not.
  bool Start();
  void Stop();
  bool Running() { return process_.Running(); }
  void Signal(int sig) { process_.Signal(sig); }
  int port() const { return port_; }
  std::string connect() const { return "127.0.0.1:" + std::to_string(port_); }
  const std::string& dir() const { return dir_.path(); }
  std::string Log() const { return process_.Log(); }

 private:
  TempDir dir_;
  int port_ = 0;
  int tick_ms_;
  ChildProcess process_;
};

// Runs /usr/bin/python3 (Debian's, which sees python3-kazoo) with `script`; its output in `log`.
ChildProcess StartPython(const std::string& script_path, const std::vector<std::string>& args,
                         const std::string& log_path);

}  // namespace flinkguard::testing
