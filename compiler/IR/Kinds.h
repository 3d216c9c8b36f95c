//===- Kinds.h - the vocabulary of base graphs and lifts ------------------===//
//
// Plain enums, free of LLVM, shared by the compiler, the lift expansion and
// the runtime.
//
//===----------------------------------------------------------------------===//
#ifndef RSLC_IR_KINDS_H
#define RSLC_IR_KINDS_H

namespace rslc {

enum class Role { Input, Hidden, Output };
enum class Activation { Identity, Relu, LeakyRelu, Tanh, Sigmoid, Gelu, Softplus, Silu };
/// How a vertex combines its incoming pre-activations.
enum class Aggregation { Sum, Prod };
/// The edge map M_e : W_e x Y_u -> Z_e.
enum class MapKind {
  Linear, ///< z = W y, W in R^{d_v x d_u}
  Diag,   ///< z = w * y elementwise, w in R^{d}; needs d_u == d_v
  Skip,   ///< z = y, no weight; needs d_u == d_v
};
enum class LiftKind {
  Full,     ///< every copy of u feeds every copy of v
  Degree,   ///< each copy of v draws `degree` distinct copies of u
  Prob,     ///< each pair (copy of u, copy of v) kept with probability p
  Diagonal, ///< copy i of u feeds copy i of v; needs equal fiber sizes
};
enum class Readout { Mean, Sqrt, Sum };
enum class InitLaw { Normal, Uniform };

} // namespace rslc

#endif
