//===- Data.cpp - reading and writing CSV, NumPy and IDX files ------------===//
#include "Data.h"

#include "core/Files.h"
#include "core/Npy.h"

#include <zlib.h>

#include <cerrno>
#include <cfloat>
#include <cmath>
#include <cstring>
#include <sstream>

namespace rslc::data {

namespace {

[[noreturn]] void fail(const std::string &msg) { throw DataError(msg); }

/// No data file is read beyond this (a file or the inflated stream).
constexpr uint64_t maxFileBytes = uint64_t(1) << 40;

/// The bytes of a data file: a regular file (a device or FIFO would be read
/// forever or block), read whole.
std::string readFile(const std::string &path) {
  std::string bytes;
  if (std::string why = files::readRegular(path, maxFileBytes, bytes); !why.empty())
    fail("cannot read '" + path + "': " + why);
  return bytes;
}

bool endsWith(const std::string &s, const std::string &suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

/// Parses a whole cell as a number. Overflow gives +-HUGE_VAL (refused as
/// out of range by the caller), underflow the nearest tiny value.
bool parseNumber(const std::string &cell, double &out) {
  const char *b = cell.c_str();
  char *end = nullptr;
  out = std::strtod(b, &end);
  while (end && (*end == ' ' || *end == '\t' || *end == '\r'))
    ++end;
  return end != b && *end == '\0';
}

/// Why `v` cannot be a sample value, or null. Values are used in float32
/// models too, so they must be finite and within the float32 range.
const char *badValue(double v) {
  if (!std::isfinite(v))
    return "is not a finite number (NaN or infinity)";
  if (std::fabs(v) > FLT_MAX)
    return "is out of range (magnitude above 3.4e38, the float32 limit)";
  return nullptr;
}

/// rows = shape[0], cols = the product of the others (1 for rank 0 or 1).
/// Refuses negative dimensions and element counts that overflow.
void setShape(Matrix &m, const std::vector<int64_t> &shape, const std::string &name) {
  m.rows = shape.empty() ? 1 : shape[0];
  m.cols = 1;
  int64_t count = m.rows;
  for (size_t d = 1; d < shape.size(); ++d)
    if (__builtin_mul_overflow(m.cols, shape[d], &m.cols) ||
        __builtin_mul_overflow(count, shape[d], &count))
      fail(name + ": the shape holds more than 2^63 values");
  if (count > (int64_t(1) << 56))
    fail(name + ": the shape holds " + std::to_string(count) + " values, too many to load");
  if (m.rows == 0 || m.cols == 0)
    fail(name + ": no samples (the shape has a zero dimension)");
}

template <typename T> T readLE(const unsigned char *p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

} // namespace

Matrix loadCSV(const std::string &bytes, const std::string &path) {
  std::istringstream in(bytes);
  Matrix m;
  std::string line;
  int64_t lineNo = 0;
  bool headerSeen = false;
  while (std::getline(in, line)) {
    ++lineNo;
    if (!line.empty() && line.back() == '\r')
      line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos)
      continue;
    std::vector<std::string> cells;
    std::stringstream ls(line);
    std::string cell;
    while (std::getline(ls, cell, ','))
      cells.push_back(cell);
    if (line.back() == ',')
      cells.push_back("");
    std::vector<double> row;
    int64_t col = 0;
    size_t column = 1;
    if (m.rows == 0 && !headerSeen) { // a header: a first row without a single number
      double v;
      bool anyNumber = false;
      for (const std::string &c : cells)
        anyNumber = anyNumber || parseNumber(c, v);
      if (!anyNumber) {
        headerSeen = true;
        continue;
      }
    }
    for (const std::string &c : cells) {
      double v;
      std::string at = path + ":" + std::to_string(lineNo) + ":" + std::to_string(column) + ": '";
      if (!parseNumber(c, v))
        fail(at + npy::printable(c) + "' is not a number");
      // "1e999" overflows to infinity: out of range, unlike "inf" itself.
      bool spelledInf = c.find_first_of("iI") != std::string::npos;
      if (const char *why = badValue(std::isinf(v) && !spelledInf ? FLT_MAX * 2.0 : v))
        fail(at + npy::printable(c) + "' " + why);
      row.push_back(v);
      ++col;
      column += c.size() + 1;
    }
    if (m.rows == 0)
      m.cols = int64_t(row.size());
    else if (int64_t(row.size()) != m.cols)
      fail(path + ":" + std::to_string(lineNo) + ": " + std::to_string(row.size()) +
           " columns, but the first row has " + std::to_string(m.cols));
    m.values.insert(m.values.end(), row.begin(), row.end());
    ++m.rows;
  }
  if (m.rows == 0)
    fail(path + ": no data rows");
  return m;
}

Matrix loadNpy(const std::string &bytes, const std::string &name) {
  npy::Array a;
  try {
    a = npy::parse(bytes, name);
  } catch (const npy::Error &e) {
    fail(e.what());
  }
  Matrix m;
  setShape(m, a.shape, name);
  for (size_t k = 0; k < a.values.size(); ++k)
    if (const char *why = badValue(a.values[k])) {
      char text[32];
      std::snprintf(text, sizeof text, "%g", a.values[k]);
      fail(name + ": element [" + std::to_string(int64_t(k) / m.cols) + ", " +
           std::to_string(int64_t(k) % m.cols) + "] = " + text + " " + why);
    }
  m.values = std::move(a.values);
  return m;
}

Matrix loadNpz(const std::string &zip, const std::string &path, const std::string &key) {
  const unsigned char *p = reinterpret_cast<const unsigned char *>(zip.data());
  // End of central directory: the last "PK\5\6" record.
  size_t eocd = std::string::npos;
  for (size_t i = zip.size() >= 22 ? zip.size() - 22 : 0; i + 4 <= zip.size() && i != size_t(-1); --i)
    if (std::memcmp(p + i, "PK\x05\x06", 4) == 0) {
      eocd = i;
      break;
    }
  if (eocd == std::string::npos || eocd + 22 > zip.size())
    fail(path + ": not a .npz (zip) file, or truncated (no end-of-archive record)");
  uint16_t entries = readLE<uint16_t>(p + eocd + 10);
  uint32_t cdOffset = readLE<uint32_t>(p + eocd + 16);
  std::string want = key + ".npy", names;
  size_t at = cdOffset;
  for (uint16_t e = 0; e < entries; ++e) {
    if (at + 46 > zip.size() || std::memcmp(p + at, "PK\x01\x02", 4) != 0)
      fail(path + ": corrupt or truncated zip directory");
    uint16_t method = readLE<uint16_t>(p + at + 10);
    uint32_t compressed = readLE<uint32_t>(p + at + 20), plain = readLE<uint32_t>(p + at + 24);
    uint16_t nameLen = readLE<uint16_t>(p + at + 28), extra = readLE<uint16_t>(p + at + 30),
             comment = readLE<uint16_t>(p + at + 32);
    uint32_t local = readLE<uint32_t>(p + at + 42);
    std::string entry = zip.substr(at + 46, nameLen);
    names += (names.empty() ? "" : ", ") + entry;
    at += 46 + nameLen + extra + comment;
    if (entry != want)
      continue;
    if (compressed == 0xffffffffu || local == 0xffffffffu)
      fail(path + ": ZIP64 archives are not supported");
    if (size_t(local) + 30 > zip.size())
      fail(path + ": truncated");
    size_t dataAt =
        size_t(local) + 30 + readLE<uint16_t>(p + local + 26) + readLE<uint16_t>(p + local + 28);
    if (dataAt + compressed > zip.size())
      fail(path + ": entry '" + want + "' is truncated");
    std::string body = zip.substr(dataAt, compressed);
    if (method == 8) { // deflate (np.savez_compressed)
      // Deflate expands at most about 1032:1: a larger claim is corruption.
      if (plain / 1032 > compressed + 1)
        fail(path + ": entry '" + want + "' claims an impossible uncompressed size");
      std::string out(plain, '\0');
      z_stream zs{};
      inflateInit2(&zs, -MAX_WBITS);
      zs.next_in = reinterpret_cast<Bytef *>(body.data());
      zs.avail_in = uInt(body.size());
      zs.next_out = reinterpret_cast<Bytef *>(out.data());
      zs.avail_out = uInt(out.size());
      int rc = inflate(&zs, Z_FINISH);
      inflateEnd(&zs);
      if (rc != Z_STREAM_END)
        fail(path + ": entry '" + want + "' does not decompress");
      body = out;
    } else if (method != 0) {
      fail(path + ": entry '" + want + "' uses unsupported compression " + std::to_string(method));
    }
    return loadNpy(body, path + "[" + key + "]");
  }
  fail(path + ": no array '" + key + "' (arrays: " + names + ")");
}

namespace {

/// A gzip stream inflated as far as `limit` bytes: more is refused (a 1 MB
/// file may inflate to gigabytes); `out` may end early (truncated input).
bool inflateAtMost(const std::string &gz, size_t limit, std::string &out, std::string &why) {
  z_stream zs{};
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) { // 16: gzip framing
    why = "cannot start decompressing";
    return false;
  }
  zs.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(gz.data()));
  zs.avail_in = uInt(std::min<size_t>(gz.size(), UINT32_MAX));
  out.clear();
  char buf[1 << 16];
  int rc = Z_OK;
  while (rc == Z_OK) {
    zs.next_out = reinterpret_cast<Bytef *>(buf);
    zs.avail_out = sizeof buf;
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
      inflateEnd(&zs);
      why = "corrupt gzip stream";
      return false;
    }
    out.append(buf, sizeof buf - zs.avail_out);
    if (out.size() > limit) {
      inflateEnd(&zs);
      why = "decompresses to more than the " + std::to_string(limit) + " bytes its header promises";
      return false;
    }
    if (rc == Z_BUF_ERROR) // no progress possible: the input ended early
      break;
  }
  inflateEnd(&zs);
  return true;
}

} // namespace

