//===- Print.h - `--emit=lifted` and `--emit=dot` --------------------------===//
#ifndef RSLC_LIFT_PRINT_H
#define RSLC_LIFT_PRINT_H

#include "core/LiftedGraph.h"

#include "llvm/Support/raw_ostream.h"

namespace rslc::lift {

/// Per base vertex and edge: copies, lifted edges, degree statistics,
/// parameters and bytes; with `edgeList`, every lifted edge as `u#i -> v#j`.
void printSummary(const LiftedGraph &g, bool edgeList, llvm::raw_ostream &os);

/// Lifted edge lists and lifted dot graphs are refused beyond these sizes.
constexpr uint64_t maxListedEdges = 100000;
constexpr uint64_t maxDotCopies = 256, maxDotEdges = 4096;

/// Graphviz: the base graph, then the lifted graph with copies grouped by
/// fiber when it is small enough (see maxDotCopies, maxDotEdges).
void printDot(const LiftedGraph &g, llvm::raw_ostream &os);

} // namespace rslc::lift

#endif
