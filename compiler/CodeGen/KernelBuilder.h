//===- KernelBuilder.h - IR building blocks shared by the kernel emitters -===//
//
// One KernelBuilder emits one module: it creates kernels as the contract
// declares them (core/KernelContract.h) and offers the loops, batch tiles
// and arithmetic the edge kernels (EdgeKernels.cpp) and vertex kernels
// (VertexKernels.cpp) are written with.
//
// Batch tiles: a kernel walks the batch columns [b0, b1) in tiles of 8
// vector registers (8 independent FMA chains hide the FMA latency), then
// of 4, then of one register, then single columns (edge kernels: one masked
// register for the columns left, see batchTiles). Every column sees the same
// operations in the same order whatever tile holds it, so results do not
// depend on how callers split batches.
//
//===----------------------------------------------------------------------===//
#ifndef RSLC_CODEGEN_KERNELBUILDER_H
#define RSLC_CODEGEN_KERNELBUILDER_H

#include "CodeGen/EmitKernels.h"

#include "core/KernelContract.h"
#include "core/KernelSignatures.h"

#include "llvm/IR/IRBuilder.h"

#include <cmath>
#include <memory>
#include <vector>

namespace rslc::codegen {

class KernelBuilder {
public:
  /// Emits into `module` the kernels of variant `variant` (0: the best),
  /// compiled for `target` (function attributes target-cpu and -features).
  KernelBuilder(const lift::LiftPlan &plan, Precision precision, const KernelTarget &target,
                unsigned variant, llvm::Module &module);

  /// Every kernel, and the variant's edge and vertex tables.
  std::pair<llvm::Constant *, llvm::Constant *> run();

  // Everything below is for the emitters of EdgeKernels.cpp and
  // VertexKernels.cpp, which build their kernels with it.
  using Value = llvm::Value;
  using Type = llvm::Type;
  using Function = llvm::Function;

  //===--- Edge kernels (EdgeKernels.cpp) ---------------------------------===//
  Function *edgeForward(const lift::EdgeSignature &sig, size_t k);
  Function *edgeWeightGrad(const lift::EdgeSignature &sig, size_t k);
  Function *edgeDataGrad(const lift::EdgeSignature &sig, size_t k);
  Function *edgeDataGradScatter(const lift::EdgeSignature &sig, size_t k);

  //===--- Vertex kernels (VertexKernels.cpp) -----------------------------===//
  Function *activationForward(const lift::VertexSignature &sig, size_t k);
  Function *activationBackward(const lift::VertexSignature &sig, size_t k);
  Function *attentionForward(const lift::VertexSignature &sig, size_t k);
  Function *attentionBackward(const lift::VertexSignature &sig, size_t k);

  //===--- Building blocks ------------------------------------------------===//

  /// The kernel `decl` for signature k: void prefix<k>(args...), pointer
  /// arguments noalias (read-only unless written), named as in the contract;
  /// the builder is left in its entry block.
  Function *kernel(const contract::KernelDecl &decl, size_t k);
  Value *arg(Function *f, llvm::StringRef name);

  /// for (iv = start; iv < end; iv += step) body(iv)
  void loop(Value *start, Value *end, const llvm::Twine &name,
            llvm::function_ref<void(Value *)> body, int64_t step = 1);
  /// Like loop, carrying a floating accumulator; returns its final value.
  Value *reduce(Value *start, Value *end, Value *init, const llvm::Twine &name,
                llvm::function_ref<Value *(Value *iv, Value *acc)> body);
  /// if (cond) body()
  void ifThen(Value *cond, llvm::function_ref<void()> body);
  /// if (cond) then() else otherwise()
  void ifElse(Value *cond, llvm::function_ref<void()> then, llvm::function_ref<void()> otherwise);

  /// Batch columns [b0, b1) a tile at a time, widest tiles first; calls
  /// body(offset, k) for the tile of kind k at column offset.
  void batchTiles(Value *b0, Value *b1, llvm::function_ref<void(Value *offset, size_t k)> body,
                  bool maskedTail = false);
  /// The same over tiles of the given widths (widest first, the last 1).
  /// With `maskedTail`, the columns left after the narrowest vector tiles
  /// (fewer than its width) go in one more tile of that kind, whose
  /// loadTile and storeTile touch only those columns (tailMask), instead of
  /// one column at a time: the body must load and store batch columns only
  /// through them, and keep its columns independent.
  void batchTiles(Value *b0, Value *b1, llvm::ArrayRef<int64_t> widths,
                  llvm::function_ref<void(Value *offset, size_t k)> body,
                  bool maskedTail = false);
  Type *tileType(size_t k) const { return tiles[k].second; }
  /// A tile of `type` at base[index ..] (batch rows are aligned to one
  /// element); in a masked tail tile, vectors of its width load 0 and store
  /// nothing past the batch's end.
  Value *loadTile(Type *type, Value *base, Value *index);
  void storeTile(Value *v, Value *base, Value *index);
  /// A scalar broadcast to `type` (a tile's type).
  Value *splat(Type *type, Value *scalar);
  Value *splat(Type *type, double x) { return splat(type, fp(x)); }

