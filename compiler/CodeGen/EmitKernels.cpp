//===- EmitKernels.cpp - LLVM IR for the kernels of core/KernelContract.h --===//
//
// One kernel per signature (core/KernelSignatures.h): the code is
// specialised on the base graph's dimensions, activations and row layouts,
// and reads the lifted structure from index arrays, so its size depends on
// neither the number of lifted edges nor the number of base edges sharing a
// signature. Batch is the innermost, contiguous loop, so it vectorises.
//
//===----------------------------------------------------------------------===//
#include "CodeGen/EmitKernels.h"

#include "core/EdgeMaps.h"
#include "core/KernelContract.h"
#include "core/KernelSignatures.h"
#include "core/PlanIO.h"

#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/Intrinsics.h"

#include <cmath>

using namespace llvm;
using namespace rslc::lift;

namespace rslc::codegen {

namespace {

class KernelEmitter {
public:
  KernelEmitter(const LiftPlan &plan, Precision precision, unsigned vectorBits, LLVMContext &ctx)
      : plan(plan), ctx(ctx), b(ctx), module(std::make_unique<Module>(plan.module, ctx)) {
    T = precision == Precision::F64 ? b.getDoubleTy() : b.getFloatTy();
    // Tiles of 8 registers (8 independent FMA chains hide the FMA latency),
    // then of one register, then single columns.
    int64_t lanes = vectorBits / T->getPrimitiveSizeInBits();
    tiles = {{8 * lanes, FixedVectorType::get(T, 8 * lanes)},
             {lanes, FixedVectorType::get(T, lanes)},
             {1, T}};
    i64 = b.getInt64Ty();
    i32 = b.getInt32Ty();
    ptr = b.getPtrTy();
    // Reductions over the batch may be reassociated (and so vectorised):
    // the order is fixed by the code, so results stay deterministic.
    FastMathFlags fmf;
    fmf.setAllowReassoc();
    fmf.setAllowContract();
    reduceFlags = fmf;
  }

  std::unique_ptr<Module> run() {
    KernelSignatures sigs = kernelSignatures(plan);
    std::vector<Constant *> edgeTable, vertexTable;
    for (size_t k = 0; k < sigs.edges.size(); ++k) {
      const EdgeSignature &sig = sigs.edges[k];
      Constant *slots[contract::NumEdgeSlots];
      slots[contract::Forward] = edgeForward(sig, k);
      slots[contract::WeightGrad] = weightsPerLiftedEdge(sig.map, 1, 1) > 0
                                        ? static_cast<Constant *>(edgeWeightGrad(sig, k))
                                        : ConstantPointerNull::get(ptr);
      slots[contract::DataGrad] = edgeDataGrad(sig, k);
      edgeTable.insert(edgeTable.end(), std::begin(slots), std::end(slots));
    }
    for (size_t k = 0; k < sigs.vertices.size(); ++k) {
      Constant *slots[contract::NumVertexSlots];
      slots[contract::ActForward] = activationForward(sigs.vertices[k], k);
      slots[contract::ActBackward] = activationBackward(sigs.vertices[k], k);
      vertexTable.insert(vertexTable.end(), std::begin(slots), std::end(slots));
    }
    table("rslc_edge_kernels", edgeTable);
    table("rslc_vertex_kernels", vertexTable);
    std::string text = serializePlan(plan);
    global("rslc_plan_text", ConstantDataArray::getString(ctx, text, /*AddNull=*/true));
    global("rslc_plan_size", ConstantInt::get(i64, text.size()));
    global("rslc_real_bytes", ConstantInt::get(i32, T->isDoubleTy() ? 8 : 4));
    global("rslc_contract_version", ConstantInt::get(i32, contract::version));
    global("rslc_num_edge_kernels", ConstantInt::get(i32, sigs.edges.size()));
    global("rslc_num_vertex_kernels", ConstantInt::get(i32, sigs.vertices.size()));
    return std::move(module);
  }

private:
  //===--- Helpers --------------------------------------------------------===//

