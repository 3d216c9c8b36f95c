//===- Checkpoint.cpp - the checkpoint format and its atomic file I/O -----===//
//
// Format (version 1): "RSLCCKPT", u32 version, the model's identity (its
// serialized plan and precision), the optimiser state (integrator, step,
// flow time, step size, moments), the parameters as doubles, and an FNV-1a
// checksum of everything before it.
//
//===----------------------------------------------------------------------===//
#include "Checkpoint.h"

#include "core/Files.h"
#include "core/PlanIO.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace rslc::rt {

namespace {

constexpr char magic[8] = {'R', 'S', 'L', 'C', 'C', 'K', 'P', 'T'};
constexpr uint32_t formatVersion = 1;

uint64_t fnv1a(const std::string &bytes) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : bytes)
    h = (h ^ c) * 0x100000001b3ull;
  return h;
}

/// What identifies the model a checkpoint belongs to.
std::string identity(const ModelBase &m) {
  return lift::serializePlan(m.graph().plan) + "\nreal " + std::to_string(m.realBytes());
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
    if (n > UINT64_MAX / sizeof(double)) // a forged length must not wrap around
      throw Error{RSLC_ERROR_IO, "checkpoint '" + path + "' is corrupted (impossible length)"};
    need(n * sizeof(double));
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
      throw Error{RSLC_ERROR_IO, "checkpoint '" + path + "' is truncated"};
  }
  const std::string &data, &path;
  size_t pos = sizeof magic + 4;
};

/// Moment array `a` of the model as doubles (empty if it has none).
std::vector<double> momentAsDoubles(const ModelBase &model, ModelBase::Array a) {
  const void *data = model.array(a);
  const size_t P = model.graph().numParams;
  if (!data)
    return {};
  if (model.realBytes() == 8)
    return {static_cast<const double *>(data), static_cast<const double *>(data) + P};
  return {static_cast<const float *>(data), static_cast<const float *>(data) + P};
}

void momentFromDoubles(ModelBase &model, ModelBase::Array a, const std::vector<double> &values) {
  void *data = model.array(a);
  if (model.realBytes() == 8)
    std::copy(values.begin(), values.end(), static_cast<double *>(data));
  else
    std::copy(values.begin(), values.end(), static_cast<float *>(data));
}

/// Why a loaded optimiser state is unusable, or "". What saveCheckpoint
/// writes: no moments for the flow integrators or a fresh model (-1), an
/// optional momentum for SGD, both Adam moments or neither; finite values.
std::string unusableState(const ModelBase::TrainState &s, const std::vector<double> &m1,
                          const std::vector<double> &m2, const std::vector<double> &theta) {
  const size_t P = theta.size();
  if (s.integrator != -1 && !isValidKind<Integrator>(s.integrator))
    return "unknown integrator " + std::to_string(s.integrator);
  bool momentum = m1.empty() || m1.size() == P;
  bool moments = s.integrator == RSLC_SGD    ? momentum && m2.empty()
                 : s.integrator == RSLC_ADAM ? momentum && m2.size() == m1.size()
                                             : m1.empty() && m2.empty();
  if (!moments)
    return "optimiser moments of " + std::to_string(m1.size()) + " and " +
           std::to_string(m2.size()) + " values for " + std::to_string(P) + " parameters";
  for (const std::vector<double> *m : {&m1, &m2})
    for (double x : *m)
      if (!std::isfinite(x))
        return "an optimiser moment is not a finite number";
  // Steps count up from here: a step near INT64_MAX would overflow.
  if (s.step < 0 || s.step > (int64_t(1) << 53))
    return "step " + std::to_string(s.step) + " outside [0, 2^53]";
  if (!(s.flowTime >= 0) || !(s.flowTime <= 1e300) || !(s.stepSize >= 0) || !(s.stepSize <= 1e300))
    return "negative or non-finite flow time or step size";
  for (double x : theta)
    if (!std::isfinite(x))
      return "a parameter is not a finite number";
  return "";
}

} // namespace

