//===- CheckGraph.cpp - the rules every base graph must satisfy -----------===//
#include "Sema/Sema.h"

#include "core/EdgeMaps.h"

#include <array>

#include "llvm/ADT/StringMap.h"

#include <algorithm>

using namespace llvm;

namespace rslc {

namespace {

/// "dimension 3" or "shape [28, 28]" (without the word: "3", "[28, 28]").
std::string extentText(const BaseVertex &v, bool word = true) {
  if (v.shape.size() > 1)
    return (word ? "shape " : "") + shapeText(v.shape);
  return (word ? "dimension " : "") + std::to_string(v.dim);
}

/// An attention vertex reads one query [Tq, dk], one key [Tk, dk] and one
/// value [Tk, dv] and is [Tq, dv]; the roles go nowhere else.
void checkAttention(const BaseGraph &g, DiagEngine &diags) {
  std::vector<std::array<int, 3>> roles(g.vertices.size(), {-1, -1, -1});
  for (unsigned i = 0; i < g.edges.size(); ++i) {
    const BaseEdge &e = g.edges[i];
    int role = e.map == MapKind::Query ? 0 : e.map == MapKind::Key ? 1 : e.map == MapKind::Value ? 2 : -1;
    const BaseVertex &v = g.vertices[e.dst];
    if (v.agg != Aggregation::Attention) {
      if (role >= 0)
        diags.error(e.loc, std::string(keyword(e.map)) + " edge '" + g.vertices[e.src].name +
                               " -> " + v.name + "' goes to a vertex without attention");
      continue;
    }
    if (role < 0) {
      diags.error(e.loc, "edge '" + g.vertices[e.src].name + " -> " + v.name +
                             "' into an attention vertex must be its query, key or value");
      continue;
    }
    if (roles[e.dst][role] >= 0)
      diags.error(e.loc, "attention vertex '" + v.name + "' has two " +
                             std::string(keyword(e.map)) + " edges");
    roles[e.dst][role] = int(i);
  }
  for (unsigned v = 0; v < g.vertices.size(); ++v) {
    const BaseVertex &o = g.vertices[v];
    if (o.agg != Aggregation::Attention || o.shape.size() != 2)
      continue;
    const std::array<int, 3> &r = roles[v];
    if (r[0] < 0 || r[1] < 0 || r[2] < 0) {
      diags.error(o.loc, "attention vertex '" + o.name + "' needs a query, a key and a value "
                         "in-edge (edge maps query, key, value)");
      continue;
    }
    const lift::Shape &q = g.vertices[g.edges[r[0]].src].shape,
                      &k = g.vertices[g.edges[r[1]].src].shape,
                      &val = g.vertices[g.edges[r[2]].src].shape;
    if (q.size() != 2 || k.size() != 2 || val.size() != 2)
      continue; // reported by the maps' shape rule
    std::string why;
    if (q[1] != k[1])
      why = "query and key must have the same last extent, got " + shapeText(q) + " and " +
            shapeText(k);
    else if (k[0] != val[0])
      why = "key and value must have the same tokens, got " + shapeText(k) + " and " +
            shapeText(val);
    else if (o.shape[0] != q[0] || o.shape[1] != val[1])
      why = "its shape must be [query tokens, value extent] = " +
            shapeText({q[0], val[1]}) + ", not " + shapeText(o.shape);
    else if (o.causal && q[0] != k[0])
      why = "a causal attention needs as many query as key tokens, got " +
            std::to_string(q[0]) + " and " + std::to_string(k[0]);
    if (!why.empty())
      diags.error(o.loc, "attention vertex '" + o.name + "': " + why);
  }
}

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
    if (std::string why = checkMapShape(e.map, e.params, u.shape, v.shape); !why.empty())
      diags.error(e.loc, std::string(keyword(e.map)) + " edge '" + u.name + " -> " + v.name +
                             "' joins " + extentText(u) + " to " + extentText(v) + "; " + why);
  }
  checkAttention(g, diags);
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
    if (!hasWeights(e.map)) {
      diags.error(e.loc, std::string(keyword(e.map)) + " edges have no weights to share (group '" +
                             e.share + "')");
      continue;
    }
    auto [it, fresh] = groups.try_emplace(e.share, i);
    const BaseEdge &first = g.edges[it->second];
    if (fresh)
      continue;
    auto shape = [&](const BaseEdge &x) {
      return mapText(x.map, x.params) + " " + extentText(g.vertices[x.src], false) + " -> " +
             extentText(g.vertices[x.dst], false);
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
