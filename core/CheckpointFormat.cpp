//===- CheckpointFormat.cpp - the bytes of a checkpoint ------------------===//
#include "core/CheckpointFormat.h"

#include "core/Kinds.h"

#include <cmath>
#include <cstring>

namespace rslc::ckpt {

namespace {

constexpr char magic[8] = {'R', 'S', 'L', 'C', 'C', 'K', 'P', 'T'};
constexpr uint32_t formatVersion = 2; ///< reads 1 (no note) and 2

uint64_t fnv1a(const char *bytes, size_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; ++i)
    h = (h ^ (unsigned char)bytes[i]) * 0x100000001b3ull;
  return h;
}

template <typename V> void put(std::string &out, const V &v) {
  out.append(reinterpret_cast<const char *>(&v), sizeof v);
}
void putVector(std::string &out, const std::vector<double> &v) {
  put(out, uint64_t(v.size()));
  out.append(reinterpret_cast<const char *>(v.data()), v.size() * sizeof(double));
}

class Reader {
public:
  Reader(const std::string &data, const std::string &path) : data(data), path(path) {}
  template <typename V> V get() {
    V v;
    need(sizeof v);
    std::memcpy(&v, data.data() + pos, sizeof v);
    pos += sizeof v;
    return v;
  }
  std::vector<double> getVector() {
    uint64_t n = get<uint64_t>();
    if (n > (data.size() - pos) / sizeof(double)) // also a forged length that would wrap
      throw FormatError("checkpoint '" + path + "' is corrupted (impossible length)");
    std::vector<double> v(n);
    if (n > 0) // an empty vector's data() may be null
      std::memcpy(v.data(), data.data() + pos, n * sizeof(double));
    pos += n * sizeof(double);
    return v;
  }
  std::string getString() {
    uint64_t n = get<uint64_t>();
    need(n);
    std::string s = data.substr(pos, n);
    pos += n;
    return s;
  }

private:
  void need(uint64_t bytes) {
    if (bytes > data.size() - pos)
      throw FormatError("checkpoint '" + path + "' is truncated");
  }
  const std::string &data, &path;
  size_t pos = sizeof magic + 4;
};

} // namespace

std::string encode(const Contents &c) {
  std::string body(magic, sizeof magic);
  put(body, formatVersion);
  put(body, uint64_t(c.identity.size()));
  body += c.identity;
  put(body, uint64_t(c.note.size()));
  body += c.note;
  put(body, c.state.integrator);
  put(body, c.state.step);
  put(body, c.state.flowTime);
  put(body, c.state.stepSize);
  putVector(body, c.moment1);
  putVector(body, c.moment2);
  putVector(body, c.theta);
  put(body, fnv1a(body.data(), body.size()));
  return body;
}

Contents decode(const std::string &data, const std::string &path) {
  if (data.size() < sizeof magic + 4 + 8 || std::memcmp(data.data(), magic, sizeof magic) != 0)
    throw FormatError("'" + path + "' is not an rslc checkpoint");
  uint64_t stored;
  std::memcpy(&stored, data.data() + data.size() - 8, 8);
  if (stored != fnv1a(data.data(), data.size() - 8))
    throw FormatError("checkpoint '" + path + "' is corrupted (checksum mismatch)");
  uint32_t version;
  std::memcpy(&version, data.data() + sizeof magic, 4);
  if (version != 1 && version != formatVersion)
    throw FormatError("checkpoint '" + path + "' has format version " + std::to_string(version) +
                      "; this library reads versions 1 to " + std::to_string(formatVersion));
  const std::string body = data.substr(0, data.size() - 8); // without the checksum
  Reader r(body, path);
  Contents c;
  c.identity = r.getString();
  if (version >= 2)
    c.note = r.getString();
  c.state.integrator = r.get<int32_t>();
  c.state.step = r.get<int64_t>();
  c.state.flowTime = r.get<double>();
  c.state.stepSize = r.get<double>();
  c.moment1 = r.getVector();
  c.moment2 = r.getVector();
  c.theta = r.getVector();
  if (encode(c).size() - (version == 1 ? 8 : 0) != data.size())
    throw FormatError("checkpoint '" + path + "' is corrupted (trailing bytes)");
  return c;
}

std::string identityOf(const std::string &prefix) {
  if (prefix.size() < sizeof magic + 12 || std::memcmp(prefix.data(), magic, sizeof magic) != 0)
    return "";
  uint64_t n;
  std::memcpy(&n, prefix.data() + sizeof magic + 4, 8);
  if (n > prefix.size() - (sizeof magic + 12))
    return "";
  return prefix.substr(sizeof magic + 12, n);
}

std::string unusable(const Contents &c, size_t numParams) {
  const State &s = c.state;
  const std::vector<double> &m1 = c.moment1, &m2 = c.moment2;
  if (c.theta.size() != numParams)
    return std::to_string(c.theta.size()) + " parameters for a model of " +
           std::to_string(numParams);
  if (s.integrator != -1 && !isValidKind<Integrator>(s.integrator))
    return "unknown integrator " + std::to_string(s.integrator);
  bool momentum = m1.empty() || m1.size() == numParams;
  bool moments = s.integrator == int32_t(Integrator::Sgd)    ? momentum && m2.empty()
                 : s.integrator == int32_t(Integrator::Adam) ? momentum && m2.size() == m1.size()
                                                             : m1.empty() && m2.empty();
  if (!moments)
    return "optimiser moments of " + std::to_string(m1.size()) + " and " +
           std::to_string(m2.size()) + " values for " + std::to_string(numParams) + " parameters";
  for (const std::vector<double> *m : {&m1, &m2})
    for (double x : *m)
      if (!std::isfinite(x))
        return "an optimiser moment is not a finite number";
  // Steps count up from here: a step near INT64_MAX would overflow.
  if (s.step < 0 || s.step > (int64_t(1) << 53))
    return "step " + std::to_string(s.step) + " outside [0, 2^53]";
  if (!(s.flowTime >= 0) || !(s.flowTime <= 1e300) || !(s.stepSize >= 0) || !(s.stepSize <= 1e300))
    return "negative or non-finite flow time or step size";
  for (double x : c.theta)
    if (!std::isfinite(x))
      return "a parameter is not a finite number";
  return "";
}

} // namespace rslc::ckpt