  void global(StringRef name, Constant *init) {
    auto *g = new GlobalVariable(*module, init->getType(), /*isConstant=*/true,
                                 GlobalValue::ExternalLinkage, init, name);
    g->setVisibility(GlobalValue::HiddenVisibility);
  }
  void table(StringRef name, ArrayRef<Constant *> entries) {
    global(name, ConstantArray::get(ArrayType::get(ptr, entries.size()), entries));
  }

  /// The kernel `decl` for signature k: void prefix<k>(args...), pointer
  /// arguments noalias (read-only unless written), arguments named as in the
  /// contract.
  Function *kernel(const contract::KernelDecl &decl, size_t k) {
    std::vector<Type *> types;
    for (size_t a = 0; a < decl.numArgs; ++a)
      types.push_back(decl.args[a].type == contract::ArgType::Int ? static_cast<Type *>(i64) : ptr);
    auto *f = Function::Create(FunctionType::get(b.getVoidTy(), types, false),
                               GlobalValue::ExternalLinkage, decl.symbolPrefix + Twine(k), *module);
    f->setVisibility(GlobalValue::HiddenVisibility);
    f->addFnAttr(Attribute::NoUnwind);
    for (unsigned a = 0; a < decl.numArgs; ++a) {
      Argument *arg = f->getArg(a);
      arg->setName(decl.args[a].name);
      contract::ArgType t = decl.args[a].type;
      if (t == contract::ArgType::Int)
        continue;
      arg->addAttr(Attribute::NoAlias);
      arg->addAttr(Attribute::NoCapture);
      if (t != contract::ArgType::RealsOut)
        arg->addAttr(Attribute::ReadOnly);
    }
    b.SetInsertPoint(BasicBlock::Create(ctx, "entry", f));
    return f;
  }
  Value *arg(Function *f, StringRef name) {
    for (Argument &a : f->args())
      if (a.getName() == name)
        return &a;
    return nullptr;
  }

  /// for (iv = start; iv < end; iv += step) body(iv)
  void loop(Value *start, Value *end, const Twine &name, function_ref<void(Value *)> body,
            int64_t step = 1) {
    Function *f = b.GetInsertBlock()->getParent();
    BasicBlock *pre = b.GetInsertBlock();
    BasicBlock *header = BasicBlock::Create(ctx, name + ".header", f);
    BasicBlock *bodyBB = BasicBlock::Create(ctx, name + ".body", f);
    BasicBlock *exit = BasicBlock::Create(ctx, name + ".exit", f);
    b.CreateBr(header);
    b.SetInsertPoint(header);
    PHINode *iv = b.CreatePHI(start->getType(), 2, name);
    iv->addIncoming(start, pre);
    b.CreateCondBr(b.CreateICmpSLT(iv, end), bodyBB, exit);
    b.SetInsertPoint(bodyBB);
    body(iv);
    iv->addIncoming(b.CreateAdd(iv, ConstantInt::get(iv->getType(), step), name + ".next",
                                /*HasNUW=*/true, /*HasNSW=*/true),
                    b.GetInsertBlock());
    b.CreateBr(header);
    b.SetInsertPoint(exit);
  }
  /// Like loop, carrying a floating accumulator; returns its final value.
  Value *reduce(Value *start, Value *end, Value *init, const Twine &name,
                function_ref<Value *(Value *iv, Value *acc)> body) {
    Function *f = b.GetInsertBlock()->getParent();
    BasicBlock *pre = b.GetInsertBlock();
    BasicBlock *header = BasicBlock::Create(ctx, name + ".header", f);
    BasicBlock *bodyBB = BasicBlock::Create(ctx, name + ".body", f);
    BasicBlock *exit = BasicBlock::Create(ctx, name + ".exit", f);
    b.CreateBr(header);
    b.SetInsertPoint(header);
    PHINode *iv = b.CreatePHI(start->getType(), 2, name);
    PHINode *acc = b.CreatePHI(init->getType(), 2, name + ".acc");
    iv->addIncoming(start, pre);
    acc->addIncoming(init, pre);
    b.CreateCondBr(b.CreateICmpSLT(iv, end), bodyBB, exit);
    b.SetInsertPoint(bodyBB);
    Value *next = body(iv, acc);
    iv->addIncoming(b.CreateAdd(iv, ConstantInt::get(iv->getType(), 1), "", true, true),
                    b.GetInsertBlock());
    acc->addIncoming(next, b.GetInsertBlock());
    b.CreateBr(header);
    b.SetInsertPoint(exit);
    return acc;
  }

