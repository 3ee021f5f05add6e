#include "agent/config_values.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <limits>

namespace flinkguard {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsLower(char c) { return c >= 'a' && c <= 'z'; }
bool IsAlpha(char c) { return IsLower(c) || (c >= 'A' && c <= 'Z'); }

// A host name or IPv4 address: letters, digits, '-', '.', '_' (seen in container names).
bool IsHostName(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  return std::all_of(host.begin(), host.end(), [](char c) {
    return IsAlpha(c) || IsDigit(c) || c == '-' || c == '.' || c == '_';
  });
}

bool IsIpv6Literal(std::string_view host) {
  if (host.size() < 2) return false;
  return std::all_of(host.begin(), host.end(), [](char c) {
    return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' || c == '.';
  });
}

// The length of the valid UTF-8 sequence at the start of `s` (2-4), or 0 when it is not one.
std::size_t Utf8SequenceLength(std::string_view s) {
  const auto lead = static_cast<unsigned char>(s[0]);
  std::size_t n = 0;
  if (lead >= 0xC2 && lead <= 0xDF) {
    n = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    n = 3;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    n = 4;
  } else {
    return 0;
  }
  if (s.size() < n) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    if ((static_cast<unsigned char>(s[k]) & 0xC0) != 0x80) return 0;
  }
  return n;
}

Result<std::uint16_t> ParsePort(std::string_view text, bool allow_zero) {
  if (text.empty()) return Fail(Error::Invalid("the port is missing"));
  if (text.size() > 5 || !std::all_of(text.begin(), text.end(), IsDigit)) {
    return Fail(Error::Invalid("the port must be a number from 1 to 65535"));
  }
  unsigned value = 0;
  for (char c : text) value = value * 10 + static_cast<unsigned>(c - '0');
  if (value > 65535 || (value == 0 && !allow_zero)) {
    return Fail(Error::Invalid(allow_zero ? "the port must be a number from 0 to 65535"
                                          : "the port must be a number from 1 to 65535"));
  }
  return static_cast<std::uint16_t>(value);
}

// Splits "host:port" / "[v6]:port" / "host" into host and the text after ':' (nullopt when no
// port is written).
struct Authority {
  std::string host;
  std::optional<std::string_view> port;
};

Result<Authority> SplitAuthority(std::string_view text) {
  Authority out;
  std::string_view rest;
  if (!text.empty() && text.front() == '[') {
    const std::size_t close = text.find(']');
    if (close == std::string_view::npos) return Fail(Error::Invalid("'[' without a closing ']'"));
    const std::string_view v6 = text.substr(1, close - 1);
    if (!IsIpv6Literal(v6)) return Fail(Error::Invalid("not a valid IPv6 address in brackets"));
    out.host = std::string(v6);
    rest = text.substr(close + 1);
    if (!rest.empty() && rest.front() != ':') {
      return Fail(Error::Invalid("unexpected text after the IPv6 address"));
    }
  } else {
    const std::size_t colon = text.find(':');
    const std::string_view host = text.substr(0, colon);
    if (host.empty()) return Fail(Error::Invalid("the host is missing"));
    if (!IsHostName(host)) {
      return Fail(Error::Invalid(
          "the host may hold only letters, digits, '-', '.' and '_' (IPv6 goes in brackets)"));
    }
    out.host = std::string(host);
    rest = colon == std::string_view::npos ? std::string_view() : text.substr(colon);
  }
  if (!rest.empty()) out.port = rest.substr(1);
  return out;
}

}  // namespace

Result<Url> ParseHttpUrl(std::string_view text) {
  Url url;
  const std::size_t sep = text.find("://");
  if (sep == std::string_view::npos) {
    return Fail(Error::Invalid("the scheme is missing: write http://host:port or https://..."));
  }
  const std::string_view scheme = text.substr(0, sep);
  if (scheme != "http" && scheme != "https") {
    return Fail(Error::Invalid("the scheme must be http or https"));
  }
  url.scheme = std::string(scheme);
  std::string_view rest = text.substr(sep + 3);
  if (rest.find('#') != std::string_view::npos) {
    return Fail(Error::Invalid("a URL fragment ('#...') is not allowed"));
  }
  if (std::any_of(rest.begin(), rest.end(),
                  [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f; })) {
    return Fail(Error::Invalid("a URL must not contain spaces or control characters"));
  }
  const std::size_t path_start = rest.find_first_of("/?");
  const std::string_view authority = rest.substr(0, path_start);
  if (authority.find('@') != std::string_view::npos) {
    return Fail(Error::Invalid(
        "credentials in the URL (user:password@) are not allowed; use the auth settings"));
  }
  auto split = SplitAuthority(authority);
  if (!split) return Fail(split.error());
  url.host = split->host;
  if (split->port) {
    auto port = ParsePort(*split->port, /*allow_zero=*/false);
    if (!port) return Fail(port.error());
    url.port = *port;
    url.explicit_port = true;
  } else {
    url.port = url.scheme == "https" ? 443 : 80;
  }
  if (path_start != std::string_view::npos) {
    std::string path(rest.substr(path_start));
    if (path.front() == '?') path.insert(path.begin(), '/');
    const std::size_t query = path.find('?');
    const std::size_t path_end = query == std::string::npos ? path.size() : query;
    if (path_end > 1 && path[path_end - 1] == '/') path.erase(path_end - 1, 1);
    if (path == "/") path.clear();
    url.path = std::move(path);
  }
  return url;
}

