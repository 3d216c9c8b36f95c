//===- Random.h - counter-based random numbers ----------------------------===//
//
// Every random draw is a pure function of (seed, stream, counter): no state
// is carried between draws, so results do not depend on thread count, on
// scheduling, or on the order in which edges are built. The mixer is
// SplitMix64's finaliser, applied along the key.
//
//===----------------------------------------------------------------------===//
#ifndef RSLC_CORE_RANDOM_H
#define RSLC_CORE_RANDOM_H

#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

namespace rslc::lift {

inline uint64_t mix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/// A key for one random stream, e.g. (seed, base edge, target copy).
inline uint64_t streamKey(uint64_t seed, uint64_t a, uint64_t b = 0) {
  return mix64(mix64(mix64(seed) ^ a) ^ b);
}

/// The counter-th draw of a stream: 64 uniform bits.
inline uint64_t draw(uint64_t key, uint64_t counter) { return mix64(key ^ mix64(counter)); }

/// Uniform in [0, 1) with 53 random bits.
inline double uniform01(uint64_t bits) { return double(bits >> 11) * 0x1.0p-53; }

/// Uniform integer in [0, n), n > 0 (Lemire's multiply-shift; bias < 2^-32
/// for n < 2^32).
inline uint64_t below(uint64_t bits, uint64_t n) {
  return uint64_t((__uint128_t(bits) * n) >> 64);
}

/// Standard normal from two draws (Box-Muller).
inline double normal(uint64_t bitsA, uint64_t bitsB) {
  double u = 1.0 - uniform01(bitsA); // (0, 1]
  double v = uniform01(bitsB);
  return std::sqrt(-2.0 * std::log(u)) * std::cos(6.283185307179586 * v);
}

/// A uniformly random permutation of 0..n-1 (Fisher-Yates from the end,
/// swap i with draw(key, i) mod i+1): data splits and mini-batch epochs.
inline std::vector<int64_t> permutation(int64_t n, uint64_t key) {
  std::vector<int64_t> p(n > 0 ? size_t(n) : 0);
  for (int64_t i = 0; i < n; ++i)
    p[i] = i;
  for (int64_t i = n - 1; i > 0; --i)
    std::swap(p[i], p[below(draw(key, i), i + 1)]);
  return p;
}

/// A sequential generator over one stream, for loops inside one row.
class Stream {
public:
  explicit Stream(uint64_t key) : key(key) {}
  uint64_t next() { return draw(key, counter++); }

private:
  uint64_t key, counter = 0;
};

} // namespace rslc::lift

#endif
