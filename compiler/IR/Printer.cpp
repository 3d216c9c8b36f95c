#include "IR/Printer.h"

using namespace llvm;

namespace rslc {

void printBaseGraph(const BaseGraph &g, raw_ostream &os) {
  os << "module " << g.name << " {\n";
  for (const BaseVertex &v : g.vertices) {
    os << "  " << roleName(v.role) << " " << v.name << ": " << v.dim;
    if (v.role != Role::Input) {
      os << ", " << activationName(v.act) << ", " << (v.bias ? "bias" : "nobias");
      if (v.agg != Aggregation::Sum)
        os << ", " << aggregationName(v.agg);
    }
    os << ";\n";
  }
  for (const BaseEdge &e : g.edges) {
    os << "  " << g.vertices[e.src].name << " -> " << g.vertices[e.dst].name << ": "
       << mapKindName(e.map);
    if (!e.share.empty())
      os << ", share " << e.share;
    os << ";\n";
  }
  os << "}\n";
}

void printLift(const LiftSpec &l, const BaseGraph &g, raw_ostream &os) {
  os << "lift " << l.name << " of " << g.name << " {\n";
  for (unsigned v = 0; v < g.vertices.size(); ++v)
    if (l.copies[v] != 1)
      os << "  size " << g.vertices[v].name << ": " << l.copies[v] << ";\n";
  for (unsigned e = 0; e < g.edges.size(); ++e) {
    const EdgeLift &k = l.edges[e];
    os << "  edges " << g.vertices[g.edges[e].src].name << " -> "
       << g.vertices[g.edges[e].dst].name << ": " << liftKindName(k.kind);
    if (k.kind == LiftKind::Degree)
      os << "(degree = " << k.degree << ")";
    if (k.kind == LiftKind::Prob)
      os << "(prob = " << Number::real(k.prob).str() << ")";
    os << ";\n";
  }
  os << "  readout: " << readoutName(l.readout) << ";\n";
  os << "  init: " << initLawName(l.init) << "(scale = " << Number::real(l.initScale).str()
     << ");\n";
  os << "  seed: " << l.seed << ";\n";
  os << "}\n";
}

void printChecked(const CheckedProgram &p, raw_ostream &os) {
  os << "// checked by rslc: parameters substituted, families and loops expanded\n";
  for (const ParamValue &v : p.params)
    os << "param " << v.name << " = " << v.value.str() << ";"
       << (v.overridden ? " // set by -D" : "") << "\n";
  for (const auto &g : p.modules)
    printBaseGraph(*g, os);
  for (const LiftSpec &l : p.lifts)
    printLift(l, *p.modules[l.module], os);
}

} // namespace rslc
