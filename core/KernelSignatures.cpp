//===- KernelSignatures.cpp - number the distinct kernels of a plan -------===//
#include "KernelSignatures.h"

#include "LiftKinds.h"
#include "Random.h"

#include <unordered_map>

namespace rslc::lift {

namespace {

struct EdgeHash {
  size_t operator()(const EdgeSignature &s) const {
    uint64_t h = mix64(uint64_t(s.map));
    for (int64_t x : {s.du, s.dv, s.layout.rowLength, s.layout.stride, s.targetCopies,
                      int64_t(s.layout.explicitRows)})
      h = mix64(h ^ uint64_t(x));
    return size_t(h);
  }
};
struct VertexHash {
  size_t operator()(const VertexSignature &s) const {
    return size_t(mix64(mix64(uint64_t(s.act)) ^ uint64_t(s.dim) ^ (uint64_t(s.bias) << 63)));
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
    sig.du = f.du;
    sig.dv = f.dv;
    sig.layout = liftKindRules(pe.lift.kind).layout(f.nu, f.nv, pe.lift);
    if (!sig.layout.explicitRows && sig.layout.stride == 0)
      sig.targetCopies = f.nv;
    k.edgeKernel.push_back(number(sig, k.edges, edgeSeen));
  }
  for (const PlanVertex &v : plan.vertices)
    k.vertexKernel.push_back(v.role == Role::Input
                                 ? noKernel
                                 : number(VertexSignature{v.act, v.dim, v.bias}, k.vertices,
                                          vertexSeen));
  return k;
}

} // namespace rslc::lift
