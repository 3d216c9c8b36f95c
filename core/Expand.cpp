//===- Expand.cpp - LiftPlan -> LiftedGraph --------------------------------===//
//
// Rows are independent: row j of base edge e is drawn from the stream
// (seed, structure key of e, j) by the lift kind's rules (LiftKinds.cpp), so
// rows are built in parallel in any order. Tied edges use their weight group
// as structure key and get identical rows. Transposes are a parallel
// counting sort over fixed blocks of rows, which yields ascending target
// copies in every column.
//
//===----------------------------------------------------------------------===//
#include "EdgeMaps.h"
#include "LiftKinds.h"
#include "LiftedGraph.h"
#include "Random.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

namespace rslc::lift {

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
  const EdgeFibers f = edgeFibers(plan, pe);
  return uint64_t(weightsPerLiftedEdge(pe.map, pe.params, f.uShape, f.vShape));
}

namespace {

/// Structure key: tied edges share their group's rows.
uint64_t structureKey(const LiftPlan &p, size_t e) {
  const PlanEdge &pe = p.edges[e];
  return pe.group != noGroup ? (1ull << 40) + pe.group : e;
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
  const LiftKindRules &rules = liftKindRules(pe.lift.kind);
  le.kind = pe.lift.kind;
  const EdgeFibers f = edgeFibers(plan, pe);
  le.nu = f.nu;
  le.nv = f.nv;
  le.layout = rules.layout(le.nu, le.nv, pe.lift);
  if (le.layout.rowLength)
    le.count = uint64_t(le.nv) * uint64_t(le.layout.rowLength);
  if (!le.layout.explicitRows)
    return;
  rules.sample(pe.lift, plan.seed, structureKey(plan, e), le); // sets count if rows vary
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
    params += double(v.copies) * double(vertexParamsPerCopy(v));
  }
  std::vector<bool> groupSeen(plan.groupNames.size(), false);
  for (const PlanEdge &pe : plan.edges) {
    const PlanVertex &u = plan.vertices[pe.src], &v = plan.vertices[pe.dst];
    const LiftKindRules &rules = liftKindRules(pe.lift.kind);
    const EdgeFibers f = edgeFibers(plan, pe);
    double edges = rules.expectedEdges(double(f.nu), double(f.nv), pe.lift);
    s.liftedEdges += edges;
    RowLayout layout = rules.layout(f.nu, f.nv, pe.lift);
    if (layout.explicitRows) {
      // forward + transposed indices, row and column pointers
      structure += 12.0 * edges + 8.0 * (double(f.nu) + 1) +
                   (layout.rowLength == 0 ? 8.0 * (double(f.nv) + 1) : 0);
      if (edges * 1.01 > double(maxIndex))
        s.error = "edge '" + u.name + " -> " + v.name + "' has about " + countText(edges) +
                  " lifted edges; an explicit sparse lift supports up to 2^32-1 per base edge";
    }
    if (pe.group != noGroup && !groupSeen[pe.group]) {
      groupSeen[pe.group] = true;
      params += edges * weightsPerLiftedEdge(pe.map, pe.params, f.uShape, f.vShape);
    }
  }
  if (s.error.empty() && (params > maxValues || s.activations > maxValues))
    s.error = "about " + countText(params) + " parameters and " + countText(s.activations) +
              " values per sample; this version supports up to 2^48 of each";
  s.structureBytes = structure;
  s.parameters = params;
  return s;
}

uint64_t countParameters(const LiftPlan &plan) {
  uint64_t params = 0;
  std::vector<bool> counted(plan.groupNames.size(), false);
  for (size_t e = 0; e < plan.edges.size(); ++e) {
    const PlanEdge &pe = plan.edges[e];
    if (pe.group == noGroup || counted[pe.group])
      continue;
    counted[pe.group] = true;
    const EdgeFibers f = edgeFibers(plan, pe);
    uint64_t edges = liftKindRules(pe.lift.kind)
                         .countEdges(f.nu, f.nv, pe.lift, plan.seed, structureKey(plan, e));
    params += edges * uint64_t(weightsPerLiftedEdge(pe.map, pe.params, f.uShape, f.vShape));
  }
  for (const PlanVertex &v : plan.vertices)
    params += uint64_t(v.copies) * uint64_t(vertexParamsPerCopy(v));
  return params;
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

  // Parameter layout: weight groups in group order, then each vertex's own
  // parameters (its bias, or layernorm's gains and shifts) in vertex order.
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
  g.vertexTensor.assign(plan.vertices.size(), -1);
  for (size_t v = 0; v < plan.vertices.size(); ++v) {
    const PlanVertex &pv = plan.vertices[v];
    if (!vertexParamsPerCopy(pv))
      continue;
    g.vertexTensor[v] = int64_t(g.tensors.size());
    g.tensors.push_back({(pv.act == Activation::LayerNorm ? "ln:" : "b:") + pv.name, 0,
                         uint64_t(pv.copies) * uint64_t(vertexParamsPerCopy(pv)), true,
                         uint32_t(v)});
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
