//===- EmitKernels.h - LLVM IR for a lifted network's kernels -------------===//
//
// Emits, for one LiftPlan, the module core/KernelContract.h describes: per
// distinct edge signature (core/KernelSignatures.h) a forward, a
// weight-gradient and a data-gradient kernel, per distinct vertex signature
// an activation forward and backward kernel, the kernel tables and the
// embedded plan. Kernels are specialised on the base graph (dimensions, row
// layouts, activations, bias) and read the lifted structure from index
// arrays: code size grows with neither the lifted edges nor the base edges
// that share a signature.
//
//===----------------------------------------------------------------------===//
#ifndef RSLC_CODEGEN_EMITKERNELS_H
#define RSLC_CODEGEN_EMITKERNELS_H

#include "core/LiftPlan.h"

#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"

#include <memory>
#include <string>

namespace rslc::codegen {

enum class Precision { F32, F64 };

/// What the kernels are compiled for: register tiles are sized for vector
/// registers of `vectorBits`; the CPU and its enabled features are
/// embedded for the runtime's check (Backend.h: describeTarget).
struct KernelTarget {
  unsigned vectorBits = 128;
  std::string cpu, features;
};

/// The module with every kernel, the embedded plan and target, and the
/// kernel tables.
std::unique_ptr<llvm::Module> emitKernels(const lift::LiftPlan &plan, Precision precision,
                                          const KernelTarget &target, llvm::LLVMContext &ctx);

} // namespace rslc::codegen

#endif
