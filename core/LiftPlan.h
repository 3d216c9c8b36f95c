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
#include <string>
#include <vector>

namespace rslc::lift {

constexpr uint32_t noGroup = ~0u;

/// How one base edge is lifted: a lift kind and its parameter.
struct LiftSetting {
  LiftKind kind = LiftKind::Full;
  int64_t degree = 0; ///< LiftKind::Degree: sources per target copy
  double prob = 0;    ///< LiftKind::Prob: probability per pair
};

struct PlanVertex {
  std::string name;
  Role role = Role::Hidden;
  int64_t copies = 1; ///< fiber size n_v
  int64_t dim = 1;    ///< d_v
  Activation act = Activation::Identity;
  bool bias = false;
  Aggregation agg = Aggregation::Sum;
};

struct PlanEdge {
  uint32_t src = 0, dst = 0;
  MapKind map = MapKind::Linear;
  LiftSetting lift;
  /// Weight group: tied edges share one; every weighted edge has one.
  uint32_t group = noGroup;
};

struct LiftPlan {
  std::string module, lift;
  uint64_t seed = 0;
  Readout readout = Readout::Mean;
  InitLaw init = InitLaw::Normal;
  double initScale = 1.0;
  std::vector<PlanVertex> vertices;
  std::vector<PlanEdge> edges;
  std::vector<std::string> groupNames; ///< one per weight group
};

} // namespace rslc::lift

#endif
