//===- LiftFuzzer.cpp - libFuzzer target: random blueprints and lifts -----===//
//
// The bytes choose a small well-formed blueprint -- a chain of hidden
// families with skip connections, dimensions, activations, shared weights --
// and a lift of it: fiber sizes, edge kinds (full, fixed in-degree, edge
// probability, diagonal, sometimes out of range), readout, init and seed.
// Most inputs therefore reach the lift expansion, where the verifier and a
// second expansion check the result (Pipeline.h).
//
//===----------------------------------------------------------------------===//
#include "Pipeline.h"

#include <fuzzer/FuzzedDataProvider.h>

#include <string>

namespace {

const char *const activations[] = {"relu", "tanh", "sigmoid", "identity", "gelu", "softplus"};

std::string blueprint(FuzzedDataProvider &in) {
  int layers = in.ConsumeIntegralInRange(1, 4);
  std::string s = "module m {\n  input x: " + std::to_string(in.ConsumeIntegralInRange(1, 4)) + ";\n";
  std::vector<int> dims(layers + 1);
  for (int i = 1; i <= layers; ++i) {
    dims[i] = in.ConsumeIntegralInRange(1, 3);
    s += "  hidden h" + std::to_string(i) + ": " + std::to_string(dims[i]) + ", " +
         in.PickValueInArray(activations) + (in.ConsumeBool() ? ", nobias" : "") + ";\n";
  }
  s += "  output y: " + std::to_string(in.ConsumeIntegralInRange(1, 3)) + ";\n  x -> h1;\n";
  for (int i = 1; i < layers; ++i) {
    std::string e = "h" + std::to_string(i) + " -> h" + std::to_string(i + 1);
    std::string attr;
    if (in.ConsumeBool() && dims[i] == dims[i + 1])
      attr = ": diag";
    else if (i > 1 && in.ConsumeBool() && dims[i] == dims[2] && dims[i + 1] == dims[2])
      attr = ": share w"; // ties h2 -> h3, h3 -> h4 (same dims)
    s += "  " + e + attr + ";\n";
  }
  if (layers > 2 && in.ConsumeBool() && dims[1] == dims[3])
    s += "  h1 -> h3: skip;\n";
  s += "  h" + std::to_string(layers) + " -> y;\n}\n\nlift l of m {\n";
  std::vector<int> copies(layers + 1);
  for (int i = 1; i <= layers; ++i) {
    copies[i] = in.ConsumeIntegralInRange(1, 300);
    s += "  size h" + std::to_string(i) + ": " + std::to_string(copies[i]) + ";\n";
  }
  for (int i = 1; i < layers; ++i) {
    std::string e = "  edges h" + std::to_string(i) + " -> h" + std::to_string(i + 1) + ": ";
    switch (in.ConsumeIntegralInRange(0, 3)) {
    case 0: s += e + "full;\n"; break;
    case 1: s += e + "sparse(degree = " + std::to_string(in.ConsumeIntegralInRange(0, copies[i] + 1)) + ");\n"; break;
    case 2: s += e + "sparse(prob = " + std::to_string(in.ConsumeProbability<double>() * 1.1) + ");\n"; break;
    case 3: s += e + "diagonal;\n"; break;
    }
  }
  const char *readouts[] = {"mean", "sqrt", "sum"};
  s += std::string("  readout: ") + in.PickValueInArray(readouts) + ";\n";
  s += std::string("  init: ") + (in.ConsumeBool() ? "normal" : "uniform") + "(scale = 0.5);\n";
  s += "  seed: " + std::to_string(in.ConsumeIntegral<uint32_t>()) + ";\n}\n";
  return s;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  FuzzedDataProvider in(data, size);
  rslc::fuzz::compileToLifted(blueprint(in));
  return 0;
}
