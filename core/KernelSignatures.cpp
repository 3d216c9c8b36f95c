//===- KernelSignatures.cpp - number the distinct kernels of a plan -------===//
#include "KernelSignatures.h"

#include "LiftKinds.h"
#include "Random.h"

#include <unordered_map>

namespace rslc::lift {

namespace {

uint64_t hashShape(uint64_t h, const Shape &s) {
  for (int64_t e : s)
    h = mix64(h ^ uint64_t(e));
  return mix64(h ^ s.size());
}
struct EdgeHash {
  size_t operator()(const EdgeSignature &s) const {
    uint64_t h = mix64(uint64_t(s.map));
    for (int64_t x : {s.du, s.dv, s.layout.rowLength, s.layout.stride, s.targetCopies,
                      int64_t(s.layout.explicitRows), s.params.kernel, s.params.stride,
                      s.params.padding, s.params.dilation})
      h = mix64(h ^ uint64_t(x));
    return size_t(hashShape(hashShape(h, s.uShape), s.vShape));
  }
};
struct VertexHash {
  size_t operator()(const VertexSignature &s) const {
    uint64_t h = mix64(uint64_t(s.act) ^ (uint64_t(s.agg) << 8) ^ (uint64_t(s.bias) << 16) ^
                       (uint64_t(s.causal) << 17) ^ (uint64_t(s.axis) << 20));
    return size_t(hashShape(hashShape(hashShape(h, s.shape), s.keyShape), s.valueShape));
  }
};

/// The index of `sig` in `list`, appended if new.
template <typename Sig, typename Hash>
uint32_t number(const Sig &sig, std::vector<Sig> &list,
                std::unordered_map<Sig, uint32_t, Hash> &seen) {
  auto [it, fresh] = seen.try_emplace(sig, uint32_t(list.size()));
  if (fresh)
    list.push_back(sig);
  return it->second;
}

} // namespace

KernelSignatures kernelSignatures(const LiftPlan &plan) {
  KernelSignatures k;
  std::unordered_map<EdgeSignature, uint32_t, EdgeHash> edgeSeen;
  std::unordered_map<VertexSignature, uint32_t, VertexHash> vertexSeen;
  for (const PlanEdge &pe : plan.edges) {
    const EdgeFibers f = edgeFibers(plan, pe);
    EdgeSignature sig;
    sig.map = pe.map;
    sig.params = pe.params;
    sig.uShape = f.uShape;
    sig.vShape = f.vShape;
    sig.du = f.du;
    sig.dv = f.dv;
    sig.layout = liftKindRules(pe.lift.kind).layout(f.nu, f.nv, pe.lift);
    if (!sig.layout.explicitRows && sig.layout.stride == 0)
      sig.targetCopies = f.nv;
    k.edgeKernel.push_back(number(sig, k.edges, edgeSeen));
  }
  std::vector<Shape> keyShape(plan.vertices.size()), valueShape(plan.vertices.size());
  for (const PlanEdge &e : plan.edges)
    if (e.map == MapKind::Key || e.map == MapKind::Value)
      (e.map == MapKind::Key ? keyShape : valueShape)[e.dst] = plan.vertices[e.src].shape;
  for (size_t v = 0; v < plan.vertices.size(); ++v) {
    const PlanVertex &pv = plan.vertices[v];
    if (pv.role == Role::Input) {
      k.vertexKernel.push_back(noKernel);
      continue;
    }
    VertexSignature sig{pv.act, pv.shape, pv.bias, pv.agg, pv.axis, pv.causal, {}, {}};
    if (pv.agg == Aggregation::Attention)
      sig.keyShape = keyShape[v], sig.valueShape = valueShape[v];
    k.vertexKernel.push_back(number(sig, k.vertices, vertexSeen));
  }
  return k;
}

} // namespace rslc::lift
