//===- ElaborateModule.cpp - modules to flat base graphs ------------------===//
//
// Expands vertex families, edge chains, loops, conditionals and module
// instances (`use m as b;`) into BaseGraphs. An instance's vertices are named
// `b.v`; its inputs become pass-through hidden vertices (identity, no bias)
// and its outputs ordinary hidden vertices. Shared weight groups are scoped
// by instance (`b.w`).
//
//===----------------------------------------------------------------------===//
#include "Sema/Sema.h"

#include "llvm/ADT/StringSet.h"

#include "core/EdgeMaps.h"
#include "core/LiftedGraph.h"

using namespace llvm;
using namespace rslc::ast;

namespace rslc {

namespace {

constexpr size_t maxBaseVertices = 1'000'000, maxBaseEdges = 10'000'000;
/// Over all modules (instances copy whole modules, so a chain of modules
/// can grow quadratically): vertices and edges created, and bytes of names.
constexpr uint64_t maxTotalItems = 2 * maxBaseEdges, maxNameBytes = uint64_t(256) << 20;
/// Modules using modules recurse: `use` chains deeper than this are refused.
constexpr size_t maxUseDepth = 256;
/// Components per copy of one vertex (a shape's product must fit 64 bits;
/// the lift's estimate refuses what memory cannot hold).
constexpr int64_t maxVertexDim = int64_t(1) << 62;

class ModuleElaborator {
public:
  ModuleElaborator(const Program &program, const Scope &globals, CheckedProgram &out,
                   DiagEngine &diags)
      : globals(globals), out(out), diags(diags), ev(diags) {
    for (const DeclPtr &d : program.decls)
      if (const auto *m = dyn_cast<ModuleDecl>(d.get())) {
        auto [it, fresh] = decls.try_emplace(m->name, m);
        if (!fresh) {
          diags.error(m->loc, "duplicate module '" + m->name + "'");
          diags.note(it->second->loc, "previous definition is here");
        } else {
          order.push_back(m);
        }
      }
  }

  void run() {
    for (const ModuleDecl *m : order)
      elaborate(*m);
    for (const ModuleDecl *m : order)
      if (auto it = built.find(m->name); it != built.end() && it->second)
        out.modules.push_back(std::move(it->second));
  }

private:
  /// Elaborates a module once; null if it had errors.
  BaseGraph *elaborate(const ModuleDecl &m) {
    if (auto it = built.find(m.name); it != built.end())
      return it->second.get();
    inProgress.insert(m.name);
    auto g = std::make_unique<BaseGraph>();
    g->name = m.name;
    g->loc = m.loc;
    unsigned before = diags.numErrors();
    ev.walk(m.body, globals, [&](const Stmt &s, const Scope &scope) { stmt(s, scope, *g); });
    inProgress.erase(m.name);
    // A module with a skipped instance failed too, though only a note says so.
    if (diags.numErrors() != before || stopped || broken.count(m.name))
      g.reset();
    return (built[m.name] = std::move(g)).get();
  }

  /// False (reported once) when `g`, after adding `vertices` and `edges`
  /// more, or all modules together would pass the limits. Statements ask
  /// before adding, so an oversized one is refused before it allocates, and
  /// their loops ask again as they go.
  bool withinLimits(const BaseGraph &g, SMLoc loc, double vertices = 0, double edges = 0) {
    if (stopped || tooLarge.count(g.name))
      return false;
    if (double(g.vertices.size()) + vertices > maxBaseVertices ||
        double(g.edges.size()) + edges > maxBaseEdges) {
      if (tooLarge.insert(g.name).second)
        diags.error(loc, "module '" + g.name + "' expands to more than " +
                             Twine(maxBaseVertices) + " vertices or " + Twine(maxBaseEdges) +
                             " edges; a base graph should be small (use a lift for width)");
      return false;
    }
    if (double(totalItems) + vertices + edges > maxTotalItems || nameBytes > maxNameBytes) {
      diags.error(loc, "the modules expand to more than " + Twine(maxTotalItems) +
                           " vertices and edges, or " + Twine(maxNameBytes >> 20) +
                           " MiB of names, in all; a base graph should be small (use a lift "
                           "for width)");
      stopped = true;
      return false;
    }
    return true;
  }

  void stmt(const Stmt &s, const Scope &scope, BaseGraph &g) {
    if (!withinLimits(g, s.loc))
      return;
    switch (s.kind) {
    case Stmt::Kind::Vertex:
      return vertexDecl(cast<VertexDecl>(s), scope, g);
    case Stmt::Kind::Edge:
      return edgeStmt(cast<EdgeStmt>(s), scope, g);
    case Stmt::Kind::Use:
      return useStmt(cast<UseStmt>(s), scope, g);
    case Stmt::Kind::Size:
    case Stmt::Kind::Edges:
    case Stmt::Kind::Setting:
    case Stmt::Kind::Seed:
      diags.error(s.loc, "lift settings (size, edges, readout, init, seed) belong in a "
                         "'lift ... of " + g.name + "' block, not in the module");
      return;
    case Stmt::Kind::For:
    case Stmt::Kind::If:
      internalError("control flow reached a leaf statement");
    }
  }

