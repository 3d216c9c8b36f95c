//===- CpuFeatures.h - can this machine run the library's kernels? -------===//
#ifndef RSLC_RUNTIME_CPUFEATURES_H
#define RSLC_RUNTIME_CPUFEATURES_H

#include <string>
#include <vector>

namespace rslc::rt {

/// The features of `required` (LLVM's names, comma-separated) that this
/// machine lacks, as far as CPUID and the operating system (XGETBV) tell.
/// Only the features that change which instructions arithmetic code may
/// contain are checked (SSE to AVX-512, FMA, BMI, APX, ...); others (e.g.
/// rdrnd, xsave) are not used by generated kernels.
std::vector<std::string> missingCpuFeatures(const std::string &required);

} // namespace rslc::rt

#endif
