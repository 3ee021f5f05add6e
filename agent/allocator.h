#pragma once

#include <string>

namespace flinkguard {

// The malloc this process runs on, for `--version` and the start-up log: "jemalloc <version>"
// when jemalloc is linked in (the default build), otherwise the C library's (or a sanitizer
// runtime's). Looked up at run time, so it tells what the process really uses.
std::string AllocatorName();

}  // namespace flinkguard
