//===- Print.cpp - `--emit=lifted` and `--emit=dot` ------------------------===//
#include "Lift/Print.h"

#include "core/EdgeMaps.h"
#include "core/LiftKinds.h"

#include "llvm/Support/Format.h"

#include <algorithm>

using namespace llvm;

namespace rslc::lift {

namespace {

std::string bytes(uint64_t b) {
  const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double x = double(b);
  int u = 0;
  while (x >= 1024 && u < 4)
    x /= 1024, ++u;
  std::string s;
  raw_string_ostream os(s);
  if (u == 0)
    os << b << " B";
  else
    os << format("%.1f %s", x, units[u]);
  return s;
}

struct Stats {
  uint64_t min = ~0ull, max = 0;
  double mean = 0;
  void add(uint64_t x, uint64_t n) {
    min = std::min(min, x);
    max = std::max(max, x);
    mean += double(x) / double(n);
  }
};

void printStats(raw_ostream &os, const char *what, const Stats &s) {
  os << ", " << what << " " << s.min;
  if (s.max != s.min)
    os << ".." << s.max << format(" (mean %.2f)", s.mean);
}

} // namespace

void printSummary(const LiftedGraph &g, bool edgeList, raw_ostream &os) {
  const LiftPlan &p = g.plan;
  os << "lift " << p.lift << " of " << p.module << "\n";
  os << "  seed " << p.seed << ", readout " << keyword(p.readout) << ", init " << initSettingText(p.init)
     << "\n";
  os << "  copies " << g.numCopies() << ", lifted edges " << g.numLiftedEdges() << ", parameters "
     << g.numParams << "\n";
  os << "  structure " << bytes(g.structureBytes()) << ", parameters " << bytes(4 * g.numParams)
     << ", structure hash " << format_hex(structureHash(g), 18) << "\n";
  for (size_t v = 0; v < p.vertices.size(); ++v) {
    const PlanVertex &pv = p.vertices[v];
    os << "vertex " << pv.name << ": " << keyword(pv.role) << ", " << pv.copies
       << (pv.copies == 1 ? " copy" : " copies") << ", dim " << pv.dim;
    if (pv.shape.size() > 1)
      os << " " << shapeText(pv.shape);
    if (pv.role != Role::Input)
      os << ", " << keyword(pv.act) << (pv.bias ? ", bias" : "")
         << (pv.agg != Aggregation::Sum ? ", " + std::string(keyword(pv.agg)) : "")
         << (pv.causal ? ", causal" : "");
    if (pv.bias && pv.biasInit != zeroBiases)
      os << ", bias init " << initSettingText(pv.biasInit);
    if (pv.role == Role::Output && pv.copies > 1)
      os << ", readout " << keyword(p.readout);
    os << "\n";
  }
  for (size_t e = 0; e < p.edges.size(); ++e) {
    const PlanEdge &pe = p.edges[e];
    const LiftedEdge &le = g.edges[e];
    Stats in, out;
    for (int64_t j = 0; j < le.nv; ++j)
      in.add(le.rowEnd(j) - le.rowBegin(j), le.nv);
    for (int64_t i = 0; i < le.nu; ++i)
      out.add(le.outDegree(i), le.nu);
    os << "edge " << p.vertices[pe.src].name << " -> " << p.vertices[pe.dst].name << ": "
       << mapText(pe.map, pe.params) << ", " << lift::liftSettingText(pe.lift)
       << (edgeFibers(p, pe).sourceComponents ? " of the input's components" : "") << ", "
       << le.count << " lifted edges";
    printStats(os, "in-degree", in);
    printStats(os, "out-degree", out);
    if (pe.group != noGroup) {
      const ParamTensor &t = g.tensors[pe.group];
      os << ", weights " << t.size << " (" << t.name << ")";
      if (pe.init != p.init)
        os << ", init " << initSettingText(pe.init);
    }
    uint64_t b = 8 * (le.rowPtr.size() + le.tPtr.size()) +
                 4 * (le.col.size() + le.tRow.size() + le.tPos.size());
    os << ", " << bytes(b) << "\n";
  }
  // The parameter array's layout (docs/abi.md): every tensor in order.
  for (const ParamTensor &t : g.tensors)
    os << "tensor " << t.name << ": offset " << t.offset << ", " << t.size << " values ("
       << (t.ofVertex ? "parameters of vertex " + p.vertices[t.owner].name
                      : std::string("weights"))
       << ")\n";
  if (!edgeList)
    return;
  for (size_t e = 0; e < p.edges.size(); ++e) {
    const PlanEdge &pe = p.edges[e];
    const LiftedEdge &le = g.edges[e];
    for (int64_t j = 0; j < le.nv; ++j)
      for (uint64_t q = le.rowBegin(j); q < le.rowEnd(j); ++q) {
        uint64_t i = le.sourceAt(j, q);
        os << "  " << p.vertices[pe.src].name << "#" << i << " -> " << p.vertices[pe.dst].name
           << "#" << j << "\n";
      }
  }
}

void printDot(const LiftedGraph &g, raw_ostream &os) {
  const LiftPlan &p = g.plan;
  auto quoted = [](const std::string &s) { return "\"" + s + "\""; };
  os << "digraph " << quoted(p.module) << " {\n  rankdir=LR;\n";
  for (const PlanVertex &v : p.vertices)
    os << "  " << quoted(v.name) << " [label=" << quoted(v.name + "\\n" + std::to_string(v.dim))
       << (v.role == Role::Input    ? ", shape=box"
           : v.role == Role::Output ? ", shape=doublecircle"
                                    : "")
       << "];\n";
  for (const PlanEdge &e : p.edges)
    os << "  " << quoted(p.vertices[e.src].name) << " -> " << quoted(p.vertices[e.dst].name)
       << " [label=" << quoted(std::string(keyword(e.map))) << "];\n";
  os << "}\n";
  if (g.numCopies() > maxDotCopies || g.numLiftedEdges() > maxDotEdges)
    return;
  os << "digraph " << quoted(p.module + "." + p.lift) << " {\n  rankdir=LR;\n";
  auto copy = [&](size_t v, uint64_t i) { return quoted(p.vertices[v].name + "#" + std::to_string(i)); };
  for (size_t v = 0; v < p.vertices.size(); ++v) {
    os << "  subgraph " << quoted("cluster_" + p.vertices[v].name) << " {\n    label="
       << quoted(p.vertices[v].name) << ";\n";
    for (int64_t i = 0; i < p.vertices[v].copies; ++i)
      os << "    " << copy(v, i) << " [label=" << i << "];\n";
    os << "  }\n";
  }
  for (size_t e = 0; e < p.edges.size(); ++e) {
    const LiftedEdge &le = g.edges[e];
    for (int64_t j = 0; j < le.nv; ++j)
      for (uint64_t q = le.rowBegin(j); q < le.rowEnd(j); ++q) {
        uint64_t i = le.sourceAt(j, q);
        os << "  " << copy(p.edges[e].src, i) << " -> " << copy(p.edges[e].dst, j) << ";\n";
      }
  }
  os << "}\n";
}

} // namespace rslc::lift