Matrix loadIdx(const std::string &file, const std::string &path) {
  // gzip-compressed (magic 1f 8b) or plain. The header (4 + 4 x rank bytes)
  // gives the size; a stream is inflated no further than that.
  std::string bytes;
  const bool gz = file.size() >= 2 && (unsigned char)file[0] == 0x1f && (unsigned char)file[1] == 0x8b;
  if (gz) {
    std::string why, head;
    if (!inflateAtMost(file, 1 << 16, head, why) && head.size() < 4 + 4 * 255)
      fail(path + ": " + why);
    bytes = head;
  } else {
    bytes = file;
  }
  const unsigned char *p = reinterpret_cast<const unsigned char *>(bytes.data());
  if (bytes.size() < 4 || p[0] != 0 || p[1] != 0)
    fail(path + ": not an IDX file (bad magic)");
  unsigned type = p[2], rank = p[3];
  if (type != 0x08)
    fail(path + ": IDX element type " + std::to_string(type) + " is not supported (only unsigned bytes)");
  if (rank == 0 || bytes.size() < 4 + 4 * size_t(rank))
    fail(path + ": truncated IDX header");
  std::vector<int64_t> shape;
  for (unsigned d = 0; d < rank; ++d)
    shape.push_back((int64_t(p[4 + 4 * d]) << 24) | (p[5 + 4 * d] << 16) | (p[6 + 4 * d] << 8) |
                    p[7 + 4 * d]);
  Matrix m;
  setShape(m, shape, path);
  size_t start = 4 + 4 * size_t(rank), count = size_t(m.rows * m.cols);
  if (gz) {
    std::string why;
    if (!inflateAtMost(file, start + count, bytes, why))
      fail(path + ": " + why);
    p = reinterpret_cast<const unsigned char *>(bytes.data());
  } else if (bytes.size() - start > count) {
    fail(path + ": " + std::to_string(bytes.size() - start - count) +
         " bytes beyond the values its header promises");
  }
  if (bytes.size() - start < count)
    fail(path + ": truncated: the header promises " + std::to_string(count) + " values, the file holds " +
         std::to_string(bytes.size() - start));
  m.values.assign(p + start, p + start + count);
  return m;
}