  Value *c64(int64_t v) { return ConstantInt::get(i64, v); }
  Value *fp(double v) { return ConstantFP::get(T, v); }
  Value *at(Value *base, Value *index) { return b.CreateInBoundsGEP(T, base, index); }
  Value *load(Value *base, Value *index) { return b.CreateLoad(T, at(base, index)); }
  Value *mul(Value *x, Value *y) { return b.CreateNSWMul(x, y); }
  Value *add(Value *x, Value *y) { return b.CreateNSWAdd(x, y); }
  Value *fadd(Value *x, Value *y) { return b.CreateFAdd(x, y); }
  Value *fmul(Value *x, Value *y) { return b.CreateFMul(x, y); }
  Value *call(Intrinsic::ID id, ArrayRef<Value *> args) {
    return b.CreateIntrinsic(id, {T}, args);
  }
  Value *libm(StringRef name, Value *x) {
    std::string n = T->isDoubleTy() ? name.str() : name.str() + "f";
    FunctionCallee f = module->getOrInsertFunction(n, FunctionType::get(T, {T}, false));
    if (auto *fn = dyn_cast<Function>(f.getCallee())) {
      fn->setDoesNotThrow();
      fn->setDoesNotAccessMemory();
    }
    return b.CreateCall(f, {x});
  }

  //===--- The lifted structure, as the row layout gives it (LiftedGraph.h) ===//

  /// Row j: the forward positions [begin, end).
  std::pair<Value *, Value *> row(const EdgeSignature &sig, Value *j, Value *rowPtr) {
    if (int64_t len = sig.layout.rowLength)
      return {mul(j, c64(len)), mul(add(j, c64(1)), c64(len))};
    return {b.CreateLoad(i64, b.CreateInBoundsGEP(i64, rowPtr, j)),
            b.CreateLoad(i64, b.CreateInBoundsGEP(i64, rowPtr, add(j, c64(1))))};
  }
  /// The source copy of the lifted edge at position q of row j.
  Value *source(const EdgeSignature &sig, Value *j, Value *q, Value *col) {
    const RowLayout &l = sig.layout;
    if (l.explicitRows)
      return b.CreateZExt(b.CreateLoad(i32, b.CreateInBoundsGEP(i32, col, q)), i64);
    // implicit: row j reads sources j*stride + (q - j*rowLength)
    if (l.stride == l.rowLength)
      return q;
    return b.CreateNSWSub(q, mul(j, c64(l.rowLength - l.stride)));
  }
  /// Calls body(q, j) for every lifted edge leaving source copy i.
  void outgoing(const EdgeSignature &sig, Value *i, Function *f,
                function_ref<void(Value *q, Value *j)> body) {
    const RowLayout &l = sig.layout;
    if (!l.explicitRows && l.stride == 0) { // every row reads every source
      loop(c64(0), c64(sig.targetCopies), "j",
           [&](Value *j) { body(add(mul(j, c64(l.rowLength)), i), j); });
      return;
    }
    if (!l.explicitRows) { // blocks: source i is position i of row i / rowLength
      body(i, l.rowLength == 1 ? i : b.CreateSDiv(i, c64(l.rowLength)));
      return;
    }
    Value *tPtr = arg(f, "tPtr");
    Value *begin = b.CreateLoad(i64, b.CreateInBoundsGEP(i64, tPtr, i));
    Value *end = b.CreateLoad(i64, b.CreateInBoundsGEP(i64, tPtr, add(i, c64(1))));
    loop(begin, end, "t", [&](Value *t) {
      Value *q = b.CreateZExt(b.CreateLoad(i32, b.CreateInBoundsGEP(i32, arg(f, "tPos"), t)), i64);
      Value *j = b.CreateZExt(b.CreateLoad(i32, b.CreateInBoundsGEP(i32, arg(f, "tRow"), t)), i64);
      body(q, j);
    });
  }

