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
