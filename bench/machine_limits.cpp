//===- machine_limits.cpp - the machine's memory bandwidth and FMA peak ---===//
//
//   bench_machine_limits
//
// Prints the two limits docs/performance.md compares the kernels with, for
// 1 thread and for OMP_NUM_THREADS threads:
//   STREAM triad a[i] = b[i] + s * c[i] over arrays of 3 x 256 MiB (12 bytes
//   moved per element, as STREAM counts), best of 5;
//   peak FLOP/s: 16 independent vector FMA chains per thread on registers
//   (2 FLOPs per lane), compiled for this CPU (-march=native).
//
//===----------------------------------------------------------------------===//
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

namespace {

double seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double triadGBs(int threads) {
  const long n = 64l << 20; // 64 Mi floats: 256 MiB per array
  std::vector<float> a(n), b(n, 1.0f), c(n, 2.0f);
#pragma omp parallel for num_threads(threads)
  for (long i = 0; i < n; ++i)
    a[i] = 0;
  double best = 1e30;
  for (int r = 0; r < 5; ++r) {
    double t0 = seconds();
#pragma omp parallel for num_threads(threads) schedule(static)
    for (long i = 0; i < n; ++i)
      a[i] = b[i] + 3.0f * c[i];
    best = std::min(best, seconds() - t0);
  }
  return 12.0 * double(n) / best / 1e9;
}

constexpr int lanes = 16, chains = 16; // a zmm register of floats (ymm x 2 with AVX2)
using vec = float __attribute__((vector_size(4 * lanes)));

double peakGFlops(int threads) {
  const long iters = 50'000'000;
  double t0 = seconds();
  float sink = 0;
#pragma omp parallel num_threads(threads) reduction(+ : sink)
  {
    vec acc[chains], x, y;
    for (int l = 0; l < lanes; ++l)
      x[l] = 1.0f + 1e-7f * float(l), y[l] = 0.999999f;
    for (int c = 0; c < chains; ++c)
      acc[c] = x * float(c);
    for (long i = 0; i < iters; ++i) {
#pragma GCC unroll 16 // keeps every chain in its own register
      for (int c = 0; c < chains; ++c)
        acc[c] = acc[c] * y + x; // fused by -march=native
    }
    for (int c = 0; c < chains; ++c)
      for (int l = 0; l < lanes; ++l)
        sink += acc[c][l];
  }
  double t = seconds() - t0;
  if (sink == 42) // keep the result alive
    std::printf(" ");
  return 2.0 * lanes * chains * double(iters) * threads / t / 1e9;
}

} // namespace

int main() {
  int threads = omp_get_max_threads();
  for (int t : {1, threads}) {
    std::printf("%d thread%s: STREAM triad %.1f GB/s, peak %.1f GFLOP/s (fp32 FMA)\n", t,
                t > 1 ? "s" : "", triadGBs(t), peakGFlops(t));
    if (threads == 1)
      break;
  }
  return 0;
}