  /// For lifted edge q (source copy i) and output component a, calls
  /// body(weight index, source row start) for each input component the map
  /// reads: every c for linear (W[q][a][c], row Y[i][c]), c = a for diag
  /// (w[q][a]) and skip (no weight: a null index).
  void forEachMapTerm(const EdgeSignature &sig, Value *q, Value *i, Value *a, Value *B,
                      function_ref<void(Value *weightIndex, Value *sourceRow)> body) {
    int64_t du = sig.du, dv = sig.dv;
    if (sig.map == MapKind::Linear) {
      loop(c64(0), c64(du), "c", [&](Value *c) {
        body(add(mul(add(mul(q, c64(dv)), a), c64(du)), c), mul(add(mul(i, c64(du)), c), B));
      });
      return;
    }
    body(sig.map == MapKind::Diag ? add(mul(q, c64(dv)), a) : nullptr,
         mul(add(mul(i, c64(du)), a), B));
  }

  /// Batch columns [b0, b1) a tile at a time, widest tiles first; calls
  /// body(offset, k) for the tile of kind k at column offset. Tiles are the
  /// outer loop so that the rows a kernel reads stay in cache across the
  /// rows it writes.
  void batchTiles(Function *f, function_ref<void(Value *offset, size_t k)> body) {
    Value *from = arg(f, "b0"), *b1 = arg(f, "b1");
    for (size_t k = 0; k < tiles.size(); ++k) {
      int64_t width = tiles[k].first;
      Value *to = k + 1 == tiles.size()
                      ? b1
                      : add(from, mul(b.CreateSDiv(b.CreateNSWSub(b1, from), c64(width)), c64(width)));
      loop(from, to, "t", [&](Value *t) { body(t, k); }, width);
      from = to;
    }
  }
  /// out[rowStart + offset ..] += the sum of the terms for the tile of kind
  /// k, accumulated in registers: terms(acc, type) adds each term into acc.
  /// Each column sees the same operations (fmuladd, same order) whatever
  /// tile holds it, so results do not depend on how callers split batches.
  void tileSum(size_t k, Value *out, Value *rowStart, Value *offset,
               function_ref<void(Value *acc, Type *type)> terms) {
    Type *type = tiles[k].second;
    b.CreateStore(Constant::getNullValue(type), accSlots[k]);
    terms(accSlots[k], type);
    Value *p = at(out, add(rowStart, offset));
    b.CreateAlignedStore(b.CreateFAdd(b.CreateAlignedLoad(type, p, elementAlign()),
                                      b.CreateLoad(type, accSlots[k])),
                         p, elementAlign());
  }
  /// *acc += w * source[offset..] (w null: += source), in acc's type.
  void accumulate(Value *acc, Type *type, Value *w, Value *source, Value *offset) {
    Value *x = b.CreateAlignedLoad(type, at(source, offset), elementAlign());
    Value *sum = b.CreateLoad(type, acc);
    if (w) {
      if (auto *v = dyn_cast<FixedVectorType>(type))
        w = b.CreateVectorSplat(v->getNumElements(), w);
      sum = b.CreateIntrinsic(Intrinsic::fmuladd, {type}, {w, x, sum});
    } else {
      sum = b.CreateFAdd(sum, x);
    }
    b.CreateStore(sum, acc);
  }
  /// Batch rows are only aligned to one element.
  Align elementAlign() { return Align(T->getPrimitiveSizeInBits() / 8); }
  /// Entry-block slots for the accumulators (promoted to registers).
  void accumulatorSlots() {
    accSlots.clear();
    for (auto &tile : tiles)
      accSlots.push_back(b.CreateAlloca(tile.second, nullptr, "acc"));
  }

