#include "agent/admin/admin_server.h"

#include <CivetServer.h>
#include <civetweb.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <charconv>
#include <set>

#include "agent/admin/metrics.h"
#include "agent/history_format.h"
#include "agent/observation_format.h"
#include "rules/job_status.h"
#include "storage/history_store.h"

namespace flinkguard {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

constexpr std::size_t kMaxBody = 64 * 1024;
constexpr std::int64_t kDefaultHistoryMs = 24LL * 3'600'000;

void Str(Writer& w, const std::string& s) { w.String(s.data(), static_cast<unsigned>(s.size())); }

void StrOrNull(Writer& w, const std::string* s) {
  if (s != nullptr) {
    Str(w, *s);
  } else {
    w.Null();
  }
}

AdminReply Json(int status, const rapidjson::StringBuffer& buf) {
  AdminReply r;
  r.status = status;
  r.body.assign(buf.GetString(), buf.GetSize());
  return r;
}

// The instance that stands for a job name: a live one (newest start) before a terminal one.
const JobSnapshot* Current(const Observation& o, const std::string& name) {
  const JobSnapshot* best = nullptr;
  auto live = [](const JobSnapshot& s) {
    return !s.status.known() || !IsGloballyTerminal(*s.status.value);
  };
  for (const JobSnapshot& s : o.jobs) {
    if (s.name != name) continue;
    if (best == nullptr || (live(s) && !live(*best)) ||
        (live(s) == live(*best) && s.start_time_ms > best->start_time_ms)) {
      best = &s;
    }
  }
  return best;
}

// "/api/v1/jobs/x/recover" with prefix "/api/v1/jobs/" -> {"x", "recover"}.
std::pair<std::string, std::string> SplitJobPath(const std::string& rest) {
  const std::size_t slash = rest.find('/');
  if (slash == std::string::npos) return {rest, ""};
  return {rest.substr(0, slash), rest.substr(slash + 1)};
}

std::string Param(const std::string& query, const char* name, bool* present) {
  std::string out;
  *present = CivetServer::getParam(query, name, out);
  return out;
}

}  // namespace

AdminReply JsonError(int status, const std::string& message) {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  w.Key("error");
  Str(w, message);
  w.EndObject();
  return Json(status, buf);
}

bool ConstantTimeEquals(const std::string& given, const std::string& expected) {
  const std::size_t n = std::max(given.size(), expected.size());
  unsigned diff = given.size() == expected.size() ? 0U : 1U;
  for (std::size_t i = 0; i < n; ++i) {
    const auto a = static_cast<unsigned char>(i < given.size() ? given[i] : 0);
    const auto b = static_cast<unsigned char>(i < expected.size() ? expected[i] : 0);
    diff |= static_cast<unsigned>(a ^ b);
  }
  return diff == 0;
}

// A command waiting for the loop.
struct AdminServer::Pending {
  AdminCommand command;
  bool taken = false;
  std::optional<AdminReply> reply;
};

// civetweb's side: one handler for every path, which hands the request to AdminServer::Handle.
class AdminServer::Civet final : public CivetHandler {
 public:
  Civet(AdminServer& owner, const std::vector<std::string>& options)
      : owner_(owner), server_(options) {
    server_.addHandler("/", this);
  }
  ~Civet() override { server_.close(); }
  Civet(const Civet&) = delete;
  Civet& operator=(const Civet&) = delete;

  std::vector<int> Ports() { return server_.getListeningPorts(); }

  bool handleGet(CivetServer*, mg_connection* c) override { return Serve("GET", c); }
  bool handlePost(CivetServer*, mg_connection* c) override { return Serve("POST", c); }
  bool handlePut(CivetServer*, mg_connection* c) override { return Serve("PUT", c); }
  bool handleDelete(CivetServer*, mg_connection* c) override { return Serve("DELETE", c); }
  bool handlePatch(CivetServer*, mg_connection* c) override { return Serve("PATCH", c); }
  bool handleHead(CivetServer*, mg_connection* c) override { return Serve("HEAD", c); }
  bool handleOptions(CivetServer*, mg_connection* c) override { return Serve("OPTIONS", c); }

