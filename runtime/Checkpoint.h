//===- Checkpoint.h - parameters and optimiser state on disk --------------===//
#ifndef RSLC_RUNTIME_CHECKPOINT_H
#define RSLC_RUNTIME_CHECKPOINT_H

#include "Model.h"

#include <string>

namespace rslc::rt {

/// Writes parameters and optimiser state to `path` atomically (a temporary
/// file flushed to disk, then renamed over the target); throws Error.
void saveCheckpoint(const ModelBase &model, const std::string &path);

/// Reads a checkpoint written for this very model: the same plan, seed and
/// precision; refuses damage (checksum), forged lengths and states the
/// integrators could not use, leaving the model as it was. Throws Error.
void loadCheckpoint(ModelBase &model, const std::string &path);

} // namespace rslc::rt

#endif
