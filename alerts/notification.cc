#include "alerts/notification.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <ctime>

namespace flinkguard {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void WriteMap(Writer& w, const char* key, const std::map<std::string, std::string>& m) {
  w.Key(key);
  w.StartObject();
  for (const auto& [k, v] : m) {
    w.Key(k.c_str(), static_cast<rapidjson::SizeType>(k.size()));
    w.String(v.c_str(), static_cast<rapidjson::SizeType>(v.size()));
  }
  w.EndObject();
}

void WriteString(Writer& w, const char* key, const std::string& v) {
  w.Key(key);
  w.String(v.c_str(), static_cast<rapidjson::SizeType>(v.size()));
}

}  // namespace

const char* NotificationStatusName(NotificationStatus s) {
  return s == NotificationStatus::kFiring ? "firing" : "resolved";
}

std::string Notification::AlertKey() const { return alertname + "/" + cluster + "/" + job; }

std::string Notification::Summary() const {
  if (auto it = annotations.find("summary"); it != annotations.end() && !it->second.empty()) {
    return it->second;
  }
  return alertname + " " + NotificationStatusName(status) + " for " + job + " on " + cluster;
}

std::string Rfc3339(std::int64_t epoch_ms) {
  const std::time_t secs = static_cast<std::time_t>(epoch_ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(epoch_ms % 1000));
  return out;
}

std::string NotificationToJson(const Notification& n) {
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  WriteString(w, "status", NotificationStatusName(n.status));
  WriteString(w, "event", n.event);
  WriteString(w, "alertname", n.alertname);
  WriteString(w, "job", n.job);
  WriteString(w, "cluster", n.cluster);
  WriteString(w, "severity", SeverityName(n.severity));
  WriteMap(w, "labels", n.labels);
  WriteMap(w, "annotations", n.annotations);
  w.Key("starts_ms");
  w.Int64(n.starts_ms);
  w.Key("ends_ms");
  w.Int64(n.ends_ms);
  w.Key("at_ms");
  w.Int64(n.at_ms);
  WriteString(w, "flink_ui", n.flink_ui);
  w.EndObject();
  return sb.GetString();
}

Result<Notification> NotificationFromJson(std::string_view json) {
  rapidjson::Document d;
  d.Parse(json.data(), json.size());
  if (d.HasParseError() || !d.IsObject()) {
    return Fail(Error::Invalid("notification payload is not a JSON object"));
  }
  Notification n;
  auto str = [&](const char* key, std::string* out) -> Result<void> {
    auto it = d.FindMember(key);
    if (it == d.MemberEnd() || !it->value.IsString()) {
      return Fail(Error::Invalid(std::string("notification payload: '") + key +
                                 "' is missing or not a string"));
    }
    *out = std::string(it->value.GetString(), it->value.GetStringLength());
    return {};
  };
  auto num = [&](const char* key, std::int64_t* out) -> Result<void> {
    auto it = d.FindMember(key);
    if (it == d.MemberEnd() || !it->value.IsInt64()) {
      return Fail(Error::Invalid(std::string("notification payload: '") + key +
                                 "' is missing or not an integer"));
    }
    *out = it->value.GetInt64();
    return {};
  };
  auto map = [&](const char* key, std::map<std::string, std::string>* out) -> Result<void> {
    auto it = d.FindMember(key);
    if (it == d.MemberEnd() || !it->value.IsObject()) {
      return Fail(Error::Invalid(std::string("notification payload: '") + key +
                                 "' is missing or not an object"));
    }
    for (auto m = it->value.MemberBegin(); m != it->value.MemberEnd(); ++m) {
      if (!m->value.IsString()) {
        return Fail(Error::Invalid(std::string("notification payload: ") + key + "." +
                                   m->name.GetString() + " is not a string"));
      }
      (*out)[m->name.GetString()] = std::string(m->value.GetString(), m->value.GetStringLength());
    }
    return {};
  };
  std::string status, severity;
  for (auto r : {str("status", &status), str("event", &n.event), str("alertname", &n.alertname),
                 str("job", &n.job), str("cluster", &n.cluster), str("severity", &severity),
                 map("labels", &n.labels), map("annotations", &n.annotations),
                 num("starts_ms", &n.starts_ms), num("ends_ms", &n.ends_ms), num("at_ms", &n.at_ms),
                 str("flink_ui", &n.flink_ui)}) {
    if (!r) return Fail(r.error());
  }
  if (status == "firing") {
    n.status = NotificationStatus::kFiring;
  } else if (status == "resolved") {
    n.status = NotificationStatus::kResolved;
  } else {
    return Fail(Error::Invalid("notification payload: status '" + status +
                               "' is not "
                               "firing or resolved"));
  }
  auto sev = ParseSeverity(severity);
  if (!sev) return Fail(Error::Invalid("notification payload: " + sev.error().message));
  n.severity = *sev;
  return n;
}

}  // namespace flinkguard
