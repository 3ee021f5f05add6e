#include "tests/support/test_support.h"

#include <rapidjson/document.h>

#include <curl/curl.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace flinkguard::testing {
namespace fs = std::filesystem;

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(other.pid_), status_(other.status_), log_path_(std::move(other.log_path_)) {
  other.pid_ = -1;
}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    Stop();
    pid_ = other.pid_;
    status_ = other.status_;
    log_path_ = std::move(other.log_path_);
    other.pid_ = -1;
  }
  return *this;
}

ChildProcess::~ChildProcess() { Stop(); }

ChildProcess ChildProcess::Start(const std::vector<std::string>& argv, const std::string& log_path,
                                 const std::vector<std::string>& env) {
  if (argv.empty()) throw std::runtime_error("ChildProcess::Start: empty argv");
  // Prepare everything the child needs before fork: only async-signal-safe calls after it.
  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) env_strings.emplace_back(*e);
  for (const std::string& e : env) env_strings.push_back(e);
  std::vector<char*> envp;
  for (std::string& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);

  const int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (log_fd < 0) throw std::runtime_error("cannot open log " + log_path + ": " + std::strerror(errno));
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(log_fd);
    throw std::runtime_error(std::string("fork failed: ") + std::strerror(errno));
  }
  if (pid == 0) {
    ::setpgid(0, 0);  // own process group, so a stray grandchild can be killed with it
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    const int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
    ::execvpe(args[0], args.data(), envp.data());
    const char msg[] = "ChildProcess: exec failed\n";
    [[maybe_unused]] auto n = ::write(STDERR_FILENO, msg, sizeof(msg) - 1);
    ::_exit(127);
  }
  ::close(log_fd);
  ChildProcess child;
  child.pid_ = pid;
  child.log_path_ = log_path;
  return child;
}

bool ChildProcess::Running() {
  if (pid_ <= 0) return false;
  int status = 0;
  const pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == 0) return true;
  if (r == pid_) status_ = status;
  pid_ = -1;
  return false;
}

int ChildProcess::Stop(std::chrono::milliseconds grace) {
  if (pid_ <= 0) return status_;
  ::kill(pid_, SIGCONT);  // a stopped child cannot handle SIGTERM
  ::kill(pid_, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + grace;
  int status = 0;
  for (;;) {
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_ || r < 0) break;
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(-pid_, SIGKILL);
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(-pid_, SIGKILL);  // anything left in the child's process group
  status_ = status;
  pid_ = -1;
  return status_;
}

void ChildProcess::Signal(int sig) {
  if (pid_ > 0) ::kill(pid_, sig);
}

std::string ChildProcess::Log() const {
  std::ifstream in(log_path_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TempDir::TempDir(const std::string& prefix) {
  const char* base = std::getenv("TMPDIR");
  std::string templ = std::string(base && *base ? base : "/tmp") + "/" + prefix + "-XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) {
    throw std::runtime_error("mkdtemp " + templ + ": " + std::strerror(errno));
  }
  path_ = templ;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::vector<std::string> FlinksimArgv(const std::string& binary, const TempDir& dir,
                                      int time_scale) {
  return {binary,           "--listen",     "127.0.0.1:0",
          "--control-listen", "127.0.0.1:0", "--port-file",
          dir.File("ports"), "--time-scale", std::to_string(time_scale),
          "--data-dir",     dir.File("data"), "--seed",
          "7"};
}

std::optional<std::string> WaitForFileLine(const std::string& path,
                                           std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream in(path);
    std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto nl = content.find('\n');
    if (nl != std::string::npos) return content.substr(0, nl);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return std::nullopt;
}

namespace {

size_t AppendBody(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

struct CurlGlobal {
  CurlGlobal() { curl_global_init(CURL_GLOBAL_DEFAULT); }
};

}  // namespace

HttpReply HttpCall(const std::string& method, const std::string& url, const std::string& body,
                   const std::vector<std::string>& headers, std::chrono::milliseconds timeout) {
  static CurlGlobal global;
  HttpReply reply;
  CURL* curl = curl_easy_init();
  if (curl == nullptr) {
    reply.error = "curl_easy_init failed";
    return reply;
  }
  curl_slist* list = nullptr;
  for (const std::string& h : headers) list = curl_slist_append(list, h.c_str());
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method.c_str());
  if (method == "HEAD") curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  if (!body.empty() || method == "POST" || method == "PATCH" || method == "PUT") {
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, AppendBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &reply.body);
  const CURLcode rc = curl_easy_perform(curl);
  if (rc == CURLE_OK) {
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply.status);
    char* ct = nullptr;
    curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &ct);
    if (ct != nullptr) reply.content_type = ct;
  } else {
    reply.error = curl_easy_strerror(rc);
  }
  curl_slist_free_all(list);
  curl_easy_cleanup(curl);
  return reply;
}

std::string SourceDir() {
  const char* env = std::getenv("FLINKGUARD_SOURCE_DIR");
  return env && *env ? env : FLINKGUARD_TEST_SOURCE_DIR;
}

std::string BinaryDir() {
  const char* env = std::getenv("FLINKGUARD_BINARY_DIR");
  return env && *env ? env : FLINKGUARD_TEST_BINARY_DIR;
}

std::string FlinkRestDir() {
  const char* env = std::getenv("FLINKGUARD_FLINK_REST_DIR");
  return env && *env ? std::string(env) : SourceDir() + "/tests/contract/flink-rest";
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

ProgramRun RunToExit(const std::vector<std::string>& argv, const std::string& log_path,
                     std::chrono::milliseconds limit) {
  ChildProcess p = ChildProcess::Start(argv, log_path);
  (void)WaitFor([&] { return !p.Running(); }, limit);
  ProgramRun out;
  const int status = p.Stop();
  out.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  out.output = p.Log();
  return out;
}

std::string NewestSimInstance(const std::string& sim_jobs_body, const std::string& job,
                              const std::string& status) {
  rapidjson::Document doc;
  doc.Parse(sim_jobs_body.c_str(), sim_jobs_body.size());
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("jobs") || !doc["jobs"].IsArray()) {
    return "";
  }
  std::string id;  // flinksim lists instances oldest first
  for (const auto& j : doc["jobs"].GetArray()) {
    if (!j.IsObject() || !j.HasMember("name") || !j.HasMember("status") || !j.HasMember("id") ||
        !j["name"].IsString() || !j["status"].IsString() || !j["id"].IsString()) {
      continue;
    }
    if (job == j["name"].GetString() && status == j["status"].GetString()) id = j["id"].GetString();
  }
  return id;
}

}  // namespace flinkguard::testing
