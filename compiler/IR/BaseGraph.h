//===- BaseGraph.h - the checked blueprint: base graphs and lift specs ----===//
//
// What Sema produces and every later stage consumes. Everything is evaluated
// and flattened: no parameters, loops, families or instances remain.
// Invariants (established by Sema, relied upon downstream):
//  - vertex names are unique; edges reference valid vertex indices;
//  - the graph is acyclic; every non-input vertex has an incoming edge;
//    input vertices have none; every output is reachable from an input;
//  - every edge's map accepts the shapes it joins (core/EdgeMaps.h); an
//    attention vertex has one query, one key and one value in-edge and no
//    other; edges sharing a weight group have the same map and shapes;
//  - a LiftSpec has one entry per vertex in `copies` (>= 1, 1 for inputs)
//    and one per edge in `edges`, with degrees <= the source fiber size.
//
//===----------------------------------------------------------------------===//
#ifndef RSLC_IR_BASEGRAPH_H
#define RSLC_IR_BASEGRAPH_H

#include "core/LiftPlan.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/SMLoc.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace rslc {

struct BaseVertex {
  std::string name;
  Role role = Role::Hidden;
  int64_t dim = 1;      ///< shapeSize(shape)
  lift::Shape shape = {1};
  Activation act = Activation::Identity;
  bool bias = true;
  Aggregation agg = Aggregation::Sum;
  int64_t axis = -1;    ///< softmax: the axis (-1: the last)
  bool causal = false;  ///< attention
  llvm::SMLoc loc;
};

struct BaseEdge {
  unsigned src = 0, dst = 0;
  MapKind map = MapKind::Linear;
  lift::MapParams params;
  std::string share; ///< weight group name; empty: own weights
  llvm::SMLoc loc;
};

/// A perceptron module: a DAG of vertices with fiber dimensions and maps.
struct BaseGraph {
  std::string name;
  llvm::SMLoc loc;
  std::vector<BaseVertex> vertices;
  std::vector<BaseEdge> edges;
  llvm::StringMap<unsigned> index; ///< vertex name -> position
  llvm::DenseMap<std::pair<unsigned, unsigned>, unsigned> edgeIndex;

  /// Adds a vertex; false if the name is taken.
  bool addVertex(BaseVertex v);
  /// Adds an edge; false if the same (src, dst) edge exists.
  bool addEdge(BaseEdge e);

  std::optional<unsigned> find(llvm::StringRef name) const {
    auto it = index.find(name);
    if (it == index.end())
      return std::nullopt;
    return it->second;
  }
  std::optional<unsigned> findEdge(unsigned src, unsigned dst) const {
    auto it = edgeIndex.find({src, dst});
    if (it == edgeIndex.end())
      return std::nullopt;
    return it->second;
  }
  /// Vertices in a topological order (valid once Sema accepted the graph).
  std::vector<unsigned> topologicalOrder() const;
};

/// How one base edge is lifted, and where the blueprint says so.
struct EdgeLift {
  lift::LiftSetting setting;
  llvm::SMLoc loc;
};

/// A lift of one module: fiber sizes, per-edge lift kinds, readout, init, seed.
struct LiftSpec {
  std::string name;
  llvm::SMLoc loc;
  unsigned module = 0;         ///< index into CheckedProgram::modules
  std::vector<int64_t> copies; ///< per base vertex
  std::vector<EdgeLift> edges; ///< per base edge
  Readout readout = Readout::Mean;
  lift::InitSetting init;      ///< the default law of weighted edges
  /// Per base edge: the law an `init A -> B:` statement set, if any.
  std::vector<std::optional<lift::InitSetting>> edgeInits;
  std::vector<lift::InitSetting> biasInits; ///< per base vertex (lift::zeroBiases: none set)
  uint64_t seed = 0;
};

/// A compile-time number: parameters, loop variables, sizes.
struct Number {
  bool isInt = true;
  int64_t i = 0;
  double f = 0;
  static Number integer(int64_t v) { return {true, v, 0}; }
  static Number real(double v) { return {false, 0, v}; }
  double asDouble() const { return isInt ? double(i) : f; }
  /// Shortest text that reads back to the same value (floats keep a '.').
  std::string str() const { return isInt ? std::to_string(i) : shortestReal(f); }
};

struct ParamValue {
  std::string name;
  Number value;
  bool overridden = false; ///< set by -D
};

struct CheckedProgram {
  std::vector<ParamValue> params;
  std::vector<std::unique_ptr<BaseGraph>> modules;
  std::vector<LiftSpec> lifts;
};

} // namespace rslc

#endif
