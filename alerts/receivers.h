#pragma once

// The HTTP receivers: generic webhook, Alertmanager, Slack, PagerDuty. Each renders a
// Notification into its receiver's payload (the Render* functions, pure) and POSTs it through
// AlertHttp.

#include <chrono>
#include <string>

#include "alerts/notifier.h"

namespace flinkguard {

// Settings shared by the HTTP receivers. `url` and `routing_key` are secrets: they go into the
// request only, never into an error or a log line.
struct HttpReceiverSettings {
  std::string name;         // the receiver's configured name (in errors and payloads)
  std::string url;          // webhook/Alertmanager base/Slack/PagerDuty enqueue URL
  std::string routing_key;  // PagerDuty only
  std::chrono::milliseconds timeout{10000};
  std::string instance;  // the sending agent (host name), an annotation, never a label
};

// The PagerDuty Events API v2 endpoint (the default for `url`).
inline constexpr const char* kPagerDutyEventsUrl = "https://events.pagerduty.com/v2/enqueue";

// Alertmanager's webhook payload, version 4, with this one alert: {version, groupKey,
// truncatedAlerts, status, receiver, groupLabels, commonLabels, commonAnnotations, externalURL,
// alerts:[{status, labels, annotations, startsAt, endsAt, generatorURL, fingerprint}]}.
// `fingerprint` is the idempotency key.
std::string RenderWebhook(const Notification& n, const std::string& receiver,
                          const std::string& idempotency_key);
// POST /api/v2/alerts body: a JSON array with one {labels, annotations, startsAt, endsAt?,
// generatorURL}. Firing alerts have no endsAt (Alertmanager's resolve_timeout applies while they
// are re-sent); resolved ones carry endsAt.
std::string RenderAlertmanager(const Notification& n);
// {"text": fallback, "blocks": [...]} for a Slack incoming webhook.
std::string RenderSlack(const Notification& n);
// Events API v2: trigger (firing) with payload {summary, source, severity, timestamp, component,
// group, class, custom_details} and links, or resolve (resolved); dedup_key = AlertKey().
std::string RenderPagerDuty(const Notification& n, const std::string& routing_key);
// PagerDuty severity for ours: critical, warning, info.
const char* PagerDutySeverity(Severity s);

class WebhookNotifier final : public Notifier {
 public:
  WebhookNotifier(AlertHttp& http, HttpReceiverSettings settings);
  SendOutcome Send(const Notification& n, const std::string& idempotency_key) override;

 private:
  AlertHttp& http_;
  HttpReceiverSettings s_;
};

// `url` is Alertmanager's base URL (http://host:9093); the notifier POSTs to /api/v2/alerts.
class AlertmanagerNotifier final : public Notifier {
 public:
  AlertmanagerNotifier(AlertHttp& http, HttpReceiverSettings settings);
  SendOutcome Send(const Notification& n, const std::string& idempotency_key) override;

 private:
  AlertHttp& http_;
  HttpReceiverSettings s_;
};

class SlackNotifier final : public Notifier {
 public:
  SlackNotifier(AlertHttp& http, HttpReceiverSettings settings);
  SendOutcome Send(const Notification& n, const std::string& idempotency_key) override;

 private:
  AlertHttp& http_;
  HttpReceiverSettings s_;
};

// `url` empty means kPagerDutyEventsUrl.
class PagerDutyNotifier final : public Notifier {
 public:
  PagerDutyNotifier(AlertHttp& http, HttpReceiverSettings settings);
  SendOutcome Send(const Notification& n, const std::string& idempotency_key) override;

 private:
  AlertHttp& http_;
  HttpReceiverSettings s_;
};

}  // namespace flinkguard
