//===- ContractTest.cpp - the emitted module follows core/KernelContract.h -===//
//
// The code generator builds kernel types from the contract's tables and the
// runtime's C++ types are checked against the same tables at compile time;
// this test closes the loop on the emitted module itself: every table entry
// names a kernel with exactly the contract's arguments, and the globals the
// runtime reads are there with the right values.
//
//===----------------------------------------------------------------------===//
#include "CodeGen/EmitKernels.h"

#include "core/KernelContract.h"
#include "core/KernelSignatures.h"

#include "llvm/IR/Constants.h"
#include "llvm/IR/Function.h"
#include "llvm/IR/GlobalVariable.h"
#include "llvm/IR/Verifier.h"

#include <gtest/gtest.h>

#include <algorithm>

using namespace rslc;
using namespace rslc::lift;

namespace {

LiftSetting lift(LiftKind kind, int64_t degree = 0, double prob = 0) {
  LiftSetting s;
  s.kind = kind, s.degree = degree, s.prob = prob;
  return s;
}

/// A plan using every map, every lift kind and a product vertex; two edges
/// share a signature.
LiftPlan everyKind() {
  LiftPlan p;
  p.module = "m", p.lift = "l", p.seed = 3;
  p.vertices = {{"x", Role::Input, 1, 2, Activation::Identity, false, Aggregation::Sum},
                {"a", Role::Hidden, 8, 2, Activation::Relu, true, Aggregation::Sum},
                {"b", Role::Hidden, 8, 2, Activation::Tanh, true, Aggregation::Sum},
                {"c", Role::Hidden, 8, 2, Activation::Identity, false, Aggregation::Prod},
                {"y", Role::Output, 1, 3, Activation::Identity, true, Aggregation::Sum},
                {"d", Role::Hidden, 8, 1, Activation::Relu, true, Aggregation::Sum},
                {"e", Role::Hidden, 8, 1, Activation::Relu, true, Aggregation::Sum}};
  p.edges = {{0, 1, MapKind::Linear, {}, lift(LiftKind::Full), 0, {}},
             {1, 2, MapKind::Linear, {}, lift(LiftKind::Degree, 3), 1, {}},
             {1, 3, MapKind::Diag, {}, lift(LiftKind::Diagonal), 2, {}},
             {2, 3, MapKind::Skip, {}, lift(LiftKind::Diagonal), noGroup, {}},
             {0, 2, MapKind::Linear, {}, lift(LiftKind::Full), 3, {}},
             {3, 4, MapKind::Linear, {}, lift(LiftKind::Prob, 0, 0.5), 4, {}},
             {0, 5, MapKind::Linear, {}, lift(LiftKind::Full), 5, {}},
             {5, 6, MapKind::Linear, {}, lift(LiftKind::Degree, 3), 6, {}}, // scatters
             {6, 4, MapKind::Linear, {}, lift(LiftKind::Full), 7, {}}};
  for (PlanVertex &v : p.vertices)
    v.shape = {v.dim};
  p.groupNames = {"x->a", "a->b", "a->c", "x->b", "c->y", "x->d", "d->e", "e->y"};
  return p;
}

uint64_t constantOf(const llvm::Module &m, llvm::StringRef name) {
  const llvm::GlobalVariable *g = m.getNamedGlobal(name);
  EXPECT_NE(g, nullptr) << name.str();
  if (!g)
    return 0;
  return llvm::cast<llvm::ConstantInt>(g->getInitializer())->getZExtValue();
}

/// The table `name`'s entries: functions, or null.
std::vector<const llvm::Function *> tableOf(const llvm::Module &m, llvm::StringRef name) {
  std::vector<const llvm::Function *> out;
  const llvm::GlobalVariable *g = m.getNamedGlobal(name);
  EXPECT_NE(g, nullptr) << name.str();
  if (!g)
    return out;
  const auto *array = llvm::cast<llvm::ConstantArray>(g->getInitializer());
  for (const llvm::Use &op : array->operands())
    out.push_back(llvm::dyn_cast<llvm::Function>(op.get()));
  return out;
}

void expectFollows(const llvm::Function *f, const contract::KernelDecl &decl, size_t k) {
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->getName().str(), decl.symbolPrefix + std::to_string(k));
  EXPECT_TRUE(f->getReturnType()->isVoidTy());
  ASSERT_EQ(f->arg_size(), decl.numArgs) << f->getName().str();
  for (size_t a = 0; a < decl.numArgs; ++a) {
    const llvm::Argument *arg = f->getArg(a);
    const contract::KernelArg &want = decl.args[a];
    EXPECT_EQ(arg->getName().str(), want.name) << f->getName().str();
    if (want.type == contract::ArgType::Int) {
      EXPECT_TRUE(arg->getType()->isIntegerTy(64)) << want.name;
      continue;
    }
    EXPECT_TRUE(arg->getType()->isPointerTy()) << want.name;
    // Everything but the outputs is read-only (the optimiser may also
    // infer it for outputs a kernel only writes, never the reverse).
    if (want.type != contract::ArgType::RealsOut) {
      EXPECT_TRUE(arg->onlyReadsMemory()) << f->getName().str() << " " << want.name;
    }
  }
}

class Contract : public ::testing::TestWithParam<codegen::Precision> {};