  //===--- Edge kernels ---------------------------------------------------===//

  /// Z[j][a][b0:b1] += sum_q M(W[q], Y[i][:][b0:b1]), a batch tile at a
  /// time in registers.
  Function *edgeForward(const EdgeSignature &sig, size_t k) {
    int64_t dv = sig.dv;
    Function *f = kernel(contract::edgeKernels[contract::Forward], k);
    accumulatorSlots();
    Value *W = arg(f, "W"), *Y = arg(f, "Y"), *Z = arg(f, "Z"), *B = arg(f, "B");
    batchTiles(f, [&](Value *t, size_t k) {
      loop(arg(f, "j0"), arg(f, "j1"), "j", [&](Value *j) {
        auto [begin, end] = row(sig, j, arg(f, "rowPtr"));
        loop(c64(0), c64(dv), "a", [&](Value *a) {
          tileSum(k, Z, mul(add(mul(j, c64(dv)), a), B), t, [&](Value *acc, Type *type) {
            loop(begin, end, "q", [&](Value *q) {
              Value *i = source(sig, j, q, arg(f, "col"));
              forEachMapTerm(sig, q, i, a, B, [&](Value *wi, Value *yrow) {
                accumulate(acc, type, wi ? load(W, wi) : nullptr, Y, add(yrow, t));
              });
            });
          });
        });
      });
    });
    b.CreateRetVoid();
    return f;
  }

  /// dW[q][a][c] += sum_b dZ[j][a][b] * Y[i][c][b], positions q0..q1 of rows j0..j1.
  Function *edgeWeightGrad(const EdgeSignature &sig, size_t k) {
    int64_t dv = sig.dv;
    Function *f = kernel(contract::edgeKernels[contract::WeightGrad], k);
    Value *dW = arg(f, "dW"), *dZ = arg(f, "dZ"), *Y = arg(f, "Y"), *B = arg(f, "B");
    loop(arg(f, "j0"), arg(f, "j1"), "j", [&](Value *j) {
      auto [rowBegin, rowEnd] = row(sig, j, arg(f, "rowPtr"));
      // Only positions in [q0, q1): callers may split a long row.
      Value *begin = b.CreateBinaryIntrinsic(Intrinsic::smax, rowBegin, arg(f, "q0"));
      Value *end = b.CreateBinaryIntrinsic(Intrinsic::smin, rowEnd, arg(f, "q1"));
      loop(begin, end, "q", [&](Value *q) {
        Value *i = source(sig, j, q, arg(f, "col"));
        loop(c64(0), c64(dv), "a", [&](Value *a) {
          Value *zrow = mul(add(mul(j, c64(dv)), a), B);
          auto dot = [&](Value *yrow) {
            return reduce(c64(0), B, fp(0), "b", [&](Value *bb, Value *acc) {
              b.setFastMathFlags(reduceFlags);
              Value *r = fadd(acc, fmul(load(dZ, add(zrow, bb)), load(Y, add(yrow, bb))));
              b.clearFastMathFlags();
              return r;
            });
          };
          auto store = [&](Value *index, Value *s) {
            Value *p = at(dW, index);
            b.CreateStore(fadd(b.CreateLoad(T, p), s), p);
          };
          forEachMapTerm(sig, q, i, a, B,
                         [&](Value *wi, Value *yrow) { store(wi, dot(yrow)); });
        });
      });
    });
    b.CreateRetVoid();
    return f;
  }

