//===- Sema.h - AST to checked program -------------------------------------===//
//
// The checking stage, run in this order (one file each):
//   BindParams.cpp      parameters and -D overrides
//   ElaborateModule.cpp modules: expand families, loops, instances
//   CheckGraph.cpp      base-graph rules (cycles, dimensions, reachability)
//   ElaborateLift.cpp   lifts: fiber sizes, edge lift kinds, settings
//
//===----------------------------------------------------------------------===//
#ifndef RSLC_SEMA_SEMA_H
#define RSLC_SEMA_SEMA_H

#include "AST/AST.h"
#include "Basic/Diagnostics.h"
#include "IR/BaseGraph.h"
#include "Sema/Eval.h"

#include <memory>

namespace rslc {

/// One `-D name=value`, located in the "<command line>" buffer.
struct Override {
  std::string text; ///< "name=value" as typed
  llvm::SMLoc loc;
};

/// Runs every check; returns null if any error was reported.
std::unique_ptr<CheckedProgram> check(const ast::Program &program,
                                      const std::vector<Override> &overrides,
                                      DiagEngine &diags);

// The passes, in order. Each reports its own errors.
void bindParams(const ast::Program &program, const std::vector<Override> &overrides,
                Scope &globals, CheckedProgram &out, DiagEngine &diags);
void elaborateModules(const ast::Program &program, const Scope &globals,
                      CheckedProgram &out, DiagEngine &diags);
/// Returns false if the graph breaks a rule (see IR/BaseGraph.h).
bool checkGraph(const BaseGraph &graph, DiagEngine &diags);
void elaborateLifts(const ast::Program &program, const Scope &globals,
                    CheckedProgram &out, DiagEngine &diags);

} // namespace rslc

#endif
