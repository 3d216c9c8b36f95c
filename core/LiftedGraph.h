//===- LiftedGraph.h - the lifted sparse graph IR --------------------------===//
//
// The concrete graph G with its homomorphism pi : G -> B. Copies of base
// vertex v are the global indices copyOffset[v] .. copyOffset[v+1]-1, so pi
// is implicit in the offsets. For each base edge the lifted edges between
// the two fibers are stored by target copy (forward) and by source copy
// (transposed, for the backward pass without atomics).
//
// Rows have one layout whatever the lift kind (LiftKinds.h chooses it):
//  - row j holds the forward positions [rowBegin(j), rowEnd(j)): fixed rows
//    of `rowLength` positions, or rows delimited by rowPtr (rowLength 0);
//  - explicit rows store their sources in `col`; implicit rows read the
//    sources j*stride .. j*stride + rowLength - 1, with stride 0 (every row
//    reads the whole source fiber) or stride == rowLength (disjoint blocks).
//
// Invariants (checked by verify()):
//  - the layout is the one the lift kind gives for the fiber sizes;
//  - explicit rows are sorted, without duplicates, with sources < nu, and
//    the transposed structure lists every forward position exactly once,
//    by source copy, in ascending target copy;
//  - tensors tile [0, numParams) in order; tied edges have identical
//    structure and share one tensor.
//
//===----------------------------------------------------------------------===//
#ifndef RSLC_CORE_LIFTEDGRAPH_H
#define RSLC_CORE_LIFTEDGRAPH_H

#include "BigArray.h"
#include "LiftPlan.h"

#include <cstdint>
#include <string>
#include <vector>

namespace rslc::lift {

/// How the rows of one lifted edge are laid out (see the file comment).
struct RowLayout {
  bool explicitRows = false;
  int64_t rowLength = 0; ///< 0: rows vary, see rowPtr
  int64_t stride = 0;    ///< implicit rows only: 0 or rowLength
  bool operator==(const RowLayout &o) const {
    return explicitRows == o.explicitRows && rowLength == o.rowLength && stride == o.stride;
  }
};

struct LiftedEdge {
  LiftKind kind = LiftKind::Full;
  int64_t nu = 0, nv = 0; ///< fiber sizes of source and target
  RowLayout layout;
  uint64_t count = 0; ///< lifted edges

  /// Forward rows (explicit layouts): sources in col, row pointers when rows vary.
  BigArray<uint64_t> rowPtr;
  BigArray<uint32_t> col;

  /// Transposed (explicit layouts), by source copy i: entries tPtr[i] ..
  /// tPtr[i+1], each the target copy (tRow) and forward position (tPos) of
  /// one lifted edge.
  BigArray<uint64_t> tPtr;
  BigArray<uint32_t> tRow, tPos;

  uint64_t rowBegin(int64_t j) const {
    return layout.rowLength ? uint64_t(j) * uint64_t(layout.rowLength) : rowPtr[j];
  }
  uint64_t rowEnd(int64_t j) const { return rowBegin(j + 1); }
  /// The source copy of the lifted edge at forward position q of row j.
  uint64_t sourceAt(int64_t j, uint64_t q) const {
    return layout.explicitRows ? col[q] : q - rowBegin(j) + uint64_t(j) * layout.stride;
  }
  /// Lifted edges leaving source copy i.
  uint64_t outDegree(int64_t i) const {
    if (layout.explicitRows)
      return tPtr[i + 1] - tPtr[i];
    return layout.stride == 0 ? uint64_t(nv) : 1;
  }
};

/// One parameter tensor: a weight group, or a vertex's own parameters (its
/// biases, or layernorm's gains and shifts).
struct ParamTensor {
  std::string name;
  uint64_t offset = 0, size = 0;
  bool ofVertex = false;
  uint32_t owner = 0; ///< weight group, or vertex
};

struct LiftedGraph {
  LiftPlan plan;
  std::vector<uint64_t> copyOffset; ///< per base vertex, plus the total
  std::vector<LiftedEdge> edges;    ///< per base edge
  std::vector<ParamTensor> tensors; ///< weight groups (by group id), then vertices'
  std::vector<int64_t> vertexTensor; ///< per base vertex, -1 without parameters
  uint64_t numParams = 0;

  uint64_t numCopies() const { return copyOffset.back(); }
  uint64_t numLiftedEdges() const;
  /// Bytes held by the index arrays.
  uint64_t structureBytes() const;
  /// Weights per lifted edge of base edge e (d_v*d_u, d, or 0 for skip).
  uint64_t weightsPerEdge(size_t e) const;
};

/// What a lift will cost, computed from the plan alone (before allocating).
/// Counts are doubles: an absurd lift (2^62 copies of a vertex of dimension
/// 2^62) must be measured and refused, not wrapped around to a small number.
struct SizeEstimate {
  double liftedEdges = 0, parameters = 0, structureBytes = 0;
  double activations = 0; ///< values per sample over all vertex copies
  double bytes() const { return structureBytes + 4 * parameters; }
  std::string error; ///< non-empty if the lift exceeds what the IR can index
};
/// Parameters and activations per sample beyond this are refused (as not
/// supported): every size product downstream then fits 64 bits.
constexpr double maxValues = double(uint64_t(1) << 48);
/// Copies and positions are indexed with 32 bits.
constexpr uint64_t maxIndex = 0xffffffffull;
SizeEstimate estimate(const LiftPlan &plan);
/// A count for messages: exact below 9e18, else like "1.23e+37".
std::string countText(double x);

/// The exact number of parameters of the lifted graph expand(plan) builds,
/// without building it (rows of random length are counted).
uint64_t countParameters(const LiftPlan &plan);

/// Builds the lifted graph (OpenMP-parallel; the result does not depend on
/// the thread count). The plan must come from a checked blueprint (or pass
/// Build.h's checks).
LiftedGraph expand(const LiftPlan &plan);

/// Checks every invariant above; returns one message per violation.
std::vector<std::string> verify(const LiftedGraph &graph);

/// A 64-bit hash of the whole structure (fibers, rows, transposes).
uint64_t structureHash(const LiftedGraph &graph);

/// Fills `params` (numParams floats) with the plan's initialisation: weights
/// ~ scale / sqrt(fan_in) times a standard normal (or a uniform of the same
/// variance), fan_in counted per lifted vertex copy; biases zero; layernorm
/// gains one and shifts zero.
void initParameters(const LiftedGraph &graph, float *params);

} // namespace rslc::lift

#endif
