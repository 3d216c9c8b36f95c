//===- Train.h - gradient-flow integrators, optimisers, checkpoints -------===//
#ifndef RSLC_RUNTIME_TRAIN_H
#define RSLC_RUNTIME_TRAIN_H

#include "Model.h"
#include "rslc.h"

namespace rslc::rt {

/// Runs rslc_train's loop (see rslc.h); throws Error.
rslc_metrics train(ModelBase &model, const rslc_train_options &options, const void *x,
                   const void *target, int64_t n, const void *xTest, const void *targetTest,
                   int64_t nTest);

/// Writes parameters and optimiser state to `path` atomically; throws Error.
void saveCheckpoint(const ModelBase &model, const std::string &path);
/// Reads a checkpoint written for this very model; throws Error.
void loadCheckpoint(ModelBase &model, const std::string &path);

} // namespace rslc::rt

#endif