  void vertexDecl(const VertexDecl &d, const Scope &scope, BaseGraph &g) {
    BaseVertex proto;
    proto.role = d.role == VertexRole::Input    ? Role::Input
                 : d.role == VertexRole::Output ? Role::Output
                                                : Role::Hidden;
    proto.bias = proto.role != Role::Input;
    bool haveDim = false, haveAct = false, haveBias = false, haveAgg = false, haveCausal = false;
    auto dimension = [&](SMLoc loc, lift::Shape shape) {
      if (haveDim) {
        diags.error(loc, "vertex dimension given twice");
        return;
      }
      haveDim = true;
      proto.shape = std::move(shape);
      proto.dim = lift::shapeSize(proto.shape);
    };
    for (const VertexAttr &attr : d.attrs) {
      if (!attr.expr) { // a shape
        if (auto shape = evalShape(attr, scope))
          dimension(attr.loc, std::move(*shape));
        continue;
      }
      const Expr &a = *attr.expr;
      const auto *word = dyn_cast<NameExpr>(&a);
      const auto *func = dyn_cast<FuncExpr>(&a);
      bool isWord = word && !scope.lookup(word->name);
      bool isWordCall = func && parseKind<Activation>(func->name);
      if (!isWord && !isWordCall) { // a dimension
        auto dim = ev.evalInt(a, scope, "a vertex dimension");
        if (!dim)
          continue;
        if (*dim <= 0) {
          diags.error(a.loc, "vertex dimension must be positive, got " + Twine(*dim));
          haveDim = true;
          continue;
        }
        dimension(a.loc, {*dim});
        continue;
      }
      StringRef w = isWord ? StringRef(word->name) : StringRef(func->name);
      std::string_view sv(w.data(), w.size());
      std::optional<Activation> act = parseKind<Activation>(sv);
      std::optional<Aggregation> agg = parseKind<Aggregation>(sv);
      bool isBias = w == "bias" || w == "nobias", isCausal = w == "causal";
      if (!act && !isBias && !agg && !isCausal) {
        std::vector<std::string_view> words = keywords<Activation>();
        words.insert(words.end(), {"bias", "nobias", "causal"});
        for (std::string_view k : keywords<Aggregation>())
          words.push_back(k);
        std::string hint = closestMatch(w, words);
        diags.error(a.loc, "unknown activation or vertex attribute '" + w + "'" +
                               (hint.empty() ? "" : "; did you mean '" + hint + "'?") +
                               " (activations: " + keywordList<Activation>(", ") +
                               "; also bias, nobias, causal, " +
                               keywordList<Aggregation>(", ") + ")");
        continue;
      }
      if (proto.role == Role::Input) {
        diags.error(a.loc, "input vertices take data: they have no activation, bias or "
                           "aggregation ('" + w + "')");
        continue;
      }
      bool &seen = act ? haveAct : isBias ? haveBias : isCausal ? haveCausal : haveAgg;
      if (seen)
        diags.error(a.loc, "conflicting vertex attribute '" + w + "'");
      seen = true;
      if (act) {
        proto.act = *act;
        if (func && !activationArgument(*func, scope, proto))
          continue;
      } else if (isBias) {
        proto.bias = w == "bias";
      } else if (isCausal) {
        proto.causal = true;
      } else {
        proto.agg = *agg;
      }
    }
    if (proto.act == Activation::LayerNorm) {
      if (haveBias && proto.bias)
        diags.error(d.loc, "a layernorm vertex has its own shift (beta): it takes no bias");
      proto.bias = false;
    }
    if (proto.act == Activation::Softmax || proto.act == Activation::LayerNorm ||
        proto.agg == Aggregation::Attention) {
      if (proto.axis >= int64_t(proto.shape.size()))
        diags.error(d.loc, "softmax axis " + Twine(proto.axis) + " is not an axis of shape " +
                               shapeText(proto.shape));
    }
    if (proto.causal && proto.agg != Aggregation::Attention)
      diags.error(d.loc, "'causal' applies to attention vertices only");
    if (proto.agg == Aggregation::Attention && proto.shape.size() != 2)
      diags.error(d.loc, "an attention vertex has a shape [T, d] (tokens, components), not " +
                             shapeText(proto.shape));
    for (const Ref &r : d.names) {
      auto names = ev.expand(r, scope);
      if (!names || !withinLimits(g, r.loc, double(names->size())))
        continue;
      for (ExpandedRef &n : *names) {
        if (!withinLimits(g, n.loc))
          return;
        BaseVertex v = proto;
        v.name = n.name;
        v.loc = n.loc;
        addVertex(std::move(v), g);
      }
    }
  }

