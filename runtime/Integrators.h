//===- Integrators.h - gradient-flow integrators and optimisers -----------===//
#ifndef RSLC_RUNTIME_INTEGRATORS_H
#define RSLC_RUNTIME_INTEGRATORS_H

#include "Model.h"
#include "rslc.h"

namespace rslc::rt {

/// Runs rslc_train's loop (see rslc.h): the options are checked by the
/// caller; throws Error.
rslc_metrics train(ModelBase &model, const rslc_train_options &options, const void *x,
                   const void *target, int64_t n, const void *xTest, const void *targetTest,
                   int64_t nTest);

} // namespace rslc::rt

#endif
