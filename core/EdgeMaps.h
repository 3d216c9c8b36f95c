//===- EdgeMaps.h - what each edge map knows -------------------------------===//
//
// The shape rules and weight counts of the edge maps M_e : W_e x Y_u -> Z_e
// (Kinds.def). Sema, the lift expansion, the initialisation and the runtime
// ask these instead of switching on the map; the kernels' terms are in
// compiler/CodeGen/EmitKernels.cpp (forEachMapTerm).
//
//===----------------------------------------------------------------------===//
#ifndef RSLC_CORE_EDGEMAPS_H
#define RSLC_CORE_EDGEMAPS_H

#include "Kinds.h"

#include <string>

namespace rslc {

/// Why `map` cannot join a vertex of dimension du to one of dimension dv, or "".
std::string checkMapShape(MapKind map, int64_t du, int64_t dv);

/// Weights per lifted edge (doubles: estimates of absurd lifts must not wrap).
double weightsPerLiftedEdge(MapKind map, double du, double dv);

/// Weighted inputs each target component sums per lifted edge (its share of
/// the fan-in that scales the initialisation); 0 for maps without weights.
double fanInPerLiftedEdge(MapKind map, double du);

} // namespace rslc

#endif
