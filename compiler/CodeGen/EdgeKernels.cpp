//===- EdgeKernels.cpp - forward, weight- and data-gradient kernels --------===//
//
// Every map is a sum of terms: output component a of lifted edge q reads
// source component c, times a weight W[q][...], a constant, or 1
// (forEachMapTerm); its transpose lists, for source component c, the output
// components that read it (forEachTransposedTerm). The three kernels are
// written once over these terms, so a new linear map only adds its terms.
// maxpool, the one map not linear in its source, keeps a running maximum
// forward and sends the gradient to each window's first maximum backward.
//
// The lifted structure follows the row layout (core/LiftedGraph.h): row j
// holds the forward positions [begin, end); explicit rows read their sources
// from `col`, implicit rows compute them.
//
//===----------------------------------------------------------------------===//
#include "CodeGen/KernelBuilder.h"

#include "core/EdgeMaps.h"

using namespace llvm;
using namespace rslc::lift;

namespace rslc::codegen {

namespace {

/// One term of a map: a weight index into W (or null), else a constant
/// coefficient; and the component read (forward) or written (transposed).
/// A term with `valid` counts only where it is true (a window position
/// over padding): its component is then a safe stand-in, its factor 0.
struct Term {
  Value *weight = nullptr;
  double coef = 1;
  Value *component = nullptr;
  Value *valid = nullptr;
};

class EdgeEmitter {
public:
  EdgeEmitter(KernelBuilder &k, const EdgeSignature &sig) : k(k), sig(sig), b(k.b) {}

  //===--- The lifted structure -------------------------------------------===//

  /// Row j: the forward positions [begin, end).
  std::pair<Value *, Value *> row(Value *j, Value *rowPtr) {
    if (int64_t len = sig.layout.rowLength)
      return {k.mul(j, k.c64(len)), k.mul(k.add(j, k.c64(1)), k.c64(len))};
    return {b.CreateLoad(k.i64, b.CreateInBoundsGEP(k.i64, rowPtr, j)),
            b.CreateLoad(k.i64, b.CreateInBoundsGEP(k.i64, rowPtr, k.add(j, k.c64(1))))};
  }
  /// The source copy of the lifted edge at position q of row j.
  Value *source(Value *j, Value *q, Value *col) {
    const RowLayout &l = sig.layout;
    if (l.explicitRows)
      return b.CreateZExt(b.CreateLoad(k.i32, b.CreateInBoundsGEP(k.i32, col, q)), k.i64);
    // implicit: row j reads sources j*stride + (q - j*rowLength)
    if (l.stride == l.rowLength)
      return q;
    return b.CreateNSWSub(q, k.mul(j, k.c64(l.rowLength - l.stride)));
  }
  /// Calls body(q, j) for every lifted edge leaving source copy i.
  void outgoing(Value *i, Function *f, function_ref<void(Value *q, Value *j)> body) {
    const RowLayout &l = sig.layout;
    if (!l.explicitRows && l.stride == 0) { // every row reads every source
      k.loop(k.c64(0), k.c64(sig.targetCopies), "j",
             [&](Value *j) { body(k.add(k.mul(j, k.c64(l.rowLength)), i), j); });
      return;
    }
    if (!l.explicitRows) { // blocks: source i is position i of row i / rowLength
      body(i, l.rowLength == 1 ? i : b.CreateSDiv(i, k.c64(l.rowLength)));
      return;
    }
    Value *tPtr = k.arg(f, "tPtr");
    Value *begin = b.CreateLoad(k.i64, b.CreateInBoundsGEP(k.i64, tPtr, i));
    Value *end = b.CreateLoad(k.i64, b.CreateInBoundsGEP(k.i64, tPtr, k.add(i, k.c64(1))));
    k.loop(begin, end, "t", [&](Value *t) {
      Value *q = b.CreateZExt(
          b.CreateLoad(k.i32, b.CreateInBoundsGEP(k.i32, k.arg(f, "tPos"), t)), k.i64);
      Value *j = b.CreateZExt(
          b.CreateLoad(k.i32, b.CreateInBoundsGEP(k.i32, k.arg(f, "tRow"), t)), k.i64);
      body(q, j);
    });
  }

