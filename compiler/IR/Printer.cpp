//===- Printer.cpp - `--emit=checked`: the checked program as a blueprint --===//
#include "IR/Printer.h"

#include "core/EdgeMaps.h"
#include "core/LiftKinds.h"

using namespace llvm;

namespace rslc {

void printBaseGraph(const BaseGraph &g, raw_ostream &os) {
  os << "module " << g.name << " {\n";
  for (const BaseVertex &v : g.vertices) {
    os << "  " << keyword(v.role) << " " << v.name << ": ";
    if (v.shape.size() > 1)
      os << shapeText(v.shape);
    else
      os << v.dim;
    if (v.role != Role::Input) {
      os << ", " << keyword(v.act);
      if (v.axis >= 0)
        os << "(" << v.axis << ")";
      if (v.act != Activation::LayerNorm)
        os << ", " << (v.bias ? "bias" : "nobias");
      if (v.agg != Aggregation::Sum)
        os << ", " << keyword(v.agg);
      if (v.causal)
        os << ", causal";
    }
    os << ";\n";
  }
  for (const BaseEdge &e : g.edges) {
    os << "  " << g.vertices[e.src].name << " -> " << g.vertices[e.dst].name << ": "
       << mapText(e.map, e.params);
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
    os << "  edges " << g.vertices[g.edges[e].src].name << " -> "
       << g.vertices[g.edges[e].dst].name << ": " << lift::liftSettingText(l.edges[e].setting)
       << ";\n";
  }
  os << "  readout: " << keyword(l.readout) << ";\n";
  os << "  init: " << lift::initSettingText(l.init) << ";\n";
  for (unsigned e = 0; e < g.edges.size(); ++e)
    if (l.edgeInits[e])
      os << "  init " << g.vertices[g.edges[e].src].name << " -> "
         << g.vertices[g.edges[e].dst].name << ": " << lift::initSettingText(*l.edgeInits[e]) << ";\n";
  for (unsigned v = 0; v < g.vertices.size(); ++v)
    if (l.biasInits[v] != lift::zeroBiases)
      os << "  init bias " << g.vertices[v].name << ": " << lift::initSettingText(l.biasInits[v]) << ";\n";
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

namespace {
template <typename E> void kindTable(llvm::StringRef title, llvm::raw_ostream &os) {
  os << "| " << title << " | meaning |\n|---|---|\n";
  for (const KindRow &r : kindRows<E>()) {
    os << "| `" << r.keyword;
    if (!r.param.empty())
      os << "(" << r.param << " = " << r.meta << ")";
    os << "` | " << r.doc << " |\n";
  }
  os << "\n";
}
} // namespace

void printKindTables(raw_ostream &os) {
  kindTable<Activation>("activation", os);
  kindTable<Aggregation>("aggregation", os);
  kindTable<MapKind>("edge map", os);
  kindTable<LiftKind>("lift kind", os);
  kindTable<Readout>("readout", os);
  kindTable<InitLaw>("init law", os);
  kindTable<Loss>("loss (`rslc-train --loss`)", os);
  kindTable<Integrator>("integrator (`rslc-train --integrator`)", os);
}

} // namespace rslc
