//===- BatchLayout.h - between the ABI's and the kernels' batch layouts ----===//
//
// The ABI passes samples in rows (sample-major: x[b][a]); the kernels keep a
// vertex's values feature-major (Y[a][b], the batch contiguous). Two copies
// convert one tile of at most 16 x 16 values; the readout sums an output's
// copies. Float tiles on a CPU with AVX-512 go through registers (a
// transpose: 16 row loads, 64 shuffles, 16 stores), the rest value by
// value; both give the same values.
//
//===----------------------------------------------------------------------===//
#ifndef RSLC_RUNTIME_BATCHLAYOUT_H
#define RSLC_RUNTIME_BATCHLAYOUT_H

#include <cstdint>

namespace rslc::rt {

/// Side of a transpose tile.
constexpr int64_t transposeTile = 16;

/// into[a * ldInto + b] = from[b][a] for b < nb, a < na (nb, na <= 16).
/// Returns whether every value copied is finite.
template <typename T>
bool toFeatureMajor(const T *const *from, int64_t nb, int64_t na, T *into, int64_t ldInto);

/// to[b * ldTo + a] = from[a * ldFrom + b] for a < na, b < nb (na, nb <= 16).
template <typename T>
void toSampleMajor(const T *from, int64_t ldFrom, int64_t na, int64_t nb, T *to, int64_t ldTo);

/// Columns of a tile of the readout's sums.
constexpr int64_t readoutTile = 64;

/// sum[b] = the sum over j < copies, in order, of rows[j * ld + b], b < n
/// (n <= 64).
template <typename T> void sumCopies(const T *rows, int64_t ld, int64_t copies, int64_t n, T *sum);

} // namespace rslc::rt

#endif
