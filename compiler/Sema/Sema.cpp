//===- Sema.cpp - the checking passes, in order ---------------------------===//
#include "Sema/Sema.h"

namespace rslc {

std::unique_ptr<CheckedProgram> check(const ast::Program &program,
                                      const std::vector<Override> &overrides,
                                      DiagEngine &diags) {
  auto out = std::make_unique<CheckedProgram>();
  Scope globals;
  bindParams(program, overrides, globals, *out, diags);
  // Modules that elaborated cleanly are checked even if others failed, so
  // that one run reports as many errors as it can.
  elaborateModules(program, globals, *out, diags);
  for (const auto &graph : out->modules)
    checkGraph(*graph, diags);
  elaborateLifts(program, globals, *out, diags);
  if (diags.failed())
    return nullptr;
  return out;
}

} // namespace rslc
