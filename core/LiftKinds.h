//===- LiftKinds.h - what each lift kind knows, one object per kind -------===//
//
// Everything that depends on the lift kind outside code generation: what it
// requires of the fibers, how many lifted edges it makes, the layout of its
// rows (LiftedGraph.h), how it draws them, and its parameter. Expansion,
// verification, estimation, Sema and the printers ask these objects instead
// of switching on the kind. The kernels' access pattern follows the layout
// (compiler/CodeGen/EmitKernels.cpp).
//
//===----------------------------------------------------------------------===//
#ifndef RSLC_CORE_LIFTKINDS_H
#define RSLC_CORE_LIFTKINDS_H

#include "LiftedGraph.h"

#include <string>

namespace rslc::lift {

class LiftKindRules {
public:
  virtual ~LiftKindRules() = default;

  /// Why `s` cannot lift the edge `edge` (written "'u -> v'") from a fiber of
  /// nu copies of `source` to one of nv copies, or "".
  virtual std::string check(int64_t nu, int64_t nv, const LiftSetting &s, const std::string &edge,
                            const std::string &source) const = 0;
  /// Lifted edges to expect (doubles: an absurd lift must not wrap around).
  virtual double expectedEdges(double nu, double nv, const LiftSetting &s) const = 0;
  /// The rows' layout between fibers of nu and nv copies.
  virtual RowLayout layout(int64_t nu, int64_t nv, const LiftSetting &s) const = 0;
  /// The exact number of lifted edges the rows drawn from (seed, key) hold:
  /// nv * rowLength for fixed rows; kinds with rows of random length count
  /// them (without storing them).
  virtual uint64_t countEdges(int64_t nu, int64_t nv, const LiftSetting &s, uint64_t seed,
                              uint64_t key) const {
    return uint64_t(nv) * uint64_t(layout(nu, nv, s).rowLength);
  }
  /// Explicit layouts: draws the rows into le.col (and le.rowPtr when rows
  /// vary), row j from the stream streamKey(seed, key, j), so rows can be
  /// drawn in any order and on any number of threads.
  virtual void sample(const LiftSetting &s, uint64_t seed, uint64_t key, LiftedEdge &le) const {}

  /// Whether the kind draws each target copy's sources at random (rather
  /// than taking a fixed pattern): such kinds may read the components of an
  /// unlifted input as copies (see readsComponents).
  virtual bool drawsSources() const { return false; }

  /// Sets the parameter from a blueprint's number (`integer` if isInteger,
  /// else `real`); an error message if the value is not allowed. Kinds
  /// without a parameter are never asked.
  virtual std::string setParam(bool isInteger, int64_t integer, double real,
                               LiftSetting &s) const {
    return "";
  }
  /// Why the parameter in `s` is not allowed, or "".
  virtual std::string checkParam(const LiftSetting &s) const { return ""; }
  /// The parameter as a blueprint writes it ("8", "0.25").
  virtual std::string paramText(const LiftSetting &s) const { return ""; }
};

const LiftKindRules &liftKindRules(LiftKind kind);

/// True when an edge's lift reads the components of its source as copies
/// of dimension 1: the source is an unlifted input of dimension > 1, the map
/// linear and the lift kind draws sources. So `edges x -> h: sparse(degree =
/// K)` from `input x: 784` gives each copy of h K of x's 784 components (a
/// sparse input layer); the activation buffer [1][784][batch] is the same
/// memory as [784][1][batch].
bool readsComponents(Role sourceRole, int64_t sourceCopies, int64_t sourceDim, MapKind map,
                     const LiftSetting &s);

/// How an edge's lift and map see its ends: fiber sizes, shapes and
/// dimensions (d_v is the edge's own pre-activation dimension: the
/// source's for the attention roles).
struct EdgeFibers {
  int64_t nu = 1, du = 1, nv = 1, dv = 1;
  Shape uShape = {1}, vShape = {1};
  bool sourceComponents = false; ///< readsComponents
};
EdgeFibers edgeFibers(const LiftPlan &plan, const PlanEdge &e);

/// A lift setting as a blueprint writes it: `full`, `sparse(degree = 8)`.
std::string liftSettingText(const LiftSetting &s);

/// An initialisation law as a blueprint writes it: `normal(scale = 1.0)`.
std::string initSettingText(const InitSetting &s);

/// Every lift kind as docs and messages list them:
/// "full, sparse(degree = K), sparse(prob = P), diagonal".
std::string liftKindSynopsis();

} // namespace rslc::lift

#endif