 private:
  bool Serve(const std::string& method, mg_connection* c) {
    const mg_request_info* ri = mg_get_request_info(c);
    const std::string path = ri->local_uri != nullptr ? ri->local_uri : "/";
    const std::string query = ri->query_string != nullptr ? ri->query_string : "";
    const char* auth = mg_get_header(c, "Authorization");
    std::string body;
    AdminReply reply;
    if (ri->content_length > static_cast<long long>(kMaxBody)) {
      reply = JsonError(413, "the request body is larger than 64 KiB");
    } else {
      char buf[4096];
      int n = 0;
      bool too_large = false;
      while ((n = mg_read(c, buf, sizeof buf)) > 0) {
        body.append(buf, static_cast<std::size_t>(n));
        if (body.size() > kMaxBody) {
          too_large = true;
          break;
        }
      }
      reply = too_large ? JsonError(413, "the request body is larger than 64 KiB")
                        : owner_.Handle(method, path, query, auth != nullptr ? auth : "", body);
    }
    std::string head = "HTTP/1.1 " + std::to_string(reply.status) + " " +
                       mg_get_response_code_text(c, reply.status) +
                       "\r\nContent-Type: " + reply.content_type +
                       "\r\nContent-Length: " + std::to_string(reply.body.size()) +
                       "\r\nCache-Control: no-store\r\n";
    if (reply.status == 401) head += "WWW-Authenticate: Bearer\r\n";
    head += "Connection: close\r\n\r\n";
    mg_write(c, head.data(), head.size());
    if (method != "HEAD") mg_write(c, reply.body.data(), reply.body.size());
    return true;
  }

  AdminServer& owner_;
  CivetServer server_;
};

AdminServer::AdminServer(Options options, const AgentMetrics& metrics)
    : options_(std::move(options)), metrics_(metrics) {}

AdminServer::~AdminServer() {
  civet_.reset();  // no request is served after this
  // Wake every request still waiting for the loop (there is none once civet_ is closed, but
  // the replies keep the contract if a handler was mid-wait).
  std::lock_guard lock(mu_);
  replied_.notify_all();
}

Result<std::unique_ptr<AdminServer>> AdminServer::Start(Options options,
                                                        const AgentMetrics& metrics) {
  const std::string address = options.listen.ToString();
  std::unique_ptr<AdminServer> server(new AdminServer(std::move(options), metrics));
  std::vector<std::string> civet_options = {"listening_ports", address,
                                            "num_threads",     "4",
                                            "request_timeout_ms", "10000",
                                            "enable_keep_alive", "no"};
  try {
    server->civet_ = std::make_unique<Civet>(*server, civet_options);
  } catch (const std::exception& e) {
    return tl::unexpected(Error{ErrorKind::kInvalid,
                                "admin HTTP: cannot listen on " + address +
                                    " (agent.listen): the address is in use or not local (" +
                                    e.what() + ")"});
  }
  const std::vector<int> ports = server->civet_->Ports();
  server->port_ = ports.empty() ? 0 : ports.front();
  return server;
}

std::shared_ptr<const AdminView> AdminServer::View() const {
  std::lock_guard lock(mu_);
  return view_;
}

void AdminServer::Publish(std::shared_ptr<const AdminView> view) {
  std::lock_guard lock(mu_);
  view_ = std::move(view);
}

void AdminServer::SetToken(std::optional<Secret> token) {
  std::lock_guard lock(mu_);
  options_.token = std::move(token);
}

int AdminServer::ServeCommands(const std::function<AdminReply(const AdminCommand&)>& handle) {
  std::deque<std::shared_ptr<Pending>> taken;
  {
    std::lock_guard lock(mu_);
    taken.swap(queue_);
    for (auto& p : taken) p->taken = true;
  }
  for (auto& p : taken) {
    AdminReply reply = handle(p->command);
    std::lock_guard lock(mu_);
    p->reply = std::move(reply);
  }
  if (!taken.empty()) {
    std::lock_guard lock(mu_);
    replied_.notify_all();
  }
  return static_cast<int>(taken.size());
}

AdminReply AdminServer::Handle(const std::string& method, const std::string& path,
                               const std::string& query, const std::string& authorization,
                               const std::string& body) {
  const bool read = method == "GET" || method == "HEAD";
  auto only = [&](const char* allowed) {
    return JsonError(405, "method " + method + " is not allowed on " + path + "; use " + allowed);
  };
  if (path == "/metrics") {
    if (!read) return only("GET");
    AdminReply r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = metrics_.Serialize();
    return r;
  }
  if (path == "/healthz") {
    if (!read) return only("GET");
    return AdminReply{200, R"({"status":"alive"})"};
  }
  std::shared_ptr<const AdminView> view = View();
  if (path == "/readyz") {
    if (!read) return only("GET");
    if (view == nullptr) return JsonError(503, "the first cycle has not completed yet");
    if (!view->not_ready.empty()) return JsonError(503, view->not_ready);
    return AdminReply{200, R"({"status":"ready"})"};
  }
  static const std::string kJobs = "/api/v1/jobs";
  if (path == "/api/v1/history") {
    if (!read) return only("GET");
    return History(query);
  }
  const bool api = path == kJobs || path.starts_with(kJobs + "/") || path == "/api/v1/rules";
  if (!api) return JsonError(404, "no such endpoint: " + path);
  if (path.starts_with(kJobs + "/")) {
    auto [name, action] = SplitJobPath(path.substr(kJobs.size() + 1));
    if (name.empty()) return JsonError(404, "no job name in " + path);
    if (action == "recover" || action == "savepoint") {
      if (method != "POST") return only("POST");
      AdminCommand c;
      c.kind = action == "recover" ? AdminCommand::Kind::kRecover : AdminCommand::Kind::kSavepoint;
      c.job = name;
      return Mutate(std::move(c), authorization, body);
    }
    if (!action.empty()) return JsonError(404, "no such endpoint: " + path);
    if (!read) return only("GET");
    if (view == nullptr) return JsonError(503, "the first cycle has not completed yet");
    return Job(*view, name);
  }
  if (!read) return only("GET");
  if (view == nullptr) return JsonError(503, "the first cycle has not completed yet");
  return path == kJobs ? Jobs(*view) : Rules(*view);
}

