//===- EmitObject.cpp - target machine, and the module as object or assembly ===//
#include "CodeGen/Backend.h"

#include "llvm/IR/LegacyPassManager.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/TargetParser/Host.h"

using namespace llvm;

namespace rslc::codegen {

Expected<std::unique_ptr<TargetMachine>> createTargetMachine(const std::string &cpu,
                                                             const std::string &features,
                                                             unsigned optLevel) {
  InitializeNativeTarget();
  InitializeNativeTargetAsmPrinter();
  std::string triple = sys::getDefaultTargetTriple(), error;
  const Target *target = TargetRegistry::lookupTarget(triple, error);
  if (!target)
    return createStringError(inconvertibleErrorCode(), "no target for " + triple + ": " + error);
  // Host features only for the host CPU: a named CPU brings its own.
  std::string hostFeatures;
  if (features.empty() && cpu.empty())
    for (auto &f : sys::getHostCPUFeatures())
      hostFeatures += (hostFeatures.empty() ? "" : ",") + std::string(f.second ? "+" : "-") +
                      f.first().str();
  std::string theCpu = cpu.empty() ? sys::getHostCPUName().str() : cpu;
  std::unique_ptr<MCSubtargetInfo> sti(target->createMCSubtargetInfo(triple, theCpu, ""));
  if (!sti || !sti->isCPUStringValid(theCpu))
    return createStringError(inconvertibleErrorCode(), "unknown target CPU '" + theCpu + "'");
  TargetOptions options;
  static const CodeGenOptLevel levels[] = {CodeGenOptLevel::None, CodeGenOptLevel::Less,
                                           CodeGenOptLevel::Default, CodeGenOptLevel::Aggressive};
  return std::unique_ptr<TargetMachine>(target->createTargetMachine(
      triple, theCpu, features.empty() ? hostFeatures : features, options, Reloc::PIC_,
      std::nullopt, levels[std::min(optLevel, 3u)]));
}

KernelTarget describeTarget(const TargetMachine &tm) {
  // The subtarget knows the features the CPU implies, not only those listed.
  const MCSubtargetInfo &sti = *tm.getMCSubtargetInfo();
  KernelTarget t;
  t.vectorBits = sti.checkFeatures("+avx512f") ? 512 : sti.checkFeatures("+avx") ? 256 : 128;
  t.cpu = sti.getCPU().str();
  t.featureString = sti.getFeatureString().str();
  for (const SubtargetFeatureKV &kv : sti.getAllProcessorFeatures())
    if (sti.getFeatureBits()[kv.Value])
      t.features += (t.features.empty() ? "" : ",") + std::string(kv.Key);
  return t;
}

Error emitObject(Module &module, TargetMachine &tm, const std::string &path, bool assembly) {
  std::error_code ec;
  raw_fd_ostream out(path, ec, assembly ? sys::fs::OF_Text : sys::fs::OF_None);
  if (ec)
    return createStringError(ec, "cannot write '" + path + "': " + ec.message());
  legacy::PassManager pm;
  if (tm.addPassesToEmitFile(pm, out, nullptr,
                             assembly ? CodeGenFileType::AssemblyFile : CodeGenFileType::ObjectFile))
    return createStringError(inconvertibleErrorCode(), "the target cannot emit this file type");
  pm.run(module);
  out.flush();
  if (out.has_error())
    return createStringError(out.error(), "error writing '" + path + "'");
  return Error::success();
}

} // namespace rslc::codegen
