//===- LiftKinds.cpp - the rules of each lift kind ------------------------===//
//
// Rows of random kinds are pure functions of (seed, structure key, row):
// Floyd's algorithm for fixed in-degrees, geometric skips for Bernoulli
// rows. Probability lifts are built in two passes (count, then fill) that
// draw the same numbers.
//
//===----------------------------------------------------------------------===//
#include "LiftKinds.h"

#include "EdgeMaps.h"
#include "Random.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace rslc::lift {

namespace {

std::string copies(int64_t n) { return std::to_string(n) + (n == 1 ? " copy" : " copies"); }

/// Floyd's algorithm: `k` distinct values below `n`, sorted, into `out`.
/// `table` is scratch space for an open-addressing set.
void sampleDistinct(uint64_t key, uint64_t n, uint64_t k, uint32_t *out,
                    std::vector<uint64_t> &table) {
  if (k == n) {
    std::iota(out, out + k, 0u);
    return;
  }
  size_t cap = 16;
  while (cap < 2 * k)
    cap *= 2;
  table.assign(cap, ~0ull);
  auto insert = [&](uint64_t x) { // false if present
    size_t h = size_t(mix64(x)) & (cap - 1);
    while (table[h] != ~0ull) {
      if (table[h] == x)
        return false;
      h = (h + 1) & (cap - 1);
    }
    table[h] = x;
    return true;
  };
  Stream rng(key);
  size_t m = 0;
  for (uint64_t t = n - k; t < n; ++t) {
    uint64_t r = below(rng.next(), t + 1);
    out[m++] = uint32_t(insert(r) ? r : (insert(t), t));
  }
  std::sort(out, out + k);
}

/// Bernoulli(p) row by geometric skips; calls emit(i) in ascending i.
template <typename Emit> void sampleBernoulli(uint64_t key, uint64_t n, double p, Emit emit) {
  if (p >= 1) {
    for (uint64_t i = 0; i < n; ++i)
      emit(i);
    return;
  }
  const double logq = std::log1p(-p);
  Stream rng(key);
  double pos = -1;
  for (;;) {
    double u = 1.0 - uniform01(rng.next()); // (0, 1]
    pos += std::floor(std::log(u) / logq) + 1;
    if (pos >= double(n))
      return;
    emit(uint64_t(pos));
  }
}

class Full final : public LiftKindRules {
  std::string check(int64_t, int64_t, const LiftSetting &, const std::string &,
                    const std::string &) const override {
    return "";
  }
  double expectedEdges(double nu, double nv, const LiftSetting &) const override { return nu * nv; }
  RowLayout layout(int64_t nu, int64_t, const LiftSetting &) const override {
    return {false, nu, 0};
  }
};

class Diagonal final : public LiftKindRules {
  std::string check(int64_t nu, int64_t nv, const LiftSetting &, const std::string &edge,
                    const std::string &) const override {
    if (nu == nv)
      return "";
    return "diagonal lift of edge " + edge + " needs equal fiber sizes, got " +
           std::to_string(nu) + " and " + std::to_string(nv);
  }
  double expectedEdges(double, double nv, const LiftSetting &) const override { return nv; }
  RowLayout layout(int64_t, int64_t, const LiftSetting &) const override { return {false, 1, 1}; }
};

class Degree final : public LiftKindRules {
  std::string check(int64_t nu, int64_t, const LiftSetting &s, const std::string &edge,
                    const std::string &source) const override {
    if (s.degree <= nu)
      return "";
    return "sparse degree " + std::to_string(s.degree) + " of edge " + edge + " exceeds the " +
           copies(nu) + " of source vertex '" + source + "'";
  }
  double expectedEdges(double, double nv, const LiftSetting &s) const override {
    return nv * double(s.degree);
  }
  RowLayout layout(int64_t, int64_t, const LiftSetting &s) const override {
    return {true, s.degree, 0};
  }
  bool drawsSources() const override { return true; }
  void sample(const LiftSetting &s, uint64_t seed, uint64_t key, LiftedEdge &le) const override {
    const int64_t k = s.degree, nv = le.nv;
    le.col.resize(le.count);
#pragma omp parallel
    {
      std::vector<uint64_t> table;
#pragma omp for schedule(static)
      for (int64_t j = 0; j < nv; ++j)
        sampleDistinct(streamKey(seed, key, j), le.nu, k, &le.col[uint64_t(j) * k], table);
    }
  }
  std::string setParam(bool isInteger, int64_t integer, double real,
                       LiftSetting &s) const override {
    if (!isInteger)
      return "sparse degree must be a positive integer, got " + shortestReal(real);
    s.degree = integer;
    return checkParam(s);
  }
  std::string checkParam(const LiftSetting &s) const override {
    if (s.degree > 0)
      return "";
    return "sparse degree must be a positive integer, got " + std::to_string(s.degree);
  }
  std::string paramText(const LiftSetting &s) const override { return std::to_string(s.degree); }
};

class Prob final : public LiftKindRules {
  std::string check(int64_t, int64_t, const LiftSetting &, const std::string &,
                    const std::string &) const override {
    return "";
  }
  double expectedEdges(double nu, double nv, const LiftSetting &s) const override {
    return nu * nv * s.prob;
  }
  RowLayout layout(int64_t, int64_t, const LiftSetting &) const override { return {true, 0, 0}; }
  bool drawsSources() const override { return true; }
  uint64_t countEdges(int64_t nu, int64_t nv, const LiftSetting &s, uint64_t seed,
                      uint64_t key) const override {
    uint64_t total = 0;
#pragma omp parallel for schedule(static) reduction(+ : total)
    for (int64_t j = 0; j < nv; ++j)
      sampleBernoulli(streamKey(seed, key, j), nu, s.prob, [&](uint64_t) { ++total; });
    return total;
  }
  void sample(const LiftSetting &s, uint64_t seed, uint64_t key, LiftedEdge &le) const override {
    const int64_t nu = le.nu, nv = le.nv;
    le.rowPtr.assign(nv + 1, 0);
#pragma omp parallel for schedule(static)
    for (int64_t j = 0; j < nv; ++j) {
      uint64_t c = 0;
      sampleBernoulli(streamKey(seed, key, j), nu, s.prob, [&](uint64_t) { ++c; });
      le.rowPtr[j + 1] = c;
    }
    for (int64_t j = 0; j < nv; ++j)
      le.rowPtr[j + 1] += le.rowPtr[j];
    le.count = le.rowPtr[nv];
    le.col.resize(le.count);
#pragma omp parallel for schedule(static)
    for (int64_t j = 0; j < nv; ++j) {
      uint32_t *out = le.col.data() + le.rowPtr[j]; // may be the end: rows can be empty
      sampleBernoulli(streamKey(seed, key, j), nu, s.prob,
                      [&](uint64_t i) { *out++ = uint32_t(i); });
    }
  }
  std::string setParam(bool isInteger, int64_t integer, double real,
                       LiftSetting &s) const override {
    s.prob = isInteger ? double(integer) : real;
    if (s.prob > 0 && s.prob <= 1)
      return "";
    return "sparse probability must be in (0, 1], got " +
           (isInteger ? std::to_string(integer) : shortestReal(real));
  }
  std::string checkParam(const LiftSetting &s) const override {
    if (s.prob > 0 && s.prob <= 1)
      return "";
    return "sparse probability must be in (0, 1], got " + shortestReal(s.prob);
  }
  std::string paramText(const LiftSetting &s) const override { return shortestReal(s.prob); }
};

/// The lifted edges a file lists (read by the compiler's front end,
/// compiler/Sema/ReadEdgeList.cpp), kept in the plan: rows of their own
/// lengths, as a probability lift's.
class Explicit final : public LiftKindRules {
  std::string check(int64_t nu, int64_t nv, const LiftSetting &s, const std::string &edge,
                    const std::string &source) const override {
    const std::string from = "the explicit lift of " + edge + " (" + s.file + ")";
    if (!s.edges)
      return from + " has no edges";
    if ((s.declaredSources >= 0 && s.declaredSources != nu) ||
        (s.declaredTargets >= 0 && s.declaredTargets != nv))
      return from + " is a " + std::to_string(s.declaredTargets) + " x " +
             std::to_string(s.declaredSources) + " matrix; the fibers need " + std::to_string(nv) +
             " x " + std::to_string(nu) + " (target copies x source copies)";
    const auto &list = *s.edges;
    for (size_t k = 0; k < list.size(); ++k) {
      auto [i, j] = list[k];
      if (int64_t(i) >= nu || int64_t(j) >= nv)
        return from + ": lifted edge " + std::to_string(i) + " -> " + std::to_string(j) +
               " is outside the fibers (" + copies(nu) + " of " + source + ", " + copies(nv) +
               " of the target)";
      if (k > 0 && list[k - 1] == list[k])
        return from + " lists lifted edge " + std::to_string(i) + " -> " + std::to_string(j) +
               " twice";
    }
    return "";
  }
  double expectedEdges(double, double, const LiftSetting &s) const override {
    return s.edges ? double(s.edges->size()) : 0;
  }
  RowLayout layout(int64_t, int64_t, const LiftSetting &) const override { return {true, 0, 0}; }
  /// Any sources per target copy, as random kinds: from an unlifted input,
  /// its components (a mask on a dense input layer).
  bool drawsSources() const override { return true; }
  uint64_t countEdges(int64_t, int64_t, const LiftSetting &s, uint64_t, uint64_t) const override {
    return s.edges ? s.edges->size() : 0;
  }
  void sample(const LiftSetting &s, uint64_t, uint64_t, LiftedEdge &le) const override {
    const auto &list = *s.edges; // sorted by target copy, then source copy
    le.rowPtr.assign(le.nv + 1, 0);
    for (auto [i, j] : list)
      ++le.rowPtr[j + 1];
    for (int64_t j = 0; j < le.nv; ++j)
      le.rowPtr[j + 1] += le.rowPtr[j];
    le.count = list.size();
    le.col.resize(le.count);
    for (size_t q = 0; q < list.size(); ++q)
      le.col[q] = list[q].first;
  }
  /// The file as written (Sema refuses names with quotes, backslashes or
  /// line breaks, so no escapes are needed).
  std::string paramText(const LiftSetting &s) const override { return "\"" + s.file + "\""; }
};

} // namespace

