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

#include "llvm/ADT/ArrayRef.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"

#include <memory>
#include <string>

namespace rslc::codegen {

enum class Precision { F32, F64 };

/// What one variant of the kernels is compiled for (Backend.h:
/// describeTarget): register tiles are sized for vector registers of
/// `vectorBits`; `cpu` and `featureString` (LLVM's "+a,-b" form) become the
/// kernels' function attributes; `features` (every enabled feature's name)
/// is embedded for the runtime's check.
struct KernelTarget {
  unsigned vectorBits = 128;
  std::string cpu, features, featureString;
};

/// The module with every kernel of each variant (best first: the runtime
/// runs the first the machine can), the embedded plan and the tables
/// (core/KernelContract.h).
std::unique_ptr<llvm::Module> emitKernels(const lift::LiftPlan &plan, Precision precision,
                                          llvm::ArrayRef<KernelTarget> variants,
                                          llvm::LLVMContext &ctx);

} // namespace rslc::codegen

#endif
