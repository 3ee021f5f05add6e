#pragma once

// Transport-neutral HTTP request/response values, so request handling is testable without
// sockets. The civetweb front fills HttpRequest and writes HttpResponse back.

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace flinksim {

struct HttpRequest {
  std::string method;  // upper case
  std::string path;    // URL-decoded, without the query string
  std::string query;   // raw query string without '?', "" when none
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;

  // First header named `name` (case-insensitive), "" when absent.
  std::string Header(const std::string& name) const;
  // The URI as sent: path plus "?query" when there is one.
  std::string Uri() const { return query.empty() ? path : path + "?" + query; }
  // Decoded query parameters; repeated keys keep every value in order.
  std::map<std::string, std::vector<std::string>> QueryParams() const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json; charset=UTF-8";
  std::string body;
};

// Decodes %XX escapes and '+' (as space) in a query component.
std::string UrlDecode(const std::string& text);

}  // namespace flinksim
