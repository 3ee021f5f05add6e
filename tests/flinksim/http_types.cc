#include "tests/flinksim/http_types.h"

#include <cctype>

#include "tests/flinksim/util.h"

namespace flinksim {

std::string HttpRequest::Header(const std::string& name) const {
  const std::string want = ToLower(name);
  for (const auto& [k, v] : headers) {
    if (ToLower(k) == want) return v;
  }
  return "";
}

std::map<std::string, std::vector<std::string>> HttpRequest::QueryParams() const {
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& piece : Split(query, '&')) {
    size_t eq = piece.find('=');
    std::string key = UrlDecode(eq == std::string::npos ? piece : piece.substr(0, eq));
    std::string value = eq == std::string::npos ? "" : UrlDecode(piece.substr(eq + 1));
    out[key].push_back(value);
  }
  return out;
}

std::string UrlDecode(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%' && i + 2 < text.size() &&
               std::isxdigit(static_cast<unsigned char>(text[i + 1])) &&
               std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
      out.push_back(static_cast<char>(std::stoi(text.substr(i + 1, 2), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace flinksim