Matrix load(const std::string &path, const std::string &npzKey) {
  Format format = formatOf(path);
  if (format == Format::Unknown)
    fail(path + ": unknown data format (expected .csv, .npy, .npz or an IDX file)");
  return parse(format, readFile(path), path, npzKey);
}

Format formatOf(const std::string &path) {
  if (endsWith(path, ".csv"))
    return Format::CSV;
  if (endsWith(path, ".npy"))
    return Format::Npy;
  if (endsWith(path, ".npz"))
    return Format::Npz;
  if (path.find("idx") != std::string::npos)
    return Format::Idx;
  return Format::Unknown;
}

Matrix parse(Format format, const std::string &bytes, const std::string &name,
             const std::string &npzKey) {
  switch (format) {
  case Format::CSV: return loadCSV(bytes, name);
  case Format::Npy: return loadNpy(bytes, name);
  case Format::Npz: return loadNpz(bytes, name, npzKey);
  case Format::Idx: return loadIdx(bytes, name);
  case Format::Unknown: break;
  }
  fail(name + ": unknown data format");
}

void saveNpy(const std::string &path, const std::vector<double> &values, int64_t rows, int64_t cols,
             bool asFloat) {
  std::string header = "{'descr': '" + std::string(asFloat ? "<f4" : "<f8") +
                       "', 'fortran_order': False, 'shape': (" + std::to_string(rows) + ", " +
                       std::to_string(cols) + "), }";
  while ((10 + header.size() + 1) % 64)
    header += ' ';
  header += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  uint16_t len = uint16_t(header.size());
  out.append(reinterpret_cast<const char *>(&len), 2);
  out += header;
  for (double v : values) {
    if (asFloat) {
      float f = float(v);
      out.append(reinterpret_cast<const char *>(&f), 4);
    } else {
      out.append(reinterpret_cast<const char *>(&v), 8);
    }
  }
  if (std::string why = files::writeAtomically(path, out); !why.empty())
    fail("cannot write '" + path + "': " + why);
}

void saveCSV(const std::string &path, const Matrix &m) {
  std::ostringstream out;
  out.precision(9);
  for (int64_t r = 0; r < m.rows; ++r)
    for (int64_t c = 0; c < m.cols; ++c)
      out << m.at(r, c) << (c + 1 < m.cols ? "," : "\n");
  if (std::string why = files::writeAtomically(path, out.str()); !why.empty())
    fail("cannot write '" + path + "': " + why);
}

} // namespace rslc::data
