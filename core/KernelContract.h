//===- KernelContract.h - what generated code and the runtime agree on ----===//
//
// The one declaration of the contract between rslc's code generator
// (compiler/CodeGen) and the runtime linked into every generated library
// (runtime/): the symbols a generated module defines, the layout of its
// kernel tables, and every kernel's argument list. The code generator builds
// each kernel's LLVM function type from the argument tables below; the
// runtime calls kernels through the C++ types below, which are checked
// against the same tables at compile time. The link of every library
// (-z defs) checks the symbol names; rslc_create checks `version`.
//
// Layouts: activation buffers hold [copy][component][batch], batch
// innermost (row length B), components row-major in the vertex's shape;
// weights per lifted edge in map order ([d_v][d_u] linear, [K][K] conv, ...).
// Edge kernels add into their outputs, or overwrite them (`add` = 0: the
// first edge into a buffer, which then needs no clearing); vertex kernels
// write theirs; weight gradients always add.
//
//===----------------------------------------------------------------------===//
#ifndef RSLC_CORE_KERNELCONTRACT_H
#define RSLC_CORE_KERNELCONTRACT_H

#include <cstddef>
#include <cstdint>
#include <type_traits>

// Symbols every generated module defines (hidden: the runtime reads them).
extern "C" {
extern const char rslc_plan_text[];          ///< lift::serializePlan output
extern const uint64_t rslc_plan_size;        ///< its length
extern const int32_t rslc_real_bytes;        ///< 4 (float) or 8 (double)
extern const uint32_t rslc_contract_version; ///< contract::version
extern const uint32_t rslc_num_edge_kernels;   ///< distinct edge signatures
extern const uint32_t rslc_num_vertex_kernels; ///< distinct vertex signatures
/// One build of every kernel for a CPU: its name, the features its code
/// may use (LLVM's names, comma-separated: checked against the machine at
/// rslc_create, runtime/CpuFeatures.cpp), and its tables: EdgeSlot::Count
/// entries per edge signature (KernelSignatures numbering; the weight
/// gradient is null for maps without weights), VertexSlot::Count per vertex
/// signature.
struct rslc_kernel_variant {
  const char *cpu;
  const char *features;
  void *const *edge_kernels;
  void *const *vertex_kernels;
};
/// Best first: the runtime runs the first the machine can.
extern const struct rslc_kernel_variant rslc_kernel_variants[];
extern const uint32_t rslc_num_kernel_variants;
}

