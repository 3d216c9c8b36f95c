//===- Npy.h - NumPy's .npy format, read -------------------------------===//
//
// Shared by rslc-train's data readers (tools/train/Data.cpp) and the
// compiler's explicit lifts (compiler/Sema/ReadEdgeList.cpp).
//
//===----------------------------------------------------------------------===//
#ifndef RSLC_CORE_NPY_H
#define RSLC_CORE_NPY_H

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace rslc::npy {

/// A malformed file; the message names it.
struct Error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// A C-ordered little-endian array of floats or integers, its values as
/// doubles (integers beyond 2^53 round).
struct Array {
  std::vector<int64_t> shape;
  char kind = 'f'; ///< 'f', 'i' or 'u'
  std::vector<double> values;
};

/// Parses the bytes of a .npy (`name` for messages): version 1 to 3
/// headers, float32/64 and 8- to 64-bit integers; at most 2^56 values, all
/// present. Throws Error.
Array parse(const std::string &bytes, const std::string &name);

/// Text as shown in messages: control characters escaped, cut at 40.
std::string printable(const std::string &text);

} // namespace rslc::npy

#endif
