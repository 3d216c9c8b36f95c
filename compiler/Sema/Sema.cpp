#include "Sema/Sema.h"

namespace rslc {

std::unique_ptr<CheckedProgram> check(const ast::Program &program,
                                      const std::vector<Override> &overrides,
                                      DiagEngine &diags) {
  auto out = std::make_unique<CheckedProgram>();
  Scope globals;
  bindParams(program, overrides, globals, *out, diags);
  if (diags.failed())
    return nullptr;
  elaborateModules(program, globals, *out, diags);
  if (diags.failed())
    return nullptr;
  for (const auto &graph : out->modules)
    checkGraph(*graph, diags);
  if (diags.failed())
    return nullptr;
  elaborateLifts(program, globals, *out, diags);
  if (diags.failed())
    return nullptr;
  return out;
}

} // namespace rslc
