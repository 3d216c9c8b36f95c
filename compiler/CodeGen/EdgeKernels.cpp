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
  /// Calls body(q, j) for every lifted edge leaving source copy i; q serves
  /// only to find the edge's weights.
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
    Value *tPtr = k.arg(f, "tPtr"), *tPos = k.arg(f, "tPos");
    Value *begin = b.CreateLoad(k.i64, b.CreateInBoundsGEP(k.i64, tPtr, i));
    Value *end = b.CreateLoad(k.i64, b.CreateInBoundsGEP(k.i64, tPtr, k.add(i, k.c64(1))));
    auto entries = [&](bool transposedWeights) {
      k.loop(begin, end, "t", [&](Value *t) {
        Value *q = transposedWeights
                       ? t
                       : b.CreateZExt(b.CreateLoad(k.i32, b.CreateInBoundsGEP(k.i32, tPos, t)), k.i64);
        Value *j = b.CreateZExt(
            b.CreateLoad(k.i32, b.CreateInBoundsGEP(k.i32, k.arg(f, "tRow"), t)), k.i64);
        body(q, j);
      });
    };
    // Without tPos, W is in transposed order (the contract): read in turn.
    k.ifElse(b.CreateIsNull(tPos), [&] { entries(true); }, [&] { entries(false); });
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
  /// out[index] += sum where `add` (by default the kernel's `add` != 0),
  /// else out[index] = sum: every forward and data-gradient kernel writes
  /// its outputs through this.
  void addOrStore(Type *type, Value *out, Value *index, Value *sum, Value *add = nullptr) {
    Value *old = k.loadTile(type, out, index);
    k.storeTile(b.CreateSelect(add ? add : addInto, k.fadd(old, sum), sum), out, index);
  }
  /// out[rowStart + offset ..] += the sum of terms(acc) for tile kind t,
  /// accumulated in registers.
  void tileSum(size_t t, Value *out, Value *rowStart, Value *offset,
               function_ref<void(Value *acc, Type *type)> terms) {
    Type *type = k.tileType(t);
    b.CreateStore(Constant::getNullValue(type), acc[t]);
    terms(acc[t], type);
    addOrStore(type, out, k.add(rowStart, offset), b.CreateLoad(type, acc[t]));
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
        k.ifElse(blockInside(taps, ox0, P), [&] { body(P, oy, ox0, false); },
                 [&] { body(P, oy, ox0, true); });
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
    for (int64_t px = 0; px < P; ++px)
      addOrStore(type, out, index(px), b.CreateLoad(type, acc[px]));
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
    }, /*maskedTail=*/true);
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
  /// Dense rows whose weights form the G x S matrix W[g*S + s] (output row
  /// g, source row s): one output component, or one source copy.
  bool rowMajorWeights() const {
    return denseRows() && (sig.dv == 1 || sig.layout.rowLength == 1);
  }
  /// Rows per block of the dense kernels, and their batch tiles: 6 rows x 4
  /// registers where there are 32 vector registers (AVX-512: 24
  /// accumulators), else 6 x 2 (12); then one register, then single
  /// columns. The rows left over go by 4, 2 and 1.
  static constexpr int64_t denseBlockRows[] = {contract::denseBlockRows, 4, 2, 1};
  std::vector<BlockTile> denseTiles() const {
    const int64_t L = k.lanes, wide = k.target.vectorBits >= 512 ? 4 : 2;
    return {{wide * L, denseBlockRows[0], FixedVectorType::get(k.T, wide * L)},
            {L, denseBlockRows[0], FixedVectorType::get(k.T, L)},
            {1, denseBlockRows[0], k.T}};
  }
  /// For rows [g0, g1): body(P, g) for blocks of sizes[0] rows while they
  /// fit, then of sizes[1], ... (the last size 1).
  void blocksOf(Value *g0, Value *g1, ArrayRef<int64_t> sizes,
                function_ref<void(int64_t P, Value *g)> body) {
    for (int64_t P : sizes) {
      Value *end = P == 1 ? g1
                          : k.add(g0, k.mul(b.CreateSDiv(b.CreateNSWSub(g1, g0), k.c64(P)), k.c64(P)));
      k.loop(g0, end, "g", [&](Value *g) { body(P, g); }, P);
      g0 = b.CreateBinaryIntrinsic(Intrinsic::smax, g0, end);
    }
  }
  // The dense products sum at most contract::denseInnerChunk inner rows
  // per pass. Beyond that the inner rows' batch tiles outgrow L2 (1 MiB at
  // batch 256), and every block of rows would fetch them again from L3: a
  // 2048 x 2048 forward ran at 40% of a 1024 x 1024 one's FLOP rate. The
  // sum then runs in chunks of whole outer indices, each added to the
  // output in turn (a partial sum per chunk: the chunks depend on the edge
  // only).
  /// out[r][b0:b1] += sum over the inner rows n of W[base(r) + offset(n)]
  /// in[n] for rows [r0, r1), in blocks of rows (the block's weights stay in
  /// L1 while every batch tile passes). The inner rows are `outer` x
  /// `perOuter`: `inner(lo, hi, body)` calls body(n, offset) for those of
  /// outer indices [lo, hi) in the order the per-row kernels sum them.
  void denseProduct(
      Function *f, Value *r0, Value *r1, Value *out, Value *in,
      function_ref<Value *(Value *r)> base, int64_t outer, int64_t perOuter,
      function_ref<void(Value *lo, Value *hi, function_ref<void(Value *n, Value *offset)>)> inner) {
    Value *W = k.arg(f, "W"), *B = k.arg(f, "B");
    const std::vector<BlockTile> tiles = denseTiles();
    blockSlots(tiles);
    const int64_t chunk =
        std::max<int64_t>(1, contract::denseInnerChunk / std::max<int64_t>(1, perOuter));
    // A loop even for one chunk: the kernel's code depends on the base
    // graph only, not on the lift's sizes (tests/CodeGen/kernels.rsl).
    k.loop(k.c64(0), k.c64(outer), "chunk", [&](Value *lo) {
      Value *hi = b.CreateBinaryIntrinsic(Intrinsic::smin, k.add(lo, k.c64(chunk)), k.c64(outer));
      // the first chunk adds or stores (the kernel's `add`), the others add
      Value *add = b.CreateOr(addInto, b.CreateICmpSGT(lo, k.c64(0)));
      blocksOf(r0, r1, denseBlockRows, [&](int64_t P, Value *r) {
        std::vector<Value *> bases;
        for (int64_t p = 0; p < P; ++p)
          bases.push_back(base(k.add(r, k.c64(p))));
        k.batchTiles(k.arg(f, "b0"), k.arg(f, "b1"), widths(tiles), [&](Value *t, size_t kind) {
          Type *type = tiles[kind].type;
          ArrayRef<AllocaInst *> acc = blockAcc[kind];
          for (int64_t p = 0; p < P; ++p)
            b.CreateStore(Constant::getNullValue(type), acc[p]);
          inner(lo, hi, [&](Value *n, Value *offset) {
            Value *x = k.loadTile(type, in, k.add(k.mul(n, B), t));
            for (int64_t p = 0; p < P; ++p) {
              Value *w = k.splat(type, k.load(W, k.add(bases[p], offset)));
              b.CreateStore(k.fma(w, x, b.CreateLoad(type, acc[p])), acc[p]);
            }
          });
          for (int64_t p = 0; p < P; ++p)
            addOrStore(type, out, k.add(k.mul(k.add(r, k.c64(p)), B), t),
                       b.CreateLoad(type, acc[p]), add);
        }, /*maskedTail=*/true);
      });
    }, chunk);
  }
  /// Z[g] += sum over (i, c) of W(g, i, c) Y[i][c], output rows g = j*dv + a
  /// of target rows j0..j1.
  void forwardDense(Function *f) {
    const int64_t du = sig.du, dv = sig.dv, L = sig.layout.rowLength;
    denseProduct(
        f, k.mul(k.arg(f, "j0"), k.c64(dv)), k.mul(k.arg(f, "j1"), k.c64(dv)), k.arg(f, "Z"),
        k.arg(f, "Y"),
        [&](Value *g) {
          Value *j = b.CreateSDiv(g, k.c64(dv)), *a = b.CreateSRem(g, k.c64(dv));
          return k.mul(k.add(k.mul(j, k.c64(L * dv)), a), k.c64(du));
        },
        L == 1 ? du : L, L == 1 ? 1 : du, // one source copy: chunks of its components
        [&](Value *lo, Value *hi, function_ref<void(Value *, Value *)> body) {
          if (L == 1) {
            k.loop(lo, hi, "c", [&](Value *c) { body(c, c); });
            return;
          }
          k.loop(lo, hi, "i", [&](Value *i) {
            k.loop(k.c64(0), k.c64(du), "c", [&](Value *c) {
              body(k.add(k.mul(i, k.c64(du)), c), k.add(k.mul(i, k.c64(dv * du)), c));
            });
          });
        });
  }
  /// dataGrad() for dense rows whose weights are W[g*S + s] (dv = 1, or
  /// one source copy): dY[s] += sum over g of W[g*S + s] dZ[g]. A row of W
  /// holds the weights of consecutive source rows s, but the sum runs down a
  /// column of W, at a stride of S (4 KiB where S = 1024: every line in one
  /// cache set). So per chunk of `chunk` output rows (the outer loop), each
  /// panel of 4 row blocks of source rows (24 or 16) has its weights copied
  /// onto a stack panel [g][panelRows]: consecutive panels read
  /// neighbouring lines of the same W rows, the next two panels' prefetched.
  /// Then per batch tile, the row blocks sweep the panel in order of g, each
  /// reading the same dZ tile of the chunk (from L2: chunk x 256 bytes).
  /// Each dY sums its terms in order of g, a partial sum per chunk: chunks
  /// of 256 rows read and write dY half as often as 128 (1024 x 1024 at
  /// batch 256: backward 3-5% faster), and W's chunk (1 MiB at S = 1024)
  /// still stays in L2 while its panels pass.
  void dataGradColumns(Function *f) {
    Value *W = k.arg(f, "W"), *dZ = k.arg(f, "dZ"), *dY = k.arg(f, "dY"), *B = k.arg(f, "B");
    const int64_t du = sig.du, S = sig.layout.rowLength * du, G = sig.targetCopies * sig.dv;
    // 6 rows x 4 registers where there are 32 vector registers, else 4 x 3.
    const int64_t lanes = k.lanes, wide = k.target.vectorBits >= 512, R = wide ? 4 : 3;
    const std::vector<int64_t> rowBlocks = wide ? std::vector<int64_t>{6, 4, 2, 1}
                                                : std::vector<int64_t>{4, 2, 1};
    const int64_t panelRows = 4 * rowBlocks[0], chunk = 256;
    const std::vector<BlockTile> tiles = {{R * lanes, 0, FixedVectorType::get(k.T, lanes)},
                                          {lanes, 0, FixedVectorType::get(k.T, lanes)},
                                          {1, 0, k.T}};
    IRBuilder<> entry(&f->getEntryBlock(), f->getEntryBlock().begin());
    Value *panel = entry.CreateAlloca(k.T, k.c64(chunk * panelRows), "panel"); // [g][panelRows]
    std::vector<std::vector<AllocaInst *>> acc(tiles.size());
    for (size_t t = 0; t < tiles.size(); ++t)
      for (int64_t n = 0; n < rowBlocks[0] * R; ++n)
        acc[t].push_back(entry.CreateAlloca(tiles[t].type, nullptr, "acc"));
    Value *r0 = k.mul(k.arg(f, "i0"), k.c64(du)), *r1 = k.mul(k.arg(f, "i1"), k.c64(du));
    k.loop(k.c64(0), k.c64(G), "gc", [&](Value *gc) {
      Value *gn = b.CreateBinaryIntrinsic(Intrinsic::smin, k.c64(chunk), b.CreateNSWSub(k.c64(G), gc));
      k.loop(r0, r1, "s0", [&](Value *s0) {
        Value *rows = b.CreateBinaryIntrinsic(Intrinsic::smin, k.c64(panelRows), b.CreateNSWSub(r1, s0));
        // panel[g][p] = W[(gc + g)*S + s0 + p], p < rows
        Type *line = FixedVectorType::get(k.T, panelRows);
        k.loop(k.c64(0), gn, "g", [&](Value *g) {
          Value *from = k.add(k.mul(k.add(gc, g), k.c64(S)), s0);
          Value *to = k.mul(g, k.c64(panelRows));
          // The next panel's lines, into L2: rows S apart defeat the
          // hardware prefetchers (a page apart where S >= 1024).
          for (int64_t line = 0; line < panelRows; line += k.lineElements())
            k.prefetch(W, k.add(from, k.c64(panelRows + line)), /*write=*/false, /*toL1=*/false);
          // A partial panel (the last, or a task of fewer rows) loads its
          // rows under a mask; the lanes past them are never read.
          Value *v = b.CreateMaskedLoad(line, k.at(W, from), Align(k.T->getPrimitiveSizeInBits() / 8),
                                        k.lanesBelow(panelRows, rows),
                                        Constant::getNullValue(line));
          k.storeTile(v, panel, to);
        });
        Value *first = b.CreateICmpEQ(gc, k.c64(0));
        k.batchTiles(k.arg(f, "b0"), k.arg(f, "b1"), widths(tiles), [&](Value *t, size_t kind) {
          blocksOf(k.c64(0), rows, rowBlocks, [&](int64_t P, Value *p0) {
            Type *type = tiles[kind].type;
            const int64_t regs = kind == 0 ? R : 1;
            for (int64_t n = 0; n < P * regs; ++n)
              b.CreateStore(Constant::getNullValue(type), acc[kind][n]);
            k.loop(k.c64(0), gn, "g", [&](Value *g) {
              // Full tiles also fetch the panel after next, a line per row
              // of g at a time, spread over the products: W from DRAM (16
              // MiB at 2048 x 2048) then reaches L2 in time for its copy
              // (2048 x 2048 backward 4-7% faster; 1024 x 1024 unchanged).
              if (kind == 0)
                for (int64_t line = 0; line < panelRows; line += k.lineElements())
                  k.prefetch(W, k.add(k.add(k.mul(k.add(gc, g), k.c64(S)), s0),
                                      k.c64(2 * panelRows + line)),
                             /*write=*/false, /*toL1=*/false);
              std::vector<Value *> x;
              for (int64_t r = 0; r < regs; ++r)
                x.push_back(k.loadTile(type, dZ, k.add(k.mul(k.add(gc, g), B), k.add(t, k.c64(r * lanes)))));
              for (int64_t p = 0; p < P; ++p) {
                Value *w = k.splat(type, k.load(panel, k.add(k.mul(g, k.c64(panelRows)),
                                                               k.add(p0, k.c64(p)))));
                for (int64_t r = 0; r < regs; ++r) {
                  AllocaInst *a = acc[kind][p * regs + r];
                  b.CreateStore(k.fma(w, x[r], b.CreateLoad(type, a)), a);
                }
              }
            });
            for (int64_t p = 0; p < P; ++p)
              for (int64_t r = 0; r < regs; ++r) {
                Value *at = k.add(k.mul(k.add(s0, k.add(p0, k.c64(p))), B), k.add(t, k.c64(r * lanes)));
                // the first chunk adds or stores (the kernel's `add`), the others add
                addOrStore(type, dY, at, b.CreateLoad(type, acc[kind][p * regs + r]),
                           b.CreateOr(addInto, b.CreateNot(first)));
              }
          });
        }, /*maskedTail=*/true);
      }, panelRows);
    }, chunk);
  }

  /// dY[s] += sum over (j, a) of W(j, a, s) dZ[j][a], source rows
  /// s = i*du + c of source copies i0..i1.
  void dataGradDense(Function *f) {
    const int64_t du = sig.du, dv = sig.dv, L = sig.layout.rowLength;
    if (rowMajorWeights()) {
      dataGradColumns(f);
      return;
    }
    denseProduct(
        f, k.mul(k.arg(f, "i0"), k.c64(du)), k.mul(k.arg(f, "i1"), k.c64(du)), k.arg(f, "dY"),
        k.arg(f, "dZ"),
        [&](Value *s) {
          Value *i = b.CreateSDiv(s, k.c64(du)), *c = b.CreateSRem(s, k.c64(du));
          return k.add(k.mul(i, k.c64(dv * du)), c);
        },
        sig.targetCopies, dv,
        [&](Value *lo, Value *hi, function_ref<void(Value *, Value *)> body) {
          k.loop(lo, hi, "j", [&](Value *j) {
            k.loop(k.c64(0), k.c64(dv), "a", [&](Value *a) {
              body(k.add(k.mul(j, k.c64(dv)), a),
                   k.mul(k.add(k.mul(j, k.c64(L * dv)), a), k.c64(du)));
            });
          });
        });
  }

  //===--- Weight gradients of linear maps by blocks ----------------------===//
  //
  // dW[w] += sum_b dZ[g][b] Y[s][b] for blocks of Pr output rows g and Ps
  // source rows s: one loaded dZ tile serves Ps weights and one Y tile Pr.
  // Every weight gets the same arithmetic whatever block holds it: a vector
  // accumulator over the batch's full registers, summed across lanes by
  // halving (lanes i and i + L/2, then i and i + L/4, ...: several
  // accumulators are halved together in one register), then the last
  // columns one at a time, then added to dW.

  /// The lane sums of `accs` (a power of two of them), each by halving.
  std::vector<Value *> laneSums(std::vector<Value *> accs) {
    std::vector<std::vector<size_t>> order;
    int64_t w = halveLanes(accs, order);
    std::vector<Value *> sums(order.size() * order[0].size());
    for (size_t n = 0; n < accs.size(); ++n)
      for (size_t m = 0; m < order[n].size(); ++m)
        sums[order[n][m]] = b.CreateExtractElement(accs[n], uint64_t(m * w));
    return sums;
  }
  /// The same lane sums as one vector of accs.size() (at most k.lanes)
  /// lanes, in order.
  Value *laneSumVector(std::vector<Value *> accs) {
    std::vector<std::vector<size_t>> order;
    const size_t n = accs.size();
    halveLanes(accs, order); // one vector; pairing keeps the order: lanes 0..n-1
    SmallVector<int, 16> first;
    for (size_t m = 0; m < n; ++m)
      first.push_back(int(m));
    return b.CreateShuffleVector(accs[0], first);
  }
  /// Halves the vectors `accs` until each accumulator's sum is one lane:
  /// then accs[n] holds those of the accumulators order[n] at lanes m * w
  /// (w returned).
  int64_t halveLanes(std::vector<Value *> &accs, std::vector<std::vector<size_t>> &order) {
    const int64_t L = k.lanes;
    // Each vector holds m accumulators' partial sums as segments of width
    // w = L/m, in the order of `order`.
    for (size_t n = 0; n < accs.size(); ++n)
      order.push_back({n});
    int64_t w = L;
    // The segments of P then Q, each halved (m segments each: 2m of w/2).
    auto halve = [&](Value *P, Value *Q, int64_t m) {
      SmallVector<int, 16> lo, hi;
      for (int side = 0; side < 2; ++side)
        for (int64_t seg = 0; seg < m; ++seg)
          for (int64_t i = 0; i < w / 2; ++i) {
            lo.push_back(int(side * L + seg * w + i));
            hi.push_back(int(side * L + seg * w + w / 2 + i));
          }
      lo.resize(L), hi.resize(L); // P alone (Q == P) may fill fewer lanes: the rest repeat
      return k.fadd(b.CreateShuffleVector(P, Q, lo), b.CreateShuffleVector(P, Q, hi));
    };
    while (w > 1 && accs.size() > 1) { // pair vectors: 2m segments of w/2
      std::vector<Value *> next;
      std::vector<std::vector<size_t>> nextOrder;
      for (size_t n = 0; n + 1 < accs.size(); n += 2) {
        next.push_back(halve(accs[n], accs[n + 1], int64_t(order[n].size())));
        std::vector<size_t> o = order[n];
        o.insert(o.end(), order[n + 1].begin(), order[n + 1].end());
        nextOrder.push_back(o);
      }
      accs = next, order = nextOrder, w /= 2;
    }
    while (w > 1) { // one vector: halve its segments in place
      accs[0] = halve(accs[0], accs[0], int64_t(order[0].size()));
      w /= 2; // the lower half holds them
    }
    return w;
  }

  /// dW[weight(p, v)] += sum_b dZ[zrow[p] + b] Y[yrow[v] + b] for a block of
  /// rows (zrow, yrow: element offsets of the rows' first column): a
  /// register of columns at a time, the columns left over in one masked
  /// register (two or more) or alone (one), then the lanes summed.
  /// With `contiguous` (one output row, weight(0, v) = weight(0, 0) + v),
  /// the sums are added to dW as one vector.
  void dotBlock(Value *dW, Value *dZ, Value *Y, Value *B, ArrayRef<Value *> zrow,
                ArrayRef<Value *> yrow, function_ref<Value *(int64_t p, int64_t v)> weight,
                bool contiguous = false) {
    const int64_t L = k.lanes, PA = zrow.size(), PU = yrow.size();
    Type *vec = FixedVectorType::get(k.T, L);
    Value *fullB = k.mul(b.CreateSDiv(B, k.c64(L)), k.c64(L));
    std::vector<Value *> init(PA * PU, Constant::getNullValue(vec));
    // The batch loop carries the accumulators as values (phis).
    Function *f = b.GetInsertBlock()->getParent();
    BasicBlock *pre = b.GetInsertBlock();
    BasicBlock *header = BasicBlock::Create(k.ctx, "dot.header", f);
    BasicBlock *body = BasicBlock::Create(k.ctx, "dot.body", f);
    BasicBlock *exit = BasicBlock::Create(k.ctx, "dot.exit", f);
    b.CreateBr(header);
    b.SetInsertPoint(header);
    PHINode *t = b.CreatePHI(k.i64, 2, "t");
    t->addIncoming(k.c64(0), pre);
    std::vector<PHINode *> acc;
    for (int64_t n = 0; n < PA * PU; ++n) {
      acc.push_back(b.CreatePHI(vec, 2, "acc"));
      acc.back()->addIncoming(init[n], pre);
    }
    b.CreateCondBr(b.CreateICmpSLT(t, fullB), body, exit);
    // The accumulators plus the products of the register at column `at`.
    auto products = [&](Value *at) {
      std::vector<Value *> y, next(PA * PU);
      for (int64_t v = 0; v < PU; ++v)
        y.push_back(k.loadTile(vec, Y, k.add(yrow[v], at)));
      for (int64_t p = 0; p < PA; ++p) {
        Value *z = k.loadTile(vec, dZ, k.add(zrow[p], at));
        for (int64_t v = 0; v < PU; ++v)
          next[p * PU + v] = k.fma(z, y[v], acc[p * PU + v]);
      }
      return next;
    };
    b.SetInsertPoint(body);
    std::vector<Value *> next = products(t);
    t->addIncoming(k.add(t, k.c64(L)), b.GetInsertBlock());
    for (int64_t n = 0; n < PA * PU; ++n)
      acc[n]->addIncoming(next[n], b.GetInsertBlock());
    b.CreateBr(header);
    b.SetInsertPoint(exit);
    // Two or more columns left over: one more masked register of them.
    Value *rest = b.CreateNSWSub(B, fullB);
    Value *masked = b.CreateICmpSGT(rest, k.c64(1));
    BasicBlock *unmasked = b.GetInsertBlock();
    BasicBlock *tailBlock = BasicBlock::Create(k.ctx, "dot.tail", f);
    BasicBlock *joined = BasicBlock::Create(k.ctx, "dot.joined", f);
    b.CreateCondBr(masked, tailBlock, joined);
    b.SetInsertPoint(tailBlock);
    k.tailMask = k.lanesBelow(L, rest);
    std::vector<Value *> tnext = products(fullB);
    k.tailMask = nullptr;
    b.CreateBr(joined);
    b.SetInsertPoint(joined);
    std::vector<Value *> accAll;
    for (int64_t n = 0; n < PA * PU; ++n) {
      PHINode *phi = b.CreatePHI(vec, 2, "acc.all");
      phi->addIncoming(acc[n], unmasked);
      phi->addIncoming(tnext[n], tailBlock);
      accAll.push_back(phi);
    }
    // Fewer columns than lanes, one or none in a masked register (batch 1):
    // the accumulators are 0, and so are their lane sums, without the
    // shuffles.
    Value *last = k.add(B, k.c64(-1));
    BasicBlock *zero = b.GetInsertBlock();
    BasicBlock *reduce = BasicBlock::Create(k.ctx, "dot.lanes", f);
    BasicBlock *summed = BasicBlock::Create(k.ctx, "dot.summed", f);
    b.CreateCondBr(b.CreateOr(b.CreateICmpSGT(fullB, k.c64(0)), masked), reduce, summed);
    b.SetInsertPoint(reduce);
    // The column left after the registers (rest = 1), if any, is added
    // after the lane sums: sum = fma(dZ, Y, sum), per weight.
    if (contiguous && PA == 1 && PU > 1) {
      // The same operations per weight, on one vector of PU lanes.
      Type *block = FixedVectorType::get(k.T, PU);
      Value *vec = laneSumVector(accAll);
      BasicBlock *reduced = b.GetInsertBlock();
      b.CreateBr(summed);
      b.SetInsertPoint(summed);
      PHINode *sums = b.CreatePHI(block, 2, "lanesums");
      sums->addIncoming(vec, reduced);
      sums->addIncoming(Constant::getNullValue(block), zero);
      BasicBlock *before = b.GetInsertBlock();
      BasicBlock *column = BasicBlock::Create(k.ctx, "dot.column", f);
      BasicBlock *done = BasicBlock::Create(k.ctx, "dot.done", f);
      b.CreateCondBr(b.CreateICmpEQ(rest, k.c64(1)), column, done);
      b.SetInsertPoint(column);
      Value *ys = PoisonValue::get(block);
      for (int64_t v = 0; v < PU; ++v)
        ys = b.CreateInsertElement(ys, k.load(Y, k.add(yrow[v], last)), uint64_t(v));
      Value *withColumn = k.fma(k.splat(block, k.load(dZ, k.add(zrow[0], last))), ys, sums);
      b.CreateBr(done);
      b.SetInsertPoint(done);
      PHINode *totals = b.CreatePHI(block, 2, "totals");
      totals->addIncoming(sums, before);
      totals->addIncoming(withColumn, column);
      Value *first = weight(0, 0);
      k.storeTile(k.fadd(k.loadTile(block, dW, first), totals), dW, first);
      return;
    }
    std::vector<Value *> lanes = laneSums(accAll);
    BasicBlock *reduced = b.GetInsertBlock();
    b.CreateBr(summed);
    b.SetInsertPoint(summed);
    std::vector<Value *> sums;
    for (Value *v : lanes) {
      PHINode *phi = b.CreatePHI(k.T, 2, "lanesum");
      phi->addIncoming(v, reduced);
      phi->addIncoming(k.fp(0), zero);
      sums.push_back(phi);
    }
    for (int64_t p = 0; p < PA; ++p)
      for (int64_t v = 0; v < PU; ++v) {
        Value *total = k.reduce(b.CreateSelect(masked, B, fullB), B, sums[p * PU + v], "b",
                                [&](Value *bb, Value *s) {
          return k.fma(k.load(dZ, k.add(zrow[p], bb)), k.load(Y, k.add(yrow[v], bb)), s);
        });
        k.addTo(dW, weight(p, v), total);
      }
  }

  /// weightGrad() for linear maps. Dense rows covered whole (every row
  /// reads every source): outer products (weightGradOuter) where they
  /// apply, else blocks of 4 output rows x 4 source rows. Else,
  /// per row j: blocks of 4 output components a (where dv >= 4) x 4 source
  /// terms u = (q, c) of its positions in [q0, q1).
  void weightGradLinear(Function *f) {
    Value *dW = k.arg(f, "dW"), *dZ = k.arg(f, "dZ"), *Y = k.arg(f, "Y"), *B = k.arg(f, "B");
    const int64_t du = sig.du, dv = sig.dv;
    Value *j0 = k.arg(f, "j0"), *j1 = k.arg(f, "j1");
    auto general = [&] {
      const int64_t Pr = dv >= 4 ? 4 : 1;
      // One output row (dv < 4): blocks of 8 source terms where a register
      // has more than 4 lanes (16 would leave too few general registers for
      // their row addresses), whose weights are contiguous where du = dv =
      // 1: one vector of lane sums, one vector add to dW.
      SmallVector<int64_t, 3> termBlocks = {4, 1};
      if (Pr == 1 && k.lanes >= 8)
        termBlocks = {8, 4, 1};
      k.loop(j0, j1, "j", [&](Value *j) {
        auto [rowBegin, rowEnd] = row(j, k.arg(f, "rowPtr"));
        // Only positions in [q0, q1): callers may split a long row.
        Value *qb = b.CreateBinaryIntrinsic(Intrinsic::smax, rowBegin, k.arg(f, "q0"));
        Value *qe = b.CreateBinaryIntrinsic(Intrinsic::smin, rowEnd, k.arg(f, "q1"));
        blocksOf(k.c64(0), k.c64(dv), {Pr, 1}, [&](int64_t PA, Value *a) {
          blocksOf(k.mul(qb, k.c64(du)), k.mul(qe, k.c64(du)), termBlocks, [&](int64_t PU, Value *u) {
            std::vector<Value *> zrow, yrow, qs, cs;
            for (int64_t p = 0; p < PA; ++p)
              zrow.push_back(k.mul(k.add(k.mul(j, k.c64(dv)), k.add(a, k.c64(p))), B));
            for (int64_t v = 0; v < PU; ++v) {
              Value *uv = k.add(u, k.c64(v));
              Value *q = b.CreateSDiv(uv, k.c64(du)), *c = b.CreateSRem(uv, k.c64(du));
              qs.push_back(q), cs.push_back(c);
              yrow.push_back(k.mul(k.add(k.mul(source(j, q, k.arg(f, "col")), k.c64(du)), c), B));
            }
            dotBlock(
                dW, dZ, Y, B, zrow, yrow,
                [&](int64_t p, int64_t v) {
                  return k.add(
                      k.mul(k.add(k.mul(qs[v], k.c64(dv)), k.add(a, k.c64(p))), k.c64(du)), cs[v]);
                },
                du == 1 && dv == 1);
          });
        });
      });
    };
    if (!denseRows()) {
      general();
      return;
    }
    const int64_t L = sig.layout.rowLength;
    Value *whole = b.CreateAnd(b.CreateICmpSLE(k.arg(f, "q0"), k.mul(j0, k.c64(L))),
                               b.CreateICmpSGE(k.arg(f, "q1"), k.mul(j1, k.c64(L))));
    // Outer products need a register of source rows; fewer would run scalar
    // where the dot products below run along the batch.
    const bool outer = rowMajorWeights() && L * du >= k.lanes;
    auto dots = [&] {
      blocksOf(k.mul(j0, k.c64(dv)), k.mul(j1, k.c64(dv)), {4, 1}, [&](int64_t PA, Value *g) {
        blocksOf(k.c64(0), k.c64(L * du), {4, 1}, [&](int64_t PU, Value *s) {
          std::vector<Value *> zrow, yrow, base, offset;
          for (int64_t p = 0; p < PA; ++p) {
            Value *gp = k.add(g, k.c64(p));
            zrow.push_back(k.mul(gp, B));
            Value *j = b.CreateSDiv(gp, k.c64(dv)), *a = b.CreateSRem(gp, k.c64(dv));
            base.push_back(k.mul(k.add(k.mul(j, k.c64(L * dv)), a), k.c64(du)));
          }
          for (int64_t v = 0; v < PU; ++v) {
            Value *sv = k.add(s, k.c64(v));
            yrow.push_back(k.mul(sv, B));
            Value *i = b.CreateSDiv(sv, k.c64(du)), *c = b.CreateSRem(sv, k.c64(du));
            offset.push_back(k.add(k.mul(i, k.c64(dv * du)), c));
          }
          dotBlock(dW, dZ, Y, B, zrow, yrow,
                   [&](int64_t p, int64_t v) { return k.add(base[p], offset[v]); });
        });
      });
    };
    k.ifElse(whole, [&] { outer ? weightGradOuter(f) : dots(); }, general);
  }

  //===--- Dense weight gradients by outer products -----------------------===//
  //
  // Where every row reads every source row and the weights of an output row
  // g are contiguous in the source row s (dv = 1, or one source copy), dW is
  // the G x S matrix at dW[g*S + s] and dW += dZ Y^T is a matrix product
  // whose sum runs along the batch, the rows' contiguous axis. The batch
  // goes by blocks of PB columns: the block's Y panel of a few source rows
  // is transposed (in registers, lanes x lanes at a time) onto the stack,
  // then, GB output rows at a time, blocks of rows sweep its blocks of BB
  // columns, each dZ value broadcast against registers of consecutive
  // source rows: P x R accumulators and no sums across lanes. Every weight gets dW += (sum over the block's columns in
  // order, from 0) per block, whatever block of rows or sources holds it.

  /// The transpose of n x n values held as n vectors of n lanes: v[i][c]
  /// becomes v[c][i] (log2 n stages, each swapping blocks across the
  /// diagonal).
  void transposeLanes(std::vector<Value *> &v) {
    const int64_t n = int64_t(v.size());
    for (int64_t d = n / 2; d >= 1; d /= 2) {
      SmallVector<int, 16> lo, hi;
      for (int64_t c = 0; c < n; ++c) {
        lo.push_back(int((c & d) == 0 ? c : n + c - d));
        hi.push_back(int((c & d) == 0 ? c + d : n + c));
      }
      for (int64_t i = 0; i < n; ++i)
        if ((i & d) == 0) {
          Value *a = v[i], *bv = v[i + d];
          v[i] = b.CreateShuffleVector(a, bv, lo);
          v[i + d] = b.CreateShuffleVector(a, bv, hi);
        }
    }
  }

  void weightGradOuter(Function *f) {
    Value *dW = k.arg(f, "dW"), *dZ = k.arg(f, "dZ"), *Y = k.arg(f, "Y"), *B = k.arg(f, "B");
    const int64_t S = sig.layout.rowLength * sig.du, lanes = k.lanes;
    const int64_t R = k.target.vectorBits >= 512 ? 4 : 2, SW = R * lanes;
    // BB columns per partial sum (the arithmetic), PB packed at once, GB
    // rows per sweep of a packed panel: their dW lines (GB x SW values) stay
    // in L2 while the panel's blocks of BB columns pass. Where dW outgrows
    // L2 (2 MiB), PB = 2 BB reads and writes it once per 256 columns, not
    // per 128 (backward at batch 256, 1 thread: 2048 x 2048 7% faster,
    // 1024 x 1024 2%); smaller, the larger panel costs more than it saves
    // (784 x 512: 3% slower).
    constexpr int64_t BB = 128, GB = 192;
    const int64_t G = sig.targetCopies * sig.dv, bytes = k.T->getPrimitiveSizeInBits() / 8;
    const int64_t PB = G * S * bytes > (int64_t(2) << 20) ? 2 * BB : BB;
    Type *vec = FixedVectorType::get(k.T, lanes);
    IRBuilder<> entry(&f->getEntryBlock(), f->getEntryBlock().begin());
    Value *pack = entry.CreateAlloca(k.T, k.c64(PB * SW), "pack"); // [PB][SW]
    Value *g0 = k.mul(k.arg(f, "j0"), k.c64(sig.dv)), *g1 = k.mul(k.arg(f, "j1"), k.c64(sig.dv));
    blocksOf(k.c64(0), k.c64(S), {SW, lanes, 1}, [&](int64_t w, Value *s0) {
      const int64_t regs = w >= lanes ? w / lanes : 1;
      Type *type = w >= lanes ? vec : k.T;
      std::vector<AllocaInst *> acc; // [row p][register r]
      for (int64_t n = 0; n < denseBlockRows[0] * regs; ++n)
        acc.push_back(entry.CreateAlloca(type, nullptr, "acc"));
      k.loop(k.c64(0), B, "bp", [&](Value *bp0) {
        Value *pn = b.CreateBinaryIntrinsic(Intrinsic::smin, k.c64(PB), b.CreateNSWSub(B, bp0));
        // pack[c][s] = Y[s0 + s][bp0 + c], c < pn, s < w
        auto y = [&](int64_t sOff, Value *c) {
          return k.add(k.mul(k.add(s0, k.c64(sOff)), B), k.add(bp0, c));
        };
        Value *fullC = w >= lanes ? k.mul(b.CreateSDiv(pn, k.c64(lanes)), k.c64(lanes)) : k.c64(0);
        if (w >= lanes)
          k.loop(k.c64(0), fullC, "c", [&](Value *c) {
            for (int64_t r = 0; r < regs; ++r) {
              std::vector<Value *> v;
              for (int64_t i = 0; i < lanes; ++i)
                v.push_back(k.loadTile(vec, Y, y(r * lanes + i, c)));
              transposeLanes(v);
              for (int64_t i = 0; i < lanes; ++i)
                k.storeTile(v[i], pack, k.add(k.mul(k.add(c, k.c64(i)), k.c64(SW)), k.c64(r * lanes)));
            }
          }, lanes);
        k.loop(fullC, pn, "c", [&](Value *c) {
          for (int64_t sOff = 0; sOff < w; ++sOff)
            k.storeTile(k.load(Y, y(sOff, c)), pack, k.add(k.mul(c, k.c64(SW)), k.c64(sOff)));
        });
        k.loop(g0, g1, "gb", [&](Value *gb0) {
          Value *gb1 = b.CreateBinaryIntrinsic(Intrinsic::smin, k.add(gb0, k.c64(GB)), g1);
          k.loop(k.c64(0), pn, "bb", [&](Value *bb0) {
            Value *bn = b.CreateBinaryIntrinsic(Intrinsic::smin, k.c64(BB), b.CreateNSWSub(pn, bb0));
            // dW[g + p][s0 ..] += sum over c of dZ[g + p][bp0 + bb0 + c] pack[bb0 + c][..]
            blocksOf(gb0, gb1, denseBlockRows, [&](int64_t P, Value *g) {
              for (int64_t n = 0; n < P * regs; ++n)
                b.CreateStore(Constant::getNullValue(type), acc[n]);
              // The next block's dW lines, rows S apart (a page where S >= 1024:
              // no hardware prefetcher follows them).
              for (int64_t p = 0; p < P; ++p)
                for (int64_t line = 0; line < w; line += k.lineElements())
                  k.prefetch(dW, k.add(k.mul(k.add(g, k.c64(P + p)), k.c64(S)), k.add(s0, k.c64(line))),
                             /*write=*/true, /*toL1=*/true);
              Value *col = k.add(bp0, bb0);
              k.loop(k.c64(0), bn, "c", [&](Value *c) {
                std::vector<Value *> x;
                for (int64_t r = 0; r < regs; ++r)
                  x.push_back(k.loadTile(type, pack, k.add(k.mul(k.add(bb0, c), k.c64(SW)), k.c64(r * lanes))));
                for (int64_t p = 0; p < P; ++p) {
                  Value *z = k.splat(type, k.load(dZ, k.add(k.mul(k.add(g, k.c64(p)), B), k.add(col, c))));
                  for (int64_t r = 0; r < regs; ++r)
                    b.CreateStore(k.fma(z, x[r], b.CreateLoad(type, acc[p * regs + r])), acc[p * regs + r]);
                }
              });
              for (int64_t p = 0; p < P; ++p)
                for (int64_t r = 0; r < regs; ++r) {
                  Value *at = k.add(k.mul(k.add(g, k.c64(p)), k.c64(S)), k.add(s0, k.c64(r * lanes)));
                  k.storeTile(k.fadd(k.loadTile(type, dW, at), b.CreateLoad(type, acc[p * regs + r])),
                              dW, at);
                }
            });
          }, BB);
        }, GB);
      }, PB);
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
    }, /*maskedTail=*/true);
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
          k.ifElse(rowsInside, [&] { pixels(false); }, [&] { pixels(true); });
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
    addInto = b.CreateICmpNE(k.arg(f, "add"), k.c64(0));
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
    }, /*maskedTail=*/true);
    b.CreateRetVoid();
    return f;
  }

  /// dY[i] += W[q] dZ[j] over the lifted edges of rows j0..j1 in forward
  /// order (linear maps, one weight per lifted edge, explicit rows).
  Function *dataGradScatter(size_t index) {
    Function *f = k.kernel(contract::edgeKernels[contract::DataGradScatter], index);
    Value *W = k.arg(f, "W"), *dZ = k.arg(f, "dZ"), *dY = k.arg(f, "dY"), *B = k.arg(f, "B");
    k.batchTiles(k.c64(0), B, [&](Value *t, size_t kind) {
      Type *type = k.tileType(kind);
      k.loop(k.arg(f, "j0"), k.arg(f, "j1"), "j", [&](Value *j) {
        auto [begin, end] = row(j, k.arg(f, "rowPtr"));
        Value *dz = k.loadTile(type, dZ, k.add(k.mul(j, B), t));
        k.loop(begin, end, "q", [&](Value *q) {
          Value *at = k.add(k.mul(source(j, q, k.arg(f, "col")), B), t);
          k.storeTile(k.fma(k.splat(type, k.load(W, q)), dz, k.loadTile(type, dY, at)), dY, at);
        });
      });
    }, /*maskedTail=*/true);
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
    if (sig.map == MapKind::Linear && !linearAlongLastAxis(sig.uShape, sig.vShape)) {
      weightGradLinear(f);
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
    addInto = b.CreateICmpNE(k.arg(f, "add"), k.c64(0));
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
    }, /*maskedTail=*/true);
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
  Value *addInto = nullptr; ///< the kernel's `add` != 0 (forward and data gradient)
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
Function *KernelBuilder::edgeDataGradScatter(const EdgeSignature &sig, size_t k) {
  return EdgeEmitter(*this, sig).dataGradScatter(k);
}

} // namespace rslc::codegen