AdminReply AdminServer::Mutate(AdminCommand command, const std::string& authorization,
                               const std::string& body) {
  {
    std::lock_guard lock(mu_);
    if (!options_.token) {
      return JsonError(403,
                       "the admin API's mutating endpoints are off: no agent.admin_token_file "
                       "is configured");
    }
    static const std::string kBearer = "Bearer ";
    if (!authorization.starts_with(kBearer)) {
      return JsonError(401, "this endpoint requires Authorization: Bearer <token>");
    }
    if (!ConstantTimeEquals(authorization.substr(kBearer.size()), options_.token->Reveal())) {
      return JsonError(401, "the bearer token is not the one configured");
    }
  }
  if (command.kind == AdminCommand::Kind::kRecover && !body.empty()) {
    rapidjson::Document doc;
    doc.Parse(body.data(), body.size());
    if (doc.HasParseError() || !doc.IsObject()) {
      return JsonError(400, "the body must be a JSON object such as {\"from\": \"auto\"}");
    }
    for (auto it = doc.MemberBegin(); it != doc.MemberEnd(); ++it) {
      const std::string key(it->name.GetString(), it->name.GetStringLength());
      if (key != "from") return JsonError(400, "unknown field '" + key + "'; expected \"from\"");
      if (!it->value.IsString()) {
        return JsonError(400, "\"from\" must be one of auto, checkpoint, savepoint, fresh");
      }
      command.from.assign(it->value.GetString(), it->value.GetStringLength());
    }
    static const std::set<std::string> kFrom = {"auto", "checkpoint", "savepoint", "fresh"};
    if (!kFrom.contains(command.from)) {
      return JsonError(400, "\"from\" must be one of auto, checkpoint, savepoint, fresh; found '" +
                                command.from + "'");
    }
  }
  auto pending = std::make_shared<Pending>();
  pending->command = std::move(command);
  std::unique_lock lock(mu_);
  queue_.push_back(pending);
  if (!replied_.wait_for(lock, options_.command_timeout,
                         [&] { return pending->reply.has_value(); })) {
    if (!pending->taken) {
      queue_.erase(std::find(queue_.begin(), queue_.end(), pending));
      return JsonError(503, "the agent's loop did not take the request in time; nothing was done");
    }
    // Taken: the loop is acting on it now; its answer comes within one request timeout.
    replied_.wait_for(lock, options_.command_timeout, [&] { return pending->reply.has_value(); });
    if (!pending->reply) {
      return JsonError(504, "the agent took the request but has not answered yet; see "
                            "/api/v1/history for what it did");
    }
  }
  return *pending->reply;
}