  /// dY[i][c][b0:b1] += sum over edges q=(i->j) of W[q][a][c] * dZ[j][a][b0:b1]
  /// (the transpose of forEachMapTerm's terms), a batch tile at a time.
  Function *edgeDataGrad(const EdgeSignature &sig, size_t k) {
    int64_t du = sig.du, dv = sig.dv;
    Function *f = kernel(contract::edgeKernels[contract::DataGrad], k);
    accumulatorSlots();
    Value *W = arg(f, "W"), *dZ = arg(f, "dZ"), *dY = arg(f, "dY"), *B = arg(f, "B");
    batchTiles(f, [&](Value *t, size_t k) {
      loop(arg(f, "i0"), arg(f, "i1"), "i", [&](Value *i) {
        loop(c64(0), c64(du), "c", [&](Value *c) {
          Value *yrow = mul(add(mul(i, c64(du)), c), B);
          tileSum(k, dY, yrow, t, [&](Value *acc, Type *type) {
            outgoing(sig, i, f, [&](Value *q, Value *j) {
            auto term = [&](Value *a, Value *wi) {
              accumulate(acc, type, wi ? load(W, wi) : nullptr, dZ,
                         add(mul(add(mul(j, c64(dv)), a), B), t));
            };
            if (sig.map == MapKind::Linear)
              loop(c64(0), c64(dv), "a", [&](Value *a) {
                term(a, add(mul(add(mul(q, c64(dv)), a), c64(du)), c));
              });
            else // diag and skip: component c feeds component c
              term(c, sig.map == MapKind::Diag ? add(mul(q, c64(dv)), c) : nullptr);
            });
          });
        });
      });
    });
    b.CreateRetVoid();
    return f;
  }

  //===--- Vertex kernels -------------------------------------------------===//

  Value *sigmoid(Value *z) {
    return b.CreateFDiv(fp(1), fadd(fp(1), call(Intrinsic::exp, {b.CreateFNeg(z)})));
  }

  /// act(z) and act'(z).
  std::pair<Value *, Value *> activation(Activation act, Value *z) {
    Value *y = nullptr, *d = nullptr;
    switch (act) {
    case Activation::Identity:
      y = z, d = fp(1);
      break;
    case Activation::Relu: {
      Value *pos = b.CreateFCmpOGT(z, fp(0));
      y = b.CreateSelect(pos, z, fp(0)), d = b.CreateSelect(pos, fp(1), fp(0));
      break;
    }
    case Activation::LeakyRelu: {
      Value *pos = b.CreateFCmpOGT(z, fp(0));
      y = b.CreateSelect(pos, z, fmul(fp(0.01), z)), d = b.CreateSelect(pos, fp(1), fp(0.01));
      break;
    }
    case Activation::Relu32: {
      Value *inside = b.CreateAnd(b.CreateFCmpOGT(z, fp(0)), b.CreateFCmpOLT(z, fp(32)));
      y = b.CreateSelect(b.CreateFCmpOGT(z, fp(0)), b.CreateSelect(inside, z, fp(32)), fp(0));
      d = b.CreateSelect(inside, fp(1), fp(0));
      break;
    }
    case Activation::Tanh: {
      // tanh z = 1 - 2 / (exp(2z) + 1), exact at both tails
      Value *e2 = call(Intrinsic::exp, {fmul(fp(2), z)});
      y = b.CreateFSub(fp(1), b.CreateFDiv(fp(2), fadd(e2, fp(1))));
      d = b.CreateFSub(fp(1), fmul(y, y));
      break;
    }
    case Activation::Sigmoid:
      y = sigmoid(z), d = fmul(y, b.CreateFSub(fp(1), y));
      break;
    case Activation::Gelu: {
      // exact: z * Phi(z), Phi(z) = (1 + erf(z / sqrt 2)) / 2
      Value *phi = fmul(fp(0.5), fadd(fp(1), libm("erf", fmul(z, fp(M_SQRT1_2)))));
      y = fmul(z, phi);
      Value *density = fmul(fp(0.3989422804014327),
                             call(Intrinsic::exp, {fmul(fp(-0.5), fmul(z, z))}));
      d = fadd(phi, fmul(z, density));
      break;
    }
    case Activation::Softplus: {
      // max(z, 0) + log1p(exp(-|z|)), stable for large |z|
      Value *absz = call(Intrinsic::fabs, {z});
      y = fadd(call(Intrinsic::maxnum, {z, fp(0)}),
               libm("log1p", call(Intrinsic::exp, {b.CreateFNeg(absz)})));
      d = sigmoid(z);
      break;
    }
    case Activation::Silu: {
      Value *s = sigmoid(z);
      y = fmul(z, s);
      d = fadd(s, fmul(y, b.CreateFSub(fp(1), s)));
      break;
    }
    }
    return {y, d};
  }

