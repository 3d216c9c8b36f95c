//===- Kinds.cpp - helpers for the kind tables -----------------------------===//
#include "Kinds.h"

#include <charconv>

namespace rslc {

std::string shortestReal(double x) {
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, x);
  std::string s(buf, res.ptr);
  if (s.find_first_of(".eEn") == std::string::npos)
    s += ".0";
  return s;
}

} // namespace rslc
