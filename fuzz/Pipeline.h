//===- Pipeline.h - the compiler front end and lift, for fuzz targets -----===//
//
// Runs blueprint text through parse -> check -> plan -> estimate -> expand ->
// verify, with diagnostics discarded. Invariant under test: the compiler
// never crashes, and whatever it accepts (within the fuzzing size budget)
// expands into a lifted graph that the verifier accepts and that a second
// expansion reproduces exactly. A broken invariant aborts (a fuzzer crash).
//
//===----------------------------------------------------------------------===//
#ifndef RSLC_FUZZ_PIPELINE_H
#define RSLC_FUZZ_PIPELINE_H

#include "Basic/Diagnostics.h"
#include "Lift/MakePlan.h"
#include "Parse/Parser.h"
#include "Sema/Sema.h"

#include "core/Build.h"

#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"

#include <cstdio>
#include <cstdlib>

namespace rslc::fuzz {

/// Lifts larger than this are only estimated, not expanded (speed).
constexpr uint64_t maxFuzzEdges = 20000;

inline void require(bool ok, const char *what, const std::string &detail) {
  if (!ok) {
    std::fprintf(stderr, "invariant broken: %s: %s\n", what, detail.c_str());
    std::abort();
  }
}

/// Returns the number of lifts expanded (for the caller's statistics).
inline unsigned compileToLifted(llvm::StringRef text) {
  llvm::SourceMgr sm;
  sm.setDiagHandler([](const llvm::SMDiagnostic &, void *) {});
  DiagEngine diags(sm);
  unsigned id = sm.AddNewSourceBuffer(llvm::MemoryBuffer::getMemBufferCopy(text, "fuzz.rsl"),
                                      llvm::SMLoc());
  auto program = parseProgram(id, diags, {});
  if (!program)
    return 0;
  auto checked = rslc::check(*program, {}, diags);
  if (!checked)
    return 0;
  std::vector<LiftSpec> lifts = checked->lifts;
  for (unsigned m = 0; m < checked->modules.size(); ++m)
    lifts.push_back(lift::identityLift(*checked->modules[m], m));
  unsigned expanded = 0;
  for (const LiftSpec &spec : lifts) {
    lift::LiftPlan plan = lift::makePlan(*checked->modules[spec.module], spec);
    lift::BuildLimits limits;
    limits.maxLiftedEdges = maxFuzzEdges;
    limits.maxBytes = 64u << 20;
    lift::LiftedGraph lifted;
    try {
      lifted = lift::buildLifted(plan, limits);
    } catch (const lift::BuildError &e) {
      require(e.kind != lift::BuildError::Kind::Invalid, "verifier", e.what());
      continue; // over the fuzzing budget, or beyond what the IR indexes
    }
    require(lift::structureHash(lift::expand(plan)) == lift::structureHash(lifted), "determinism",
          plan.lift);
    ++expanded;
  }
  return expanded;
}

} // namespace rslc::fuzz

#endif
