//===- Kernels.h - what rslc's code generator emits into every model ------===//
//
// The runtime's side of the contract with compiler/CodeGen: symbol names and
// kernel signatures. T is float or double (rslc_real_bytes). Activation
// buffers hold [copy][dim][batch], batch innermost; weights [position][d_v][d_u]
// (linear) or [position][d] (diag). Every kernel adds into its output.
//
//===----------------------------------------------------------------------===//
#ifndef RSLC_RUNTIME_KERNELS_H
#define RSLC_RUNTIME_KERNELS_H

#include <cstdint>

extern "C" {
extern const char rslc_plan_text[];   ///< lift::serializePlan output
extern const uint64_t rslc_plan_size; ///< its length
extern const int32_t rslc_real_bytes; ///< 4 or 8
/// Per base edge: forward, weight gradient, data gradient (the weight
/// gradient is null for skip edges).
extern void *const rslc_edge_kernels[];
/// Per base vertex: activation forward and backward (null for inputs).
extern void *const rslc_vertex_kernels[];
}

namespace rslc::rt {

template <typename T> struct KernelTypes {
  /// Z[j][.][b0:b1] += sum over lifted edges q=(i->j) of M(W[q], Y[i]), rows
  /// j0..j1; B is the batch (row length).
  using Forward = void (*)(const T *W, const T *Y, T *Z, const uint32_t *col,
                           const uint64_t *rowPtr, int64_t j0, int64_t j1, int64_t b0,
                           int64_t b1, int64_t B);
  /// dW[q] += dM/dW (dZ[j], Y[i]) over the whole batch, for the forward
  /// positions q in [q0, q1) of rows j0..j1.
  using WeightGrad = void (*)(T *dW, const T *dZ, const T *Y, const uint32_t *col,
                              const uint64_t *rowPtr, int64_t j0, int64_t j1, int64_t q0,
                              int64_t q1, int64_t B);
  /// dY[i][.][b0:b1] += sum over lifted edges q=(i->j) of dM/dY (W[q], dZ[j]),
  /// sources i0..i1.
  using DataGrad = void (*)(const T *W, const T *dZ, T *dY, const uint64_t *tPtr,
                            const uint32_t *tRow, const uint32_t *tPos, int64_t i0, int64_t i1,
                            int64_t b0, int64_t b1, int64_t B);
  /// Y = act(Z + bias), rows j0..j1 (bias may be null).
  using ActForward = void (*)(const T *Z, const T *bias, T *Y, int64_t j0, int64_t j1,
                              int64_t batch);
  /// dZ = dY * act'(Z + bias); dbias[j][a] += sum_b dZ (dbias may be null).
  using ActBackward = void (*)(const T *Z, const T *bias, const T *dY, T *dZ, T *dbias,
                               int64_t j0, int64_t j1, int64_t batch);
};

} // namespace rslc::rt

#endif
