//===- Build.cpp - the one way from a plan to a verified lifted graph ------===//
#include "Build.h"

#include "EdgeMaps.h"
#include "LiftKinds.h"

namespace rslc::lift {

namespace {
/// What expansion assumes of every edge (Sema ensures it for compiled plans):
/// ends in range, a valid parameter, fibers the lift kind accepts.
std::string planProblem(const LiftPlan &plan) {
  for (const PlanEdge &e : plan.edges) {
    if (e.src >= plan.vertices.size() || e.dst >= plan.vertices.size())
      return "an edge's end is out of range";
    const PlanVertex &u = plan.vertices[e.src], &v = plan.vertices[e.dst];
    const LiftKindRules &rules = liftKindRules(e.lift.kind);
    const EdgeFibers f = edgeFibers(plan, e);
    std::string why = rules.checkParam(e.lift);
    if (why.empty())
      why = checkMapShape(e.map, e.params, f.uShape, f.vShape);
    if (why.empty())
      why = rules.check(f.nu, f.nv, e.lift, "'" + u.name + " -> " + v.name + "'", u.name);
    if (!why.empty())
      return why;
  }
  return "";
}
} // namespace

SizeEstimate checkPlan(const LiftPlan &plan, const BuildLimits &limits) {
  SizeEstimate size = estimate(plan);
  using Kind = BuildError::Kind;
  if (limits.maxBytes > 0 && size.bytes() > limits.maxBytes)
    throw BuildError(Kind::OverMemory, "the lift needs more memory than allowed", size);
  if (!size.error.empty())
    throw BuildError(Kind::Unsupported, size.error, size);
  if (limits.maxLiftedEdges > 0 && size.liftedEdges > limits.maxLiftedEdges)
    throw BuildError(Kind::OverEdgeLimit, "the lift has more lifted edges than allowed", size);
  if (std::string why = planProblem(plan); !why.empty())
    throw BuildError(Kind::Invalid, "invalid plan: " + why, size);
  return size;
}

LiftedGraph buildLifted(const LiftPlan &plan, const BuildLimits &limits) {
  SizeEstimate size = checkPlan(plan, limits);
  LiftedGraph graph = expand(plan);
  std::vector<std::string> problems = verify(graph);
  if (!problems.empty())
    throw BuildError(BuildError::Kind::Invalid,
                     "lifted graph fails verification: " + problems.front(), size);
  return graph;
}

} // namespace rslc::lift