TEST_P(Contract, EmittedModuleFollowsTheHeader) {
  LiftPlan plan = everyKind();
  KernelSignatures sigs = kernelSignatures(plan);
  EXPECT_LT(sigs.edges.size(), plan.edges.size()); // x->a and x->b share a kernel
  llvm::LLVMContext ctx;
  codegen::KernelTarget target;
  target.vectorBits = 256, target.cpu = "haswell", target.features = "avx,avx2,fma";
  std::unique_ptr<llvm::Module> m = codegen::emitKernels(plan, GetParam(), target, ctx);
  EXPECT_FALSE(llvm::verifyModule(*m, &llvm::errs()));

  EXPECT_EQ(constantOf(*m, "rslc_contract_version"), contract::version);
  EXPECT_EQ(constantOf(*m, "rslc_num_edge_kernels"), sigs.edges.size());
  EXPECT_EQ(constantOf(*m, "rslc_num_vertex_kernels"), sigs.vertices.size());
  EXPECT_EQ(constantOf(*m, "rslc_real_bytes"), GetParam() == codegen::Precision::F64 ? 8u : 4u);
  EXPECT_GT(constantOf(*m, "rslc_plan_size"), 0u);
  EXPECT_NE(m->getNamedGlobal("rslc_plan_text"), nullptr);
  for (auto [name, text] : {std::pair{"rslc_target_cpu", "haswell"},
                            std::pair{"rslc_target_features", "avx,avx2,fma"}}) {
    const llvm::GlobalVariable *g = m->getNamedGlobal(name);
    ASSERT_NE(g, nullptr) << name;
    auto *data = llvm::dyn_cast<llvm::ConstantDataArray>(g->getInitializer());
    ASSERT_NE(data, nullptr) << name;
    EXPECT_EQ(data->getAsCString().str(), text);
  }

  EXPECT_TRUE(std::any_of(sigs.edges.begin(), sigs.edges.end(),
                          [](const EdgeSignature &e) { return e.scatters(); }));
  auto edges = tableOf(*m, "rslc_edge_kernels");
  ASSERT_EQ(edges.size(), sigs.edges.size() * contract::NumEdgeSlots);
  for (size_t k = 0; k < sigs.edges.size(); ++k)
    for (unsigned slot = 0; slot < contract::NumEdgeSlots; ++slot) {
      const llvm::Function *f = edges[k * contract::NumEdgeSlots + slot];
      if (slot == contract::WeightGrad && sigs.edges[k].map == MapKind::Skip) {
        EXPECT_EQ(f, nullptr); // no weights, no weight gradient
        continue;
      }
      if (slot == contract::DataGradScatter && !sigs.edges[k].scatters()) {
        EXPECT_EQ(f, nullptr); // only one weight per lifted edge, explicit rows
        continue;
      }
      expectFollows(f, contract::edgeKernels[slot], k);
    }
  auto vertices = tableOf(*m, "rslc_vertex_kernels");
  ASSERT_EQ(vertices.size(), sigs.vertices.size() * contract::NumVertexSlots);
  for (size_t k = 0; k < sigs.vertices.size(); ++k)
    for (unsigned slot = 0; slot < contract::NumVertexSlots; ++slot) {
      const llvm::Function *f = vertices[k * contract::NumVertexSlots + slot];
      bool joint = sigs.vertices[k].agg == Aggregation::Attention;
      if ((slot == contract::AggForward || slot == contract::AggBackward) && !joint) {
        EXPECT_EQ(f, nullptr); // sums and products are the runtime's
        continue;
      }
      expectFollows(f, contract::vertexKernels[slot], k);
    }
}

INSTANTIATE_TEST_SUITE_P(Precisions, Contract,
                         ::testing::Values(codegen::Precision::F32, codegen::Precision::F64));

TEST(KernelSignatures, OneKernelPerSignatureWhateverTheDepth) {
  // A chain of 1000 equal layers needs the same kernels as a chain of 3.
  auto chain = [](int layers) {
    LiftPlan p;
    p.vertices.push_back({"x", Role::Input, 1, 4, Activation::Identity, false, Aggregation::Sum});
    for (int l = 0; l < layers; ++l)
      p.vertices.push_back({"h" + std::to_string(l), Role::Hidden, 64, 1, Activation::Relu, true,
                            Aggregation::Sum});
    p.vertices.push_back({"y", Role::Output, 1, 2, Activation::Identity, true, Aggregation::Sum});
    for (uint32_t v = 0; v + 1 < p.vertices.size(); ++v) {
      LiftSetting s = lift(v == 0 || v + 2 == p.vertices.size() ? LiftKind::Full : LiftKind::Degree, 8);
      p.edges.push_back({v, v + 1, MapKind::Linear, {}, s, v, {}});
      p.groupNames.push_back("w" + std::to_string(v));
    }
    for (PlanVertex &v : p.vertices)
      v.shape = {v.dim};
    return kernelSignatures(p);
  };
  KernelSignatures small = chain(3), large = chain(1000);
  EXPECT_EQ(small.edges.size(), large.edges.size());
  EXPECT_EQ(small.vertices.size(), large.vertices.size());
  EXPECT_EQ(large.edgeKernel.size(), 1001u);
}

} // namespace
