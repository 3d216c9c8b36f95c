//===- Init.cpp - initial parameters from the seed -------------------------===//
//
// Element k of tensor t is drawn from the stream (seed, salt, t) at counter
// k, so values do not depend on threads or on the order of computation.
//
//===----------------------------------------------------------------------===//
#include "EdgeMaps.h"
#include "LiftKinds.h"
#include "LiftedGraph.h"
#include "Random.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace rslc::lift {

namespace {
constexpr uint64_t initSalt = 0x1a17'5ca1'e000'0000ull;
constexpr uint64_t biasSalt = 0xb1a5'5ca1'e000'0000ull;

/// A draw of mean 0 and variance 1 under `law`, from counters 2k and 2k + 1.
double standardDraw(InitLaw law, uint64_t key, uint64_t k) {
  return law == InitLaw::Normal ? normal(draw(key, 2 * k), draw(key, 2 * k + 1))
                                : std::sqrt(3.0) * (2.0 * uniform01(draw(key, 2 * k)) - 1.0);
}

/// Fan-in of every copy of every vertex: the weighted inputs it sums.
std::vector<std::vector<double>> fanIns(const LiftedGraph &g) {
  const LiftPlan &p = g.plan;
  std::vector<std::vector<double>> fan(p.vertices.size());
  for (size_t v = 0; v < p.vertices.size(); ++v)
    fan[v].assign(p.vertices[v].copies, 0.0);
  for (size_t e = 0; e < p.edges.size(); ++e) {
    const PlanEdge &pe = p.edges[e];
    const EdgeFibers f = edgeFibers(p, pe);
    double per = fanInPerLiftedEdge(pe.map, pe.params, f.uShape, f.vShape);
    if (per == 0)
      continue;
    const LiftedEdge &le = g.edges[e];
    for (int64_t j = 0; j < le.nv; ++j)
      fan[pe.dst][j] += per * double(le.rowEnd(j) - le.rowBegin(j));
  }
  return fan;
}
} // namespace

void initParameters(const LiftedGraph &g, float *params) {
  const LiftPlan &p = g.plan;
  std::memset(params, 0, g.numParams * sizeof(float)); // biases and shifts start at zero
  for (size_t v = 0; v < p.vertices.size(); ++v) {
    const PlanVertex &pv = p.vertices[v];
    if (g.vertexTensor[v] < 0)
      continue;
    float *own = params + g.tensors[g.vertexTensor[v]].offset;
    if (pv.act == Activation::LayerNorm) { // gains at one
      const int64_t last = pv.shape.back();
      for (int64_t j = 0; j < pv.copies; ++j)
        std::fill(own + j * 2 * last, own + j * 2 * last + last, 1.0f);
    } else if (pv.bias && pv.biasInit.scale > 0) { // `init bias v: LAW(scale = s)`
      const uint64_t key = streamKey(p.seed, biasSalt, v);
      for (uint64_t k = 0; k < uint64_t(pv.copies * pv.dim); ++k)
        own[k] = float(pv.biasInit.scale * standardDraw(pv.biasInit.law, key, k));
    }
  }
  auto fan = fanIns(g);
  std::vector<bool> done(p.groupNames.size(), false);
  for (size_t e = 0; e < p.edges.size(); ++e) {
    const PlanEdge &pe = p.edges[e];
    if (pe.group == noGroup || done[pe.group])
      continue;
    done[pe.group] = true; // tied edges: initialised once, from the first edge
    const ParamTensor &t = g.tensors[pe.group];
    const LiftedEdge &le = g.edges[e];
    const uint64_t per = g.weightsPerEdge(e);
    const uint64_t key = streamKey(p.seed, initSalt, pe.group);
    const std::vector<double> &fanOf = fan[pe.dst];
    float *w = params + t.offset;
#pragma omp parallel for schedule(static)
    for (int64_t j = 0; j < le.nv; ++j) {
      double fanIn = std::max(1.0, fanOf[j]);
      double std = pe.init.scale / std::sqrt(fanIn);
      for (uint64_t k = le.rowBegin(j) * per; k < le.rowEnd(j) * per; ++k)
        w[k] = float(std * standardDraw(pe.init.law, key, k));
    }
  }
}

} // namespace rslc::lift