  /// The extents of a shape attribute `[a, b, ...]`, each positive, their
  /// product at most maxVertexDim; nullopt after an error.
  std::optional<lift::Shape> evalShape(const VertexAttr &attr, const Scope &scope) {
    lift::Shape shape;
    double size = 1;
    bool ok = true;
    for (const ExprPtr &e : attr.shape) {
      auto extent = ev.evalInt(*e, scope, "a shape extent");
      if (!extent) {
        ok = false;
        continue;
      }
      if (*extent <= 0) {
        diags.error(e->loc, "shape extents must be positive, got " + Twine(*extent));
        ok = false;
        continue;
      }
      size *= double(*extent);
      shape.push_back(*extent);
    }
    if (ok && attr.shape.size() > 8) {
      diags.error(attr.loc, "a shape has at most 8 axes, got " + Twine(attr.shape.size()));
      return std::nullopt;
    }
    if (ok && size > double(maxVertexDim)) {
      diags.error(attr.loc, "shape " + shapeText(shape) + " has " + lift::countText(size) +
                                " components; a vertex has at most " + Twine(maxVertexDim));
      return std::nullopt;
    }
    if (!ok)
      return std::nullopt;
    return shape;
  }

  /// `softmax(A)`: the axis. Other activations take no argument.
  bool activationArgument(const FuncExpr &f, const Scope &scope, BaseVertex &v) {
    if (v.act != Activation::Softmax || f.args.size() != 1) {
      diags.error(f.loc, v.act == Activation::Softmax
                             ? "softmax takes one argument, the axis: softmax(A)"
                             : "activation '" + f.name + "' takes no argument");
      return false;
    }
    auto axis = ev.evalInt(*f.args[0], scope, "a softmax axis");
    if (!axis)
      return false;
    if (*axis < 0) {
      diags.error(f.args[0]->loc, "softmax axis must be non-negative, got " + Twine(*axis));
      return false;
    }
    v.axis = *axis;
    return true;
  }

  void addVertex(BaseVertex v, BaseGraph &g) {
    ++totalItems;
    nameBytes += v.name.size();
    std::string name = v.name;
    SMLoc loc = v.loc;
    if (!g.addVertex(std::move(v))) {
      diags.error(loc, "duplicate vertex '" + name + "'");
      diags.note(g.vertices[*g.find(name)].loc, "previous declaration is here");
    }
  }

  void edgeStmt(const EdgeStmt &s, const Scope &scope, BaseGraph &g) {
    BaseEdge proto;
    bool haveMap = false;
    for (const EdgeAttr &a : s.attrs) {
      if (a.share) {
        auto names = ev.expand(*a.share, scope);
        if (!names)
          continue;
        if (names->size() != 1) {
          diags.error(a.loc, "a shared weight group needs a single name, not a range");
          continue;
        }
        if (!proto.share.empty())
          diags.error(a.loc, "an edge can share only one weight group");
        proto.share = names->front().name;
        continue;
      }
      const Call &c = a.map;
      auto map = parseKind<MapKind>(c.name);
      if (!map) {
        std::string hint = closestMatch(c.name, keywords<MapKind>());
        diags.error(a.loc, "unknown edge map '" + c.name + "'" +
                               (hint.empty() ? "" : "; did you mean '" + hint + "'?") +
                               " (maps: " + keywordList<MapKind>(", ") +
                               "; weight tying: share NAME)");
        continue;
      }
      if (haveMap)
        diags.error(a.loc, "conflicting edge map '" + c.name + "'");
      haveMap = true;
      proto.map = *map;
      std::vector<StringRef> allowed;
      for (std::string_view n : mapArgNames(*map))
        allowed.push_back(StringRef(n.data(), n.size()));
      auto args = ev.namedArgs(c, scope, allowed);
      if (!args)
        continue;
      std::vector<std::pair<std::string, int64_t>> values;
      bool integers = true;
      for (auto &kv : *args) {
        if (!kv.getValue().isInt) {
          diags.error(c.loc, "argument '" + kv.getKey() + "' of " + c.name +
                                 " must be an integer, got " + kv.getValue().str());
          integers = false;
        }
        values.push_back({kv.getKey().str(), kv.getValue().i});
      }
      if (!integers)
        continue;
      if (std::string why = setMapParams(*map, values, proto.params); !why.empty())
        diags.error(c.loc, why);
    }
    // Edges into an instance that was skipped (and reported) would only
    // repeat that error as undefined vertices.
    for (const RefList &l : s.chain)
      for (const Ref &r : l)
        if (r.parts.size() > 1 && skipped.count(g.name + "\n" + r.parts.front().name))
          return;
    std::vector<std::optional<std::vector<unsigned>>> lists;
    for (const RefList &l : s.chain)
      lists.push_back(ev.resolveVertices(l, scope, g));
    for (size_t k = 0; k + 1 < lists.size(); ++k) {
      if (!lists[k] || !lists[k + 1])
        continue;
      if (!withinLimits(g, s.chain[k + 1].front().loc, 0,
                        double(lists[k]->size()) * double(lists[k + 1]->size())))
        return;
      for (unsigned src : *lists[k])
        for (unsigned dst : *lists[k + 1]) {
          if (!withinLimits(g, s.chain[k + 1].front().loc))
            return;
          BaseEdge e = proto;
          e.src = src;
          e.dst = dst;
          e.loc = s.chain[k + 1].front().loc;
          addEdge(std::move(e), g);
        }
    }
  }

