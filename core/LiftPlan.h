//===- LiftPlan.h - everything lift expansion needs, free of LLVM ---------===//
//
// A LiftPlan is a checked base graph plus one lift, flattened into plain
// data. The compiler builds it (compiler/Lift/MakePlan.cpp); the generated
// library embeds it (PlanIO.h) so the runtime rebuilds the same lifted graph
// from the seed (Build.h).
//
//===----------------------------------------------------------------------===//
#ifndef RSLC_CORE_LIFTPLAN_H
#define RSLC_CORE_LIFTPLAN_H

#include "Kinds.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace rslc::lift {

constexpr uint32_t noGroup = ~0u;

/// The extents of a vertex's activation space per copy: R^(H x W) is
/// {H, W}; a plain dimension d is {d}. Components are stored row-major.
using Shape = std::vector<int64_t>;

/// The product of the extents (the vertex's dimension).
inline int64_t shapeSize(const Shape &s) {
  int64_t n = 1;
  for (int64_t e : s)
    n *= e;
  return n;
}

/// Arguments of the window maps (conv, maxpool, avgpool); other maps have
/// the defaults.
struct MapParams {
  int64_t kernel = 1, stride = 1, padding = 0, dilation = 1;
  bool operator==(const MapParams &o) const {
    return kernel == o.kernel && stride == o.stride && padding == o.padding &&
           dilation == o.dilation;
  }
  bool operator!=(const MapParams &o) const { return !(*this == o); }
};

/// How one base edge is lifted: a lift kind and its parameter.
struct LiftSetting {
  LiftKind kind = LiftKind::Full;
  int64_t degree = 0; ///< LiftKind::Degree: sources per target copy
  double prob = 0;    ///< LiftKind::Prob: probability per pair
  /// LiftKind::Explicit: the file the blueprint names, its lifted edges
  /// (source copy, target copy) sorted by target then source (shared: a
  /// setting is copied), and the fibers it declares (-1: none; a Matrix
  /// Market file declares target x source copies).
  std::string file;
  std::shared_ptr<const std::vector<std::pair<uint32_t, uint32_t>>> edges;
  int64_t declaredSources = -1, declaredTargets = -1;
};

/// How parameters start: weights with variance scale^2 / fan_in (fan_in
/// counted in the lifted graph), biases with variance scale^2; a bias scale
/// of 0 means biases start at zero.
struct InitSetting {
  InitLaw law = InitLaw::Normal;
  double scale = 1.0;
  bool operator==(const InitSetting &o) const { return law == o.law && scale == o.scale; }
  bool operator!=(const InitSetting &o) const { return !(*this == o); }
};

constexpr InitSetting zeroBiases{InitLaw::Normal, 0.0};

struct PlanVertex {
  std::string name;
  Role role = Role::Hidden;
  int64_t copies = 1; ///< fiber size n_v
  int64_t dim = 1;    ///< d_v = shapeSize(shape)
  Activation act = Activation::Identity;
  bool bias = false;
  Aggregation agg = Aggregation::Sum;
  Shape shape = {1};  ///< never empty
  int64_t axis = -1;  ///< softmax: the axis it normalises (-1: the last)
  bool causal = false; ///< attention: token t attends to tokens <= t
  InitSetting biasInit = zeroBiases; ///< with `bias`: how biases start
};

/// Parameters per copy of a vertex: its bias (d_v values), layernorm's gain
/// and shift (2 x its last extent: gains, then shifts), or none.
inline int64_t vertexParamsPerCopy(const PlanVertex &v) {
  if (v.act == Activation::LayerNorm)
    return 2 * v.shape.back();
  return v.bias ? v.dim : 0;
}

struct PlanEdge {
  uint32_t src = 0, dst = 0;
  MapKind map = MapKind::Linear;
  MapParams params;
  LiftSetting lift;
  /// Weight group: tied edges share one; every weighted edge has one.
  uint32_t group = noGroup;
  InitSetting init; ///< tied edges share the law of the group's first edge
};

struct LiftPlan {
  std::string module, lift;
  uint64_t seed = 0;
  Readout readout = Readout::Mean;
  InitSetting init; ///< the lift's default law (edges carry their own)
  std::vector<PlanVertex> vertices;
  std::vector<PlanEdge> edges;
  std::vector<std::string> groupNames; ///< one per weight group
};

} // namespace rslc::lift

#endif