namespace rslc::contract {

/// Bumped whenever anything in this file changes meaning.
constexpr uint32_t version = 10;

/// Dense linear kernels (every target row reading every source copy) sum
/// more than this many inner rows in chunks of it, each chunk's partial
/// sum added to the output in turn; the runtime gives their vertices larger
/// tasks. A hint for the task sizes only: results do not depend on it.
constexpr int64_t denseInnerChunk = 1024;
/// Output rows per block of the dense kernels (their registers hold this
/// many rows' sums); the runtime cuts their tasks in multiples of it. A
/// hint too: results do not depend on it.
constexpr int64_t denseBlockRows = 6;

enum EdgeSlot : unsigned { Forward, WeightGrad, DataGrad, DataGradScatter, NumEdgeSlots };
/// The aggregation slots are null except for vertices that combine their
/// in-edges jointly (attention); sums and products the runtime forms itself.
enum VertexSlot : unsigned { ActForward, ActBackward, AggForward, AggBackward, NumVertexSlots };

/// Kinds of kernel arguments. T is the model's real type.
enum class ArgType {
  Reals,    ///< const T *
  RealsOut, ///< T * (added into)
  Index32,  ///< const uint32_t *
  Index64,  ///< const uint64_t *
  Int,      ///< int64_t
};
struct KernelArg {
  const char *name;
  ArgType type;
};
struct KernelDecl {
  const char *symbolPrefix; ///< the kernel for signature k is prefix + k
  const KernelArg *args;
  size_t numArgs;
};

using A = ArgType;
/// Z[j][.][b0:b1] += (add != 0) or = (add == 0) the sum over lifted edges
/// q=(i->j) of M(W[q], Y[i]), rows j0..j1 of the target fiber.
constexpr KernelArg forwardArgs[] = {
    {"W", A::Reals},   {"Y", A::Reals}, {"Z", A::RealsOut}, {"col", A::Index32},
    {"rowPtr", A::Index64}, {"j0", A::Int}, {"j1", A::Int}, {"b0", A::Int},
    {"b1", A::Int},    {"B", A::Int},   {"add", A::Int}};
/// dW[q] += dM/dW (dZ[j], Y[i]) over the whole batch, for the forward
/// positions q in [q0, q1) of rows j0..j1.
constexpr KernelArg weightGradArgs[] = {
    {"dW", A::RealsOut}, {"dZ", A::Reals}, {"Y", A::Reals}, {"col", A::Index32},
    {"rowPtr", A::Index64}, {"j0", A::Int}, {"j1", A::Int}, {"q0", A::Int},
    {"q1", A::Int},      {"B", A::Int}};
/// dY[i][.][b0:b1] += (add != 0) or = (add == 0) the sum over lifted edges
/// q=(i->j) of dM/dY (W[q], dZ[j]), sources i0..i1 (Y: the sources'
/// activations, for maps that are not linear in them: maxpool). A null tPos
/// (explicit rows only) means W holds the weights in transposed order:
/// entry t's where forward position tPos[t]'s would be.
constexpr KernelArg dataGradArgs[] = {
    {"W", A::Reals},       {"dZ", A::Reals},     {"Y", A::Reals},  {"dY", A::RealsOut},
    {"tPtr", A::Index64},  {"tRow", A::Index32}, {"tPos", A::Index32}, {"i0", A::Int},
    {"i1", A::Int},        {"b0", A::Int},       {"b1", A::Int},   {"B", A::Int},
    {"add", A::Int}};
/// dY[i][0:B] += W[q] dZ[j][0:B] for the lifted edges q=(i->j) of rows
/// j0..j1, in forward order: the data gradient of a batch of 1 read along
/// W (dataGrad reads W at random through tPos). Only for linear maps with
/// one weight per lifted edge and explicit rows; null in other signatures.
constexpr KernelArg dataGradScatterArgs[] = {
    {"W", A::Reals},        {"dZ", A::Reals}, {"dY", A::RealsOut}, {"col", A::Index32},
    {"rowPtr", A::Index64}, {"j0", A::Int},   {"j1", A::Int},      {"B", A::Int}};
/// Y = act(Z + bias), rows j0..j1, every column (bias: the vertex's own
/// parameters, may be null; layernorm's gains and shifts). Z and Y may be
/// one buffer, where the activation's derivative follows from its output
/// (Kinds.h, derivativeFromOutput): the runtime then keeps no separate Z.
constexpr KernelArg actForwardArgs[] = {{"Z", A::Reals}, {"bias", A::Reals}, {"Y", A::RealsOut},
                                        {"j0", A::Int},  {"j1", A::Int},     {"B", A::Int}};
/// dZ = the gradient through act of dY; dbias += that of the vertex's own
/// parameters (bias and dbias are null for vertices without them, and only
/// then). Z: the pre-activation, or for activations whose derivative
/// follows from their output, the output Y. dY and dZ may be one buffer
/// for elementwise activations (Kinds.h, actsElementwise).
constexpr KernelArg actBackwardArgs[] = {
    {"Z", A::Reals},      {"bias", A::Reals}, {"dY", A::Reals}, {"dZ", A::RealsOut},
    {"dbias", A::RealsOut}, {"j0", A::Int},   {"j1", A::Int},   {"B", A::Int}};
/// Z = the joint aggregation (attention) of the in-edges' pre-activations
/// Zq, Zk, Zv, rows j0..j1, columns b0..b1.
constexpr KernelArg aggForwardArgs[] = {
    {"Zq", A::Reals}, {"Zk", A::Reals}, {"Zv", A::Reals}, {"Z", A::RealsOut}, {"j0", A::Int},
    {"j1", A::Int},   {"b0", A::Int},   {"b1", A::Int},   {"B", A::Int}};
/// dZq, dZk, dZv = the gradients of the aggregation given dZ (same rows and
/// columns).
constexpr KernelArg aggBackwardArgs[] = {
    {"Zq", A::Reals},      {"Zk", A::Reals},      {"Zv", A::Reals}, {"dZ", A::Reals},
    {"dZq", A::RealsOut},  {"dZk", A::RealsOut},  {"dZv", A::RealsOut}, {"j0", A::Int},
    {"j1", A::Int},        {"b0", A::Int},        {"b1", A::Int},   {"B", A::Int}};

template <size_t N> constexpr KernelDecl decl(const char *prefix, const KernelArg (&args)[N]) {
  return {prefix, args, N};
}
/// By slot: edge_kernels[k * NumEdgeSlots + slot] of a variant is edgeKernels[slot]
/// for edge signature k.
constexpr KernelDecl edgeKernels[NumEdgeSlots] = {decl("rslc_fwd_", forwardArgs),
                                                  decl("rslc_wgrad_", weightGradArgs),
                                                  decl("rslc_dgrad_", dataGradArgs),
                                                  decl("rslc_dscatter_", dataGradScatterArgs)};
constexpr KernelDecl vertexKernels[NumVertexSlots] = {
    decl("rslc_act_", actForwardArgs), decl("rslc_actgrad_", actBackwardArgs),
    decl("rslc_agg_", aggForwardArgs), decl("rslc_agggrad_", aggBackwardArgs)};

/// The runtime's view of the kernels, for real type T.
template <typename T> struct Kernels {
  using Forward = void (*)(const T *W, const T *Y, T *Z, const uint32_t *col,
                           const uint64_t *rowPtr, int64_t j0, int64_t j1, int64_t b0,
                           int64_t b1, int64_t B, int64_t add);
  using WeightGrad = void (*)(T *dW, const T *dZ, const T *Y, const uint32_t *col,
                              const uint64_t *rowPtr, int64_t j0, int64_t j1, int64_t q0,
                              int64_t q1, int64_t B);
  using DataGrad = void (*)(const T *W, const T *dZ, const T *Y, T *dY, const uint64_t *tPtr,
                            const uint32_t *tRow, const uint32_t *tPos, int64_t i0, int64_t i1,
                            int64_t b0, int64_t b1, int64_t B, int64_t add);
  using DataGradScatter = void (*)(const T *W, const T *dZ, T *dY, const uint32_t *col,
                                   const uint64_t *rowPtr, int64_t j0, int64_t j1, int64_t B);
  using ActForward = void (*)(const T *Z, const T *bias, T *Y, int64_t j0, int64_t j1,
                              int64_t B);
  using ActBackward = void (*)(const T *Z, const T *bias, const T *dY, T *dZ, T *dbias,
                               int64_t j0, int64_t j1, int64_t B);
  using AggForward = void (*)(const T *Zq, const T *Zk, const T *Zv, T *Z, int64_t j0,
                              int64_t j1, int64_t b0, int64_t b1, int64_t B);
  using AggBackward = void (*)(const T *Zq, const T *Zk, const T *Zv, const T *dZ, T *dZq,
                               T *dZk, T *dZv, int64_t j0, int64_t j1, int64_t b0, int64_t b1,
                               int64_t B);
};

//===--- Compile-time check: the C++ types follow the argument tables -----===//
namespace detail {
template <typename T, typename X> constexpr ArgType argType() {
  static_assert(std::is_same_v<X, const T *> || std::is_same_v<X, T *> ||
                    std::is_same_v<X, const uint32_t *> || std::is_same_v<X, const uint64_t *> ||
                    std::is_same_v<X, int64_t>,
                "a kernel argument of a type the contract does not know");
  if constexpr (std::is_same_v<X, const T *>)
    return ArgType::Reals;
  else if constexpr (std::is_same_v<X, T *>)
    return ArgType::RealsOut;
  else if constexpr (std::is_same_v<X, const uint32_t *>)
    return ArgType::Index32;
  else if constexpr (std::is_same_v<X, const uint64_t *>)
    return ArgType::Index64;
  else
    return ArgType::Int;
}
template <typename T, typename F> struct Follows;
template <typename T, typename... X> struct Follows<T, void (*)(X...)> {
  static constexpr bool check(const KernelDecl &d) {
    ArgType types[] = {argType<T, X>()...};
    if (sizeof...(X) != d.numArgs)
      return false;
    for (size_t i = 0; i < d.numArgs; ++i)
      if (types[i] != d.args[i].type)
        return false;
    return true;
  }
};
template <typename T> constexpr bool follows() {
  using K = Kernels<T>;
  return Follows<T, typename K::Forward>::check(edgeKernels[Forward]) &&
         Follows<T, typename K::WeightGrad>::check(edgeKernels[WeightGrad]) &&
         Follows<T, typename K::DataGrad>::check(edgeKernels[DataGrad]) &&
         Follows<T, typename K::DataGradScatter>::check(edgeKernels[DataGradScatter]) &&
         Follows<T, typename K::ActForward>::check(vertexKernels[ActForward]) &&
         Follows<T, typename K::ActBackward>::check(vertexKernels[ActBackward]) &&
         Follows<T, typename K::AggForward>::check(vertexKernels[AggForward]) &&
         Follows<T, typename K::AggBackward>::check(vertexKernels[AggBackward]);
}
static_assert(follows<float>() && follows<double>(),
              "KernelContract.h: the runtime's kernel types disagree with the argument tables");
} // namespace detail

} // namespace rslc::contract

#endif
