# Compiler warnings and sanitizers, carried by INTERFACE targets linked PRIVATE by our targets.
add_library(flinkguard_warnings INTERFACE)
add_library(flinkguard::warnings ALIAS flinkguard_warnings)
target_compile_options(flinkguard_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion -Wnon-virtual-dtor
  -Wold-style-cast -Woverloaded-virtual -Wimplicit-fallthrough
  # C++20 designated initializers rely on default member initializers for omitted fields.
  -Wno-missing-field-initializers)
if(FLINKGUARD_WERROR)
  target_compile_options(flinkguard_warnings INTERFACE -Werror)
endif()

if(FLINKGUARD_SANITIZE)
  # GCC 12's flow analysis reports false "may be used uninitialized" inside libstdc++ (<regex>,
  # std::optional) once ASan instrumentation is added; the plain build keeps the warning.
  target_compile_options(flinkguard_warnings INTERFACE -Wno-maybe-uninitialized)
  # Applied globally so every object (ours and the test runner) shares one runtime.
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

# The allocator of the agent's executables and benchmarks: jemalloc. glibc's malloc spent about
# a third of the agent's observe CPU: libcurl allocates and frees a 16 KiB receive buffer per
# transfer, above glibc's per-thread cache, and each such request consolidates the fast bins.
# Off with the sanitizers, which bring their own allocator. FLINKGUARD_WITH_JEMALLOC tells the
# code (and the test that checks it) which one is linked.
option(FLINKGUARD_JEMALLOC "Link the agent's executables with jemalloc (off with the sanitizers)" ON)
add_library(flinkguard_malloc INTERFACE)
add_library(flinkguard::malloc ALIAS flinkguard_malloc)
if(FLINKGUARD_JEMALLOC AND NOT FLINKGUARD_SANITIZE)
  find_package(PkgConfig REQUIRED)
  pkg_check_modules(JEMALLOC jemalloc)
  if(NOT JEMALLOC_FOUND)
    message(FATAL_ERROR "jemalloc not found: install libjemalloc-dev (packaging/install-deps.sh "
                        "does) or configure with -DFLINKGUARD_JEMALLOC=OFF")
  endif()
  # --no-as-needed: the executables call malloc through libc's symbol, never jemalloc's by name,
  # so a linker dropping unreferenced libraries would drop it.
  target_link_libraries(flinkguard_malloc INTERFACE
    "-Wl,--push-state,--no-as-needed" ${JEMALLOC_LINK_LIBRARIES} "-Wl,--pop-state")
  target_compile_definitions(flinkguard_malloc INTERFACE FLINKGUARD_WITH_JEMALLOC=1)
endif()
