//===- MakePlan.cpp - a checked module and one of its lifts -> LiftPlan ----===//
#include "Lift/MakePlan.h"

#include "core/EdgeMaps.h"

#include "llvm/ADT/StringMap.h"

namespace rslc::lift {

LiftPlan makePlan(const BaseGraph &g, const LiftSpec &spec) {
  LiftPlan p;
  p.module = g.name;
  p.lift = spec.name;
  p.seed = spec.seed;
  p.readout = spec.readout;
  p.init = spec.init;
  for (unsigned v = 0; v < g.vertices.size(); ++v) {
    const BaseVertex &bv = g.vertices[v];
    p.vertices.push_back({bv.name, bv.role, spec.copies[v], bv.dim, bv.act, bv.bias, bv.agg,
                          bv.shape, bv.axis, bv.causal, spec.biasInits[v]});
  }
  llvm::StringMap<uint32_t> groups;
  for (unsigned e = 0; e < g.edges.size(); ++e) {
    const BaseEdge &be = g.edges[e];
    const EdgeLift &k = spec.edges[e];
    PlanEdge pe{be.src, be.dst, be.map, be.params, k.setting, noGroup,
                spec.edgeInits[e].value_or(spec.init)};
    if (hasWeights(be.map)) {
      std::string name = be.share.empty()
                             ? g.vertices[be.src].name + "->" + g.vertices[be.dst].name
                             : be.share;
      auto [it, fresh] = groups.try_emplace(
          be.share.empty() ? "\x01" + std::to_string(e) : be.share, p.groupNames.size());
      if (fresh)
        p.groupNames.push_back(name);
      pe.group = it->second;
    }
    p.edges.push_back(pe);
  }
  return p;
}

LiftSpec identityLift(const BaseGraph &g, unsigned moduleIndex) {
  LiftSpec s;
  s.name = "identity";
  s.loc = g.loc;
  s.module = moduleIndex;
  s.copies.assign(g.vertices.size(), 1);
  s.edges.assign(g.edges.size(), EdgeLift{lift::LiftSetting{}, g.loc});
  s.edgeInits.assign(g.edges.size(), std::nullopt);
  s.biasInits.assign(g.vertices.size(), lift::zeroBiases);
  return s;
}

} // namespace rslc::lift
