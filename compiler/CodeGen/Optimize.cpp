//===- Optimize.cpp - LLVM's new-pass-manager pipeline at -O0..-O3 ---------===//
#include "CodeGen/Backend.h"

#include "llvm/Passes/PassBuilder.h"

using namespace llvm;

namespace rslc::codegen {

void optimize(Module &module, TargetMachine &tm, unsigned optLevel) {
  // Functions carry their target (the vectoriser sees its real vector
  // width): the kernels their variant's (EmitKernels.cpp), anything else
  // the target machine's.
  for (Function &f : module)
    if (!f.isDeclaration() && !f.hasFnAttribute("target-cpu")) {
      f.addFnAttr("target-cpu", tm.getTargetCPU());
      f.addFnAttr("target-features", tm.getTargetFeatureString());
    }
  LoopAnalysisManager lam;
  FunctionAnalysisManager fam;
  CGSCCAnalysisManager cgam;
  ModuleAnalysisManager mam;
  PassBuilder pb(&tm);
  pb.registerModuleAnalyses(mam);
  pb.registerCGSCCAnalyses(cgam);
  pb.registerFunctionAnalyses(fam);
  pb.registerLoopAnalyses(lam);
  pb.crossRegisterProxies(lam, fam, cgam, mam);
  static const OptimizationLevel levels[] = {OptimizationLevel::O0, OptimizationLevel::O1,
                                             OptimizationLevel::O2, OptimizationLevel::O3};
  ModulePassManager mpm = optLevel == 0
                              ? pb.buildO0DefaultPipeline(OptimizationLevel::O0)
                              : pb.buildPerModuleDefaultPipeline(levels[std::min(optLevel, 3u)]);
  mpm.run(module, mam);
}

} // namespace rslc::codegen
