#include "agent/http/curl_transport.h"

#include <curl/curl.h>

#include <cctype>
#include <charconv>
#include <algorithm>
#include <chrono>
#include <deque>
#include <map>
#include <thread>
#include <mutex>
#include <vector>

namespace flinkguard {
namespace {

void GlobalInitOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// One request in flight: its easy handle, buffers and callback.
struct Transfer {
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  HttpRequest request;
  RequestBatch::Callback done;
  HttpResponse response;
  char error[CURL_ERROR_SIZE] = {};
};

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  t->response.body.append(data, size * n);
  return size * n;
}

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::string_view line(data, size * n);
  constexpr std::string_view kRetry = "retry-after:";
  if (line.size() > kRetry.size()) {
    bool match = true;
    for (std::size_t i = 0; i < kRetry.size() && match; ++i) {
      match = std::tolower(static_cast<unsigned char>(line[i])) == kRetry[i];
    }
    if (match) {
      std::string_view v = line.substr(kRetry.size());
      while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
      long long secs = 0;
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), secs);
      // Only the delta-seconds form; an HTTP-date is ignored (the caller's backoff applies).
      if (ec == std::errc() && secs >= 0) t->response.retry_after = std::chrono::seconds(secs);
    }
  }
  return size * n;
}

}  // namespace

struct CurlTransport::Impl {
  CurlTransportOptions options;
  CURLM* multi = nullptr;
  std::vector<CURL*> idle;  // easy handles kept for reuse (their settings are reset on use)

  CURL* TakeEasy() {
    if (!idle.empty()) {
      CURL* e = idle.back();
      idle.pop_back();
      curl_easy_reset(e);
      return e;
    }
    return curl_easy_init();
  }

  void Prepare(Transfer& t) {
    CURL* e = t.easy;
    const HttpRequest& r = t.request;
    curl_easy_setopt(e, CURLOPT_URL, r.url.c_str());
    curl_easy_setopt(e, CURLOPT_PRIVATE, &t);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t.error);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(r.timeout.count()));
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(r.connect_timeout.count()));
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, OnBody);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, OnHeader);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(e, CURLOPT_USERAGENT, options.user_agent.c_str());
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");  // gzip when the server offers it
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    // Proxies from the environment would silently reroute agent traffic; never use them.
    curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
    if (r.method == "GET") {
      curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else {
      curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r.method.c_str());
      curl_easy_setopt(e, CURLOPT_POSTFIELDS, r.body.c_str());
      curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(r.body.size()));
    }
    for (const auto& [name, value] : r.headers) {
      t.headers = curl_slist_append(t.headers, (name + ": " + value).c_str());
    }
    if (!options.instance_id.empty()) {
      t.headers = curl_slist_append(t.headers, ("X-Flinkguard-Instance: " + options.instance_id).c_str());
    }
    // Without this, libcurl waits for a 100-continue on larger bodies, adding a second.
    t.headers = curl_slist_append(t.headers, "Expect:");
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, t.headers);
    if (r.tls) {
      if (!r.tls->ca_file.empty()) curl_easy_setopt(e, CURLOPT_CAINFO, r.tls->ca_file.c_str());
      if (!r.tls->cert_file.empty()) curl_easy_setopt(e, CURLOPT_SSLCERT, r.tls->cert_file.c_str());
      if (!r.tls->key_file.empty()) curl_easy_setopt(e, CURLOPT_SSLKEY, r.tls->key_file.c_str());
      curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, r.tls->verify ? 1L : 0L);
      curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, r.tls->verify ? 2L : 0L);
    }
  }

  void Finish(Transfer& t, CURLcode code) {
    curl_off_t total_us = 0;
    curl_easy_getinfo(t.easy, CURLINFO_TOTAL_TIME_T, &total_us);
    t.response.elapsed = std::chrono::microseconds(total_us);
    if (code == CURLE_OK) {
      curl_easy_getinfo(t.easy, CURLINFO_RESPONSE_CODE, &t.response.status);
      char* ct = nullptr;
      curl_easy_getinfo(t.easy, CURLINFO_CONTENT_TYPE, &ct);
      if (ct != nullptr) t.response.content_type = ct;
      t.done(std::move(t.response));
      return;
    }
    std::string what = t.error[0] != '\0' ? t.error : curl_easy_strerror(code);
    t.done(Fail(Error::Transient(t.request.method + " " + t.request.url + ": " + what)));
  }
};