  //===--- The maps' terms ------------------------------------------------===//

  bool isWindow() const {
    return sig.map == MapKind::Conv || sig.map == MapKind::MaxPool ||
           sig.map == MapKind::AvgPool;
  }

  /// For output pixel a of a window map, calls body(e, c, valid) for each
  /// window position e = ky*K + kx: branching, only for positions inside
  /// the source map (valid null); branchless, for every position, c a safe
  /// pixel where `valid` is false (straight-line code for the tiles).
  void window(Value *a, function_ref<void(int64_t e, Value *c, Value *valid)> body,
              bool branchless = false) {
    const MapParams &p = sig.params;
    const int64_t H = sig.uShape[0], W = sig.uShape[1], Wo = sig.vShape[1];
    Value *oy = b.CreateSDiv(a, k.c64(Wo)), *ox = b.CreateSRem(a, k.c64(Wo));
    for (int64_t ky = 0; ky < p.kernel; ++ky) {
      Value *iy = k.add(k.mul(oy, k.c64(p.stride)), k.c64(ky * p.dilation - p.padding));
      Value *inY = b.CreateAnd(b.CreateICmpSGE(iy, k.c64(0)), b.CreateICmpSLT(iy, k.c64(H)));
      for (int64_t kx = 0; kx < p.kernel; ++kx) {
        Value *ix = k.add(k.mul(ox, k.c64(p.stride)), k.c64(kx * p.dilation - p.padding));
        Value *in = b.CreateAnd(inY, b.CreateAnd(b.CreateICmpSGE(ix, k.c64(0)),
                                                 b.CreateICmpSLT(ix, k.c64(W))));
        Value *c = k.add(k.mul(iy, k.c64(W)), ix);
        if (branchless)
          body(ky * p.kernel + kx, b.CreateSelect(in, c, k.c64(0)), in);
        else
          k.ifThen(in, [&] { body(ky * p.kernel + kx, c, nullptr); });
      }
    }
  }

  /// For source pixel c of a window map, calls body(e, a, valid) for each
  /// output pixel a whose window holds c, at window position e (branching
  /// or branchless, as window()).
  void windowsOf(Value *c, function_ref<void(int64_t e, Value *a, Value *valid)> body,
                 bool branchless = false) {
    const MapParams &p = sig.params;
    const int64_t W = sig.uShape[1], Ho = sig.vShape[0], Wo = sig.vShape[1];
    Value *iy = b.CreateSDiv(c, k.c64(W)), *ix = b.CreateSRem(c, k.c64(W));
    auto place = [&](Value *at, int64_t kk, int64_t extent) -> std::pair<Value *, Value *> {
      // output index o with o*stride + kk*dilation - padding = at
      Value *n = k.add(at, k.c64(p.padding - kk * p.dilation));
      Value *ok = b.CreateICmpSGE(n, k.c64(0));
      if (p.stride > 1)
        ok = b.CreateAnd(ok, b.CreateICmpEQ(b.CreateSRem(n, k.c64(p.stride)), k.c64(0)));
      Value *o = p.stride > 1 ? b.CreateSDiv(n, k.c64(p.stride)) : n;
      return {b.CreateAnd(ok, b.CreateICmpSLT(o, k.c64(extent))), o};
    };
    for (int64_t ky = 0; ky < p.kernel; ++ky) {
      auto [okY, oy] = place(iy, ky, Ho);
      for (int64_t kx = 0; kx < p.kernel; ++kx) {
        auto [okX, ox] = place(ix, kx, Wo);
        Value *ok = b.CreateAnd(okY, okX), *a = k.add(k.mul(oy, k.c64(Wo)), ox);
        if (branchless)
          body(ky * p.kernel + kx, b.CreateSelect(ok, a, k.c64(0)), ok);
        else
          k.ifThen(ok, [&] { body(ky * p.kernel + kx, a, nullptr); });
      }
    }
  }