void saveCheckpoint(const ModelBase &model, const std::string &path) {
  std::string body;
  body.append(magic, sizeof magic);
  put(body, formatVersion);
  std::string id = identity(model);
  put(body, uint64_t(id.size()));
  body += id;
  const ModelBase::TrainState &s = model.train;
  put(body, s.integrator);
  put(body, s.step);
  put(body, s.flowTime);
  put(body, s.stepSize);
  putVector(body, momentAsDoubles(model, ModelBase::Array::Moment1));
  putVector(body, momentAsDoubles(model, ModelBase::Array::Moment2));
  std::vector<double> theta;
  model.paramsToDouble(theta);
  putVector(body, theta);
  put(body, fnv1a(body));

  // A temporary file beside the target, flushed to disk, renamed over it:
  // the old checkpoint survives any failure before that.
  if (std::string why = files::writeAtomically(path, body); !why.empty())
    throw Error{RSLC_ERROR_IO, "cannot write checkpoint '" + path + "': " + why +
                                   " (the previous checkpoint is unchanged)"};
}

void loadCheckpoint(ModelBase &model, const std::string &path) {
  // A checkpoint of this model holds its identity, three vectors of its
  // parameters and a few numbers: anything much longer is not one.
  const uint64_t most = identity(model).size() + 3 * 8 * (model.graph().numParams + 1) + 4096;
  std::string data;
  if (std::string why = files::readRegular(path, most, data); !why.empty())
    throw Error{RSLC_ERROR_IO, "cannot read checkpoint '" + path + "': " + why};
  if (data.size() < sizeof magic + 4 + 8 || std::memcmp(data.data(), magic, sizeof magic) != 0)
    throw Error{RSLC_ERROR_IO, "'" + path + "' is not an rslc checkpoint"};
  uint64_t stored;
  std::memcpy(&stored, data.data() + data.size() - 8, 8);
  if (stored != fnv1a(data.substr(0, data.size() - 8)))
    throw Error{RSLC_ERROR_IO, "checkpoint '" + path + "' is corrupted (checksum mismatch)"};
  uint32_t version;
  std::memcpy(&version, data.data() + sizeof magic, 4);
  if (version != formatVersion)
    throw Error{RSLC_ERROR_IO, "checkpoint '" + path + "' has format version " + std::to_string(version) +
                       "; this library reads version " + std::to_string(formatVersion)};
  Reader r(data, path);
  std::string id = r.getString();
  if (id != identity(model)) {
    lift::LiftPlan other;
    std::string err, what = "another model";
    if (lift::deserializePlan(id.substr(0, id.rfind("\nreal ")), other, err))
      what = "lift '" + other.lift + "' of '" + other.module + "' (seed " +
             std::to_string(other.seed) + ")";
    const lift::LiftPlan &p = model.graph().plan;
    std::string mine = "lift '" + p.lift + "' of '" + p.module + "' (seed " + std::to_string(p.seed) + ")";
    if (what == mine)
      throw Error{RSLC_ERROR_OPTION, "checkpoint '" + path + "' belongs to another build of " + mine +
                         ": its fiber sizes, lift kinds, dimensions or precision differ"};
    throw Error{RSLC_ERROR_OPTION, "checkpoint '" + path + "' belongs to " + what + ", not to " + mine};
  }
  ModelBase::TrainState s;
  s.integrator = r.get<int32_t>();
  s.step = r.get<int64_t>();
  s.flowTime = r.get<double>();
  s.stepSize = r.get<double>();
  std::vector<double> m1 = r.getVector(), m2 = r.getVector();
  std::vector<double> theta = r.getVector();
  if (theta.size() != model.graph().numParams)
    throw Error{RSLC_ERROR_OPTION, "checkpoint '" + path + "' holds " + std::to_string(theta.size()) +
                       " parameters; the model has " + std::to_string(model.graph().numParams)};
  // The checksum catches damage, not a forged or buggy writer: refuse a
  // state the integrators could not use (an Adam moment of the wrong length
  // would be read out of bounds) before changing the model.
  if (std::string why = unusableState(s, m1, m2, theta); !why.empty())
    throw Error{RSLC_ERROR_IO, "checkpoint '" + path + "' is corrupted (" + why + ")"};
  model.paramsFromDouble(theta);
  model.setMoments(m2.empty() ? m1.empty() ? 0 : 1 : 2);
  if (!m1.empty())
    momentFromDoubles(model, ModelBase::Array::Moment1, m1);
  if (!m2.empty())
    momentFromDoubles(model, ModelBase::Array::Moment2, m2);
  model.train = s;
}


} // namespace rslc::rt
