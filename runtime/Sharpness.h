//===- Sharpness.h - the largest eigenvalue of the loss's Hessian ---------===//
#ifndef RSLC_RUNTIME_SHARPNESS_H
#define RSLC_RUNTIME_SHARPNESS_H

#include "Model.h"

namespace rslc::rt {

/// The Hessian's largest eigenvalue at the current parameters,
/// of the mean loss over n samples (no weight decay), by the Lanczos
/// iteration from a seeded random direction; at most `iterations`
/// Hessian-vector products, stopping once two successive estimates agree
/// within 1e-5 relative. Leaves the parameters and gradients as they were;
/// throws Error (a non-finite loss or gradient).
double sharpness(ModelBase &model, const void *x, const void *target, int64_t n, Loss loss,
                 int64_t iterations, uint64_t seed);

} // namespace rslc::rt

#endif