CurlTransport::CurlTransport(CurlTransportOptions options) : impl_(std::make_unique<Impl>()) {
  GlobalInitOnce();
  impl_->options = std::move(options);
  impl_->multi = curl_multi_init();
  curl_multi_setopt(impl_->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
                    static_cast<long>(impl_->options.max_total_connections));
  curl_multi_setopt(impl_->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
                    static_cast<long>(impl_->options.max_host_connections));
  curl_multi_setopt(impl_->multi, CURLMOPT_MAXCONNECTS,
                    static_cast<long>(impl_->options.max_total_connections));
}

CurlTransport::~CurlTransport() {
  for (CURL* e : impl_->idle) curl_easy_cleanup(e);
  curl_multi_cleanup(impl_->multi);
}

void CurlTransport::Run(RequestBatch& batch) {
  Impl& im = *impl_;
  using Clock = std::chrono::steady_clock;
  std::deque<std::unique_ptr<Transfer>> waiting;
  std::vector<std::unique_ptr<Transfer>> active;
  std::multimap<Clock::time_point, std::unique_ptr<Transfer>> delayed;  // by start time
  auto take_new = [&] {
    for (auto& [req, cb] : batch.TakePending()) {
      auto t = std::make_unique<Transfer>();
      const auto delay = req.delay;
      t->request = std::move(req);
      t->done = std::move(cb);
      if (delay.count() > 0) {
        delayed.emplace(Clock::now() + delay, std::move(t));
      } else {
        waiting.push_back(std::move(t));
      }
    }
  };
  auto release_due = [&] {
    const auto now = Clock::now();
    while (!delayed.empty() && delayed.begin()->first <= now) {
      waiting.push_back(std::move(delayed.begin()->second));
      delayed.erase(delayed.begin());
    }
  };
  // Feeds waiting transfers into the multi handle up to the in-flight limit, so a batch of
  // 10,000 requests does not hold 10,000 sockets and buffers at once.
  auto start_some = [&] {
    while (!waiting.empty() && active.size() < im.options.max_total_connections * 2) {
      std::unique_ptr<Transfer> t = std::move(waiting.front());
      waiting.pop_front();
      t->easy = im.TakeEasy();
      if (t->easy == nullptr) {
        t->done(Fail(Error::Transient(t->request.method + " " + t->request.url +
                                      ": cannot allocate a transfer")));
        continue;
      }
      im.Prepare(*t);
      curl_multi_add_handle(im.multi, t->easy);
      active.push_back(std::move(t));
    }
  };
  take_new();
  start_some();
  // Bounded: every transfer carries a timeout and every delay is finite, so each iteration
  // either makes progress or waits at most 100 ms; the loop ends when nothing is active,
  // waiting or delayed.
  while (!active.empty() || !waiting.empty() || !delayed.empty()) {
    release_due();
    start_some();
    int running = 0;
    curl_multi_perform(im.multi, &running);
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(im.multi, &left)) {
      if (msg->msg != CURLMSG_DONE) continue;
      CURL* easy = msg->easy_handle;
      const CURLcode code = msg->data.result;
      Transfer* raw = nullptr;
      curl_easy_getinfo(easy, CURLINFO_PRIVATE, &raw);
      curl_multi_remove_handle(im.multi, easy);
      std::unique_ptr<Transfer> done;
      for (auto& a : active) {
        if (a.get() == raw) {
          done = std::move(a);
          a = std::move(active.back());
          active.pop_back();
          break;
        }
      }
      if (!done) continue;
      im.Finish(*done, code);
      curl_slist_free_all(done->headers);
      im.idle.push_back(done->easy);
      take_new();  // the callback may have added follow-ups
    }
    start_some();
    // Wait for network activity, or until the next delayed request is due (at most 100 ms).
    int wait_ms = 100;
    if (!delayed.empty()) {
      const auto until = std::chrono::duration_cast<std::chrono::milliseconds>(
          delayed.begin()->first - Clock::now());
      wait_ms = static_cast<int>(std::clamp<std::int64_t>(until.count(), 0, 100));
    }
    if (!active.empty()) {
      curl_multi_poll(im.multi, nullptr, 0, wait_ms, nullptr);
    } else if (wait_ms > 0 && waiting.empty()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(wait_ms));
    }
  }
}

}  // namespace flinkguard
