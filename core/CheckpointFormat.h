//===- CheckpointFormat.h - the bytes of a checkpoint --------------------===//
//
// Format (version 2): "RSLCCKPT", u32 version, the model's identity (its
// serialized plan and precision), the application's note (free text, e.g.
// rslc-train's provenance and standardisation; absent in version 1, still
// read), the optimiser state (integrator, step,
// flow time, step size), two moment vectors and the parameters as doubles,
// and an FNV-1a checksum of everything before it. Little-endian.
// LLVM-free and model-free: the runtime (runtime/Checkpoint.cpp) and the
// data fuzzer (fuzz/DataFuzzer.cpp) use it.
//
//===----------------------------------------------------------------------===//
#ifndef RSLC_CORE_CHECKPOINTFORMAT_H
#define RSLC_CORE_CHECKPOINTFORMAT_H

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace rslc::ckpt {

/// Optimiser state besides the moment vectors.
struct State {
  int32_t integrator = -1; ///< -1: never trained
  int64_t step = 0;
  double flowTime = 0, stepSize = 0;
};

struct Contents {
  std::string identity, note;
  State state;
  std::vector<double> moment1, moment2, theta;
};

/// A file that is not a well-formed checkpoint; the message names `path`.
struct FormatError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

std::string encode(const Contents &c);

/// The contents of `bytes`: magic, version, checksum and lengths checked
/// (not the identity, nor whether the state is usable). Throws FormatError.
Contents decode(const std::string &bytes, const std::string &path);

/// The identity a checkpoint's first bytes hold, or "" if they do not.
std::string identityOf(const std::string &prefix);

/// Why decoded contents cannot be loaded into a model of `numParams`
/// parameters, or "": a known integrator, moments the integrator can use,
/// finite values, steps and times in range.
std::string unusable(const Contents &c, size_t numParams);

} // namespace rslc::ckpt

#endif