AdminReply AdminServer::Jobs(const AdminView& v) const {
  std::set<std::string> names(v.catalog.begin(), v.catalog.end());
  for (const JobSnapshot& s : v.observation.jobs) names.insert(s.name);
  std::set<std::string> catalog(v.catalog.begin(), v.catalog.end());
  std::set<std::string> recovering(v.in_recovery.begin(), v.in_recovery.end());
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  w.Key("observed_at_ms");
  w.Int64(v.observation.at_ms);
  w.Key("jobs");
  w.StartArray();
  for (const std::string& name : names) {
    const JobSnapshot* s = Current(v.observation, name);
    bool firing = false;
    w.StartObject();
    w.Key("name");
    Str(w, name);
    w.Key("in_catalog");
    w.Bool(catalog.contains(name));
    w.Key("cluster");
    StrOrNull(w, s != nullptr ? &s->cluster : nullptr);
    w.Key("job_id");
    StrOrNull(w, s != nullptr ? &s->job_id : nullptr);
    w.Key("state");
    if (s == nullptr) {
      w.Null();
    } else {
      Str(w, s->status.known() ? JobStatusName(*s->status.value) : s->status_text);
    }
    w.Key("rules");
    w.StartArray();
    for (const AdminRuleState& r : v.rule_states) {
      if (r.job != name) continue;
      firing = firing || r.state == "firing";
      w.StartObject();
      w.Key("rule");
      Str(w, r.rule);
      w.Key("state");
      Str(w, r.state);
      w.Key("since_ms");
      w.Int64(r.since_ms);
      w.EndObject();
    }
    w.EndArray();
    const bool up = s != nullptr && s->status.value == JobStatus::kRunning;
    w.Key("up");
    w.Bool(up);
    w.Key("healthy");
    w.Bool(up && s->all_tasks_running.value.value_or(false) && !firing);
    w.Key("in_recovery");
    w.Bool(recovering.contains(name));
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return Json(200, buf);
}

AdminReply AdminServer::Job(const AdminView& v, const std::string& name) const {
  Observation only;
  only.at_ms = v.observation.at_ms;
  for (const JobSnapshot& s : v.observation.jobs) {
    if (s.name == name) only.jobs.push_back(s);
  }
  const bool in_catalog = std::find(v.catalog.begin(), v.catalog.end(), name) != v.catalog.end();
  if (only.jobs.empty() && !in_catalog) {
    return JsonError(404, "no job named '" + name + "' is observed or in the catalog");
  }
  rapidjson::Document instances;
  const std::string observed = ObservationToJson(only, false);
  instances.Parse(observed.data(), observed.size());
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  w.Key("name");
  Str(w, name);
  w.Key("in_catalog");
  w.Bool(in_catalog);
  w.Key("in_recovery");
  w.Bool(std::find(v.in_recovery.begin(), v.in_recovery.end(), name) != v.in_recovery.end());
  w.Key("instances");
  if (instances.IsObject() && instances.HasMember("jobs")) {
    instances["jobs"].Accept(w);
  } else {
    w.StartArray();
    w.EndArray();
  }
  w.Key("rules");
  w.StartArray();
  for (const AdminRuleState& r : v.rule_states) {
    if (r.job != name) continue;
    w.StartObject();
    w.Key("rule");
    Str(w, r.rule);
    w.Key("cluster");
    Str(w, r.cluster);
    w.Key("state");
    Str(w, r.state);
    w.Key("since_ms");
    w.Int64(r.since_ms);
    w.Key("reason");
    Str(w, r.reason);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return Json(200, buf);
}

AdminReply AdminServer::Rules(const AdminView& v) const {
  rapidjson::StringBuffer buf;
  Writer w(buf);
  w.StartObject();
  w.Key("rules");
  w.StartArray();
  for (const RuleConfig& r : v.rules) {
    w.StartObject();
    w.Key("name");
    Str(w, r.name);
    w.Key("when");
    Str(w, r.when.text);
    w.Key("for_seconds");
    w.Double(std::chrono::duration<double>(r.for_duration).count());
    w.Key("severity");
    w.String(SeverityName(r.severity));
    w.Key("action");
    w.String(RuleActionName(r.action));
    w.Key("jobs");
    w.StartArray();
    for (const std::string& j : r.jobs) Str(w, j);
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  w.Key("states");
  w.StartArray();
  for (const AdminRuleState& r : v.rule_states) {
    w.StartObject();
    w.Key("rule");
    Str(w, r.rule);
    w.Key("job");
    Str(w, r.job);
    w.Key("cluster");
    Str(w, r.cluster);
    w.Key("state");
    Str(w, r.state);
    w.Key("since_ms");
    w.Int64(r.since_ms);
    w.Key("reason");
    Str(w, r.reason);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
  return Json(200, buf);
}

AdminReply AdminServer::History(const std::string& query) {
  HistoryQuery q;
  bool has_job = false;
  bool has_since = false;
  q.job = Param(query, "job", &has_job);
  const std::string since = Param(query, "since", &has_since);
  q.since_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count() -
               kDefaultHistoryMs;
  if (has_since) {
    std::int64_t v = 0;
    auto [end, ec] = std::from_chars(since.data(), since.data() + since.size(), v);
    if (ec != std::errc() || end != since.data() + since.size() || v < 0) {
      return JsonError(400, "since must be a time in epoch milliseconds (an integer >= 0); found '" +
                                since + "'");
    }
    q.since_ms = v;
  }
  if (options_.history_path.empty()) {
    return JsonError(503, "the history is not available (the state_dir is not usable)");
  }
  std::lock_guard lock(history_mu_);
  if (history_ == nullptr) {
    auto opened = SqliteHistoryStore::Open(options_.history_path);
    if (!opened) return JsonError(503, "the history cannot be read: " + opened.error().message);
    history_ = std::move(*opened);
  }
  auto report = ReadHistory(*history_, *history_, q);
  if (!report) {
    history_.reset();  // reopen next time
    return JsonError(503, "the history cannot be read: " + report.error().message);
  }
  return AdminReply{200, HistoryToJson(*report, false)};
}

}  // namespace flinkguard
