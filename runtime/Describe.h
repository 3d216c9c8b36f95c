//===- Describe.h - the lifted network as JSON (rslc_describe) -----------===//
#ifndef RSLC_RUNTIME_DESCRIBE_H
#define RSLC_RUNTIME_DESCRIBE_H

#include "Model.h"

#include <string>

namespace rslc::rt {

/// The model's vertices, base edges and parameter tensors as JSON, the
/// format docs/abi.md ("Structure") gives; the Python package reads it.
std::string describe(const ModelBase &model);

} // namespace rslc::rt

#endif
