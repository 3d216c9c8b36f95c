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

#include <algorithm>
#include <map>

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

  //===--- Window maps by blocks of pixels --------------------------------===//
  //
  // conv and avgpool forward, and for stride 1 their transposes, have the
  // form out[oy][ox] += sum over taps (ky, kx), in that order, of
  // w(ky, kx) x in[oy*stride + dy[ky]][ox*stride + dx[kx]], an input pixel
  // outside the input map counting 0. Computed for P adjacent output pixels
  // of a row at once, each loaded input tile serves every tap and pixel that
  // reads it (a 3x3 stride-1 window: P+2 loads for 3P multiply-adds per
  // kernel row). Every column sees the terms of the per-pixel kernels in
  // the same order, whatever block or tile holds it.

  struct Taps {
    int64_t stride;
    std::vector<int64_t> dy, dx;
    int64_t inH, inW, outH, outW;
  };
  /// Output pixel (oy, ox) reads source pixel (oy*s + ky*d - p, ...).
  Taps forwardTaps() const {
    const MapParams &p = sig.params;
    Taps t{p.stride, {}, {}, sig.uShape[0], sig.uShape[1], sig.vShape[0], sig.vShape[1]};
    for (int64_t kk = 0; kk < p.kernel; ++kk)
      t.dy.push_back(kk * p.dilation - p.padding);
    t.dx = t.dy;
    return t;
  }
  /// Stride 1: source pixel (iy, ix) is read by output pixel
  /// (iy + p - ky*d, ...) at window position (ky, kx).
  Taps transposedTaps() const {
    const MapParams &p = sig.params;
    Taps t{1, {}, {}, sig.vShape[0], sig.vShape[1], sig.uShape[0], sig.uShape[1]};
    for (int64_t kk = 0; kk < p.kernel; ++kk)
      t.dy.push_back(p.padding - kk * p.dilation);
    t.dx = t.dy;
    return t;
  }

  /// Batch tiles of the blocked kernels and their pixels per block (8 to
  /// 12 accumulator registers; measured on bench/conv_peer.py).
  struct BlockTile {
    int64_t columns, perBlock; ///< pixels (window maps) or rows (dense) per block
    Type *type;
  };
  std::vector<BlockTile> blockTiles() const {
    const int64_t L = k.lanes;
    return {{4 * L, 3, FixedVectorType::get(k.T, 4 * L)},
            {2 * L, 4, FixedVectorType::get(k.T, 2 * L)},
            {L, 8, FixedVectorType::get(k.T, L)},
            {1, 8, k.T}};
  }
  std::vector<int64_t> widths(const std::vector<BlockTile> &tiles) const {
    std::vector<int64_t> w;
    for (const BlockTile &t : tiles)
      w.push_back(t.columns);
    return w;
  }
  /// One accumulator slot per pixel of the widest block, per tile kind.
  void blockSlots(const std::vector<BlockTile> &tiles) {
    blockAcc.clear();
    for (const BlockTile &t : tiles) {
      blockAcc.emplace_back();
      for (int64_t px = 0; px < t.perBlock; ++px)
        blockAcc.back().push_back(b.CreateAlloca(t.type, nullptr, "acc"));
    }
  }

  /// True when every tap of pixels ox0 .. ox0+P-1 reads inside the row.
  Value *blockInside(const Taps &taps, Value *ox0, int64_t P) {
    auto [lo, hi] = std::minmax_element(taps.dx.begin(), taps.dx.end());
    Value *first = k.add(k.mul(ox0, k.c64(taps.stride)), k.c64(*lo));
    Value *last = k.add(k.mul(ox0, k.c64(taps.stride)), k.c64((P - 1) * taps.stride + *hi));
    return b.CreateAnd(b.CreateICmpSGE(first, k.c64(0)), b.CreateICmpSLT(last, k.c64(taps.inW)));
  }

  /// acc[px] += the taps of pixel (oy, ox0 + px), px < P, reading the tile
  /// of input pixel c at in[inIndex(c)], with weight(e) for window position
  /// e = ky*K + kx. A kernel row outside the input is skipped; with
  /// `masked`, single input pixels outside it read 0.
  void tapBlock(const Taps &taps, Type *type, ArrayRef<AllocaInst *> acc, int64_t P, Value *oy,
                Value *ox0, bool masked, Value *in, function_ref<Value *(Value *c)> inIndex,
                function_ref<Value *(int64_t e)> weight) {
    const int64_t K = taps.dy.size(), s = taps.stride;
    for (int64_t ky = 0; ky < K; ++ky) {
      Value *iy = k.add(k.mul(oy, k.c64(s)), k.c64(taps.dy[ky]));
      Value *rowInside =
          b.CreateAnd(b.CreateICmpSGE(iy, k.c64(0)), b.CreateICmpSLT(iy, k.c64(taps.inH)));
      k.ifThen(rowInside, [&] {
        Value *rowStart = k.mul(iy, k.c64(taps.inW));
        std::map<int64_t, Value *> loaded; // by offset from ox0 * s
        for (int64_t kx = 0; kx < K; ++kx) {
          Value *w = k.splat(type, weight(ky * K + kx));
          for (int64_t px = 0; px < P; ++px) {
            int64_t offset = px * s + taps.dx[kx];
            Value *&x = loaded[offset];
            if (!x) {
              Value *ix = k.add(k.mul(ox0, k.c64(s)), k.c64(offset));
              if (masked) {
                Value *inside = b.CreateAnd(b.CreateICmpSGE(ix, k.c64(0)),
                                            b.CreateICmpSLT(ix, k.c64(taps.inW)));
                Value *tile = k.loadTile(type, in,
                                         inIndex(k.add(rowStart, b.CreateSelect(inside, ix, k.c64(0)))));
                x = b.CreateSelect(inside, tile, Constant::getNullValue(type));
              } else {
                x = k.loadTile(type, in, inIndex(k.add(rowStart, ix)));
              }
            }
            b.CreateStore(k.fma(w, x, b.CreateLoad(type, acc[px])), acc[px]);
          }
        }
      });
    }
  }

  /// For every output row and block of pixels: body(P, oy, ox0, masked),
  /// `masked` false where every tap of the block reads inside the row.
  /// Blocks of P pixels, then single pixels to the row's end.
  void blocksOfRows(const Taps &taps, int64_t P,
                    function_ref<void(int64_t P, Value *oy, Value *ox0, bool masked)> body) {
    k.loop(k.c64(0), k.c64(taps.outH), "oy", [&](Value *oy) {
      auto block = [&](Value *ox0, int64_t P) {
        Function *f = b.GetInsertBlock()->getParent();
        BasicBlock *plain = BasicBlock::Create(k.ctx, "inside", f);
        BasicBlock *edge = BasicBlock::Create(k.ctx, "edge", f);
        BasicBlock *done = BasicBlock::Create(k.ctx, "blockdone", f);
        b.CreateCondBr(blockInside(taps, ox0, P), plain, edge);
        b.SetInsertPoint(plain);
        body(P, oy, ox0, false);
        b.CreateBr(done);
        b.SetInsertPoint(edge);
        body(P, oy, ox0, true);
        b.CreateBr(done);
        b.SetInsertPoint(done);
      };
      const int64_t full = taps.outW / P * P;
      k.loop(k.c64(0), k.c64(full), "ox", [&](Value *ox0) { block(ox0, P); }, P);
      k.loop(k.c64(full), k.c64(taps.outW), "ox", [&](Value *ox0) { block(ox0, 1); });
    });
  }
  /// acc[0..P) = 0; terms(); out[index(px)] += acc[px].
  void accumulateBlock(Type *type, ArrayRef<AllocaInst *> acc, int64_t P, Value *out,
                       function_ref<void()> terms, function_ref<Value *(int64_t px)> index) {
    for (int64_t px = 0; px < P; ++px)
      b.CreateStore(Constant::getNullValue(type), acc[px]);
    terms();
    for (int64_t px = 0; px < P; ++px) {
      Value *at = index(px);
      k.storeTile(k.fadd(k.loadTile(type, out, at), b.CreateLoad(type, acc[px])), out, at);
    }
  }

  /// The weight of window position e for lifted edge q (avgpool: 1/K^2).
  Value *windowWeight(Value *W, Value *q, int64_t e) {
    const int64_t kk = sig.params.kernel * sig.params.kernel;
    if (sig.map == MapKind::AvgPool)
      return k.fp(1.0 / double(kk));
    return k.load(W, k.add(k.mul(q, k.c64(kk)), k.c64(e)));
  }

  bool blockedForward() const { return sig.map == MapKind::Conv || sig.map == MapKind::AvgPool; }
  bool blockedDataGrad() const { return blockedForward() && sig.params.stride == 1; }

  /// forward() for conv and avgpool, by blocks of output pixels; the
  /// target rows innermost, so that the source pixels around a block stay
  /// in cache for all of them.
  void forwardBlocked(Function *f) {
    Value *W = k.arg(f, "W"), *Y = k.arg(f, "Y"), *Z = k.arg(f, "Z"), *B = k.arg(f, "B");
    const int64_t du = sig.du, dv = sig.dv;
    const Taps taps = forwardTaps();
    const std::vector<BlockTile> tiles = blockTiles();
    blockSlots(tiles);
    k.batchTiles(k.arg(f, "b0"), k.arg(f, "b1"), widths(tiles), [&](Value *t, size_t kind) {
      const BlockTile &tile = tiles[kind];
      ArrayRef<AllocaInst *> acc = blockAcc[kind];
      blocksOfRows(taps, tile.perBlock, [&](int64_t P, Value *oy, Value *ox0, bool masked) {
        k.loop(k.arg(f, "j0"), k.arg(f, "j1"), "j", [&](Value *j) {
          auto [begin, end] = row(j, k.arg(f, "rowPtr"));
          accumulateBlock(
              tile.type, acc, P, Z,
              [&] {
                k.loop(begin, end, "q", [&](Value *q) {
                  Value *i = source(j, q, k.arg(f, "col"));
                  tapBlock(
                      taps, tile.type, acc, P, oy, ox0, masked, Y,
                      [&](Value *c) { return k.add(k.mul(k.add(k.mul(i, k.c64(du)), c), B), t); },
                      [&](int64_t e) { return windowWeight(W, q, e); });
                });
              },
              [&](int64_t px) {
                Value *a = k.add(k.mul(oy, k.c64(taps.outW)), k.add(ox0, k.c64(px)));
                return k.add(k.mul(k.add(k.mul(j, k.c64(dv)), a), B), t);
              });
        });
      });
    });
  }

  //===--- Dense linear edges by blocks of rows ---------------------------===//
  //
  // A linear map whose every target row reads every source copy (a full
  // lift, or a single source copy) is a matrix product: output row
  // g = (j, a) reads source row s = (i, c) with weight
  // W[((j*L + i)*dv + a)*du + c], L source copies. A block of P rows shares
  // each loaded source tile (P multiply-adds per load instead of one); each
  // output still sums its terms in the per-row kernels' order (i, then c).

  bool denseRows() const {
    return sig.map == MapKind::Linear && !linearAlongLastAxis(sig.uShape, sig.vShape) &&
           !sig.layout.explicitRows && sig.layout.stride == 0;
  }
  /// Batch tiles of the dense kernels and their rows per block (12 or 8
  /// accumulator registers).
  std::vector<BlockTile> denseTiles() const {
    const int64_t L = k.lanes;
    return {{2 * L, 6, FixedVectorType::get(k.T, 2 * L)},
            {L, 8, FixedVectorType::get(k.T, L)},
            {1, 8, k.T}};
  }
  /// For rows [g0, g1) in blocks of P, then single rows: body(P, g).
  void blocksOf(Value *g0, Value *g1, int64_t P, function_ref<void(int64_t P, Value *g)> body) {
    Value *full = k.add(g0, k.mul(b.CreateSDiv(b.CreateNSWSub(g1, g0), k.c64(P)), k.c64(P)));
    k.loop(g0, full, "g", [&](Value *g) { body(P, g); }, P);
    k.loop(full, g1, "g", [&](Value *g) { body(1, g); });
  }
  /// Z[g][b0:b1] += sum over (i, c) of W(g, i, c) Y[i][c] for output rows
  /// g = j*dv + a of target rows j0..j1.
  void forwardDense(Function *f) {
    Value *W = k.arg(f, "W"), *Y = k.arg(f, "Y"), *Z = k.arg(f, "Z"), *B = k.arg(f, "B");
    const int64_t du = sig.du, dv = sig.dv, L = sig.layout.rowLength;
    const std::vector<BlockTile> tiles = denseTiles();
    blockSlots(tiles);
    Value *g0 = k.mul(k.arg(f, "j0"), k.c64(dv)), *g1 = k.mul(k.arg(f, "j1"), k.c64(dv));
    k.batchTiles(k.arg(f, "b0"), k.arg(f, "b1"), widths(tiles), [&](Value *t, size_t kind) {
      const BlockTile &tile = tiles[kind];
      ArrayRef<AllocaInst *> acc = blockAcc[kind];
      blocksOf(g0, g1, tile.perBlock, [&](int64_t P, Value *g) {
        std::vector<Value *> base; // W(g + p, 0, 0)
        for (int64_t p = 0; p < P; ++p) {
          Value *row = k.add(g, k.c64(p));
          Value *j = b.CreateSDiv(row, k.c64(dv)), *a = b.CreateSRem(row, k.c64(dv));
          base.push_back(k.mul(k.add(k.mul(j, k.c64(L * dv)), a), k.c64(du)));
        }
        accumulateBlock(
            tile.type, acc, P, Z,
            [&] {
              k.loop(k.c64(0), k.c64(L), "i", [&](Value *i) {
                k.loop(k.c64(0), k.c64(du), "c", [&](Value *c) {
                  Value *x = k.loadTile(tile.type, Y, k.add(k.mul(k.add(k.mul(i, k.c64(du)), c), B), t));
                  Value *offset = k.add(k.mul(i, k.c64(dv * du)), c);
                  for (int64_t p = 0; p < P; ++p) {
                    Value *w = k.splat(tile.type, k.load(W, k.add(base[p], offset)));
                    b.CreateStore(k.fma(w, x, b.CreateLoad(tile.type, acc[p])), acc[p]);
                  }
                });
              });
            },
            [&](int64_t p) { return k.add(k.mul(k.add(g, k.c64(p)), B), t); });
      });
    });
  }
  /// dY[s][b0:b1] += sum over (j, a) of W(j, a, s) dZ[j][a] for source rows
  /// s = i*du + c of source copies i0..i1.
  void dataGradDense(Function *f) {
    Value *W = k.arg(f, "W"), *dZ = k.arg(f, "dZ"), *dY = k.arg(f, "dY"), *B = k.arg(f, "B");
    const int64_t du = sig.du, dv = sig.dv, L = sig.layout.rowLength;
    const std::vector<BlockTile> tiles = denseTiles();
    blockSlots(tiles);
    Value *s0 = k.mul(k.arg(f, "i0"), k.c64(du)), *s1 = k.mul(k.arg(f, "i1"), k.c64(du));
    k.batchTiles(k.arg(f, "b0"), k.arg(f, "b1"), widths(tiles), [&](Value *t, size_t kind) {
      const BlockTile &tile = tiles[kind];
      ArrayRef<AllocaInst *> acc = blockAcc[kind];
      blocksOf(s0, s1, tile.perBlock, [&](int64_t P, Value *s) {
        std::vector<Value *> base; // W(0, 0, s + p)
        for (int64_t p = 0; p < P; ++p) {
          Value *row = k.add(s, k.c64(p));
          Value *i = b.CreateSDiv(row, k.c64(du)), *c = b.CreateSRem(row, k.c64(du));
          base.push_back(k.add(k.mul(i, k.c64(dv * du)), c));
        }
        accumulateBlock(
            tile.type, acc, P, dY,
            [&] {
              k.loop(k.c64(0), k.c64(sig.targetCopies), "j", [&](Value *j) {
                k.loop(k.c64(0), k.c64(dv), "a", [&](Value *a) {
                  Value *x = k.loadTile(tile.type, dZ, k.add(k.mul(k.add(k.mul(j, k.c64(dv)), a), B), t));
                  Value *offset = k.mul(k.add(k.mul(j, k.c64(L * dv)), a), k.c64(du));
                  for (int64_t p = 0; p < P; ++p) {
                    Value *w = k.splat(tile.type, k.load(W, k.add(base[p], offset)));
                    b.CreateStore(k.fma(w, x, b.CreateLoad(tile.type, acc[p])), acc[p]);
                  }
                });
              });
            },
            [&](int64_t p) { return k.add(k.mul(k.add(s, k.c64(p)), B), t); });
      });
    });
  }

  /// dataGrad() for conv and avgpool of stride 1, by blocks of source
  /// pixels, the source rows innermost.
  void dataGradBlocked(Function *f) {
    Value *W = k.arg(f, "W"), *dZ = k.arg(f, "dZ"), *dY = k.arg(f, "dY"), *B = k.arg(f, "B");
    const int64_t du = sig.du, dv = sig.dv;
    const Taps taps = transposedTaps();
    const std::vector<BlockTile> tiles = blockTiles();
    blockSlots(tiles);
    k.batchTiles(k.arg(f, "b0"), k.arg(f, "b1"), widths(tiles), [&](Value *t, size_t kind) {
      const BlockTile &tile = tiles[kind];
      ArrayRef<AllocaInst *> acc = blockAcc[kind];
      blocksOfRows(taps, tile.perBlock, [&](int64_t P, Value *iy, Value *ix0, bool masked) {
        k.loop(k.arg(f, "i0"), k.arg(f, "i1"), "i", [&](Value *i) {
          accumulateBlock(
              tile.type, acc, P, dY,
              [&] {
                outgoing(i, f, [&](Value *q, Value *j) {
                  tapBlock(
                      taps, tile.type, acc, P, iy, ix0, masked, dZ,
                      [&](Value *a) { return k.add(k.mul(k.add(k.mul(j, k.c64(dv)), a), B), t); },
                      [&](int64_t e) { return windowWeight(W, q, e); });
                });
              },
              [&](int64_t px) {
                Value *c = k.add(k.mul(iy, k.c64(taps.outW)), k.add(ix0, k.c64(px)));
                return k.add(k.mul(k.add(k.mul(i, k.c64(du)), c), B), t);
              });
        });
      });
    });
  }

  /// weightGrad() for conv: per lifted edge, one accumulator per window
  /// position (a vector, and a scalar for the last columns) over every
  /// output pixel and batch column, reduced across lanes at the end. Output
  /// pixels go by blocks, so a loaded source tile serves every tap that
  /// reads it.
  void weightGradConv(Function *f) {
    Value *dW = k.arg(f, "dW"), *dZ = k.arg(f, "dZ"), *Y = k.arg(f, "Y"), *B = k.arg(f, "B");
    const int64_t du = sig.du, dv = sig.dv, K = sig.params.kernel, kk = K * K, P = 4;
    const Taps taps = forwardTaps();
    const int64_t s = taps.stride;
    Type *vec = FixedVectorType::get(k.T, k.lanes);
    std::vector<AllocaInst *> accV, accS;
    for (int64_t e = 0; e < kk; ++e) {
      accV.push_back(b.CreateAlloca(vec, nullptr, "accv"));
      accS.push_back(b.CreateAlloca(k.T, nullptr, "accs"));
    }
    Value *vectorEnd = k.mul(b.CreateSDiv(B, k.c64(k.lanes)), k.c64(k.lanes));
    k.loop(k.arg(f, "j0"), k.arg(f, "j1"), "j", [&](Value *j) {
      auto [rowBegin, rowEnd] = row(j, k.arg(f, "rowPtr"));
      Value *begin = b.CreateBinaryIntrinsic(Intrinsic::smax, rowBegin, k.arg(f, "q0"));
      Value *end = b.CreateBinaryIntrinsic(Intrinsic::smin, rowEnd, k.arg(f, "q1"));
      k.loop(begin, end, "q", [&](Value *q) {
        Value *i = source(j, q, k.arg(f, "col"));
        for (int64_t e = 0; e < kk; ++e) {
          b.CreateStore(Constant::getNullValue(vec), accV[e]);
          b.CreateStore(k.fp(0), accS[e]);
        }
        blocksOfRows(taps, P, [&](int64_t P, Value *oy, Value *ox0, bool masked) {
          // The gradient rows of the block's pixels, and the source rows
          // read (with whether they are inside the map), by offset.
          std::vector<Value *> zrow(P);
          for (int64_t px = 0; px < P; ++px)
            zrow[px] = k.mul(k.add(k.mul(j, k.c64(dv)),
                                   k.add(k.mul(oy, k.c64(taps.outW)), k.add(ox0, k.c64(px)))),
                             B);
          struct Source {
            Value *row, *inside;
          };
          std::map<std::pair<int64_t, int64_t>, Source> sources; // by (ky, offset)
          for (int64_t ky = 0; ky < K; ++ky) {
            Value *iy = k.add(k.mul(oy, k.c64(s)), k.c64(taps.dy[ky]));
            Value *rowInside =
                b.CreateAnd(b.CreateICmpSGE(iy, k.c64(0)), b.CreateICmpSLT(iy, k.c64(taps.inH)));
            for (int64_t px = 0; px < P; ++px)
              for (int64_t kx = 0; kx < K; ++kx) {
                int64_t offset = px * s + taps.dx[kx];
                if (sources.count({ky, offset}))
                  continue;
                Value *ix = k.add(k.mul(ox0, k.c64(s)), k.c64(offset));
                Value *inside = b.CreateAnd(rowInside, b.CreateAnd(b.CreateICmpSGE(ix, k.c64(0)),
                                                                   b.CreateICmpSLT(ix, k.c64(taps.inW))));
                Value *c = b.CreateSelect(inside, k.add(k.mul(iy, k.c64(taps.inW)), ix), k.c64(0));
                sources[{ky, offset}] = {k.mul(k.add(k.mul(i, k.c64(du)), c), B), inside};
              }
          }
          auto columns = [&](Value *from, Value *to, Type *type, ArrayRef<AllocaInst *> acc,
                             int64_t step, bool masked) {
            k.loop(from, to, "b", [&](Value *bb) {
              std::vector<Value *> g(P);
              for (int64_t px = 0; px < P; ++px)
                g[px] = k.loadTile(type, dZ, k.add(zrow[px], bb));
              std::map<std::pair<int64_t, int64_t>, Value *> loaded;
              for (int64_t ky = 0; ky < K; ++ky)
                for (int64_t kx = 0; kx < K; ++kx) {
                  Value *sum = b.CreateLoad(type, acc[ky * K + kx]);
                  for (int64_t px = 0; px < P; ++px) {
                    std::pair<int64_t, int64_t> at{ky, px * s + taps.dx[kx]};
                    Value *&y = loaded[at];
                    if (!y) {
                      y = k.loadTile(type, Y, k.add(sources[at].row, bb));
                      if (masked)
                        y = b.CreateSelect(sources[at].inside, y, Constant::getNullValue(type));
                    }
                    sum = k.fma(g[px], y, sum);
                  }
                  b.CreateStore(sum, acc[ky * K + kx]);
                }
            }, step);
          };
          auto pixels = [&](bool masked) {
            columns(k.c64(0), vectorEnd, vec, accV, k.lanes, masked);
            columns(vectorEnd, B, k.T, accS, 1, masked);
          };
          if (masked) {
            pixels(true);
            return;
          }
          // The columns are inside; the kernel rows may not be.
          auto [lo, hi] = std::minmax_element(taps.dy.begin(), taps.dy.end());
          Value *top = k.add(k.mul(oy, k.c64(s)), k.c64(*lo));
          Value *bottom = k.add(k.mul(oy, k.c64(s)), k.c64(*hi));
          Value *rowsInside = b.CreateAnd(b.CreateICmpSGE(top, k.c64(0)),
                                          b.CreateICmpSLT(bottom, k.c64(taps.inH)));
          Function *fn = b.GetInsertBlock()->getParent();
          BasicBlock *plain = BasicBlock::Create(k.ctx, "rowsinside", fn);
          BasicBlock *edge = BasicBlock::Create(k.ctx, "rowsedge", fn);
          BasicBlock *done = BasicBlock::Create(k.ctx, "rowsdone", fn);
          b.CreateCondBr(rowsInside, plain, edge);
          b.SetInsertPoint(plain);
          pixels(false);
          b.CreateBr(done);
          b.SetInsertPoint(edge);
          pixels(true);
          b.CreateBr(done);
          b.SetInsertPoint(done);
        });
        for (int64_t e = 0; e < kk; ++e) {
          b.setFastMathFlags(k.reduceFlags); // a fixed tree across lanes
          Value *lanesSum = b.CreateFAddReduce(k.fp(0), b.CreateLoad(vec, accV[e]));
          b.clearFastMathFlags();
          k.addTo(dW, k.add(k.mul(q, k.c64(kk)), k.c64(e)),
                  k.fadd(lanesSum, b.CreateLoad(k.T, accS[e])));
        }
      });
    });
  }

  //===--- Kernels --------------------------------------------------------===//

  /// Z[j][a][b0:b1] += sum over q of M(W[q], Y[i])[a], a batch tile at a
  /// time in registers.
  Function *forward(size_t index) {
    Function *f = k.kernel(contract::edgeKernels[contract::Forward], index);
    if (blockedForward() || denseRows()) {
      blockedForward() ? forwardBlocked(f) : forwardDense(f);
      b.CreateRetVoid();
      return f;
    }
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
    if (sig.map == MapKind::Conv) {
      weightGradConv(f);
      b.CreateRetVoid();
      return f;
    }
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
    if (blockedDataGrad() || denseRows()) {
      blockedDataGrad() ? dataGradBlocked(f) : dataGradDense(f);
      b.CreateRetVoid();
      return f;
    }
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
  std::vector<std::vector<AllocaInst *>> blockAcc;
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
