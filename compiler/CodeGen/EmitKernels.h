//===- EmitKernels.h - LLVM IR for a lifted network's kernels -------------===//
//
// Emits, for one LiftPlan, the kernels described in runtime/Kernels.h:
// per base edge a forward, a weight-gradient and a data-gradient kernel, per
// base vertex an activation forward and backward kernel. They are
// specialised on the base graph (dimensions, degree, fiber sizes of full
// lifts, activation, bias) and read the lifted structure from index arrays:
// code size does not grow with the number of lifted edges. Batch is the
// innermost, contiguous loop, so it vectorises.
//
//===----------------------------------------------------------------------===//
#ifndef RSLC_CODEGEN_EMITKERNELS_H
#define RSLC_CODEGEN_EMITKERNELS_H

#include "Lift/LiftPlan.h"

#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"

#include <memory>

namespace rslc::codegen {

enum class Precision { F32, F64 };

/// The module with every kernel, the embedded plan and the kernel tables;
/// register tiles sized for vector registers of `vectorBits`.
std::unique_ptr<llvm::Module> emitKernels(const lift::LiftPlan &plan, Precision precision,
                                          unsigned vectorBits, llvm::LLVMContext &ctx);

} // namespace rslc::codegen

#endif