  /// The terms of output component a of lifted edge q: term.component is
  /// the source component read. Window maps' terms are branchless (with
  /// `valid`) when `branchless`.
  void forEachMapTerm(Value *q, Value *a, function_ref<void(const Term &)> body,
                      bool branchless = false) {
    const int64_t du = sig.du, dv = sig.dv;
    switch (sig.map) {
    case MapKind::Linear:
      if (linearAlongLastAxis(sig.uShape, sig.vShape)) { // one matrix along the last axis
        const int64_t du1 = sig.uShape.back(), dv1 = sig.vShape.back();
        Value *t = b.CreateSDiv(a, k.c64(dv1)), *o = b.CreateSRem(a, k.c64(dv1));
        k.loop(k.c64(0), k.c64(du1), "c", [&](Value *c) {
          body({k.add(k.mul(k.add(k.mul(q, k.c64(dv1)), o), k.c64(du1)), c), 1,
                k.add(k.mul(t, k.c64(du1)), c)});
        });
        return;
      }
      k.loop(k.c64(0), k.c64(du), "c", [&](Value *c) {
        body({k.add(k.mul(k.add(k.mul(q, k.c64(dv)), a), k.c64(du)), c), 1, c});
      });
      return;
    case MapKind::Diag:
      body({k.add(k.mul(q, k.c64(dv)), a), 1, a});
      return;
    case MapKind::Conv: {
      int64_t kk = sig.params.kernel * sig.params.kernel;
      window(
          a,
          [&](int64_t e, Value *c, Value *valid) {
            body({k.add(k.mul(q, k.c64(kk)), k.c64(e)), 1, c, valid});
          },
          branchless);
      return;
    }
    case MapKind::AvgPool: {
      double coef = 1.0 / double(sig.params.kernel * sig.params.kernel);
      window(a, [&](int64_t, Value *c, Value *valid) { body({nullptr, coef, c, valid}); },
             branchless);
      return;
    }
    case MapKind::MaxPool: // not a sum: see maxPoolForward
      return;
    case MapKind::Skip:
    case MapKind::Query:
    case MapKind::Key:
    case MapKind::Value:
      body({nullptr, 1, a});
      return;
    }
  }

  /// The transpose: for source component c of lifted edge q, the output
  /// components that read it (term.component) and their weights (window
  /// maps branchless, with `valid`).
  void forEachTransposedTerm(Value *q, Value *c, function_ref<void(const Term &)> body) {
    const int64_t du = sig.du, dv = sig.dv;
    switch (sig.map) {
    case MapKind::Linear:
      if (linearAlongLastAxis(sig.uShape, sig.vShape)) {
        const int64_t du1 = sig.uShape.back(), dv1 = sig.vShape.back();
        Value *t = b.CreateSDiv(c, k.c64(du1)), *cl = b.CreateSRem(c, k.c64(du1));
        k.loop(k.c64(0), k.c64(dv1), "o", [&](Value *o) {
          body({k.add(k.mul(k.add(k.mul(q, k.c64(dv1)), o), k.c64(du1)), cl), 1,
                k.add(k.mul(t, k.c64(dv1)), o)});
        });
        return;
      }
      k.loop(k.c64(0), k.c64(dv), "a", [&](Value *a) {
        body({k.add(k.mul(k.add(k.mul(q, k.c64(dv)), a), k.c64(du)), c), 1, a});
      });
      return;
    case MapKind::Diag:
      body({k.add(k.mul(q, k.c64(dv)), c), 1, c});
      return;
    case MapKind::Conv: {
      int64_t kk = sig.params.kernel * sig.params.kernel;
      windowsOf(
          c,
          [&](int64_t e, Value *a, Value *valid) {
            body({k.add(k.mul(q, k.c64(kk)), k.c64(e)), 1, a, valid});
          },
          true);
      return;
    }
    case MapKind::AvgPool: {
      double coef = 1.0 / double(sig.params.kernel * sig.params.kernel);
      windowsOf(c, [&](int64_t, Value *a, Value *valid) { body({nullptr, coef, a, valid}); }, true);
      return;
    }
    case MapKind::MaxPool: // see maxPoolDataGrad
      return;
    case MapKind::Skip:
    case MapKind::Query:
    case MapKind::Key:
    case MapKind::Value:
      body({nullptr, 1, c});
      return;
    }
  }

