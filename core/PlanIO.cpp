//===- PlanIO.cpp - the text form of a LiftPlan ---------------------------===//
#include "PlanIO.h"

#include <cmath>
#include <sstream>

namespace rslc::lift {

std::string serializePlan(const LiftPlan &p) {
  std::ostringstream os;
  os.precision(17);
  os << "rslc-plan 1\n"
     << p.module << "\n" << p.lift << "\n"
     << p.seed << " " << int(p.readout) << " " << int(p.init.law) << " " << p.init.scale << "\n"
     << p.vertices.size() << "\n";
  // Fields beyond those of format 1's first plans are written only when they
  // differ from their defaults, so those plans (and their checkpoints'
  // identities) read and print as before.
  for (const PlanVertex &v : p.vertices) {
    os << v.name << "\n"
       << int(v.role) << " " << v.copies << " " << v.dim << " " << int(v.act) << " " << v.bias
       << " " << int(v.agg);
    if (v.shape.size() > 1 || v.axis != -1 || v.causal) {
      os << " shape " << v.shape.size();
      for (int64_t e : v.shape)
        os << " " << e;
      os << " " << v.axis << " " << v.causal;
    }
    if (v.biasInit != zeroBiases)
      os << " bias " << int(v.biasInit.law) << " " << v.biasInit.scale;
    os << "\n";
  }
  os << p.edges.size() << "\n";
  for (const PlanEdge &e : p.edges) {
    os << e.src << " " << e.dst << " " << int(e.map) << " " << int(e.lift.kind) << " "
       << e.lift.degree << " " << e.lift.prob << " " << e.group;
    if (e.init != p.init)
      os << " init " << int(e.init.law) << " " << e.init.scale;
    if (e.params != MapParams{})
      os << " window " << e.params.kernel << " " << e.params.stride << " " << e.params.padding
         << " " << e.params.dilation;
    if (e.lift.kind == LiftKind::Explicit && e.lift.edges) { // the file's name, then its edges
      os << " explicit " << e.lift.file.size() << " " << e.lift.file << " "
         << e.lift.declaredSources << " " << e.lift.declaredTargets << " " << e.lift.edges->size();
      for (auto [i, j] : *e.lift.edges)
        os << " " << i << " " << j;
    }
    os << "\n";
  }
  os << p.groupNames.size() << "\n";
  for (const std::string &g : p.groupNames)
    os << g << "\n";
  return os.str();
}

namespace {
/// `LAW SCALE` as written after an `init` or `bias` tag: a known law and a
/// finite, non-negative scale.
bool readInit(std::istream &is, InitSetting &init) {
  int law;
  if (!(is >> law >> init.scale) || !isValidKind<InitLaw>(law) || !std::isfinite(init.scale) ||
      init.scale < 0)
    return false;
  init.law = InitLaw(law);
  return true;
}
} // namespace

bool deserializePlan(const std::string &text, LiftPlan &p, std::string &error) {
  std::istringstream is(text);
  std::string magic;
  int version = 0;
  auto bad = [&](const char *what) {
    error = std::string("malformed embedded plan: ") + what;
    return false;
  };
  auto line = [&](std::string &s) { return bool(std::getline(is >> std::ws, s)); };
  if (!(is >> magic >> version) || magic != "rslc-plan" || version != 1)
    return bad("header");
  int readout, init;
  size_t nv, ne, ng;
  if (!line(p.module) || !line(p.lift) ||
      !(is >> p.seed >> readout >> init >> p.init.scale >> nv))
    return bad("settings");
  if (!isValidKind<Readout>(readout) || !isValidKind<InitLaw>(init) || !(p.init.scale > 0) ||
      !std::isfinite(p.init.scale))
    return bad("settings out of range");
  // Every vertex, edge and group takes a line: a larger count is forged.
  if (nv > text.size())
    return bad("vertex count");
  p.readout = Readout(readout);
  p.init.law = InitLaw(init);
  p.vertices.resize(nv);
  for (PlanVertex &v : p.vertices) {
    int role, act, agg;
    std::string fields, tag;
    if (!line(v.name) || !line(fields))
      return bad("vertex");
    std::istringstream fs(fields);
    if (!(fs >> role >> v.copies >> v.dim >> act >> v.bias >> agg))
      return bad("vertex");
    if (!isValidKind<Role>(role) || !isValidKind<Activation>(act) ||
        !isValidKind<Aggregation>(agg) || v.copies < 1 || v.dim < 1)
      return bad("vertex out of range");
    v.role = Role(role), v.act = Activation(act), v.agg = Aggregation(agg);
    v.shape = {v.dim};
    while (fs >> tag) {
      if (tag == "bias") {
        if (!readInit(fs, v.biasInit) || !v.bias)
          return bad("vertex bias law");
        continue;
      }
      size_t rank;
      if (tag != "shape" || !(fs >> rank) || rank < 1 || rank > 8)
        return bad("vertex shape");
      v.shape.resize(rank);
      double size = 1;
      for (int64_t &e : v.shape) {
        if (!(fs >> e) || e < 1)
          return bad("vertex shape");
        size *= double(e);
      }
      if (size != double(v.dim) || !(fs >> v.axis >> v.causal) || v.axis < -1 ||
          v.axis >= int64_t(rank))
        return bad("vertex shape");
    }
  }
  if (!(is >> ne) || ne > text.size())
    return bad("edge count");
  p.edges.resize(ne);
  for (PlanEdge &e : p.edges) {
    int map, kind;
    std::string fields, tag;
    if (!line(fields))
      return bad("edge");
    std::istringstream fs(fields);
    if (!(fs >> e.src >> e.dst >> map >> kind >> e.lift.degree >> e.lift.prob >> e.group))
      return bad("edge");
    e.init = p.init;
    while (fs >> tag) {
      if (tag == "init") {
        if (!readInit(fs, e.init) || !(e.init.scale > 0))
          return bad("edge init law");
      } else if (tag == "window") {
        if (!(fs >> e.params.kernel >> e.params.stride >> e.params.padding >> e.params.dilation))
          return bad("edge window");
      } else if (tag == "explicit") {
        size_t length, count;
        if (!(fs >> length) || length > fields.size() || fs.get() != ' ')
          return bad("explicit lift");
        e.lift.file.resize(length);
        if (!fs.read(e.lift.file.data(), std::streamsize(length)) ||
            !(fs >> e.lift.declaredSources >> e.lift.declaredTargets >> count) ||
            count > fields.size())
          return bad("explicit lift");
        auto list = std::make_shared<std::vector<std::pair<uint32_t, uint32_t>>>(count);
        for (auto &[i, j] : *list)
          if (!(fs >> i >> j))
            return bad("explicit lift");
        e.lift.edges = std::move(list);
      } else {
        return bad("edge field");
      }
    }
    if (!isValidKind<MapKind>(map) || !isValidKind<LiftKind>(kind))
      return bad("edge kind out of range");
    e.map = MapKind(map), e.lift.kind = LiftKind(kind);
    if (e.src >= nv || e.dst >= nv)
      return bad("edge endpoint");
  }
  if (!(is >> ng) || ng > text.size())
    return bad("group count");
  p.groupNames.resize(ng);
  for (std::string &g : p.groupNames)
    if (!line(g))
      return bad("group name");
  for (const PlanEdge &e : p.edges)
    if (e.group != noGroup && e.group >= ng)
      return bad("weight group");
  return true;
}

} // namespace rslc::lift
