//===- CheckGraph.cpp - the rules every base graph must satisfy -----------===//
#include "Sema/Sema.h"

#include "core/EdgeMaps.h"

#include "llvm/ADT/StringMap.h"

#include <algorithm>

using namespace llvm;

namespace rslc {

namespace {

/// Reports one cycle among the vertices left out of a topological order.
void reportCycle(const BaseGraph &g, const std::vector<unsigned> &order, DiagEngine &diags) {
  std::vector<bool> sorted(g.vertices.size(), false);
  for (unsigned v : order)
    sorted[v] = true;
  // Every unsorted vertex has an unsorted predecessor: walk backwards until a
  // vertex repeats; the repeated stretch is a cycle.
  std::vector<int> pred(g.vertices.size(), -1);
  for (unsigned e = 0; e < g.edges.size(); ++e)
    if (!sorted[g.edges[e].src] && !sorted[g.edges[e].dst])
      pred[g.edges[e].dst] = e;
  unsigned v = 0;
  while (sorted[v])
    ++v;
  std::vector<int> seenAt(g.vertices.size(), -1);
  std::vector<unsigned> walk;
  while (seenAt[v] < 0) {
    seenAt[v] = walk.size();
    walk.push_back(v);
    v = g.edges[pred[v]].src;
  }
  // `walk` runs against the edges; reverse it, then start at the vertex
  // declared first so the message does not depend on the search.
  std::vector<unsigned> cycle(walk.rbegin(), walk.rend() - seenAt[v]);
  std::rotate(cycle.begin(), std::min_element(cycle.begin(), cycle.end()), cycle.end());
  std::string path;
  for (unsigned c : cycle)
    path += g.vertices[c].name + " -> ";
  path += g.vertices[cycle.front()].name;
  // Report at the edge that closes the cycle.
  const BaseEdge &closing = g.edges[pred[cycle.front()]];
  diags.error(closing.loc, "the base graph of module '" + g.name +
                               "' has a cycle: " + path +
                               "; a perceptron module must be acyclic");
}

/// Vertices reachable from those of `role`, along edges (or against them).
std::vector<bool> reachableFrom(const BaseGraph &g, Role role, bool forward) {
  std::vector<std::vector<unsigned>> out(g.vertices.size());
  for (const BaseEdge &e : g.edges)
    forward ? out[e.src].push_back(e.dst) : out[e.dst].push_back(e.src);
  std::vector<bool> seen(g.vertices.size(), false);
  std::vector<unsigned> stack;
  for (unsigned v = 0; v < g.vertices.size(); ++v)
    if (g.vertices[v].role == role)
      seen[v] = true, stack.push_back(v);
  while (!stack.empty()) {
    unsigned v = stack.back();
    stack.pop_back();
    for (unsigned w : out[v])
      if (!seen[w])
        seen[w] = true, stack.push_back(w);
  }
  return seen;
}

} // namespace

bool checkGraph(const BaseGraph &g, DiagEngine &diags) {
  unsigned before = diags.numErrors();
  bool hasInput = false, hasOutput = false;
  for (const BaseVertex &v : g.vertices) {
    hasInput |= v.role == Role::Input;
    hasOutput |= v.role == Role::Output;
  }
  if (!hasInput)
    diags.error(g.loc, "module '" + g.name + "' has no input vertex");
  if (!hasOutput)
    diags.error(g.loc, "module '" + g.name + "' has no output vertex");

  std::vector<unsigned> indegree(g.vertices.size(), 0);
  for (const BaseEdge &e : g.edges) {
    const BaseVertex &u = g.vertices[e.src], &v = g.vertices[e.dst];
    ++indegree[e.dst];
    if (v.role == Role::Input)
      diags.error(e.loc, "input vertex '" + v.name + "' cannot receive an edge (from '" +
                             u.name + "')");
    if (std::string why = checkMapShape(e.map, u.dim, v.dim); !why.empty())
      diags.error(e.loc, std::string(keyword(e.map)) + " edge '" + u.name + " -> " + v.name +
                             "' joins dimension " + Twine(u.dim) + " to dimension " +
                             Twine(v.dim) + "; " + why);
  }
  for (const BaseVertex &v : g.vertices)
    if (v.role != Role::Input && !indegree[g.index.find(v.name)->second])
      diags.error(v.loc, (v.role == Role::Output ? "output" : "vertex") + Twine(" '") +
                             v.name + "' has no incoming edge");

  // Edges tied to one weight group must have the same map and shape.
  StringMap<unsigned> groups;
  for (unsigned i = 0; i < g.edges.size(); ++i) {
    const BaseEdge &e = g.edges[i];
    if (e.share.empty())
      continue;
    if (e.map == MapKind::Skip) {
      diags.error(e.loc, "skip edges have no weights to share (group '" + e.share + "')");
      continue;
    }
    auto [it, fresh] = groups.try_emplace(e.share, i);
    const BaseEdge &first = g.edges[it->second];
    if (fresh)
      continue;
    auto shape = [&](const BaseEdge &x) {
      return std::string(keyword(x.map)) + " " + std::to_string(g.vertices[x.src].dim) + " -> " +
             std::to_string(g.vertices[x.dst].dim);
    };
    if (shape(e) != shape(first)) {
      diags.error(e.loc, "edges sharing weights '" + e.share + "' must have the same map and "
                         "dimensions: this one is " + shape(e) + ", the first is " +
                         shape(first));
      diags.note(first.loc, "first edge of group '" + e.share + "' is here");
    }
  }

  std::vector<unsigned> order = g.topologicalOrder();
  if (order.size() != g.vertices.size()) {
    reportCycle(g, order, diags);
    return false; // reachability is meaningless with a cycle
  }

  std::vector<bool> fromInput = reachableFrom(g, Role::Input, /*forward=*/true);
  for (const BaseVertex &v : g.vertices) {
    unsigned i = g.index.find(v.name)->second;
    if (v.role == Role::Output && indegree[i] && !fromInput[i])
      diags.error(v.loc, "output '" + v.name + "' is not reachable from any input");
  }
  if (diags.numErrors() != before)
    return false;

  // Warn about vertices that feed no output: their weights never train.
  std::vector<bool> toOutput = reachableFrom(g, Role::Output, /*forward=*/false);
  for (unsigned v = 0; v < g.vertices.size(); ++v)
    if (!toOutput[v])
      diags.warning(g.vertices[v].loc, "vertex '" + g.vertices[v].name +
                                           "' does not feed any output");
  return true;
}

} // namespace rslc