const LiftKindRules &liftKindRules(LiftKind kind) {
  static const Full full;
  static const Degree degree;
  static const Prob prob;
  static const Diagonal diagonal;
  static const Explicit explicitList;
  switch (kind) {
  case LiftKind::Full: return full;
  case LiftKind::Degree: return degree;
  case LiftKind::Prob: return prob;
  case LiftKind::Diagonal: return diagonal;
  case LiftKind::Explicit: return explicitList;
  }
  return full; // unreachable: kinds are checked where they are read
}

bool readsComponents(Role sourceRole, int64_t sourceCopies, int64_t sourceDim, MapKind map,
                     const LiftSetting &s) {
  return sourceRole == Role::Input && sourceCopies == 1 && sourceDim > 1 &&
         map == MapKind::Linear && liftKindRules(s.kind).drawsSources();
}

EdgeFibers edgeFibers(const LiftPlan &plan, const PlanEdge &e) {
  const PlanVertex &u = plan.vertices[e.src], &v = plan.vertices[e.dst];
  EdgeFibers f{u.copies, u.dim, v.copies, v.dim, u.shape, v.shape, false};
  if (readsComponents(u.role, u.copies, u.dim, e.map, e.lift))
    f.nu = u.dim, f.du = 1, f.uShape = {1}, f.sourceComponents = true;
  f.dv = edgeOutputDim(e.map, f.uShape, f.vShape);
  return f;
}

std::string liftSettingText(const LiftSetting &s) {
  const KindRow &row = kindRow(s.kind);
  std::string text(row.keyword);
  if (!row.param.empty())
    text += "(" + std::string(row.param) + " = " + liftKindRules(s.kind).paramText(s) + ")";
  return text;
}

std::string initSettingText(const InitSetting &s) {
  return std::string(keyword(s.law)) + "(scale = " + shortestReal(s.scale) + ")";
}

std::string liftKindSynopsis() {
  std::string text;
  for (const KindRow &r : kindRows<LiftKind>()) {
    text += (text.empty() ? "" : ", ") + std::string(r.keyword);
    if (!r.param.empty())
      text += "(" + std::string(r.param) + " = " + std::string(r.meta) + ")";
  }
  return text;
}

} // namespace rslc::lift
