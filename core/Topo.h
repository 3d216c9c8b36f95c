//===- Topo.h - topological order of a graph given as an edge list --------===//
//
// Free of LLVM: used by the checked base graph, the lift verifier and the
// runtime. Edges are any type with `src` and `dst` vertex indices.
//
//===----------------------------------------------------------------------===//
#ifndef RSLC_CORE_TOPO_H
#define RSLC_CORE_TOPO_H

#include <cstddef>
#include <vector>

namespace rslc {

/// Kahn's algorithm, sources in index order. The result is shorter than
/// numVertices iff the graph has a cycle (or an edge out of range).
template <typename EdgeList>
std::vector<unsigned> topologicalOrder(size_t numVertices, const EdgeList &edges) {
  std::vector<std::vector<unsigned>> out(numVertices);
  std::vector<unsigned> indegree(numVertices, 0), order;
  for (const auto &e : edges) {
    if (size_t(e.src) >= numVertices || size_t(e.dst) >= numVertices)
      return order;
    out[e.src].push_back(e.dst);
    ++indegree[e.dst];
  }
  for (unsigned v = 0; v < numVertices; ++v)
    if (!indegree[v])
      order.push_back(v);
  for (size_t head = 0; head < order.size(); ++head)
    for (unsigned w : out[order[head]])
      if (--indegree[w] == 0)
        order.push_back(w);
  return order;
}

} // namespace rslc

#endif
