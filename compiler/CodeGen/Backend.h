//===- Backend.h - target machine, optimisation, object, link, header -----===//
#ifndef RSLC_CODEGEN_BACKEND_H
#define RSLC_CODEGEN_BACKEND_H

#include "CodeGen/EmitKernels.h"

#include "llvm/IR/Module.h"
#include "llvm/Support/Error.h"
#include "llvm/Target/TargetMachine.h"

#include <memory>
#include <string>

namespace rslc::codegen {

/// The host CPU and its features unless overridden; PIC, for shared objects.
llvm::Expected<std::unique_ptr<llvm::TargetMachine>>
createTargetMachine(const std::string &cpu, const std::string &features, unsigned optLevel);
/// The target as the kernels need it: the width of its vector registers
/// (512 with AVX-512, 256 with AVX, else 128: sizes the register tiles),
/// its CPU and every feature it enables (those the CPU implies included).
KernelTarget describeTarget(const llvm::TargetMachine &tm);

/// Runs LLVM's new-pass-manager pipeline at -O0..-O3 (Optimize.cpp).
void optimize(llvm::Module &module, llvm::TargetMachine &tm, unsigned optLevel);

/// Writes an object file or assembly (EmitObject.cpp).
llvm::Error emitObject(llvm::Module &module, llvm::TargetMachine &tm, const std::string &path,
                       bool assembly);

/// Links the object with the runtime into a shared library (Link.cpp).
/// `runtimeDir` holds librslc_runtime.a and librslc_core.a.
llvm::Error linkShared(const std::string &object, const std::string &runtimeDir,
                       const std::string &linker, const std::string &output);

/// The model's C header: the ABI (include/rslc.h) plus its shapes (EmitHeader.cpp).
/// `library`: the output's name (its include guard tells apart two models
/// of the same module and lift built into different libraries).
std::string emitHeader(const lift::LiftPlan &plan, uint64_t numParams, Precision precision,
                       const std::string &source, const std::string &library,
                       llvm::ArrayRef<KernelTarget> variants);

} // namespace rslc::codegen

#endif
