//===- BaseGraph.cpp - the checked base graph ------------------------------===//
#include "IR/BaseGraph.h"

#include "core/Topo.h"

using namespace llvm;

namespace rslc {

bool BaseGraph::addVertex(BaseVertex v) {
  if (!index.try_emplace(v.name, vertices.size()).second)
    return false;
  vertices.push_back(std::move(v));
  return true;
}

bool BaseGraph::addEdge(BaseEdge e) {
  if (!edgeIndex.try_emplace({e.src, e.dst}, edges.size()).second)
    return false;
  edges.push_back(std::move(e));
  return true;
}

std::vector<unsigned> BaseGraph::topologicalOrder() const {
  return rslc::topologicalOrder(vertices.size(), edges);
}

} // namespace rslc
