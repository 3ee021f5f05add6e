#pragma once

// A minimal multipart/form-data parser for POST /jars/upload.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace flinksim {

struct FormPart {
  std::string name;          // form field name
  std::string filename;      // "" when the part is not a file
  std::string content_type;  // part Content-Type, "" when absent
  std::string data;
};

// Parses `body` using the boundary from `content_type` ("multipart/form-data; boundary=...").
// nullopt when the content type is not multipart or the body is malformed.
std::optional<std::vector<FormPart>> ParseMultipart(std::string_view content_type,
                                                    std::string_view body);

}  // namespace flinksim
