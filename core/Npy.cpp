//===- Npy.cpp - NumPy's .npy format, read -----------------------------===//
#include "core/Npy.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>

namespace rslc::npy {

namespace {

[[noreturn]] void fail(const std::string &msg) { throw Error(msg); }

template <typename T> T readLE(const unsigned char *p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

} // namespace

std::string printable(const std::string &cell) {
  std::string out;
  for (size_t i = 0; i < cell.size() && i < 40; ++i) {
    unsigned char c = cell[i];
    if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += char(c);
    }
  }
  return cell.size() > 40 ? out + "..." : out;
}


Array parse(const std::string &bytes, const std::string &name) {
  const unsigned char *p = reinterpret_cast<const unsigned char *>(bytes.data());
  if (bytes.size() < 10 || std::memcmp(p, "\x93NUMPY", 6) != 0)
    fail(name + ": not a .npy file (bad magic)");
  size_t headerLen, headerStart;
  if (p[6] == 1) {
    headerLen = readLE<uint16_t>(p + 8), headerStart = 10;
  } else if (bytes.size() >= 12 && (p[6] == 2 || p[6] == 3)) {
    headerLen = readLE<uint32_t>(p + 8), headerStart = 12;
  } else {
    fail(name + ": unsupported .npy version " + std::to_string(p[6]));
  }
  if (headerStart + headerLen > bytes.size())
    fail(name + ": truncated .npy header");
  std::string header = bytes.substr(headerStart, headerLen);
  auto field = [&](const std::string &key) {
    size_t k = header.find("'" + key + "'");
    if (k == std::string::npos)
      fail(name + ": .npy header lacks '" + key + "'");
    return header.substr(header.find(':', k) + 1);
  };
  std::string descr = field("descr");
  descr = descr.substr(descr.find('\'') + 1);
  descr = descr.substr(0, descr.find('\''));
  std::string fortran = field("fortran_order");
  if (fortran.find("True") < fortran.find(','))
    fail(name + ": Fortran-ordered arrays are not supported; save with np.ascontiguousarray");
  std::string shapeText = field("shape");
  size_t open = shapeText.find('('), close = shapeText.find(')');
  if (open == std::string::npos || close == std::string::npos || close < open)
    fail(name + ": malformed shape in the .npy header");
  shapeText = shapeText.substr(open + 1, close - open - 1);
  std::vector<int64_t> shape;
  std::stringstream ss(shapeText);
  std::string dim;
  while (std::getline(ss, dim, ',')) {
    size_t b = dim.find_first_not_of(' '), e = dim.find_last_not_of(' ');
    if (b == std::string::npos)
      continue;
    dim = dim.substr(b, e - b + 1);
    errno = 0;
    char *end = nullptr;
    long long v = std::strtoll(dim.c_str(), &end, 10);
    if (dim.find_first_not_of("0123456789") != std::string::npos || errno == ERANGE || *end)
      fail(name + ": bad dimension '" + printable(dim) + "' in the .npy shape");
    shape.push_back(v);
  }
  // descr is <byte order><kind><bytes per value>, e.g. '<f4', '|u1'.
  size_t size = 0;
  char kind = descr.size() >= 2 ? descr[1] : '?';
  std::string sizeText = descr.size() >= 3 ? descr.substr(2) : "";
  if (!sizeText.empty() && sizeText.size() <= 2 &&
      sizeText.find_first_not_of("0123456789") == std::string::npos)
    size = std::stoul(sizeText);
  if (!descr.empty() && descr[0] == '>' && size > 1)
    fail(name + ": big-endian arrays are not supported");
  bool known = (kind == 'f' && (size == 4 || size == 8)) ||
               ((kind == 'i' || kind == 'u') && (size == 1 || size == 2 || size == 4 || size == 8));
  if (!known)
    fail(name + ": unsupported dtype '" + printable(descr) + "' (use float32/64 or integers)");
  // At most 2^56 values (no overflow below), and no negative dimension.
  uint64_t count = 1;
  for (int64_t d : shape) {
    if (d < 0 || (d > 0 && count > (uint64_t(1) << 56) / uint64_t(d)))
      fail(name + ": the shape holds more than 2^56 values");
    count *= uint64_t(d);
  }
  size_t dataStart = headerStart + headerLen;
  if (bytes.size() - dataStart < count * size)
    fail(name + ": truncated: the header promises " + std::to_string(count) + " values (" +
         std::to_string(count * size) + " bytes), the file holds " +
         std::to_string(bytes.size() - dataStart) + " bytes");
  Array a;
  a.shape = shape;
  a.kind = kind;
  a.values.resize(count);
  const unsigned char *d = p + dataStart;
  for (size_t k = 0; k < count; ++k, d += size)
    a.values[k] = kind == 'f' ? (size == 4 ? readLE<float>(d) : readLE<double>(d))
                  : kind == 'i' ? (size == 1 ? readLE<int8_t>(d) : size == 2 ? readLE<int16_t>(d)
                                   : size == 4 ? readLE<int32_t>(d) : double(readLE<int64_t>(d)))
                                : (size == 1 ? readLE<uint8_t>(d) : size == 2 ? readLE<uint16_t>(d)
                                   : size == 4 ? readLE<uint32_t>(d) : double(readLE<uint64_t>(d)));
  return a;
}

} // namespace rslc::npy
