//===- LiftedGraph.h - the lifted sparse graph IR --------------------------===//
//
// The concrete graph G with its homomorphism pi : G -> B. Copies of base
// vertex v are the global indices copyOffset[v] .. copyOffset[v+1]-1, so pi
// is implicit in the offsets. For each base edge the lifted edges between
// the two fibers are stored by target copy (forward) and by source copy
// (transposed, for the backward pass without atomics).
//
// Invariants (checked by verify()):
//  - forward rows are sorted, without duplicates, with sources < nu;
//  - `degree` lifts have exactly `degree` sources per target copy;
//  - the transposed structure lists every forward position exactly once,
//    by source copy, in ascending target copy;
//  - tensors tile [0, numParams) in order; tied edges have identical
//    structure and share one tensor.
//
//===----------------------------------------------------------------------===//
#ifndef RSLC_LIFT_LIFTEDGRAPH_H
#define RSLC_LIFT_LIFTEDGRAPH_H

#include "Lift/BigArray.h"
#include "Lift/LiftPlan.h"

#include <cstdint>
#include <string>
#include <vector>

namespace rslc::lift {

struct LiftedEdge {
  LiftKind kind = LiftKind::Full;
  int64_t nu = 0, nv = 0; ///< fiber sizes of source and target
  int64_t degree = 0;     ///< sources per target copy (Degree lifts)
  uint64_t count = 0;     ///< lifted edges

  /// Forward, by target copy j. Degree: row j is col[j*degree, (j+1)*degree).
  /// Prob: row j is col[rowPtr[j], rowPtr[j+1]). Full and Diagonal lifts are
  /// implicit (row j = all sources, or just j) and store nothing.
  BigArray<uint64_t> rowPtr;
  BigArray<uint32_t> col;

  /// Transposed, by source copy i: entries tPtr[i] .. tPtr[i+1], each the
  /// target copy (tRow) and the forward position (tPos) of one lifted edge.
  BigArray<uint64_t> tPtr;
  BigArray<uint32_t> tRow, tPos;

  bool isExplicit() const { return kind == LiftKind::Degree || kind == LiftKind::Prob; }
  uint64_t rowBegin(int64_t j) const;
  uint64_t rowEnd(int64_t j) const;
  /// The source copy of the lifted edge at forward position q of row j.
  uint64_t sourceAt(int64_t j, uint64_t q) const {
    return isExplicit() ? col[q] : kind == LiftKind::Full ? q - rowBegin(j) : uint64_t(j);
  }
};

/// One parameter tensor: a weight group or a vertex's biases.
struct ParamTensor {
  std::string name;
  uint64_t offset = 0, size = 0;
  bool isBias = false;
  uint32_t owner = 0; ///< weight group, or vertex for biases
};

struct LiftedGraph {
  LiftPlan plan;
  std::vector<uint64_t> copyOffset; ///< per base vertex, plus the total
  std::vector<LiftedEdge> edges;    ///< per base edge
  std::vector<ParamTensor> tensors; ///< weight groups (by group id), then biases
  std::vector<int64_t> biasTensor;  ///< per base vertex, -1 without bias
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
SizeEstimate estimate(const LiftPlan &plan);
/// A count for messages: exact below 9e18, else like "1.23e+37".
std::string countText(double x);

/// Builds the lifted graph (OpenMP-parallel; the result does not depend on
/// the thread count). The plan must come from a checked blueprint.
LiftedGraph expand(const LiftPlan &plan);

/// Checks every invariant above; returns one message per violation.
std::vector<std::string> verify(const LiftedGraph &graph);

/// A 64-bit hash of the whole structure (fibers, rows, transposes).
uint64_t structureHash(const LiftedGraph &graph);

/// Fills `params` (numParams floats) with the plan's initialisation: weights
/// ~ scale / sqrt(fan_in) times a standard normal (or a uniform of the same
/// variance), fan_in counted per lifted vertex copy; biases zero.
void initParameters(const LiftedGraph &graph, float *params);

} // namespace rslc::lift

#endif
