//===- ElaborateLift.cpp - lift declarations to LiftSpecs -----------------===//
//
// `size` and `edges` statements apply in order, the later one winning; the
// default `edges: KIND;` applies to every edge no specific statement set.
// Defaults: size 1, lift kind full, readout mean, init normal(scale = 1),
// seed 0. `init A -> B:` and `init bias V:` statements apply in order too;
// the default `init:` applies to the weighted edges none of them set.
//
//===----------------------------------------------------------------------===//
#include "Sema/ReadEdgeList.h"
#include "Sema/Sema.h"

#include "core/EdgeMaps.h"
#include "core/LiftKinds.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/Path.h"

#include <algorithm>
#include <cmath>

using namespace llvm;
using namespace rslc::ast;

namespace rslc {

namespace {

class LiftElaborator {
public:
  LiftElaborator(const Scope &globals, CheckedProgram &out, DiagEngine &diags)
      : globals(globals), out(out), diags(diags), ev(diags) {}

  void lift(const LiftDecl &d, bool moduleDeclared) {
    auto [prev, fresh] = names.try_emplace(d.name, d.loc);
    if (!fresh) {
      diags.error(d.loc, "duplicate lift '" + d.name + "'");
      diags.note(prev->second, "previous definition is here");
      return;
    }
    std::optional<unsigned> module;
    std::vector<StringRef> moduleNames;
    for (unsigned m = 0; m < out.modules.size(); ++m) {
      moduleNames.push_back(out.modules[m]->name);
      if (out.modules[m]->name == d.module)
        module = m;
    }
    if (!module && moduleDeclared)
      return; // the module has errors, already reported
    if (!module) {
      std::string hint = closestMatch(d.module, moduleNames);
      diags.error(d.moduleLoc, "lift '" + d.name + "' of undefined module '" + d.module + "'" +
                                   (hint.empty() ? "" : "; did you mean '" + hint + "'?"));
      return;
    }
    const BaseGraph &g = *out.modules[*module];
    LiftSpec spec;
    spec.name = d.name;
    spec.loc = d.loc;
    spec.module = *module;
    spec.copies.assign(g.vertices.size(), 1);
    spec.edges.assign(g.edges.size(), EdgeLift{lift::LiftSetting{}, d.loc});
    spec.edgeInits.assign(g.edges.size(), std::nullopt);
    spec.biasInits.assign(g.vertices.size(), lift::zeroBiases);
    sizeLoc.assign(g.vertices.size(), d.loc);
    explicitEdge.assign(g.edges.size(), false);
    initLoc.assign(g.edges.size(), d.loc);
    std::optional<EdgeLift> defaultKind;
    settings.clear();

    unsigned before = diags.numErrors();
    ev.walk(d.body, globals, [&](const Stmt &s, const Scope &scope) {
      switch (s.kind) {
      case Stmt::Kind::Size:
        return sizeStmt(cast<SizeStmt>(s), scope, g, spec);
      case Stmt::Kind::Edges: {
        const auto &es = cast<EdgesStmt>(s);
        auto kind = liftKind(es.kind, scope);
        if (!kind)
          return;
        if (es.chain.empty()) {
          if (!once("edges:", s.loc, "default edge lift"))
            defaultKind = kind;
          return;
        }
        for (unsigned e : selectEdges(es.chain, scope, g)) {
          spec.edges[e] = *kind;
          explicitEdge[e] = true;
        }
        return;
      }
      case Stmt::Kind::Setting:
        return setting(cast<SettingStmt>(s), scope, g, spec);
      case Stmt::Kind::Seed: {
        if (once("seed", s.loc, "seed"))
          return;
        auto seed = ev.evalInt(*cast<SeedStmt>(s).value, scope, "the seed");
        if (seed && *seed < 0)
          diags.error(s.loc, "the seed must be non-negative, got " + Twine(*seed));
        else if (seed)
          spec.seed = uint64_t(*seed);
        return;
      }
      default:
        diags.error(s.loc, "vertices, edges and instances belong in a module; a lift only "
                           "sets size, edges, readout, init and seed");
      }
    });
    if (defaultKind)
      for (unsigned e = 0; e < g.edges.size(); ++e)
        if (!explicitEdge[e])
          spec.edges[e] = *defaultKind;
    if (diags.numErrors() == before)
      validate(g, spec);
    out.lifts.push_back(std::move(spec));
  }

private:
  /// True (after reporting) if `key` was already set in this lift.
  bool once(StringRef key, SMLoc loc, StringRef what) {
    auto [it, fresh] = settings.try_emplace(key, loc);
    if (fresh)
      return false;
    diags.error(loc, "the " + what + " is set twice in this lift");
    diags.note(it->second, "first set here");
    return true;
  }

