//===- Expand.cpp - LiftPlan -> LiftedGraph --------------------------------===//
//
// Rows are independent: row j of base edge e is drawn from the stream
// (seed, structure key of e, j), so rows are built in parallel in any order.
// Tied edges use their weight group as structure key and get identical rows.
// Probability lifts are built in two passes (count, then fill) that draw the
// same numbers. Transposes are a parallel counting sort over fixed blocks of
// rows, which yields ascending target copies in every column.
//
//===----------------------------------------------------------------------===//
#include "Lift/LiftedGraph.h"
#include "Lift/Random.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

namespace rslc::lift {

uint64_t LiftedEdge::rowBegin(int64_t j) const {
  switch (kind) {
  case LiftKind::Full: return uint64_t(j) * nu;
  case LiftKind::Diagonal: return j;
  case LiftKind::Degree: return uint64_t(j) * degree;
  case LiftKind::Prob: return rowPtr[j];
  }
  return 0;
}
uint64_t LiftedEdge::rowEnd(int64_t j) const { return rowBegin(j + 1); }

uint64_t LiftedGraph::numLiftedEdges() const {
  uint64_t n = 0;
  for (const LiftedEdge &e : edges)
    n += e.count;
  return n;
}

uint64_t LiftedGraph::structureBytes() const {
  uint64_t b = copyOffset.size() * 8;
  for (const LiftedEdge &e : edges)
    b += 8 * (e.rowPtr.size() + e.tPtr.size()) + 4 * (e.col.size() + e.tRow.size() + e.tPos.size());
  return b;
}

uint64_t LiftedGraph::weightsPerEdge(size_t e) const {
  const PlanEdge &pe = plan.edges[e];
  uint64_t du = plan.vertices[pe.src].dim, dv = plan.vertices[pe.dst].dim;
  return pe.map == MapKind::Linear ? du * dv : pe.map == MapKind::Diag ? dv : 0;
}

namespace {

constexpr uint64_t maxIndex = 0xffffffffull; // 32-bit copy and position indices

/// Structure key: tied edges share their group's rows.
uint64_t structureKey(const LiftPlan &p, size_t e) {
  const PlanEdge &pe = p.edges[e];
  return pe.group != noGroup ? (1ull << 40) + pe.group : e;
}

double expectedEdges(const PlanEdge &pe, double nu, double nv) {
  switch (pe.kind) {
  case LiftKind::Full: return nu * nv;
  case LiftKind::Diagonal: return nv;
  case LiftKind::Degree: return nv * double(pe.degree);
  case LiftKind::Prob: return nu * nv * pe.prob;
  }
  return 0;
}

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

/// Parallel counting sort of the forward rows by source copy.
void transpose(LiftedEdge &le) {
  const int64_t nu = le.nu, nv = le.nv;
  const int blocks = std::max(1, std::min<int>(omp_get_max_threads(), int(nv)));
  std::vector<BigArray<uint32_t>> hist(blocks);
  auto blockRange = [&](int b) {
    return std::pair<int64_t, int64_t>(nv * b / blocks, nv * (b + 1) / blocks);
  };
#pragma omp parallel for schedule(static, 1)
  for (int b = 0; b < blocks; ++b) {
    hist[b].assign(nu, 0u);
    auto [lo, hi] = blockRange(b);
    for (uint64_t p = le.rowBegin(lo); p < le.rowBegin(hi); ++p)
      ++hist[b][le.col[p]];
  }
  le.tPtr.assign(nu + 1, 0);
  // Column i of block b starts after all of column i's earlier blocks.
  uint64_t running = 0;
  for (int64_t i = 0; i < nu; ++i) {
    le.tPtr[i] = running;
    for (int b = 0; b < blocks; ++b) {
      uint32_t c = hist[b][i];
      hist[b][i] = uint32_t(running - le.tPtr[i]);
      running += c;
    }
  }
  le.tPtr[nu] = running;
  le.tRow.resize(le.count);
  le.tPos.resize(le.count);
#pragma omp parallel for schedule(static, 1)
  for (int b = 0; b < blocks; ++b) {
    auto [lo, hi] = blockRange(b);
    BigArray<uint32_t> &cursor = hist[b];
    for (int64_t j = lo; j < hi; ++j)
      for (uint64_t p = le.rowBegin(j); p < le.rowEnd(j); ++p) {
        uint32_t i = le.col[p];
        uint64_t dest = le.tPtr[i] + cursor[i]++;
        le.tRow[dest] = uint32_t(j);
        le.tPos[dest] = uint32_t(p);
      }
  }
}

void expandEdge(const LiftPlan &plan, size_t e, LiftedEdge &le) {
  const PlanEdge &pe = plan.edges[e];
  le.kind = pe.kind;
  le.nu = plan.vertices[pe.src].copies;
  le.nv = plan.vertices[pe.dst].copies;
  const int64_t nu = le.nu, nv = le.nv;
  const uint64_t skey = structureKey(plan, e);
  switch (pe.kind) {
  case LiftKind::Full:
    le.count = uint64_t(nu) * nv;
    return;
  case LiftKind::Diagonal:
    le.count = nv;
    return;
  case LiftKind::Degree: {
    const int64_t k = pe.degree;
    le.degree = k;
    le.count = uint64_t(nv) * k;
    le.col.resize(le.count);
#pragma omp parallel
    {
      std::vector<uint64_t> table;
#pragma omp for schedule(static)
      for (int64_t j = 0; j < nv; ++j)
        sampleDistinct(streamKey(plan.seed, skey, j), nu, k, &le.col[uint64_t(j) * k], table);
    }
    break;
  }
  case LiftKind::Prob: {
    le.rowPtr.assign(nv + 1, 0);
#pragma omp parallel for schedule(static)
    for (int64_t j = 0; j < nv; ++j) {
      uint64_t c = 0;
      sampleBernoulli(streamKey(plan.seed, skey, j), nu, pe.prob, [&](uint64_t) { ++c; });
      le.rowPtr[j + 1] = c;
    }
    for (int64_t j = 0; j < nv; ++j)
      le.rowPtr[j + 1] += le.rowPtr[j];
    le.count = le.rowPtr[nv];
    le.col.resize(le.count);
#pragma omp parallel for schedule(static)
    for (int64_t j = 0; j < nv; ++j) {
      uint32_t *out = le.col.data() + le.rowPtr[j]; // may be the end: rows can be empty
      sampleBernoulli(streamKey(plan.seed, skey, j), nu, pe.prob,
                      [&](uint64_t i) { *out++ = uint32_t(i); });
    }
    break;
  }
  }
  transpose(le);
}

} // namespace

std::string countText(double x) {
  if (x < 9e18)
    return std::to_string(uint64_t(x));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2e", x);
  return buf;
}

SizeEstimate estimate(const LiftPlan &plan) {
  SizeEstimate s;
  double structure = 8.0 * (plan.vertices.size() + 1), params = 0;
  for (const PlanVertex &v : plan.vertices) {
    if (uint64_t(v.copies) > maxIndex)
      s.error = "vertex '" + v.name + "' has more than 2^32-1 copies";
    s.activations += double(v.copies) * double(v.dim);
    if (v.bias)
      params += double(v.copies) * double(v.dim);
  }
  std::vector<bool> groupSeen(plan.groupNames.size(), false);
  for (const PlanEdge &pe : plan.edges) {
    const PlanVertex &u = plan.vertices[pe.src], &v = plan.vertices[pe.dst];
    double edges = expectedEdges(pe, double(u.copies), double(v.copies));
    s.liftedEdges += edges;
    if (pe.kind == LiftKind::Degree || pe.kind == LiftKind::Prob) {
      // forward + transposed indices, row and column pointers
      structure += 12.0 * edges + 8.0 * (double(u.copies) + 1) +
                   (pe.kind == LiftKind::Prob ? 8.0 * (double(v.copies) + 1) : 0);
      if (edges * 1.01 > double(maxIndex))
        s.error = "edge '" + u.name + " -> " + v.name + "' has about " + countText(edges) +
                  " lifted edges; an explicit sparse lift supports up to 2^32-1 per base edge";
    }
    if (pe.group != noGroup && !groupSeen[pe.group]) {
      groupSeen[pe.group] = true;
      double per = pe.map == MapKind::Linear ? double(u.dim) * double(v.dim) : double(v.dim);
      params += edges * per;
    }
  }
  if (s.error.empty() && (params > maxValues || s.activations > maxValues))
    s.error = "about " + countText(params) + " parameters and " + countText(s.activations) +
              " values per sample; this version supports up to 2^48 of each";
  s.structureBytes = structure;
  s.parameters = params;
  return s;
}

LiftedGraph expand(const LiftPlan &plan) {
  LiftedGraph g;
  g.plan = plan;
  g.copyOffset.assign(plan.vertices.size() + 1, 0);
  for (size_t v = 0; v < plan.vertices.size(); ++v)
    g.copyOffset[v + 1] = g.copyOffset[v] + plan.vertices[v].copies;

  g.edges.resize(plan.edges.size());
  for (size_t e = 0; e < plan.edges.size(); ++e)
    expandEdge(plan, e, g.edges[e]);

  // Parameter layout: weight groups in group order, then vertex biases.
  g.tensors.resize(plan.groupNames.size());
  std::vector<bool> placed(plan.groupNames.size(), false);
  for (size_t e = 0; e < plan.edges.size(); ++e) {
    uint32_t grp = plan.edges[e].group;
    if (grp == noGroup || placed[grp])
      continue;
    placed[grp] = true;
    g.tensors[grp] = {"W:" + plan.groupNames[grp], 0, g.edges[e].count * g.weightsPerEdge(e),
                      false, grp};
  }
  g.biasTensor.assign(plan.vertices.size(), -1);
  for (size_t v = 0; v < plan.vertices.size(); ++v) {
    const PlanVertex &pv = plan.vertices[v];
    if (!pv.bias)
      continue;
    g.biasTensor[v] = int64_t(g.tensors.size());
    g.tensors.push_back({"b:" + pv.name, 0, uint64_t(pv.copies) * pv.dim, true, uint32_t(v)});
  }
  for (ParamTensor &t : g.tensors) {
    t.offset = g.numParams;
    g.numParams += t.size;
  }
  return g;
}

uint64_t structureHash(const LiftedGraph &g) {
  // Fixed-size chunks hashed in parallel, combined in order: the value does
  // not depend on the thread count.
  auto hashArray = [](const auto &v, uint64_t seed) {
    using T = typename std::decay_t<decltype(v)>::value_type;
    constexpr size_t chunk = 1 << 16;
    size_t chunks = (v.size() + chunk - 1) / chunk;
    std::vector<uint64_t> part(chunks);
#pragma omp parallel for schedule(static)
    for (size_t c = 0; c < chunks; ++c) {
      uint64_t h = mix64(c);
      size_t end = std::min(v.size(), (c + 1) * chunk);
      for (size_t i = c * chunk; i < end; ++i)
        h = mix64(h ^ uint64_t(v[i])) * 31 + sizeof(T);
      part[c] = h;
    }
    uint64_t h = mix64(seed ^ v.size());
    for (uint64_t p : part)
      h = mix64(h ^ p);
    return h;
  };
  uint64_t h = hashArray(g.copyOffset, 1);
  for (const LiftedEdge &e : g.edges) {
    h = mix64(h ^ (uint64_t(e.kind) << 56) ^ e.count);
    h = hashArray(e.rowPtr, h);
    h = hashArray(e.col, h);
    h = hashArray(e.tPtr, h);
    h = hashArray(e.tRow, h);
    h = hashArray(e.tPos, h);
  }
  return h;
}

} // namespace rslc::lift
