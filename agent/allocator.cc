#include "agent/allocator.h"

#include <dlfcn.h>

#include <cstddef>

namespace flinkguard {

std::string AllocatorName() {
  // jemalloc's control interface; present in the process only when jemalloc is linked in.
  using Mallctl = int (*)(const char*, void*, std::size_t*, void*, std::size_t);
  if (void* symbol = dlsym(RTLD_DEFAULT, "mallctl"); symbol != nullptr) {
    const auto mallctl = reinterpret_cast<Mallctl>(symbol);
    const char* version = nullptr;
    std::size_t size = sizeof(version);
    if (mallctl("version", static_cast<void*>(&version), &size, nullptr, 0) == 0 &&
        version != nullptr) {
      return std::string("jemalloc ") + version;
    }
    return "jemalloc";
  }
#if defined(__SANITIZE_ADDRESS__)
  return "AddressSanitizer's allocator";
#else
  return "C library malloc";
#endif
}

}  // namespace flinkguard