  //===--- Tiles ----------------------------------------------------------===//

  /// Entry-block slots (promoted to registers), per tile kind: an
  /// accumulator, a running maximum and (maxpool) the window position that
  /// holds it.
  void slots() {
    acc.clear(), runningMax.clear(), bestAt.clear();
    for (size_t t = 0; t < k.tiles.size(); ++t) {
      Type *type = k.tileType(t);
      Type *intType = type->isVectorTy()
                          ? static_cast<Type *>(FixedVectorType::get(
                                k.i32, cast<FixedVectorType>(type)->getNumElements()))
                          : static_cast<Type *>(k.i32);
      acc.push_back(b.CreateAlloca(type, nullptr, "acc"));
      runningMax.push_back(b.CreateAlloca(type, nullptr, "max"));
      bestAt.push_back(b.CreateAlloca(intType, nullptr, "bestAt"));
    }
  }
  /// out[rowStart + offset ..] += the sum of terms(acc) for tile kind t,
  /// accumulated in registers.
  void tileSum(size_t t, Value *out, Value *rowStart, Value *offset,
               function_ref<void(Value *acc, Type *type)> terms) {
    Type *type = k.tileType(t);
    b.CreateStore(Constant::getNullValue(type), acc[t]);
    terms(acc[t], type);
    Value *index = k.add(rowStart, offset);
    k.storeTile(k.fadd(k.loadTile(type, out, index), b.CreateLoad(type, acc[t])), out, index);
  }
  /// *slot += coefficient x source[offset..] (fmuladd; a null weight and a
  /// coefficient of 1: a plain add).
  void accumulate(Value *slot, Type *type, const Term &term, Value *W, Value *source,
                  Value *offset) {
    Value *x = k.loadTile(type, source, offset);
    Value *sum = b.CreateLoad(type, slot);
    Value *w = term.weight ? k.load(W, term.weight) : term.coef != 1 ? k.fp(term.coef) : nullptr;
    if (term.valid) // a position over padding counts 0
      w = b.CreateSelect(term.valid, w ? w : k.fp(1), k.fp(0));
    sum = w ? b.CreateIntrinsic(Intrinsic::fmuladd, {type}, {k.splat(type, w), x, sum})
            : k.fadd(sum, x);
    b.CreateStore(sum, slot);
  }

  //===--- Kernels --------------------------------------------------------===//

