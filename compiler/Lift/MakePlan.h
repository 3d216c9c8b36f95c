//===- MakePlan.h - checked blueprint + lift -> LiftPlan -------------------===//
#ifndef RSLC_LIFT_MAKEPLAN_H
#define RSLC_LIFT_MAKEPLAN_H

#include "IR/BaseGraph.h"
#include "core/LiftPlan.h"

namespace rslc::lift {

/// Flattens `spec` over `graph`. Weight groups: one per `share` name, one
/// per other weighted edge, numbered in edge order.
LiftPlan makePlan(const BaseGraph &graph, const LiftSpec &spec);

/// The lift of `graph` with one copy per vertex: the base network itself.
LiftSpec identityLift(const BaseGraph &graph, unsigned moduleIndex);

} // namespace rslc::lift

#endif