  void sizeStmt(const SizeStmt &s, const Scope &scope, const BaseGraph &g, LiftSpec &spec) {
    auto size = ev.evalInt(*s.size, scope, "a lift size");
    auto vertices = ev.resolveVertices(s.refs, scope, g);
    if (!size || !vertices)
      return;
    if (*size <= 0) {
      diags.error(s.size->loc, "lift size must be positive, got " + Twine(*size));
      return;
    }
    for (unsigned v : *vertices) {
      if (g.vertices[v].role == Role::Input && *size != 1) {
        diags.error(s.refs.front().loc, "input vertex '" + g.vertices[v].name +
                                            "' receives data and is not lifted: its size "
                                            "must be 1, got " + Twine(*size));
        continue;
      }
      spec.copies[v] = *size;
      sizeLoc[v] = s.size->loc;
    }
  }

  /// The base edges from any vertex of one list to any of the next.
  std::vector<unsigned> selectEdges(const std::vector<RefList> &chain, const Scope &scope,
                                    const BaseGraph &g) {
    std::vector<unsigned> edges;
    for (size_t k = 0; k + 1 < chain.size(); ++k) {
      auto srcs = ev.resolveVertices(chain[k], scope, g),
           dsts = ev.resolveVertices(chain[k + 1], scope, g);
      if (!srcs || !dsts)
        continue;
      size_t before = edges.size();
      if (double(srcs->size()) * double(dsts->size()) <= 256) {
        for (unsigned u : *srcs)
          for (unsigned v : *dsts)
            if (auto e = g.findEdge(u, v))
              edges.push_back(*e);
      } else {
        // Large lists (`h[1..L] -> h[1..L]`): walk the sources' out-edges,
        // in time linear in those edges, not in |sources| x |targets|.
        std::vector<unsigned> targets = *dsts;
        std::sort(targets.begin(), targets.end());
        const std::vector<std::vector<unsigned>> &outOf = outEdges(g);
        for (unsigned u : *srcs)
          for (unsigned e : outOf[u])
            if (std::binary_search(targets.begin(), targets.end(), g.edges[e].dst))
              edges.push_back(e);
      }
      if (edges.size() == before)
        diags.error(chain[k + 1].front().loc,
                    "no edge of module '" + g.name + "' goes from '" +
                        g.vertices[srcs->front()].name + "'" +
                        (srcs->size() > 1 ? " (or the rest of that list)" : "") + " to '" +
                        g.vertices[dsts->front()].name + "'" +
                        (dsts->size() > 1 ? " (or the rest of that list)" : ""));
    }
    return edges;
  }

  /// Out-edges per vertex of the lift's module, built on first use.
  const std::vector<std::vector<unsigned>> &outEdges(const BaseGraph &g) {
    if (adjacencyOf != &g) {
      adjacency.assign(g.vertices.size(), {});
      for (unsigned e = 0; e < g.edges.size(); ++e)
        adjacency[g.edges[e].src].push_back(e);
      adjacencyOf = &g;
    }
    return adjacency;
  }

  /// A lift kind with its argument: the kinds spelled `c.name` are told
  /// apart by the name of the one argument given (Kinds.def).
  std::optional<EdgeLift> liftKind(const Call &c, const Scope &scope) {
    if (c.name == keyword(LiftKind::Explicit))
      return explicitLift(c);
    std::vector<StringRef> params;
    for (const KindRow &r : kindRows<LiftKind>())
      if (r.keyword == c.name && !r.param.empty())
        params.push_back(StringRef(r.param.data(), r.param.size()));
    bool known = bool(parseKind<LiftKind>(c.name));
    if (!known) {
      std::string hint = closestMatch(c.name, keywords<LiftKind>());
      diags.error(c.loc, "unknown lift kind '" + c.name + "'" +
                             (hint.empty() ? "" : "; did you mean '" + hint + "'?") +
                             " (kinds: " + lift::liftKindSynopsis() + ")");
      return std::nullopt;
    }
    auto a = ev.namedArgs(c, scope, params);
    if (!a)
      return std::nullopt;
    std::string param;
    if (!params.empty()) {
      if (a->size() != 1) {
        std::string names;
        for (size_t i = 0; i < params.size(); ++i)
          names += (i ? i + 1 == params.size() ? " or " : ", " : "") + ("'" + params[i] + "'").str();
        diags.error(c.loc, c.name + " needs exactly one of " + names);
        return std::nullopt;
      }
      param = a->begin()->getKey().str();
    }
    EdgeLift k;
    k.loc = c.loc;
    k.setting.kind = *liftKindFor(c.name, param);
    if (!param.empty()) {
      Number value = a->begin()->getValue();
      std::string why = lift::liftKindRules(k.setting.kind)
                            .setParam(value.isInt, value.i, value.f, k.setting);
      if (!why.empty()) {
        diags.error(c.loc, why);
        return std::nullopt;
      }
    }
    return k;
  }

