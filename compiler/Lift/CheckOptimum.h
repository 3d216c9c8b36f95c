//===- CheckOptimum.h - `--check-optimum`: LU patterns between layers -----===//
//
// Seed 003 (Le, Riccietti & Gribonval, NeurIPS 2023): a network whose
// weights have fixed supports can have training problems without an
// optimum. Their criterion concerns the linear counterpart: the products
// W_out * W_in of matrices with those supports. When that set is not closed,
// some data have no best fit and gradient flow sends |theta| to infinity.
// Deciding closedness exactly takes real quantifier elimination (doubly
// exponential); this pass looks for certificates instead.
//
//===----------------------------------------------------------------------===//
#ifndef RSLC_LIFT_CHECKOPTIMUM_H
#define RSLC_LIFT_CHECKOPTIMUM_H

#include "core/LiftedGraph.h"

#include <cstdint>
#include <string>
#include <vector>

namespace rslc::lift {

/// One row, column or inner index of a layer's product: copy `copy` of base
/// vertex `vertex` (for an input read by components, the component).
struct LayerIndex {
  uint32_t vertex = 0;
  uint64_t copy = 0;
};

/// What the pass found at one layer: hidden vertices joined by a shared
/// source or target vertex, between the sources and the targets of their
/// edges.
struct OptimumReport {
  enum class Kind {
    Pattern, ///< an LU certificate: the products are not closed
    None,    ///< examined, no certificate (which proves nothing)
    TooLarge ///< not examined: more work than the budget, or lists beyond 2e7 entries
  };
  Kind kind = Kind::None;
  std::vector<uint32_t> layer; ///< its hidden vertices
  uint64_t innerCopies = 0;    ///< their copies
  /// Pattern: inner copy k is the only path of the cells (i1, j1), (i1, j2)
  /// and (i2, j1), while the cell (i2, j2) also has the path through inner
  /// copy `other` (vertex ~0u: an edge from j2's vertex to i2's that skips
  /// the layer); `copiesWithPattern` inner copies are such a k.
  LayerIndex k, other, i1, i2, j1, j2;
  uint64_t copiesWithPattern = 0;
  double work = 0; ///< TooLarge: the work it would take
};

/// The inner vertices of layers: hidden, relu or identity, summing, one
/// component per copy, whose in- and out-edges are all untied linear edges
/// between one-axis vertices. A layer of one vertex whose in-edges (or
/// out-edges) are all `full` has as many paths in every cell of a row (or
/// column): it is reported None without a search.
std::vector<OptimumReport> checkOptimum(const LiftedGraph &g, double budget = 4e9);

/// True if the base graph has one hidden layer (hidden vertices read only
/// inputs and feed only outputs), relu or identity hidden vertices and a
/// scalar output: the paper proves every training problem then has an optimum.
bool shallowScalarOutput(const LiftPlan &p);

} // namespace rslc::lift

#endif
