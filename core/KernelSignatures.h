//===- KernelSignatures.h - which edges and vertices share a kernel -------===//
//
// A kernel depends only on its signature: everything the generated code is
// specialised on. Base edges and vertices with the same signature share one
// kernel, so the code size grows with the distinct kinds of edges and
// vertices, not with the size of the base graph. The code generator emits
// one kernel per signature, numbered as here; the runtime numbers them the
// same way to find each edge's and vertex's kernel (KernelContract.h).
//
//===----------------------------------------------------------------------===//
#ifndef RSLC_CORE_KERNELSIGNATURES_H
#define RSLC_CORE_KERNELSIGNATURES_H

#include "LiftedGraph.h"

#include <cstdint>
#include <vector>

namespace rslc::lift {

/// What an edge kernel is specialised on: the map, its arguments and the
/// shapes it joins (du, dv: their sizes, dv the edge's own Z_e), and the
/// rows' layout; `targetCopies` only where the kernel loops over the target
/// fiber (implicit rows of stride 0, i.e. full lifts), else 0.
struct EdgeSignature {
  MapKind map = MapKind::Linear;
  MapParams params;
  Shape uShape = {1}, vShape = {1};
  int64_t du = 1, dv = 1;
  RowLayout layout;
  int64_t targetCopies = 0;
  bool operator==(const EdgeSignature &o) const {
    return map == o.map && params == o.params && uShape == o.uShape && vShape == o.vShape &&
           du == o.du && dv == o.dv && layout == o.layout && targetCopies == o.targetCopies;
  }
  /// Has a data gradient in forward order (contract::DataGradScatter): a
  /// linear map with one weight per lifted edge, explicit rows.
  bool scatters() const {
    return map == MapKind::Linear && du == 1 && dv == 1 && layout.explicitRows;
  }
};

/// What a vertex's kernels (aggregation, activation forward and backward)
/// are specialised on.
struct VertexSignature {
  Activation act = Activation::Identity;
  Shape shape = {1};
  bool bias = false;
  Aggregation agg = Aggregation::Sum;
  int64_t axis = -1;   ///< softmax
  bool causal = false; ///< attention
  /// Attention: the shapes of its query/key and value sources ([T, d]).
  Shape keyShape, valueShape;
  int64_t dim() const { return shapeSize(shape); }
  bool operator==(const VertexSignature &o) const {
    return act == o.act && shape == o.shape && bias == o.bias && agg == o.agg &&
           axis == o.axis && causal == o.causal && keyShape == o.keyShape &&
           valueShape == o.valueShape;
  }
};

constexpr uint32_t noKernel = ~0u;

struct KernelSignatures {
  std::vector<EdgeSignature> edges;      ///< distinct, in order of first use
  std::vector<uint32_t> edgeKernel;      ///< per base edge: index into `edges`
  std::vector<VertexSignature> vertices; ///< distinct, in order of first use
  std::vector<uint32_t> vertexKernel;    ///< per base vertex; noKernel for inputs
};

/// Numbers the signatures of a plan's edges and vertices (linear time).
KernelSignatures kernelSignatures(const LiftPlan &plan);

} // namespace rslc::lift

#endif
