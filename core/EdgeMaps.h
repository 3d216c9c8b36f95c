//===- EdgeMaps.h - what each edge map knows -------------------------------===//
//
// The arguments, shape rules and weight counts of the edge maps
// M_e : W_e x Y_u -> Z_e (Kinds.def). Sema, the lift expansion, the
// initialisation, the kernel signatures and the runtime ask these instead
// of switching on the map; the kernels' terms are in
// compiler/CodeGen/EmitKernels.cpp (forEachMapTerm, forEachTransposedTerm).
//
// Shapes: a `linear` map between [..., a] and [..., b] with the same leading
// extents applies one b x a matrix along the last axis (to every token of a
// [T, d] vertex); between any other shapes it flattens both (a d_v x d_u
// matrix). Window maps (conv, maxpool, avgpool) join [H, W] maps; the
// attention roles (query, key, value) pass the source through, their Z_e
// having the source's shape.
//
//===----------------------------------------------------------------------===//
#ifndef RSLC_CORE_EDGEMAPS_H
#define RSLC_CORE_EDGEMAPS_H

#include "LiftPlan.h"

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace rslc {

using lift::MapParams;
using lift::Shape;

/// The named arguments `map` takes, in the order docs list them.
std::vector<std::string_view> mapArgNames(MapKind map);
/// Sets the arguments given as (name, value) (names already checked against
/// mapArgNames); returns an error message for a missing or bad value.
std::string setMapParams(MapKind map, const std::vector<std::pair<std::string, int64_t>> &args,
                         MapParams &params);
/// The map with its arguments as a blueprint writes it: `conv(kernel = 3,
/// stride = 1, padding = 1, dilation = 1)`, `linear`.
std::string mapText(MapKind map, const MapParams &params);

/// Why `map` cannot join a vertex of shape u to one of shape v, or "".
std::string checkMapShape(MapKind map, const MapParams &params, const Shape &u, const Shape &v);

/// The [H', W'] a window map makes of a [H, W] map (extents may be <= 0 for
/// a kernel larger than the padded input).
Shape windowOutput(const MapParams &params, const Shape &u);

/// Whether a linear map acts along the last axis (see the file comment).
bool linearAlongLastAxis(const Shape &u, const Shape &v);

/// The map has weights (and a weight gradient).
bool hasWeights(MapKind map);
/// Components of the edge's pre-activation Z_e per copy: d_v, or d_u for
/// the attention roles.
int64_t edgeOutputDim(MapKind map, const Shape &u, const Shape &v);
/// Weights per lifted edge (doubles: estimates of absurd lifts must not wrap).
double weightsPerLiftedEdge(MapKind map, const MapParams &params, const Shape &u, const Shape &v);
/// Weighted inputs each target component sums per lifted edge (its share of
/// the fan-in that scales the initialisation); 0 for maps without weights.
double fanInPerLiftedEdge(MapKind map, const MapParams &params, const Shape &u, const Shape &v);

/// "[28, 28]".
std::string shapeText(const Shape &s);

} // namespace rslc

#endif