  void addEdge(BaseEdge e, BaseGraph &g) {
    ++totalItems;
    nameBytes += e.share.size();
    unsigned src = e.src, dst = e.dst;
    SMLoc loc = e.loc;
    if (!g.addEdge(std::move(e))) {
      diags.error(loc, "duplicate edge '" + g.vertices[src].name + " -> " +
                           g.vertices[dst].name + "'");
      diags.note(g.edges[*g.findEdge(src, dst)].loc, "previous edge is here");
    }
  }

  void useStmt(const UseStmt &s, const Scope &scope, BaseGraph &g) {
    auto it = decls.find(s.module);
    if (it == decls.end()) {
      std::vector<StringRef> all;
      for (auto &kv : decls)
        all.push_back(kv.getKey());
      std::string hint = closestMatch(s.module, all);
      diags.error(s.moduleLoc, "undefined module '" + s.module + "'" +
                                   (hint.empty() ? "" : "; did you mean '" + hint + "'?"));
      return;
    }
    if (inProgress.count(s.module)) {
      diags.error(s.moduleLoc, "module '" + s.module + "' uses itself (directly or through "
                               "other modules)");
      return;
    }
    if (inProgress.size() >= maxUseDepth) {
      diags.error(s.moduleLoc, "modules nested through 'use' more than " + Twine(maxUseDepth) +
                                   " levels deep");
      skipped.insert(g.name + "\n" + s.as.parts.front().name), broken.insert(g.name);
      return;
    }
    BaseGraph *sub = elaborate(*it->second);
    if (!sub) {
      diags.note(s.moduleLoc, "module '" + s.module + "' has errors; instance skipped");
      skipped.insert(g.name + "\n" + s.as.parts.front().name), broken.insert(g.name);
      return;
    }
    auto instances = ev.expand(s.as, scope);
    if (!instances)
      return;
    double copies = double(instances->size());
    if (!withinLimits(g, s.as.loc, copies * double(sub->vertices.size()),
                      copies * double(sub->edges.size())))
      return;
    for (const ExpandedRef &inst : *instances) {
      std::vector<unsigned> map(sub->vertices.size());
      for (unsigned v = 0; v < sub->vertices.size(); ++v) {
        if (!withinLimits(g, inst.loc))
          return;
        BaseVertex copy = sub->vertices[v];
        copy.name = inst.name + "." + copy.name;
        copy.loc = inst.loc;
        if (copy.role == Role::Input)
          copy.act = Activation::Identity, copy.bias = false;
        copy.role = Role::Hidden;
        map[v] = g.vertices.size();
        addVertex(std::move(copy), g);
        map[v] = *g.find(inst.name + "." + sub->vertices[v].name);
      }
      for (const BaseEdge &e : sub->edges) {
        if (!withinLimits(g, inst.loc))
          return;
        BaseEdge copy = e;
        copy.src = map[e.src];
        copy.dst = map[e.dst];
        if (!copy.share.empty())
          copy.share = inst.name + "." + copy.share;
        addEdge(std::move(copy), g);
      }
    }
  }

  const Scope &globals;
  CheckedProgram &out;
  DiagEngine &diags;
  Evaluator ev;
  StringMap<const ModuleDecl *> decls;
  std::vector<const ModuleDecl *> order;
  StringMap<std::unique_ptr<BaseGraph>> built;
  StringSet<> inProgress, tooLarge;
  StringSet<> skipped; ///< "module\ninstance": instances not expanded (after an error)
  StringSet<> broken;  ///< modules with a skipped instance
  uint64_t totalItems = 0, nameBytes = 0;
  bool stopped = false; ///< the limits over all modules were passed
};

} // namespace

void elaborateModules(const Program &program, const Scope &globals, CheckedProgram &out,
                      DiagEngine &diags) {
  ModuleElaborator(program, globals, out, diags).run();
}

} // namespace rslc
