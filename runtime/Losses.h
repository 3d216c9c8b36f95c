//===- Losses.h - the losses of Kinds.def, on a batch of outputs ----------===//
#ifndef RSLC_RUNTIME_LOSSES_H
#define RSLC_RUNTIME_LOSSES_H

#include "core/Kinds.h"

#include <cstdint>

namespace rslc::rt {

/// Target values per sample: the outputs (MSE) or one class index (CE).
inline int64_t targetWidth(Loss loss, int64_t outputs) { return loss == Loss::Mse ? outputs : 1; }

/// Throws Error (RSLC_ERROR_NUMERIC, RSLC_ERROR_OPTION) for targets the loss
/// cannot take: non-finite values, class indices out of [0, outputs).
template <typename T> void checkTargets(Loss loss, const T *target, int64_t n, int64_t outputs);

/// The summed loss of n samples with outputs y[n][outputs] (in double);
/// writes dy = scale * dL/dy; adds the right classes (CE) to *correct.
template <typename T>
double batchLoss(Loss loss, const T *y, const T *target, int64_t n, int64_t outputs, T scale,
                 T *dy, int64_t *correct);

/// Throws Error (RSLC_ERROR_NUMERIC) naming `what`[k] if a[k] is not finite.
template <typename T> void requireFinite(const T *a, int64_t n, const char *what);

} // namespace rslc::rt

#endif