  /// Z[j][a][b0:b1] += sum over q of M(W[q], Y[i])[a], a batch tile at a
  /// time in registers.
  Function *forward(size_t index) {
    Function *f = k.kernel(contract::edgeKernels[contract::Forward], index);
    slots();
    Value *W = k.arg(f, "W"), *Y = k.arg(f, "Y"), *Z = k.arg(f, "Z"), *B = k.arg(f, "B");
    const int64_t du = sig.du, dv = sig.dv;
    k.batchTiles(k.arg(f, "b0"), k.arg(f, "b1"), [&](Value *t, size_t kind) {
      k.loop(k.arg(f, "j0"), k.arg(f, "j1"), "j", [&](Value *j) {
        auto [begin, end] = row(j, k.arg(f, "rowPtr"));
        k.loop(k.c64(0), k.c64(dv), "a", [&](Value *a) {
          tileSum(kind, Z, k.mul(k.add(k.mul(j, k.c64(dv)), a), B), t,
                  [&](Value *slot, Type *type) {
                    k.loop(begin, end, "q", [&](Value *q) {
                      Value *i = source(j, q, k.arg(f, "col"));
                      auto sourceRow = [&](Value *c) {
                        return k.add(k.mul(k.add(k.mul(i, k.c64(du)), c), B), t);
                      };
                      if (sig.map == MapKind::MaxPool) {
                        maxPoolTerm(kind, slot, type, a, Y, sourceRow);
                        return;
                      }
                      forEachMapTerm(
                          q, a,
                          [&](const Term &term) {
                            accumulate(slot, type, term, W, Y, sourceRow(term.component));
                          },
                          /*branchless=*/true);
                    });
                  });
        });
      });
    });
    b.CreateRetVoid();
    return f;
  }

  /// *slot += the maximum of output pixel a's window (one lifted edge).
  void maxPoolTerm(size_t kind, Value *slot, Type *type, Value *a, Value *Y,
                   function_ref<Value *(Value *c)> sourceRow) {
    b.CreateStore(k.splat(type, -HUGE_VAL), runningMax[kind]);
    window(
        a,
        [&](int64_t, Value *c, Value *valid) {
          Value *x = b.CreateSelect(valid, k.loadTile(type, Y, sourceRow(c)),
                                    k.splat(type, -HUGE_VAL));
          b.CreateStore(k.call(Intrinsic::maxnum, {b.CreateLoad(type, runningMax[kind]), x}),
                        runningMax[kind]);
        },
        /*branchless=*/true);
    b.CreateStore(k.fadd(b.CreateLoad(type, slot), b.CreateLoad(type, runningMax[kind])), slot);
  }

  /// dW[w] += sum_b dZ[j][a][b] * Y[i][c][b] for each weighted term, forward
  /// positions q0..q1 of rows j0..j1.
  Function *weightGrad(size_t index) {
    Function *f = k.kernel(contract::edgeKernels[contract::WeightGrad], index);
    Value *dW = k.arg(f, "dW"), *dZ = k.arg(f, "dZ"), *Y = k.arg(f, "Y"), *B = k.arg(f, "B");
    const int64_t du = sig.du, dv = sig.dv;
    k.loop(k.arg(f, "j0"), k.arg(f, "j1"), "j", [&](Value *j) {
      auto [rowBegin, rowEnd] = row(j, k.arg(f, "rowPtr"));
      // Only positions in [q0, q1): callers may split a long row.
      Value *begin = b.CreateBinaryIntrinsic(Intrinsic::smax, rowBegin, k.arg(f, "q0"));
      Value *end = b.CreateBinaryIntrinsic(Intrinsic::smin, rowEnd, k.arg(f, "q1"));
      k.loop(begin, end, "q", [&](Value *q) {
        Value *i = source(j, q, k.arg(f, "col"));
        k.loop(k.c64(0), k.c64(dv), "a", [&](Value *a) {
          Value *zrow = k.mul(k.add(k.mul(j, k.c64(dv)), a), B);
          forEachMapTerm(q, a, [&](const Term &term) {
            Value *yrow = k.mul(k.add(k.mul(i, k.c64(du)), term.component), B);
            Value *dot = k.sumOverBatch(
                B, [&](Value *bb) { return k.fmul(k.load(dZ, k.add(zrow, bb)), k.load(Y, k.add(yrow, bb))); },
                /*contractTerm=*/true);
            k.addTo(dW, term.weight, dot);
          });
        });
      });
    });
    b.CreateRetVoid();
    return f;
  }

