#include "alerts/receivers.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>

namespace flinkguard {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void Str(Writer& w, std::string_view v) {
  w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
}
void KeyStr(Writer& w, const char* key, std::string_view v) {
  w.Key(key);
  Str(w, v);
}
void KeyMap(Writer& w, const char* key, const std::map<std::string, std::string>& m) {
  w.Key(key);
  w.StartObject();
  for (const auto& [k, v] : m) {
    Str(w, k);
    Str(w, v);
  }
  w.EndObject();
}

// Alertmanager's zero time: what it writes as endsAt of a firing alert in webhook payloads.
constexpr const char* kZeroTime = "0001-01-01T00:00:00Z";

// The error text of a transport failure with any occurrence of the secret URL replaced.
std::string Redacted(std::string message, const std::string& secret) {
  if (secret.empty()) return message;
  for (std::size_t at = message.find(secret); at != std::string::npos;
       at = message.find(secret, at)) {
    message.replace(at, secret.size(), "<url>");
  }
  return message;
}

std::string Truncated(std::string s, std::size_t max) {
  if (s.size() > max) s.resize(max);
  return s;
}

std::string GroupKey(const Notification& n) {
  return "{}:{alertname=\"" + n.alertname + "\", cluster=\"" + n.cluster + "\", job=\"" + n.job +
         "\"}";
}

SendOutcome PostJson(AlertHttp& http, const HttpReceiverSettings& s, const std::string& url,
                     std::string body, std::vector<std::pair<std::string, std::string>> headers) {
  AlertHttpRequest req;
  req.url = url;
  req.headers = std::move(headers);
  req.headers.emplace_back("Content-Type", "application/json");
  req.body = std::move(body);
  req.timeout = s.timeout;
  auto reply = http.Post(req);
  if (!reply) {
    return SendOutcome::Retry("receiver " + s.name + ": " + Redacted(reply.error().message, s.url));
  }
  return OutcomeOfHttp("receiver " + s.name, reply);
}

}  // namespace

SendOutcome OutcomeOfHttp(const std::string& what, const Result<AlertHttpResponse>& reply) {
  if (!reply) return SendOutcome::Retry(what + ": " + reply.error().message);
  const long st = reply->status;
  if (st >= 200 && st < 300) return SendOutcome::Delivered();
  std::string text = what + ": HTTP " + std::to_string(st);
  if (!reply->body.empty()) text += ": " + Truncated(reply->body, 300);
  if (st == 408 || st == 429 || st >= 500) return SendOutcome::Retry(text, reply->retry_after);
  return SendOutcome::Permanent(text);
}

std::string RenderWebhook(const Notification& n, const std::string& receiver,
                          const std::string& idempotency_key) {
  rapidjson::StringBuffer sb;
  Writer w(sb);
  const char* status = NotificationStatusName(n.status);
  w.StartObject();
  KeyStr(w, "version", "4");
  KeyStr(w, "groupKey", GroupKey(n));
  w.Key("truncatedAlerts");
  w.Int(0);
  KeyStr(w, "status", status);
  KeyStr(w, "receiver", receiver);
  KeyMap(w, "groupLabels", {{"alertname", n.alertname}, {"cluster", n.cluster}, {"job", n.job}});
  KeyMap(w, "commonLabels", n.labels);
  KeyMap(w, "commonAnnotations", n.annotations);
  KeyStr(w, "externalURL", "");
  w.Key("alerts");
  w.StartArray();
  w.StartObject();
  KeyStr(w, "status", status);
  KeyMap(w, "labels", n.labels);
  KeyMap(w, "annotations", n.annotations);
  KeyStr(w, "startsAt", Rfc3339(n.starts_ms));
  KeyStr(w, "endsAt", n.status == NotificationStatus::kResolved ? Rfc3339(n.ends_ms) : kZeroTime);
  KeyStr(w, "generatorURL", n.flink_ui);
  KeyStr(w, "fingerprint", idempotency_key);
  w.EndObject();
  w.EndArray();
  w.EndObject();
  return sb.GetString();
}

std::string RenderAlertmanager(const Notification& n) {
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartArray();
  w.StartObject();
  KeyMap(w, "labels", n.labels);
  KeyMap(w, "annotations", n.annotations);
  KeyStr(w, "startsAt", Rfc3339(n.starts_ms));
  if (n.status == NotificationStatus::kResolved) KeyStr(w, "endsAt", Rfc3339(n.ends_ms));
  KeyStr(w, "generatorURL", n.flink_ui);
  w.EndObject();
  w.EndArray();
  return sb.GetString();
}

