//===- BatchLayoutTest.cpp - the runtime's layout copies (BatchLayout.h) --===//
//
// Every tile shape, full (register path on AVX-512) and partial (value by
// value), against the definition: into[a][b] = from[b][a]; and the
// finiteness flag on a single infinity or NaN anywhere in the tile; the
// readout's sums against a plain loop in copy order (the same bits).
//
//===----------------------------------------------------------------------===//
#include "runtime/BatchLayout.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

using namespace rslc::rt;

namespace {

template <typename T> void checkShapes() {
  std::mt19937 rng(7);
  std::normal_distribution<double> normal;
  const int64_t ldFrom = 37, ldInto = 29; // neither a multiple of 16
  for (int64_t nb = 1; nb <= transposeTile; ++nb)
    for (int64_t na = 1; na <= transposeTile; ++na) {
      std::vector<T> x(size_t(nb * ldFrom));
      for (T &v : x)
        v = T(normal(rng));
      const T *rows[transposeTile];
      for (int64_t b = 0; b < nb; ++b)
        rows[b] = &x[size_t(b * ldFrom + 3)];
      std::vector<T> y(size_t(na * ldInto), T(-1));
      ASSERT_TRUE(toFeatureMajor(rows, nb, na, y.data(), ldInto));
      for (int64_t a = 0; a < na; ++a)
        for (int64_t b = 0; b < nb; ++b)
          ASSERT_EQ(y[size_t(a * ldInto + b)], rows[b][a]) << nb << "x" << na;
      for (int64_t a = 0; a < na; ++a) // nothing written past the tile
        for (int64_t b = nb; b < ldInto; ++b)
          ASSERT_EQ(y[size_t(a * ldInto + b)], T(-1));

      std::vector<T> back(size_t(nb * ldFrom), T(-2));
      toSampleMajor(y.data(), ldInto, na, nb, back.data() + 3, ldFrom);
      for (int64_t b = 0; b < nb; ++b)
        for (int64_t a = 0; a < ldFrom - 3; ++a)
          ASSERT_EQ(back[size_t(b * ldFrom + 3 + a)], a < na ? rows[b][a] : T(-2));
    }
}

template <typename T> void checkFinite() {
  const T bad[] = {std::numeric_limits<T>::infinity(), -std::numeric_limits<T>::infinity(),
                   std::numeric_limits<T>::quiet_NaN()};
  std::vector<T> x(size_t(transposeTile * transposeTile), T(1e30));
  const T *rows[transposeTile];
  for (int64_t b = 0; b < transposeTile; ++b)
    rows[b] = &x[size_t(b * transposeTile)];
  std::vector<T> y(x.size());
  for (int64_t n : {transposeTile, int64_t(5)}) // register and value paths
    for (size_t at = 0; at < size_t(n * transposeTile); at += 7)
      for (T v : bad) {
        if (at % transposeTile >= size_t(n) || at / transposeTile >= size_t(n))
          continue;
        x[at] = v;
        EXPECT_FALSE(toFeatureMajor(rows, n, n, y.data(), transposeTile)) << at << " " << v;
        x[at] = T(1e30);
        EXPECT_TRUE(toFeatureMajor(rows, n, n, y.data(), transposeTile));
      }
}

template <typename T> void checkSums() {
  std::mt19937 rng(11);
  std::normal_distribution<double> normal;
  const int64_t ld = 80;
  for (int64_t copies : {1, 3, 1000})
    for (int64_t n : {int64_t(1), int64_t(17), readoutTile}) {
      std::vector<T> rows(size_t(copies * ld));
      for (T &v : rows)
        v = T(normal(rng) * std::pow(10.0, int(normal(rng) * 3))); // rounding matters
      std::vector<T> sum(size_t(readoutTile) + 1, T(-1));
      sumCopies(rows.data() + 5, ld, copies, n, sum.data());
      for (int64_t b = 0; b < n; ++b) {
        T expected = 0;
        for (int64_t j = 0; j < copies; ++j)
          expected += rows[size_t(j * ld + 5 + b)];
        ASSERT_EQ(sum[size_t(b)], expected) << copies << " copies, n " << n << ", b " << b;
      }
      ASSERT_EQ(sum[size_t(n)], T(-1));
    }
}

TEST(BatchLayout, FloatTiles) { checkShapes<float>(); }
TEST(BatchLayout, DoubleTiles) { checkShapes<double>(); }
TEST(BatchLayout, FloatFiniteness) { checkFinite<float>(); }
TEST(BatchLayout, DoubleFiniteness) { checkFinite<double>(); }
TEST(BatchLayout, FloatSums) { checkSums<float>(); }
TEST(BatchLayout, DoubleSums) { checkSums<double>(); }

} // namespace