Result<HostPort> ParseHostPort(std::string_view text, bool allow_port_zero) {
  auto split = SplitAuthority(text);
  if (!split) return Fail(split.error());
  if (!split->port) return Fail(Error::Invalid("the port is missing: write host:port"));
  auto port = ParsePort(*split->port, allow_port_zero);
  if (!port) return Fail(port.error());
  return HostPort{split->host, *port};
}

Result<std::vector<HostPort>> ParseZooKeeperConnect(std::string_view text) {
  if (text.empty()) return Fail(Error::Invalid("the connect string is empty"));
  if (const std::size_t slash = text.find('/'); slash != std::string_view::npos) {
    return Fail(
        Error::Invalid("a chroot path in the connect string is not supported; put it "
                       "in ha.root"));
  }
  std::vector<HostPort> servers;
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = text.find(',', start);
    const std::string_view one = text.substr(start, comma - start);
    auto hp = ParseHostPort(one, /*allow_port_zero=*/false);
    if (!hp) {
      return Fail(Error::Invalid("server " + std::to_string(servers.size() + 1) + ": " +
                                 hp.error().message));
    }
    servers.push_back(std::move(*hp));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return servers;
}

Result<void> CheckZooKeeperPath(std::string_view path) {
  if (path.empty() || path.front() != '/') return Fail(Error::Invalid("must start with '/'"));
  if (path == "/") return Fail(Error::Invalid("must not be the ZooKeeper root '/' itself"));
  if (path.back() == '/') return Fail(Error::Invalid("must not end with '/'"));
  std::size_t start = 1;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view segment = path.substr(start, end - start);
    if (segment.empty()) return Fail(Error::Invalid("must not contain '//'"));
    if (segment == "." || segment == "..") {
      return Fail(Error::Invalid("must not contain '.' or '..' segments"));
    }
    start = end + 1;
  }
  // flinkguard never writes under Flink's own HA tree (its default root) or ZooKeeper's.
  for (std::string_view reserved : {"/flink", "/zookeeper"}) {
    if (path == reserved || (path.size() > reserved.size() && path.substr(0, reserved.size()) ==
                                                                  reserved &&
                             path[reserved.size()] == '/')) {
      return Fail(Error::Invalid("is under " + std::string(reserved) +
                                 ", which belongs to " +
                                 (reserved == "/flink" ? "Flink's HA services" : "ZooKeeper") +
                                 "; give flinkguard its own subtree, e.g. /flinkguard/<region>"));
    }
  }
  return {};
}

bool IsResourceName(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return IsLower(c) || IsDigit(c) || c == '-' || c == '_';
  });
}

bool IsIdentifier(std::string_view name) {
  if (name.empty() || !(IsLower(name.front()) || name.front() == '_')) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return IsLower(c) || IsDigit(c) || c == '_'; });
}

bool IsEnvVarName(std::string_view name) {
  if (name.empty() || !(IsAlpha(name.front()) || name.front() == '_')) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return IsAlpha(c) || IsDigit(c) || c == '_'; });
}

std::size_t EditDistance(std::string_view a, std::string_view b) {
  // Three rows of the dynamic programme suffice for adjacent swaps.
  const std::size_t n = b.size();
  std::vector<std::size_t> two_back(n + 1), prev(n + 1), cur(n + 1);
  for (std::size_t j = 0; j <= n; ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= n; ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        cur[j] = std::min(cur[j], two_back[j - 2] + 1);
      }
    }
    two_back.swap(prev);
    prev.swap(cur);
  }
  return prev[n];
}

std::optional<std::string> ClosestMatch(std::string_view word,
                                        const std::vector<std::string>& candidates) {
  const std::size_t limit = word.size() <= 4 ? 1 : word.size() <= 8 ? 2 : 3;
  std::size_t best = std::numeric_limits<std::size_t>::max();
  const std::string* best_name = nullptr;
  bool tie = false;
  for (const std::string& c : candidates) {
    const std::size_t d = EditDistance(word, c);
    if (d < best) {
      best = d;
      best_name = &c;
      tie = false;
    } else if (best_name != nullptr && d == best && c != *best_name) {
      tie = true;
    }
  }
  if (best_name == nullptr || best > limit || best == 0 || tie) return std::nullopt;
  return *best_name;
}

std::string QuoteForMessage(std::string_view text, std::size_t max_chars) {
  const std::size_t keep = max_chars > 3 ? max_chars - 3 : 0;
  std::string out;
  std::size_t fits = 0;  // out.size() at the last character boundary that leaves room for "..."
  std::size_t i = 0;
  while (i < text.size()) {
    // One character of `text`, shown as itself or as an escape.
    const auto u = static_cast<unsigned char>(text[i]);
    const std::size_t utf8 = u >= 0x80 ? Utf8SequenceLength(text.substr(i)) : 0;
    std::string piece;
    if (text[i] == '\n') {
      piece = "\\n";
    } else if (text[i] == '\t') {
      piece = "\\t";
    } else if (u < 0x20 || u == 0x7f || (u >= 0x80 && utf8 == 0)) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      piece = buf;
    } else {
      piece = std::string(text.substr(i, utf8 == 0 ? 1 : utf8));
    }
    i += utf8 == 0 ? 1 : utf8;
    if (out.size() + piece.size() > max_chars) {
      out.resize(fits);
      return out + "...";
    }
    out += piece;
    if (out.size() <= keep) fits = out.size();
  }
  return out;
}

}  // namespace flinkguard
