//===- EmitKernels.cpp - the module of core/KernelContract.h --------------===//
//
// One kernel per signature (core/KernelSignatures.h): the code is
// specialised on the base graph's shapes, maps, activations and row
// layouts, and reads the lifted structure from index arrays, so its size
// depends on neither the number of lifted edges nor the number of base
// edges sharing a signature. This file drives the emission and holds the
// building blocks; the kernels themselves are in EdgeKernels.cpp and
// VertexKernels.cpp.
//
//===----------------------------------------------------------------------===//
#include "CodeGen/KernelBuilder.h"

#include "core/EdgeMaps.h"
#include "core/PlanIO.h"

using namespace llvm;
using namespace rslc::lift;

namespace rslc::codegen {

KernelBuilder::KernelBuilder(const LiftPlan &plan, Precision precision, const KernelTarget &target,
                             unsigned variant, Module &module)
    : plan(plan), target(target), variant(variant), module(&module), ctx(module.getContext()),
      b(ctx) {
  T = precision == Precision::F64 ? b.getDoubleTy() : b.getFloatTy();
  lanes = target.vectorBits / T->getPrimitiveSizeInBits();
  tiles = {{8 * lanes, FixedVectorType::get(T, 8 * lanes)},
           {4 * lanes, FixedVectorType::get(T, 4 * lanes)},
           {lanes, FixedVectorType::get(T, lanes)},
           {1, T}};
  i64 = b.getInt64Ty();
  i32 = b.getInt32Ty();
  ptr = b.getPtrTy();
  // Reductions over the batch may be reassociated (and so vectorised): the
  // order is fixed by the code, so results stay deterministic.
  reduceFlags.setAllowReassoc();
  reduceFlags.setAllowContract();
}

std::pair<Constant *, Constant *> KernelBuilder::run() {
  KernelSignatures sigs = kernelSignatures(plan);
  std::vector<Constant *> edgeTable, vertexTable;
  Constant *none = ConstantPointerNull::get(ptr);
  for (size_t k = 0; k < sigs.edges.size(); ++k) {
    const EdgeSignature &sig = sigs.edges[k];
    Constant *slots[contract::NumEdgeSlots];
    slots[contract::Forward] = edgeForward(sig, k);
    slots[contract::WeightGrad] = hasWeights(sig.map) ? edgeWeightGrad(sig, k) : none;
    slots[contract::DataGrad] = edgeDataGrad(sig, k);
    slots[contract::DataGradScatter] = sig.scatters() ? edgeDataGradScatter(sig, k) : none;
    edgeTable.insert(edgeTable.end(), std::begin(slots), std::end(slots));
  }
  for (size_t k = 0; k < sigs.vertices.size(); ++k) {
    const VertexSignature &sig = sigs.vertices[k];
    bool joint = sig.agg == Aggregation::Attention;
    Constant *slots[contract::NumVertexSlots];
    slots[contract::ActForward] = activationForward(sig, k);
    slots[contract::ActBackward] = activationBackward(sig, k);
    slots[contract::AggForward] = joint ? attentionForward(sig, k) : none;
    slots[contract::AggBackward] = joint ? attentionBackward(sig, k) : none;
    vertexTable.insert(vertexTable.end(), std::begin(slots), std::end(slots));
  }
  std::string suffix = variant ? "_v" + std::to_string(variant) : "";
  return {table("rslc_edge_kernels" + suffix, edgeTable),
          table("rslc_vertex_kernels" + suffix, vertexTable)};
}

namespace {
GlobalVariable *defineGlobal(Module &m, StringRef name, Constant *init) {
  auto *g = new GlobalVariable(m, init->getType(), /*isConstant=*/true,
                               GlobalValue::ExternalLinkage, init, name);
  g->setVisibility(GlobalValue::HiddenVisibility);
  return g;
}
} // namespace

Constant *KernelBuilder::table(StringRef name, ArrayRef<Constant *> entries) {
  return defineGlobal(*module, name, ConstantArray::get(ArrayType::get(ptr, entries.size()), entries));
}

Function *KernelBuilder::kernel(const contract::KernelDecl &decl, size_t k) {
  std::vector<Type *> types;
  for (size_t a = 0; a < decl.numArgs; ++a)
    types.push_back(decl.args[a].type == contract::ArgType::Int ? static_cast<Type *>(i64) : ptr);
  auto *f = Function::Create(FunctionType::get(b.getVoidTy(), types, false),
                             GlobalValue::ExternalLinkage,
                             decl.symbolPrefix + Twine(k) +
                                 (variant ? "_v" + Twine(variant) : Twine()),
                             *module);
  f->setVisibility(GlobalValue::HiddenVisibility);
  f->addFnAttr(Attribute::NoUnwind);
  // Always both: a function without them would take the target machine's,
  // which are the first variant's.
  f->addFnAttr("target-cpu", target.cpu);
  f->addFnAttr("target-features", target.featureString);
  for (unsigned a = 0; a < decl.numArgs; ++a) {
    Argument *argument = f->getArg(a);
    argument->setName(decl.args[a].name);
    contract::ArgType t = decl.args[a].type;
    if (t == contract::ArgType::Int)
      continue;
    argument->addAttr(Attribute::NoAlias);
    argument->addAttr(Attribute::NoCapture);
    if (t != contract::ArgType::RealsOut)
      argument->addAttr(Attribute::ReadOnly);
  }
  b.SetInsertPoint(BasicBlock::Create(ctx, "entry", f));
  return f;
}

Value *KernelBuilder::arg(Function *f, StringRef name) {
  for (Argument &a : f->args())
    if (a.getName() == name)
      return &a;
  return nullptr;
}

void KernelBuilder::loop(Value *start, Value *end, const Twine &name,
                         function_ref<void(Value *)> body, int64_t step) {
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

Value *KernelBuilder::reduce(Value *start, Value *end, Value *init, const Twine &name,
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

void KernelBuilder::ifThen(Value *cond, function_ref<void()> body) {
  ifElse(cond, body, [] {}); // the empty else block folds away
}

void KernelBuilder::ifElse(Value *cond, function_ref<void()> then,
                           function_ref<void()> otherwise) {
  Function *f = b.GetInsertBlock()->getParent();
  BasicBlock *yes = BasicBlock::Create(ctx, "then", f);
  BasicBlock *no = BasicBlock::Create(ctx, "else", f);
  BasicBlock *done = BasicBlock::Create(ctx, "endif", f);
  b.CreateCondBr(cond, yes, no);
  b.SetInsertPoint(yes);
  then();
  b.CreateBr(done);
  b.SetInsertPoint(no);
  otherwise();
  b.CreateBr(done);
  b.SetInsertPoint(done);
}

void KernelBuilder::batchTiles(Value *from, Value *b1,
                               function_ref<void(Value *offset, size_t k)> body,
                               bool maskedTail) {
  std::vector<int64_t> widths;
  for (auto &tile : tiles)
    widths.push_back(tile.first);
  batchTiles(from, b1, widths, body, maskedTail);
}

void KernelBuilder::batchTiles(Value *from, Value *b1, ArrayRef<int64_t> widths,
                               function_ref<void(Value *offset, size_t k)> body,
                               bool maskedTail) {
  const size_t vectorKinds = widths.size() - 1; // the last width is 1
  for (size_t k = 0; k < vectorKinds; ++k) {
    Value *to = add(from, mul(b.CreateSDiv(b.CreateNSWSub(b1, from), c64(widths[k])), c64(widths[k])));
    loop(from, to, "t", [&](Value *t) { body(t, k); }, widths[k]);
    from = to;
  }
  if (!maskedTail || vectorKinds == 0) { // the rest a column at a time
    loop(from, b1, "t", [&](Value *t) { body(t, vectorKinds); });
    return;
  }
  // One column left (batch 1) goes alone: a masked tile reads a whole
  // vector for it (batch-1 inference 1.3x slower).
  const size_t k = vectorKinds - 1;
  Value *rest = b.CreateNSWSub(b1, from);
  ifElse(
      b.CreateICmpEQ(rest, c64(1)), [&] { body(from, vectorKinds); },
      [&] {
        ifThen(b.CreateICmpSGT(rest, c64(1)), [&] {
          tailMask = lanesBelow(widths[k], rest);
          body(from, k);
          tailMask = nullptr;
        });
      });
}

Value *KernelBuilder::lanesBelow(int64_t width, Value *n) {
  SmallVector<llvm::Constant *, 16> lane;
  for (int64_t l = 0; l < width; ++l)
    lane.push_back(c64(l));
  return b.CreateICmpSLT(llvm::ConstantVector::get(lane), b.CreateVectorSplat(unsigned(width), n),
                         "tail");
}

Value *KernelBuilder::loadTile(Type *type, Value *base, Value *index) {
  const Align align(T->getPrimitiveSizeInBits() / 8);
  if (inTail(type))
    return b.CreateMaskedLoad(type, at(base, index), align, tailMask,
                              Constant::getNullValue(type));
  return b.CreateAlignedLoad(type, at(base, index), align);
}

void KernelBuilder::storeTile(Value *v, Value *base, Value *index) {
  const Align align(T->getPrimitiveSizeInBits() / 8);
  if (inTail(v->getType()))
    b.CreateMaskedStore(v, at(base, index), align, tailMask);
  else
    b.CreateAlignedStore(v, at(base, index), align);
}

bool KernelBuilder::inTail(Type *type) const {
  auto *v = dyn_cast<FixedVectorType>(type);
  return tailMask && v &&
         v->getNumElements() == cast<FixedVectorType>(tailMask->getType())->getNumElements();
}

Value *KernelBuilder::splat(Type *type, Value *scalar) {
  if (auto *v = dyn_cast<FixedVectorType>(type))
    return b.CreateVectorSplat(v->getNumElements(), scalar);
  return scalar;
}

Value *KernelBuilder::libm(StringRef name, Value *x) {
  std::string n = T->isDoubleTy() ? name.str() : name.str() + "f";
  FunctionCallee f = module->getOrInsertFunction(n, FunctionType::get(T, {T}, false));
  if (auto *fn = dyn_cast<Function>(f.getCallee())) {
    fn->setDoesNotThrow();
    fn->setDoesNotAccessMemory();
  }
  return b.CreateCall(f, {x});
}

Value *KernelBuilder::exp(Value *x) {
  if (T->isDoubleTy())
    return call(Intrinsic::exp, {x});
  // Cephes' expf: x = n ln2 + r, |r| <= ln2/2, e^r by a degree-5 minimax
  // polynomial, 2^n by exponent arithmetic in two halves (n may be 128).
  Type *type = x->getType();
  auto c = [&](double v) { return splat(type, v); };
  Type *intType = type->isVectorTy()
                      ? static_cast<Type *>(FixedVectorType::get(
                            i32, cast<FixedVectorType>(type)->getNumElements()))
                      : static_cast<Type *>(i32);
  const double hi = 88.72283905206835, lo = -87.33654475055310;
  Value *xc = call(Intrinsic::maxnum, {call(Intrinsic::minnum, {x, c(hi)}), c(lo)});
  Value *n = call(Intrinsic::rint, {fmul(xc, c(1.44269504088896341))});
  Value *r = fma(n, c(2.12194440e-4), fma(n, c(-0.693359375), xc));
  Value *p = c(1.9875691500E-4);
  for (double coef : {1.3981999507E-3, 8.3334519073E-3, 4.1665795894E-2, 1.6666665459E-1,
                      5.0000001201E-1})
    p = fma(p, r, c(coef));
  Value *er = fadd(fma(p, fmul(r, r), r), c(1));
  Value *ni = b.CreateFPToSI(n, intType);
  Value *half = b.CreateAShr(ni, ConstantInt::get(intType, 1));
  auto pow2 = [&](Value *e) {
    return b.CreateBitCast(b.CreateShl(b.CreateAdd(e, ConstantInt::get(intType, 127)),
                                       ConstantInt::get(intType, 23)),
                           type);
  };
  Value *y = fmul(fmul(er, pow2(half)), pow2(b.CreateSub(ni, half)));
  y = b.CreateSelect(b.CreateFCmpOGT(x, c(hi)), c(HUGE_VAL), y);
  y = b.CreateSelect(b.CreateFCmpOLT(x, c(lo)), c(0), y);
  return b.CreateSelect(b.CreateFCmpUNO(x, x), x, y); // NaN stays NaN
}

Value *KernelBuilder::sumOverBatch(Value *B, function_ref<Value *(Value *)> term,
                                   bool contractTerm) {
  return reduce(c64(0), B, fp(0), "b", [&](Value *bb, Value *acc) {
    if (contractTerm)
      b.setFastMathFlags(reduceFlags);
    Value *t = term(bb);
    b.setFastMathFlags(reduceFlags);
    Value *r = fadd(acc, t);
    b.clearFastMathFlags();
    return r;
  });
}

std::unique_ptr<Module> emitKernels(const LiftPlan &plan, Precision precision,
                                    ArrayRef<KernelTarget> variants, LLVMContext &ctx) {
  auto module = std::make_unique<Module>(plan.module, ctx);
  Type *i32 = Type::getInt32Ty(ctx), *i64 = Type::getInt64Ty(ctx);
  PointerType *ptr = PointerType::getUnqual(ctx);
  StructType *variantType = StructType::get(ctx, {ptr, ptr, ptr, ptr});
  std::vector<Constant *> entries;
  for (unsigned v = 0; v < variants.size(); ++v) {
    auto [edges, vertices] = KernelBuilder(plan, precision, variants[v], v, *module).run();
    std::string suffix = v ? "_v" + std::to_string(v) : "";
    Constant *cpu = defineGlobal(*module, "rslc_target_cpu" + suffix,
                                 ConstantDataArray::getString(ctx, variants[v].cpu, true));
    Constant *features = defineGlobal(*module, "rslc_target_features" + suffix,
                                      ConstantDataArray::getString(ctx, variants[v].features, true));
    entries.push_back(ConstantStruct::get(variantType, {cpu, features, edges, vertices}));
  }
  defineGlobal(*module, "rslc_kernel_variants",
               ConstantArray::get(ArrayType::get(variantType, entries.size()), entries));
  defineGlobal(*module, "rslc_num_kernel_variants", ConstantInt::get(i32, variants.size()));
  KernelSignatures sigs = kernelSignatures(plan);
  std::string text = serializePlan(plan);
  defineGlobal(*module, "rslc_plan_text", ConstantDataArray::getString(ctx, text, true));
  defineGlobal(*module, "rslc_plan_size", ConstantInt::get(i64, text.size()));
  defineGlobal(*module, "rslc_real_bytes", ConstantInt::get(i32, precision == Precision::F64 ? 8 : 4));
  defineGlobal(*module, "rslc_contract_version", ConstantInt::get(i32, contract::version));
  defineGlobal(*module, "rslc_num_edge_kernels", ConstantInt::get(i32, sigs.edges.size()));
  defineGlobal(*module, "rslc_num_vertex_kernels", ConstantInt::get(i32, sigs.vertices.size()));
  return module;
}

} // namespace rslc::codegen