  /// `explicit(file = "edges.npy")`: the edges the file lists (a path
  /// relative to the blueprint's folder).
  std::optional<EdgeLift> explicitLift(const Call &c) {
    if (c.args.size() != 1 || c.args[0].name != "file" || c.args[0].value) {
      diags.error(c.loc, "explicit needs its file: explicit(file = \"edges.npy\")");
      return std::nullopt;
    }
    EdgeLift k;
    k.loc = c.loc;
    k.setting.kind = LiftKind::Explicit;
    k.setting.file = c.args[0].text;
    SmallString<256> path(k.setting.file);
    if (!sys::path::is_absolute(path)) {
      SourceMgr &sm = diags.sourceMgr();
      StringRef blueprint = sm.getMemoryBuffer(sm.FindBufferContainingLoc(c.loc))->getBufferIdentifier();
      path = sys::path::parent_path(blueprint);
      sys::path::append(path, k.setting.file);
    }
    if (std::string why = readEdgeList(std::string(path), k.setting); !why.empty()) {
      diags.error(c.args[0].loc, why);
      return std::nullopt;
    }
    return k;
  }

  void setting(const SettingStmt &s, const Scope &scope, const BaseGraph &g, LiftSpec &spec) {
    const Call &c = s.value;
    if (s.key == SettingStmt::Key::Readout) {
      if (once("readout", s.loc, "readout"))
        return;
      auto r = parseKind<Readout>(c.name);
      if (!r) {
        std::string hint = closestMatch(c.name, keywords<Readout>());
        diags.error(c.loc, "unknown readout '" + c.name + "'" +
                               (hint.empty() ? "" : "; did you mean '" + hint + "'?") +
                               " (readouts: " + keywordList<Readout>(", ") + ")");
        return;
      }
      if (ev.namedArgs(c, scope, {}))
        spec.readout = *r;
      return;
    }
    if (s.bias)
      return biasInit(s, scope, g, spec);
    if (!s.chain.empty())
      return edgeInit(s, scope, g, spec);
    if (once("init", s.loc, "initialisation"))
      return;
    if (auto law = initLaw(c, scope))
      spec.init = *law;
  }

  /// `init A -> B: LAW;` the law of the weighted edges it selects.
  void edgeInit(const SettingStmt &s, const Scope &scope, const BaseGraph &g, LiftSpec &spec) {
    auto law = initLaw(s.value, scope);
    for (unsigned e : selectEdges(s.chain, scope, g)) {
      const BaseEdge &be = g.edges[e];
      if (!hasWeights(be.map)) {
        diags.error(s.chain.front().front().loc,
                    "edge '" + g.vertices[be.src].name + " -> " + g.vertices[be.dst].name +
                        "' (" + keyword(be.map) + ") has no weights to initialise");
        return;
      }
      if (law) {
        spec.edgeInits[e] = *law;
        initLoc[e] = s.loc;
      }
    }
  }

  /// `init bias V: LAW;` the law of the biases of the vertices it lists.
  void biasInit(const SettingStmt &s, const Scope &scope, const BaseGraph &g, LiftSpec &spec) {
    auto law = initLaw(s.value, scope);
    auto vertices = ev.resolveVertices(s.chain.front(), scope, g);
    if (!vertices)
      return;
    for (unsigned v : *vertices) {
      const BaseVertex &bv = g.vertices[v];
      if (!bv.bias || bv.role == Role::Input || bv.act == Activation::LayerNorm) {
        diags.error(s.chain.front().front().loc,
                    "vertex '" + bv.name + "' has no bias to initialise" +
                        (bv.role == Role::Input ? " (an input)"
                         : bv.act == Activation::LayerNorm
                             ? " (layernorm's shifts start at zero, its gains at one)"
                             : " (it is declared nobias)"));
        return;
      }
      if (law)
        spec.biasInits[v] = *law;
    }
  }

  /// `normal(scale = s)` or `uniform(scale = s)`, s > 0 (default 1).
  std::optional<lift::InitSetting> initLaw(const Call &c, const Scope &scope) {
    auto law = parseKind<InitLaw>(c.name);
    if (!law) {
      std::string hint = closestMatch(c.name, keywords<InitLaw>());
      diags.error(c.loc, "unknown initialisation law '" + c.name + "'" +
                             (hint.empty() ? "" : "; did you mean '" + hint + "'?") +
                             " (laws: " + keywordList<InitLaw>(", ") + ")");
      return std::nullopt;
    }
    auto a = ev.namedArgs(c, scope, {"scale"});
    if (!a)
      return std::nullopt;
    lift::InitSetting init{*law, 1.0};
    if (a->count("scale")) {
      double scale = a->lookup("scale").asDouble();
      if (!(scale > 0) || !std::isfinite(scale)) {
        diags.error(c.loc, "init scale must be positive, got " + a->lookup("scale").str());
        return std::nullopt;
      }
      init.scale = scale;
    }
    return init;
  }

