#include "rules/error.h"

namespace flinkguard {

const char* ErrorKindName(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kTransient: return "transient";
    case ErrorKind::kNotFound: return "not-found";
    case ErrorKind::kConflict: return "conflict";
    case ErrorKind::kInvalid: return "invalid";
    case ErrorKind::kPermanent: return "permanent";
  }
  return "unknown";
}

}  // namespace flinkguard
