#pragma once

// Helpers for integration tests: child processes stopped by PID, temp dirs, a small blocking
// HTTP client for loopback servers, and the source/binary directories. Test-only code.

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace flinkguard::testing {

using namespace std::chrono_literals;

// A child process started by a test. Its stdout and stderr go to `log_path`. The destructor
// stops it (SIGTERM, then SIGKILL after a grace period) so no test leaves a server behind.
class ChildProcess {
 public:
  ChildProcess() = default;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ~ChildProcess();

  // Starts argv[0] (a path, or a name looked up in PATH) with the rest of argv as arguments;
  // `env` entries ("K=V") are added to the inherited environment. Throws std::runtime_error
  // when fork/exec fails (the exec failure is reported from the child through the log file).
  static ChildProcess Start(const std::vector<std::string>& argv, const std::string& log_path,
                            const std::vector<std::string>& env = {});

  pid_t pid() const { return pid_; }
  // True while the child has not exited (reaps it when it has).
  bool Running();
  // SIGTERM, waits up to `grace`, then SIGKILL. Returns the wait status (as from waitpid), or
  // -1 when the child was already reaped. Idempotent.
  int Stop(std::chrono::milliseconds grace = 3000ms);
  // Sends `sig` (e.g. SIGKILL, SIGSTOP, SIGCONT) without waiting.
  void Signal(int sig);
  // The log file's content so far.
  std::string Log() const;
  const std::string& log_path() const { return log_path_; }

 private:
  pid_t pid_ = -1;
  int status_ = -1;
  std::string log_path_;
};

// Creates a fresh directory under $TMPDIR (or /tmp) named <prefix>-XXXXXX and returns it.
// Removed at destruction.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "flinkguard-test");
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Polls (every 20 ms, at most `timeout`) until `path` exists and holds a complete line, then
// returns its first line. std::nullopt on timeout.
std::optional<std::string> WaitForFileLine(const std::string& path,
                                           std::chrono::milliseconds timeout = 10000ms);

// The command line of a flinksim child on loopback with ephemeral ports written to
// `dir`/ports, its data under `dir`/data, a fixed seed and `time_scale`; callers append more.
std::vector<std::string> FlinksimArgv(const std::string& binary, const TempDir& dir,
                                      int time_scale);

struct HttpReply {
  long status = 0;          // 0 when no HTTP response was received
  std::string body;
  std::string error;        // transport error text when status == 0
  std::string content_type;
};

// A blocking HTTP request (libcurl) for tests. `headers` are "Name: value" strings.
HttpReply HttpCall(const std::string& method, const std::string& url,
                   const std::string& body = "", const std::vector<std::string>& headers = {},
                   std::chrono::milliseconds timeout = 5000ms);

// Directories from the CTest environment (FLINKGUARD_SOURCE_DIR / FLINKGUARD_BINARY_DIR);
// fall back to the compile-time paths when run outside CTest.
std::string SourceDir();
std::string BinaryDir();
// tests/contract/flink-rest under the source dir: the recorded Flink REST samples and spec
// snapshots that flinksim and the Flink client are checked against.
std::string FlinkRestDir();

// Reads a whole file; throws std::runtime_error naming the path when it cannot.
std::string ReadFile(const std::string& path);

// From a flinksim `/_sim/jobs` body: the id of the newest instance of `job` whose status is
// `status` ("" when none, or when the body is not that document).
std::string NewestSimInstance(const std::string& sim_jobs_body, const std::string& job,
                              const std::string& status);

inline bool Contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// Polls `done` every `every` for at most `limit`; its last answer.
template <typename F>
bool WaitFor(F done, std::chrono::milliseconds limit = 30000ms,
             std::chrono::milliseconds every = 50ms) {
  for (auto until = std::chrono::steady_clock::now() + limit;
       std::chrono::steady_clock::now() < until;) {
    if (done()) return true;
    std::this_thread::sleep_for(every);
  }
  return done();
}

// A program run to its end: exit code (-1 when killed or not exited) and combined output.
struct ProgramRun {
  int code = -1;
  std::string output;
};
// Runs `argv` with its output in `log_path`, waits at most `limit` (then stops it by PID).
ProgramRun RunToExit(const std::vector<std::string>& argv, const std::string& log_path,
                     std::chrono::milliseconds limit = 120000ms);

}  // namespace flinkguard::testing
