// Benchmark (not a test): lift expansion speed and memory.
// For lifts from 10^4 to 10^8 lifted edges (a random sparse middle edge of
// in-degree k between two hidden fibers of n copies), prints the time to
// expand, lifted edges per second, the IR's size and the peak resident
// memory growth, in one table. Run: build/bin/bench_lift_expand [max_edges]
#include "core/LiftedGraph.h"

#include <omp.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

using namespace rslc;
using namespace rslc::lift;

namespace {

/// Peak resident set (VmHWM) in bytes; reset() starts a new peak.
uint64_t peakRSS() {
  std::ifstream f("/proc/self/status");
  std::string key;
  uint64_t kb = 0;
  while (f >> key) {
    if (key == "VmHWM:") {
      f >> kb;
      break;
    }
    f.ignore(1 << 12, '\n');
  }
  return kb * 1024;
}
uint64_t currentRSS() {
  std::ifstream f("/proc/self/statm");
  uint64_t pages = 0, rss = 0;
  f >> pages >> rss;
  return rss * 4096;
}
void resetPeak() { std::ofstream("/proc/self/clear_refs") << "5"; }

LiftPlan plan(int64_t n, int64_t k, LiftKind kind) {
  LiftPlan p;
  p.module = "bench";
  p.lift = kind == LiftKind::Degree ? "degree" : "prob";
  p.seed = 1;
  p.vertices = {{"x", Role::Input, 1, 1, Activation::Identity, false, Aggregation::Sum},
                {"a", Role::Hidden, n, 1, Activation::Relu, true, Aggregation::Sum},
                {"b", Role::Hidden, n, 1, Activation::Relu, true, Aggregation::Sum},
                {"y", Role::Output, 1, 1, Activation::Identity, true, Aggregation::Sum}};
  LiftSetting full, sparse;
  sparse.kind = kind, sparse.degree = k, sparse.prob = double(k) / double(n);
  p.edges = {{0, 1, MapKind::Linear, {}, full, 0, {}}, {1, 2, MapKind::Linear, {}, sparse, 1, {}},
             {2, 3, MapKind::Linear, {}, full, 2, {}}};
  p.groupNames = {"x->a", "a->b", "b->y"};
  return p;
}

} // namespace

int main(int argc, char **argv) {
  double maxEdges = argc > 1 ? std::atof(argv[1]) : 1e8;
  const int64_t k = 32;
  std::printf("lift expansion benchmark: %d OpenMP threads, in-degree %lld\n",
              omp_get_max_threads(), (long long)k);
  std::printf("%-7s %10s %12s %9s %14s %10s %10s %7s\n", "kind", "copies", "edges", "time_s",
              "edges_per_s", "ir_MiB", "peak_MiB", "peak/ir");
  for (LiftKind kind : {LiftKind::Degree, LiftKind::Prob})
    for (double edges = 1e4; edges <= maxEdges * 1.01; edges *= 10) {
      int64_t n = int64_t(edges / k);
      LiftPlan p = plan(n, k, kind);
      resetPeak();
      uint64_t before = currentRSS();
      auto t0 = std::chrono::steady_clock::now();
      LiftedGraph g = expand(p);
      double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      uint64_t peak = peakRSS() - before;
      double ir = double(g.structureBytes()) / (1 << 20);
      std::printf("%-7s %10lld %12llu %9.3f %14.3g %10.1f %10.1f %7.2f\n",
                  kind == LiftKind::Degree ? "degree" : "prob", (long long)n,
                  (unsigned long long)g.numLiftedEdges(), s, double(g.numLiftedEdges()) / s, ir,
                  double(peak) / (1 << 20), ir > 0 ? double(peak) / (1 << 20) / ir : 0.0);
      if (!verify(g).empty()) {
        std::printf("verification FAILED\n");
        return 1;
      }
    }
}
