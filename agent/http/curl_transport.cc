#include "agent/http/curl_transport.h"

#include <curl/curl.h>

#include <cctype>
#include <charconv>
#include <algorithm>
#include <chrono>
#include <deque>
#include <map>
#include <string>
#include <string_view>
#include <thread>
#include <mutex>
#include <vector>

namespace flinkguard {
namespace {

void GlobalInitOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct HostQueue;

// One request in flight: its easy handle, buffers and callback.
struct Transfer {
  CURL* easy = nullptr;
  HostQueue* host = nullptr;  // the queue of its host:port (owned by CurlTransport::Run)
  curl_slist* headers = nullptr;  // owned when the request has headers of its own
  HttpRequest request;
  RequestBatch::Callback done;
  HttpResponse response;
  char error[CURL_ERROR_SIZE] = {};
};

// The transfers of one Run waiting for one host:port, and how many of them are in flight.
struct HostQueue {
  std::deque<std::unique_ptr<Transfer>> waiting;
  std::size_t active = 0;
};

// "scheme://host:port" of a URL: what curl's per-host connection limit counts by.
std::string_view HostKey(std::string_view url) {
  const auto scheme_end = url.find("://");
  const auto start = scheme_end == std::string_view::npos ? 0 : scheme_end + 3;
  return url.substr(0, url.find_first_of("/?#", start));
}

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
  // The headers of every request without headers of its own (most of them), built once.
  curl_slist* common_headers = nullptr;

  // The identity header and "Expect:" (without it, libcurl waits for a 100-continue on larger
  // bodies, adding a second) after `list`.
  curl_slist* AppendCommon(curl_slist* list) const {
    if (!options.instance_id.empty()) {
      list = curl_slist_append(list, ("X-Flinkguard-Instance: " + options.instance_id).c_str());
    }
    return curl_slist_append(list, "Expect:");
  }

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
    if (r.headers.empty()) {
      if (common_headers == nullptr) common_headers = AppendCommon(nullptr);
      curl_easy_setopt(e, CURLOPT_HTTPHEADER, common_headers);
    } else {
      for (const auto& [name, value] : r.headers) {
        t.headers = curl_slist_append(t.headers, (name + ": " + value).c_str());
      }
      t.headers = AppendCommon(t.headers);
      curl_easy_setopt(e, CURLOPT_HTTPHEADER, t.headers);
    }
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
  curl_slist_free_all(impl_->common_headers);
  curl_multi_cleanup(impl_->multi);
}

void CurlTransport::Run(RequestBatch& batch) {
  Impl& im = *impl_;
  using Clock = std::chrono::steady_clock;
  // Transfers wait per host:port and are admitted round-robin, at most max_host_connections
  // per host and max_total_connections in all, so that every admitted transfer has a
  // connection to run on. A single FIFO let one cluster's backlog fill the in-flight window
  // while curl queued it behind that host's connection limit, leaving other hosts idle.
  std::map<std::string, HostQueue, std::less<>> hosts;
  std::vector<HostQueue*> host_order;  // admission order; round-robin over it
  std::size_t next_host = 0;
  std::size_t waiting_count = 0;
  std::vector<std::unique_ptr<Transfer>> active;
  std::multimap<Clock::time_point, std::unique_ptr<Transfer>> delayed;  // by start time
  auto enqueue = [&](std::unique_ptr<Transfer> t) {
    auto [it, added] = hosts.try_emplace(std::string(HostKey(t->request.url)));
    if (added) host_order.push_back(&it->second);
    t->host = &it->second;
    it->second.waiting.push_back(std::move(t));
    ++waiting_count;
  };
  auto take_new = [&] {
    for (auto& [req, cb] : batch.TakePending()) {
      auto t = std::make_unique<Transfer>();
      const auto delay = req.delay;
      t->request = std::move(req);
      t->done = std::move(cb);
      if (delay.count() > 0) {
        delayed.emplace(Clock::now() + delay, std::move(t));
      } else {
        enqueue(std::move(t));
      }
    }
  };
  auto release_due = [&] {
    const auto now = Clock::now();
    while (!delayed.empty() && delayed.begin()->first <= now) {
      enqueue(std::move(delayed.begin()->second));
      delayed.erase(delayed.begin());
    }
  };
  const std::size_t max_total = std::max<std::size_t>(1, im.options.max_total_connections);
  const std::size_t max_host = std::max<std::size_t>(1, im.options.max_host_connections);
  // Feeds waiting transfers into the multi handle, one per host in turn, up to the limits, so a
  // batch of 10,000 requests does not hold 10,000 sockets and buffers at once.
  // Each host with work gets at most its share of the connections (and never more than
  // max_host): when more hosts are busy than max_total / max_host, a freed connection then
  // goes back to its own host instead of to the next host in turn, which would have to open a
  // new connection while an idle one to the first host is dropped from curl's cache (4 hosts
  // sharing 4 connections: 17 connections for 24 requests before, at most 7 now).
  auto start_some = [&] {
    std::size_t busy_hosts = 0;
    for (const HostQueue* h : host_order) busy_hosts += !h->waiting.empty() || h->active > 0;
    const std::size_t share =
        std::clamp<std::size_t>(max_total / std::max<std::size_t>(1, busy_hosts), 1, max_host);
    std::size_t idle_hosts = 0;  // hosts passed over in a row; a full round of them = done
    while (waiting_count > 0 && active.size() < max_total && idle_hosts < host_order.size()) {
      HostQueue& h = *host_order[next_host];
      next_host = (next_host + 1) % host_order.size();
      if (h.waiting.empty() || h.active >= share) {
        ++idle_hosts;
        continue;
      }
      idle_hosts = 0;
      std::unique_ptr<Transfer> t = std::move(h.waiting.front());
      h.waiting.pop_front();
      --waiting_count;
      t->easy = im.TakeEasy();
      if (t->easy == nullptr) {
        t->done(Fail(Error::Transient(t->request.method + " " + t->request.url +
                                      ": cannot allocate a transfer")));
        continue;
      }
      im.Prepare(*t);
      curl_multi_add_handle(im.multi, t->easy);
      ++h.active;
      active.push_back(std::move(t));
    }
  };
  take_new();
  start_some();
  // Bounded: every transfer carries a timeout and every delay is finite, so each iteration
  // either makes progress or waits at most 100 ms; the loop ends when nothing is active,
  // waiting or delayed.
  while (!active.empty() || waiting_count > 0 || !delayed.empty()) {
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
      --done->host->active;
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
    } else if (wait_ms > 0 && waiting_count == 0 && !delayed.empty()) {
      // Only delayed requests are left. (With nothing left at all the loop ends now: sleeping
      // here made every Run last at least 100 ms.)
      std::this_thread::sleep_for(std::chrono::milliseconds(wait_ms));
    }
  }
}

}  // namespace flinkguard
