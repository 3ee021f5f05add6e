#include "tests/support/test_support.h"

#include <doctest/doctest.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <thread>

using namespace flinkguard::testing;

TEST_CASE("a child process is started, logged and stopped by PID") {
  TempDir dir("fg-support");
  auto child = ChildProcess::Start({"/bin/sh", "-c", "echo started; exec sleep 30"},
                                   dir.File("child.log"));
  REQUIRE(child.pid() > 0);
  CHECK(child.Running());
  REQUIRE(WaitForFileLine(dir.File("child.log"), 5000ms) == std::optional<std::string>("started"));
  const int status = child.Stop(2000ms);
  CHECK(WIFSIGNALED(status));
  CHECK_FALSE(child.Running());
  CHECK(child.Stop() == status);  // idempotent
}

TEST_CASE("exec failure is visible in the log and the exit code") {
  TempDir dir("fg-support");
  auto child = ChildProcess::Start({"/nonexistent/flinkguard-binary"}, dir.File("child.log"));
  for (int i = 0; i < 500 && child.Running(); ++i) std::this_thread::sleep_for(10ms);
  CHECK_FALSE(child.Running());
  CHECK(child.Log().find("exec failed") != std::string::npos);
}

TEST_CASE("a temp dir is created and removed") {
  std::string path;
  {
    TempDir dir("fg-support");
    path = dir.path();
    CHECK(std::filesystem::is_directory(path));
    std::ofstream(dir.File("x")) << "x";
  }
  CHECK_FALSE(std::filesystem::exists(path));
}

TEST_CASE("an HTTP call to a closed loopback port reports a transport error") {
  // Port 1 on loopback is reserved (tcpmux) and not served here.
  HttpReply r = HttpCall("GET", "http://127.0.0.1:1/", "", {}, 2000ms);
  CHECK(r.status == 0);
  CHECK_FALSE(r.error.empty());
}