  Function *activationForward(const VertexSignature &pv, size_t k) {
    Function *f = kernel(contract::vertexKernels[contract::ActForward], k);
    Value *Z = arg(f, "Z"), *Y = arg(f, "Y"), *B = arg(f, "B");
    loop(arg(f, "j0"), arg(f, "j1"), "j", [&](Value *j) {
      loop(c64(0), c64(pv.dim), "a", [&](Value *a) {
        Value *ja = add(mul(j, c64(pv.dim)), a);
        Value *bias = pv.bias ? load(arg(f, "bias"), ja) : nullptr;
        Value *rowStart = mul(ja, B);
        loop(c64(0), B, "b", [&](Value *bb) {
          Value *z = load(Z, add(rowStart, bb));
          if (bias)
            z = fadd(z, bias);
          b.CreateStore(activation(pv.act, z).first, at(Y, add(rowStart, bb)));
        });
      });
    });
    b.CreateRetVoid();
    return f;
  }

  Function *activationBackward(const VertexSignature &pv, size_t k) {
    Function *f = kernel(contract::vertexKernels[contract::ActBackward], k);
    Value *Z = arg(f, "Z"), *dY = arg(f, "dY"), *dZ = arg(f, "dZ"), *B = arg(f, "B");
    loop(arg(f, "j0"), arg(f, "j1"), "j", [&](Value *j) {
      loop(c64(0), c64(pv.dim), "a", [&](Value *a) {
        Value *ja = add(mul(j, c64(pv.dim)), a);
        Value *bias = pv.bias ? load(arg(f, "bias"), ja) : nullptr;
        Value *rowStart = mul(ja, B);
        Value *sum = reduce(c64(0), B, fp(0), "b", [&](Value *bb, Value *acc) {
          Value *z = load(Z, add(rowStart, bb));
          if (bias)
            z = fadd(z, bias);
          Value *g = fmul(load(dY, add(rowStart, bb)), activation(pv.act, z).second);
          b.CreateStore(g, at(dZ, add(rowStart, bb)));
          b.setFastMathFlags(reduceFlags);
          Value *r = fadd(acc, g);
          b.clearFastMathFlags();
          return r;
        });
        if (pv.bias) {
          Value *p = at(arg(f, "dbias"), ja);
          b.CreateStore(fadd(b.CreateLoad(T, p), sum), p);
        }
      });
    });
    b.CreateRetVoid();
    return f;
  }

  const LiftPlan &plan;
  LLVMContext &ctx;
  IRBuilder<> b;
  std::unique_ptr<Module> module;
  Type *T, *i64, *i32;
  /// Batch tiles, widest first: columns and the accumulator type.
  std::vector<std::pair<int64_t, Type *>> tiles;
  std::vector<Value *> accSlots; ///< the current kernel's accumulators, per tile
  PointerType *ptr;
  FastMathFlags reduceFlags;
};

} // namespace

std::unique_ptr<Module> emitKernels(const LiftPlan &plan, Precision precision, unsigned vectorBits,
                                    LLVMContext &ctx) {
  return KernelEmitter(plan, precision, vectorBits, ctx).run();
}

} // namespace rslc::codegen
