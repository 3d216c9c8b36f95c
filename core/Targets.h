//===- Targets.h - what a loss accepts as a target ------------------------===//
//
// Shared by the runtime (which refuses bad targets with RSLC_ERROR_OPTION)
// and rslc-train (which names the file and row first).
//
//===----------------------------------------------------------------------===//
#ifndef RSLC_CORE_TARGETS_H
#define RSLC_CORE_TARGETS_H

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>

namespace rslc {

/// Why `value` is not a class index in [0, classes) (cross-entropy), or "".
inline std::string classIndexProblem(double value, int64_t classes) {
  if (value >= 0 && value < double(classes) && value == std::floor(value))
    return "";
  char text[32];
  std::snprintf(text, sizeof text, "%g", value);
  return "target " + std::string(text) + " is not a class index in [0, " +
         std::to_string(classes) + ")";
}

} // namespace rslc

#endif
