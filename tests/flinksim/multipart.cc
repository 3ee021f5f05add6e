#include "tests/flinksim/multipart.h"

#include "tests/flinksim/util.h"

namespace flinksim {
namespace {

// Value of `key` in a header parameter list such as `form-data; name="x"; filename="y"`.
std::string Param(std::string_view header, std::string_view key) {
  for (const auto& piece : Split(header, ';')) {
    size_t eq = piece.find('=');
    if (eq == std::string::npos) continue;
    if (ToLower(Trim(piece.substr(0, eq))) != key) continue;
    std::string v = Trim(piece.substr(eq + 1));
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
    return v;
  }
  return "";
}

}  // namespace

std::optional<std::vector<FormPart>> ParseMultipart(std::string_view content_type,
                                                    std::string_view body) {
  if (!StartsWith(ToLower(content_type), "multipart/form-data")) return std::nullopt;
  std::string boundary = Param(content_type, "boundary");
  if (boundary.empty()) return std::nullopt;
  const std::string delim = "--" + boundary;
  std::vector<FormPart> parts;
  size_t pos = body.find(delim);
  if (pos == std::string_view::npos) return std::nullopt;
  for (int guard = 0; guard < 1000; ++guard) {
    pos += delim.size();
    if (body.substr(pos, 2) == "--") return parts;  // closing delimiter
    if (body.substr(pos, 2) == "\r\n") pos += 2;
    size_t header_end = body.find("\r\n\r\n", pos);
    if (header_end == std::string_view::npos) return std::nullopt;
    FormPart part;
    for (const auto& line : Split(body.substr(pos, header_end - pos), '\n')) {
      size_t colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string name = ToLower(Trim(line.substr(0, colon)));
      std::string value = Trim(line.substr(colon + 1));
      if (name == "content-disposition") {
        part.name = Param(value, "name");
        part.filename = Param(value, "filename");
      } else if (name == "content-type") {
        part.content_type = value;
      }
    }
    size_t data_start = header_end + 4;
    size_t next = body.find("\r\n" + delim, data_start);
    if (next == std::string_view::npos) return std::nullopt;
    part.data = std::string(body.substr(data_start, next - data_start));
    parts.push_back(std::move(part));
    pos = next + 2;
  }
  return std::nullopt;
}

}  // namespace flinksim