  /// e^x, for scalars and tiles. f32: a range-reduced polynomial (within
  /// 2 ulp, NaN and infinities handled), vectorised; f64 (gradient checks):
  /// the exact llvm.exp.
  Value *exp(Value *x);

  llvm::Constant *c64(int64_t v) { return llvm::ConstantInt::get(i64, v); }
  llvm::Constant *fp(double v) { return llvm::ConstantFP::get(T, v); }
  Value *at(Value *base, Value *index) { return b.CreateInBoundsGEP(T, base, index); }
  Value *load(Value *base, Value *index) { return b.CreateLoad(T, at(base, index)); }
  /// A hint to fetch the line of base[index] (which may lie past the
  /// array: no access is made) into L1 (`toL1`) or L2, for a read or a
  /// write.
  void prefetch(Value *base, Value *index, bool write, bool toL1) {
    Value *p = b.CreateGEP(T, base, index);
    b.CreateIntrinsic(llvm::Intrinsic::prefetch, {p->getType()},
                      {p, b.getInt32(write), b.getInt32(toL1 ? 3 : 2), b.getInt32(1)});
  }
  /// Elements per cache line (64 bytes).
  int64_t lineElements() const { return 512 / int64_t(T->getPrimitiveSizeInBits()); }
  Value *mul(Value *x, Value *y) { return b.CreateNSWMul(x, y); }
  Value *add(Value *x, Value *y) { return b.CreateNSWAdd(x, y); }
  Value *fadd(Value *x, Value *y) { return b.CreateFAdd(x, y); }
  Value *fsub(Value *x, Value *y) { return b.CreateFSub(x, y); }
  Value *fmul(Value *x, Value *y) { return b.CreateFMul(x, y); }
  Value *fma(Value *x, Value *y, Value *z) {
    return b.CreateIntrinsic(llvm::Intrinsic::fmuladd, {x->getType()}, {x, y, z});
  }
  Value *call(llvm::Intrinsic::ID id, llvm::ArrayRef<Value *> args) {
    return b.CreateIntrinsic(id, {args[0]->getType()}, args);
  }
  Value *libm(llvm::StringRef name, Value *x);
  /// x += s at base[index] (a scalar).
  void addTo(Value *base, Value *index, Value *s) {
    Value *p = at(base, index);
    b.CreateStore(fadd(b.CreateLoad(T, p), s), p);
  }
  /// sum over b in [0, B) of term(b), reassociable (vectorised), in a fixed
  /// order: deterministic. With `contractTerm`, the term's own arithmetic
  /// may fuse into the sum (a product becomes an FMA).
  Value *sumOverBatch(Value *B, llvm::function_ref<Value *(Value *b)> term,
                      bool contractTerm = false);

  const lift::LiftPlan &plan;
  const KernelTarget &target;
  const unsigned variant;
  llvm::Module *module;
  llvm::LLVMContext &ctx;
  llvm::IRBuilder<> b;
  Type *T, *i64, *i32;
  llvm::PointerType *ptr;
  /// Batch tiles, widest first: columns and their type.
  std::vector<std::pair<int64_t, Type *>> tiles;
  /// Elements of T in one vector register.
  int64_t lanes;
  /// <width x i1>: lane l < n (a mask of a tile's first n columns).
  Value *lanesBelow(int64_t width, Value *n);
  /// While a masked tail tile's body is emitted: its columns inside the
  /// batch (<N x i1>), else null.
  Value *tailMask = nullptr;
  llvm::FastMathFlags reduceFlags;

private:
  /// Is `type` the masked tail tile's vector type (loads and stores masked)?
  bool inTail(Type *type) const;
  llvm::Constant *table(llvm::StringRef name, llvm::ArrayRef<llvm::Constant *> entries);
};

} // namespace rslc::codegen

#endif