  /// Rules that need the whole lift: degrees against fiber sizes, equal
  /// fibers for diagonal lifts; and a warning when fibers shrink with depth.
  void validate(const BaseGraph &g, const LiftSpec &spec) {
    for (unsigned e = 0; e < g.edges.size(); ++e) {
      const BaseEdge &be = g.edges[e];
      const EdgeLift &k = spec.edges[e];
      const BaseVertex &src = g.vertices[be.src];
      const std::string &u = src.name, &v = g.vertices[be.dst].name;
      // A sparse lift from an unlifted input reads its components as copies.
      int64_t nu = lift::readsComponents(src.role, spec.copies[be.src], src.dim, be.map, k.setting)
                       ? src.dim
                       : spec.copies[be.src];
      std::string why = lift::liftKindRules(k.setting.kind)
                            .check(nu, spec.copies[be.dst], k.setting, "'" + u + " -> " + v + "'",
                                   u);
      if (!why.empty())
        diags.error(k.loc, why);
    }
    // Tied edges share one weight per lifted edge, so they must be lifted alike.
    StringMap<unsigned> firstOfGroup;
    for (unsigned e = 0; e < g.edges.size(); ++e) {
      const BaseEdge &be = g.edges[e];
      if (be.share.empty())
        continue;
      auto [it, fresh] = firstOfGroup.try_emplace(be.share, e);
      if (fresh)
        continue;
      const BaseEdge &first = g.edges[it->second];
      const EdgeLift &a = spec.edges[e], &b = spec.edges[it->second];
      if (a.setting.kind != b.setting.kind || a.setting.degree != b.setting.degree ||
          a.setting.prob != b.setting.prob ||
          spec.copies[be.src] != spec.copies[first.src] ||
          spec.copies[be.dst] != spec.copies[first.dst]) {
        diags.error(a.loc, "edges sharing weights '" + be.share + "' must be lifted alike "
                           "(same lift kind and fiber sizes): '" + g.vertices[be.src].name +
                           " -> " + g.vertices[be.dst].name + "' differs from '" +
                           g.vertices[first.src].name + " -> " + g.vertices[first.dst].name +
                           "'");
      }
      if (spec.edgeInits[e] != spec.edgeInits[it->second]) {
        unsigned set = spec.edgeInits[e] ? e : it->second; // where an `init` names one
        diags.error(initLoc[set], "edges sharing weights '" + be.share +
                                      "' must be initialised alike: '" +
                                      g.vertices[first.src].name + " -> " +
                                      g.vertices[first.dst].name + "' and '" +
                                      g.vertices[be.src].name + " -> " +
                                      g.vertices[be.dst].name + "' have different laws");
      }
    }
    std::vector<bool> warned(g.vertices.size(), false);
    for (const BaseEdge &be : g.edges) {
      const BaseVertex &u = g.vertices[be.src], &v = g.vertices[be.dst];
      if (u.role != Role::Hidden || v.role != Role::Hidden || warned[be.dst])
        continue;
      // A vertex left unlifted (one copy) merging lifted copies, as a
      // transformer's residual stream sums its heads, is a design, not a
      // shrinking fiber.
      if (spec.copies[be.dst] > 1 && spec.copies[be.dst] < spec.copies[be.src]) {
        warned[be.dst] = true;
        diags.warning(sizeLoc[be.dst], "the fiber of '" + v.name + "' (" +
                                           Twine(spec.copies[be.dst]) +
                                           " copies) is smaller than that of its source '" +
                                           u.name + "' (" + Twine(spec.copies[be.src]) +
                                           "); lifts whose fibers shrink with depth are "
                                           "expected to train badly");
      }
    }
  }

  const Scope &globals;
  CheckedProgram &out;
  DiagEngine &diags;
  Evaluator ev;
  StringMap<SMLoc> names, settings;
  std::vector<SMLoc> sizeLoc, initLoc; ///< per base vertex, per base edge
  std::vector<bool> explicitEdge;
  const BaseGraph *adjacencyOf = nullptr; ///< whose out-edges `adjacency` holds
  std::vector<std::vector<unsigned>> adjacency;
};

} // namespace

void elaborateLifts(const Program &program, const Scope &globals, CheckedProgram &out,
                    DiagEngine &diags) {
  StringSet<> declared;
  for (const DeclPtr &d : program.decls)
    if (const auto *m = dyn_cast<ModuleDecl>(d.get()))
      declared.insert(m->name);
  LiftElaborator elaborator(globals, out, diags);
  for (const DeclPtr &d : program.decls)
    if (const auto *l = dyn_cast<LiftDecl>(d.get()))
      elaborator.lift(*l, declared.count(l->module));
}

} // namespace rslc
