//===- BatchLayout.cpp - between the ABI's and the kernels' batch layouts --===//
#include "BatchLayout.h"

#include "CpuFeatures.h"

// GCC 12's AVX-512 headers start some results from _mm512_undefined_ps(),
// which -Wuninitialized reports once inlined.
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <type_traits>

namespace rslc::rt {

namespace {

/// Pairs of floats of a and b interleaved, lanes of 4 apart.
__attribute__((target("avx512f"))) inline __m512 unpackLo64(__m512 a, __m512 b) {
  return _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(a), _mm512_castps_pd(b)));
}
__attribute__((target("avx512f"))) inline __m512 unpackHi64(__m512 a, __m512 b) {
  return _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(a), _mm512_castps_pd(b)));
}

/// r[i] becomes column i of the 16 x 16 matrix whose rows were r[0..15]:
/// pairs of rows interleaved by 1, then by 2 values, then lanes of 4
/// values exchanged twice.
__attribute__((target("avx512f"))) inline void transpose16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 16; i += 4) { // rows i..i+3 -> groups of 4 values per lane
    r[i] = unpackLo64(t[i], t[i + 2]);
    r[i + 1] = unpackHi64(t[i], t[i + 2]);
    r[i + 2] = unpackLo64(t[i + 1], t[i + 3]);
    r[i + 3] = unpackHi64(t[i + 1], t[i + 3]);
  }
  for (int i = 0; i < 4; ++i) {
    t[i] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0x88);
    t[i + 4] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0xdd);
    t[i + 8] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0x88);
    t[i + 12] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0xdd);
  }
  for (int i = 0; i < 8; ++i) {
    r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
    r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xdd);
  }
}

__attribute__((target("avx512f"))) bool toFeatureMajor16(const float *const *from, float *into,
                                                         int64_t ldInto) {
  __m512 r[16];
  __mmask16 finite = 0xffff;
  for (int b = 0; b < 16; ++b) {
    r[b] = _mm512_loadu_ps(from[b]);
    // x - x is 0 for a finite x, NaN for an infinity or a NaN
    finite &= _mm512_cmp_ps_mask(_mm512_sub_ps(r[b], r[b]), _mm512_setzero_ps(), _CMP_EQ_OQ);
  }
  transpose16(r);
  for (int a = 0; a < 16; ++a)
    _mm512_storeu_ps(into + a * ldInto, r[a]);
  return finite == 0xffff;
}

__attribute__((target("avx512f"))) void toSampleMajor16(const float *from, int64_t ldFrom, float *to,
                                                        int64_t ldTo) {
  __m512 r[16];
  for (int a = 0; a < 16; ++a)
    r[a] = _mm512_loadu_ps(from + a * ldFrom);
  transpose16(r);
  for (int b = 0; b < 16; ++b)
    _mm512_storeu_ps(to + b * ldTo, r[b]);
}

__attribute__((target("avx512f"))) void sumCopies64(const float *rows, int64_t ld, int64_t copies,
                                                    float *sum) {
  __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(),
                   _mm512_setzero_ps()};
  for (int64_t j = 0; j < copies; ++j)
    for (int i = 0; i < 4; ++i)
      acc[i] = _mm512_add_ps(acc[i], _mm512_loadu_ps(rows + j * ld + 16 * i));
  for (int i = 0; i < 4; ++i)
    _mm512_storeu_ps(sum + 16 * i, acc[i]);
}

/// CPUID and the operating system (XGETBV) agree, as for the kernels.
const bool haveAvx512 = missingCpuFeatures("avx512f").empty();

template <typename T> constexpr bool registerTiles() { return std::is_same_v<T, float>; }

} // namespace

template <typename T>
bool toFeatureMajor(const T *const *from, int64_t nb, int64_t na, T *into, int64_t ldInto) {
  if constexpr (registerTiles<T>())
    if (haveAvx512 && nb == transposeTile && na == transposeTile)
      return toFeatureMajor16(from, into, ldInto);
  bool finite = true; // without a branch per value
  for (int64_t a = 0; a < na; ++a)
    for (int64_t b = 0; b < nb; ++b) {
      const T value = from[b][a];
      finite &= std::isfinite(value);
      into[a * ldInto + b] = value;
    }
  return finite;
}

template <typename T>
void toSampleMajor(const T *from, int64_t ldFrom, int64_t na, int64_t nb, T *to, int64_t ldTo) {
  if constexpr (registerTiles<T>())
    if (haveAvx512 && nb == transposeTile && na == transposeTile)
      return toSampleMajor16(from, ldFrom, to, ldTo);
  for (int64_t b = 0; b < nb; ++b)
    for (int64_t a = 0; a < na; ++a)
      to[b * ldTo + a] = from[a * ldFrom + b];
}

template <typename T>
void sumCopies(const T *rows, int64_t ld, int64_t copies, int64_t n, T *sum) {
  if constexpr (registerTiles<T>())
    if (haveAvx512 && n == readoutTile)
      return sumCopies64(rows, ld, copies, sum);
  std::fill(sum, sum + n, T(0));
  for (int64_t j = 0; j < copies; ++j)
    for (int64_t b = 0; b < n; ++b)
      sum[b] += rows[j * ld + b];
}

template bool toFeatureMajor<float>(const float *const *, int64_t, int64_t, float *, int64_t);
template bool toFeatureMajor<double>(const double *const *, int64_t, int64_t, double *, int64_t);
template void toSampleMajor<float>(const float *, int64_t, int64_t, int64_t, float *, int64_t);
template void toSampleMajor<double>(const double *, int64_t, int64_t, int64_t, double *, int64_t);
template void sumCopies<float>(const float *, int64_t, int64_t, int64_t, float *);
template void sumCopies<double>(const double *, int64_t, int64_t, int64_t, double *);

} // namespace rslc::rt
