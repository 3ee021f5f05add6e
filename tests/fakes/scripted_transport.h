#pragma once

// A hand-written HttpTransport for unit tests: answers from a script keyed by "METHOD url",
// records every request, and fails loudly on requests nobody scripted (they are answered with
// an error and listed in unexpected()), so a test can assert exactly what was sent.

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "agent/http/http_transport.h"

namespace flinkguard::testing {

class ScriptedTransport final : public HttpTransport {
 public:
  using Handler = std::function<Result<HttpResponse>(const HttpRequest&)>;

  // Answers `method url` (the full URL, query included) with `handler`, every time.
  void On(const std::string& method, const std::string& url, Handler handler) {
    script_[method + " " + url] = std::move(handler);
  }
  // Answers with a fixed status and body.
  void Reply(const std::string& method, const std::string& url, long status, std::string body) {
    On(method, url, [status, body](const HttpRequest&) -> Result<HttpResponse> {
      HttpResponse r;
      r.status = status;
      r.body = body;
      return r;
    });
  }
  // Answers with a transport error (connection refused, timeout).
  void FailWith(const std::string& method, const std::string& url, Error e) {
    On(method, url, [e](const HttpRequest&) -> Result<HttpResponse> { return Fail(e); });
  }
  void Forget(const std::string& method, const std::string& url) {
    script_.erase(method + " " + url);
  }

  void Run(RequestBatch& batch) override {
    // Bounded: a script that keeps adding follow-ups forever is a test bug; stop at 100k.
    for (int round = 0; round < 100000 && !batch.empty(); ++round) {
      for (auto& [req, done] : batch.TakePending()) {
        const std::string key = req.method + " " + req.url;
        sent_.push_back(key);
        used_.insert(key);
        auto it = script_.find(key);
        if (it == script_.end()) {
          unexpected_.push_back(key);
          done(Fail(Error::Permanent("unscripted request " + key)));
        } else {
          done(it->second(req));
        }
      }
    }
  }

  const std::vector<std::string>& sent() const { return sent_; }
  const std::vector<std::string>& unexpected() const { return unexpected_; }
  // Scripted keys never requested since construction.
  std::vector<std::string> unused() const {
    std::vector<std::string> out;
    for (const auto& [key, h] : script_) {
      if (used_.count(key) == 0) out.push_back(key);
    }
    return out;
  }
  void ClearLog() { sent_.clear(); }
  // How many requests of the last Run(s) since ClearLog() started with `method url-prefix`.
  int Count(const std::string& prefix) const {
    int n = 0;
    for (const std::string& s : sent_) n += s.rfind(prefix, 0) == 0 ? 1 : 0;
    return n;
  }

 private:
  std::map<std::string, Handler> script_;
  std::vector<std::string> sent_;
  std::vector<std::string> unexpected_;
  std::set<std::string> used_;
};

}  // namespace flinkguard::testing
