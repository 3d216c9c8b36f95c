//===- Build.h - plan -> estimate -> expand -> verify, in one place --------===//
//
// The one sequence that turns a LiftPlan into a verified LiftedGraph, used by
// the compiler driver, the runtime (rslc_create) and the fuzz targets. The
// size is estimated from the plan before anything is allocated, so a lift
// too large for the limits or for the IR is refused without trying.
//
//===----------------------------------------------------------------------===//
#ifndef RSLC_CORE_BUILD_H
#define RSLC_CORE_BUILD_H

#include "LiftedGraph.h"

#include <stdexcept>

namespace rslc::lift {

struct BuildLimits {
  double maxBytes = 0;        ///< structure + parameters; 0: no limit
  double maxLiftedEdges = 0;  ///< 0: no limit
};

/// Why a plan was not built. `size` is the estimate, for messages.
struct BuildError : std::runtime_error {
  enum class Kind {
    OverMemory,     ///< the estimate exceeds limits.maxBytes
    Unsupported,    ///< valid, but beyond what the IR indexes (SizeEstimate::error)
    OverEdgeLimit,  ///< the estimate exceeds limits.maxLiftedEdges
    Invalid,        ///< the expanded graph fails verification: a bug, or a forged plan
  };
  BuildError(Kind kind, const std::string &message, SizeEstimate size)
      : std::runtime_error(message), kind(kind), size(std::move(size)) {}
  Kind kind;
  SizeEstimate size;
};

/// Estimates and checks the limits and the plan, without expanding (what a
/// code generator needs: the kernels do not depend on the lifted edges);
/// throws BuildError.
SizeEstimate checkPlan(const LiftPlan &plan, const BuildLimits &limits = {});

/// checkPlan, then expands and verifies; throws BuildError.
LiftedGraph buildLifted(const LiftPlan &plan, const BuildLimits &limits = {});

} // namespace rslc::lift

#endif