  /// dY[i][c][b0:b1] += sum over lifted edges q=(i->j) of the transposed
  /// terms times dZ[j], a batch tile at a time.
  Function *dataGrad(size_t index) {
    Function *f = k.kernel(contract::edgeKernels[contract::DataGrad], index);
    slots();
    Value *W = k.arg(f, "W"), *dZ = k.arg(f, "dZ"), *Y = k.arg(f, "Y"), *dY = k.arg(f, "dY"),
          *B = k.arg(f, "B");
    const int64_t du = sig.du, dv = sig.dv;
    k.batchTiles(k.arg(f, "b0"), k.arg(f, "b1"), [&](Value *t, size_t kind) {
      k.loop(k.arg(f, "i0"), k.arg(f, "i1"), "i", [&](Value *i) {
        k.loop(k.c64(0), k.c64(du), "c", [&](Value *c) {
          Value *yrow = k.mul(k.add(k.mul(i, k.c64(du)), c), B);
          tileSum(kind, dY, yrow, t, [&](Value *slot, Type *type) {
            outgoing(i, f, [&](Value *q, Value *j) {
              auto targetRow = [&](Value *a) {
                return k.add(k.mul(k.add(k.mul(j, k.c64(dv)), a), B), t);
              };
              if (sig.map == MapKind::MaxPool) {
                maxPoolDataGrad(kind, slot, type, c, Y, k.add(yrow, t), B, dZ, targetRow);
                return;
              }
              forEachTransposedTerm(q, c, [&](const Term &term) {
                accumulate(slot, type, term, W, dZ, targetRow(term.component));
              });
            });
          });
        });
      });
    });
    b.CreateRetVoid();
    return f;
  }

  /// *slot += dZ[a] for every window a whose first maximum (per column) is
  /// source pixel c (cRow: the tile of pixel c of copy i).
  void maxPoolDataGrad(size_t kind, Value *slot, Type *type, Value *c, Value *Y, Value *cRow,
                       Value *B, Value *dZ, function_ref<Value *(Value *a)> targetRow) {
    Type *intType = bestAt[kind]->getAllocatedType();
    windowsOf(c, [&](int64_t position, Value *a, Value *) {
      b.CreateStore(k.splat(type, -HUGE_VAL), runningMax[kind]);
      b.CreateStore(Constant::getAllOnesValue(intType), bestAt[kind]);
      window(a, [&](int64_t e, Value *pixel, Value *) {
        // the same columns of `pixel`: cRow + (pixel - c) * B
        Value *x = k.loadTile(type, Y, k.add(cRow, k.mul(b.CreateNSWSub(pixel, c), B)));
        Value *best = b.CreateLoad(type, runningMax[kind]);
        Value *better = b.CreateFCmpOGT(x, best);
        b.CreateStore(b.CreateSelect(better, x, best), runningMax[kind]);
        b.CreateStore(b.CreateSelect(better, ConstantInt::get(intType, e),
                                     b.CreateLoad(intType, bestAt[kind])),
                      bestAt[kind]);
      });
      Value *mine = b.CreateICmpEQ(b.CreateLoad(intType, bestAt[kind]),
                                   ConstantInt::get(intType, position));
      Value *g = k.loadTile(type, dZ, targetRow(a));
      b.CreateStore(k.fadd(b.CreateLoad(type, slot),
                           b.CreateSelect(mine, g, Constant::getNullValue(type))),
                    slot);
    });
  }

private:
  KernelBuilder &k;
  const EdgeSignature &sig;
  IRBuilder<> &b;
  std::vector<Value *> acc, runningMax;
  std::vector<AllocaInst *> bestAt;
};

} // namespace

Function *KernelBuilder::edgeForward(const EdgeSignature &sig, size_t k) {
  return EdgeEmitter(*this, sig).forward(k);
}
Function *KernelBuilder::edgeWeightGrad(const EdgeSignature &sig, size_t k) {
  return EdgeEmitter(*this, sig).weightGrad(k);
}
Function *KernelBuilder::edgeDataGrad(const EdgeSignature &sig, size_t k) {
  return EdgeEmitter(*this, sig).dataGrad(k);
}

} // namespace rslc::codegen