std::string RenderSlack(const Notification& n) {
  const bool firing = n.status == NotificationStatus::kFiring;
  std::string head = std::string(firing ? "[FIRING] " : "[RESOLVED] ") + "[" +
                     SeverityName(n.severity) + "] " + n.Summary();
  std::string details = "*job* " + n.job + " on *cluster* " + n.cluster + " (" + n.event + ")";
  for (const char* key : {"reason", "root_exception", "backpressured_vertex", "checkpoint",
                          "restore_point", "restore_reason", "error"}) {
    if (auto it = n.annotations.find(key); it != n.annotations.end() && !it->second.empty()) {
      details += "\n*" + std::string(key) + "*: " + Truncated(it->second, 1500);
    }
  }
  if (!n.flink_ui.empty()) details += "\n<" + n.flink_ui + "|Flink UI>";
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  KeyStr(w, "text", head);
  w.Key("blocks");
  w.StartArray();
  for (const std::string* text : {&head, &details}) {
    w.StartObject();
    KeyStr(w, "type", "section");
    w.Key("text");
    w.StartObject();
    KeyStr(w, "type", "mrkdwn");
    KeyStr(w, "text", Truncated(*text, 2900));  // Slack limits a section's text to 3000
    w.EndObject();
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return sb.GetString();
}

const char* PagerDutySeverity(Severity s) {
  switch (s) {
    case Severity::kCritical: return "critical";
    case Severity::kWarning: return "warning";
    case Severity::kInfo: break;
  }
  return "info";
}

std::string RenderPagerDuty(const Notification& n, const std::string& routing_key) {
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  KeyStr(w, "routing_key", routing_key);
  const bool firing = n.status == NotificationStatus::kFiring;
  KeyStr(w, "event_action", firing ? "trigger" : "resolve");
  KeyStr(w, "dedup_key", Truncated("flinkguard/" + n.AlertKey(), 255));
  if (firing) {
    w.Key("payload");
    w.StartObject();
    KeyStr(w, "summary", Truncated(n.Summary(), 1024));
    KeyStr(w, "source", n.cluster.empty() ? "flinkguard" : n.cluster);
    KeyStr(w, "severity", PagerDutySeverity(n.severity));
    KeyStr(w, "timestamp", Rfc3339(n.at_ms));
    KeyStr(w, "component", n.job);
    KeyStr(w, "group", n.cluster);
    KeyStr(w, "class", n.alertname);
    std::map<std::string, std::string> details = n.annotations;
    for (const auto& [k, v] : n.labels) details.emplace("label_" + k, v);
    KeyMap(w, "custom_details", details);
    w.EndObject();
    if (!n.flink_ui.empty()) {
      w.Key("links");
      w.StartArray();
      w.StartObject();
      KeyStr(w, "href", n.flink_ui);
      KeyStr(w, "text", "Flink UI: " + n.job);
      w.EndObject();
      w.EndArray();
    }
    KeyStr(w, "client", "flinkguard");
  }
  w.EndObject();
  return sb.GetString();
}

WebhookNotifier::WebhookNotifier(AlertHttp& http, HttpReceiverSettings settings)
    : http_(http), s_(std::move(settings)) {}
SendOutcome WebhookNotifier::Send(const Notification& n, const std::string& key) {
  return PostJson(http_, s_, s_.url, RenderWebhook(n, s_.name, key), {{"Idempotency-Key", key}});
}

AlertmanagerNotifier::AlertmanagerNotifier(AlertHttp& http, HttpReceiverSettings settings)
    : http_(http), s_(std::move(settings)) {
  while (!s_.url.empty() && s_.url.back() == '/') s_.url.pop_back();
}
SendOutcome AlertmanagerNotifier::Send(const Notification& n, const std::string& key) {
  // Alertmanager merges alerts by label set, so a repeated POST is harmless; the key is sent
  // anyway for proxies that deduplicate.
  return PostJson(http_, s_, s_.url + "/api/v2/alerts", RenderAlertmanager(n),
                  {{"Idempotency-Key", key}});
}

SlackNotifier::SlackNotifier(AlertHttp& http, HttpReceiverSettings settings)
    : http_(http), s_(std::move(settings)) {}
SendOutcome SlackNotifier::Send(const Notification& n, const std::string&) {
  return PostJson(http_, s_, s_.url, RenderSlack(n), {});
}

PagerDutyNotifier::PagerDutyNotifier(AlertHttp& http, HttpReceiverSettings settings)
    : http_(http), s_(std::move(settings)) {
  if (s_.url.empty()) s_.url = kPagerDutyEventsUrl;
}
SendOutcome PagerDutyNotifier::Send(const Notification& n, const std::string&) {
  // The dedup_key (stable per alert) is PagerDuty's idempotency key.
  return PostJson(http_, s_, s_.url, RenderPagerDuty(n, s_.routing_key), {});
}

}  // namespace flinkguard
