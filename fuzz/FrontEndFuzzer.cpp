//===- FrontEndFuzzer.cpp - libFuzzer target: source text to lifted IR ----===//
//
// Any bytes are a blueprint: the front end must reject them with diagnostics
// or accept them, and whatever it accepts must lift and verify (Pipeline.h).
// Seed corpus: examples/ and the lit tests' blueprints (see fuzz/run.sh).
//
//===----------------------------------------------------------------------===//
#include "Pipeline.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  rslc::fuzz::compileToLifted(llvm::StringRef(reinterpret_cast<const char *>(data), size));
  return 0;
}
