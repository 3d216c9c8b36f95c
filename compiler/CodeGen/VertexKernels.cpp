//===- VertexKernels.cpp - activations, softmax, layernorm, attention -----===//
//
// A vertex's kernels act on each copy's components jointly where the
// operation asks for it: elementwise activations component by component,
// softmax and layer normalisation along one axis of the copy's shape, and
// attention over the tokens of its query, key and value. Batch columns are
// the vectorised dimension throughout (tiles, KernelBuilder.h); every sum
// runs in a fixed order, so results do not depend on how work is split.
//
//===----------------------------------------------------------------------===//
#include "CodeGen/KernelBuilder.h"

#include <cmath>

using namespace llvm;
using namespace rslc::lift;

namespace rslc::codegen {

namespace {

constexpr double layerNormEpsilon = 1e-5;

class VertexEmitter {
public:
  VertexEmitter(KernelBuilder &k, const VertexSignature &sig) : k(k), sig(sig), b(k.b) {}

  //===--- Elementwise activations ----------------------------------------===//

  Value *sigmoid(Value *z) {
    return b.CreateFDiv(k.fp(1), k.fadd(k.fp(1), k.call(Intrinsic::exp, {b.CreateFNeg(z)})));
  }

  /// act(z) and act'(z).
  std::pair<Value *, Value *> activation(Activation act, Value *z) {
    Value *y = nullptr, *d = nullptr;
    auto fp = [&](double v) { return k.fp(v); };
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
      y = b.CreateSelect(pos, z, k.fmul(fp(0.01), z)), d = b.CreateSelect(pos, fp(1), fp(0.01));
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
      Value *e2 = k.call(Intrinsic::exp, {k.fmul(fp(2), z)});
      y = k.fsub(fp(1), b.CreateFDiv(fp(2), k.fadd(e2, fp(1))));
      d = k.fsub(fp(1), k.fmul(y, y));
      break;
    }
    case Activation::Sigmoid:
      y = sigmoid(z), d = k.fmul(y, k.fsub(fp(1), y));
      break;
    case Activation::Gelu: {
      // exact: z * Phi(z), Phi(z) = (1 + erf(z / sqrt 2)) / 2
      Value *phi = k.fmul(fp(0.5), k.fadd(fp(1), k.libm("erf", k.fmul(z, fp(M_SQRT1_2)))));
      y = k.fmul(z, phi);
      Value *density = k.fmul(fp(0.3989422804014327),
                              k.call(Intrinsic::exp, {k.fmul(fp(-0.5), k.fmul(z, z))}));
      d = k.fadd(phi, k.fmul(z, density));
      break;
    }
    case Activation::Softplus: {
      // max(z, 0) + log1p(exp(-|z|)), stable for large |z|
      Value *absz = k.call(Intrinsic::fabs, {z});
      y = k.fadd(k.call(Intrinsic::maxnum, {z, fp(0)}),
                 k.libm("log1p", k.call(Intrinsic::exp, {b.CreateFNeg(absz)})));
      d = sigmoid(z);
      break;
    }
    case Activation::Silu: {
      Value *s = sigmoid(z);
      y = k.fmul(z, s);
      d = k.fadd(s, k.fmul(y, k.fsub(fp(1), s)));
      break;
    }
    case Activation::Softmax:
    case Activation::LayerNorm:
      break; // joint: see softmax() and layerNorm()
    }
    return {y, d};
  }

  /// act'(z) from y = act(z), where that is exact (derivativeFromOutput):
  /// the same operations on y as activation() applies after computing it.
  Value *derivativeFromOutput(Activation act, Value *y) {
    auto fp = [&](double v) { return k.fp(v); };
    switch (act) {
    case Activation::Identity:
      return fp(1);
    case Activation::Relu:
      return b.CreateSelect(b.CreateFCmpOGT(y, fp(0)), fp(1), fp(0));
    case Activation::LeakyRelu: // y > 0 exactly where z > 0
      return b.CreateSelect(b.CreateFCmpOGT(y, fp(0)), fp(1), fp(0.01));
    case Activation::Relu32: // 0 < y < 32 exactly where 0 < z < 32
      return b.CreateSelect(b.CreateAnd(b.CreateFCmpOGT(y, fp(0)), b.CreateFCmpOLT(y, fp(32))),
                            fp(1), fp(0));
    case Activation::Tanh:
      return k.fsub(fp(1), k.fmul(y, y));
    case Activation::Sigmoid:
      return k.fmul(y, k.fsub(fp(1), y));
    default:
      llvm_unreachable("the derivative does not follow from the output");
    }
  }

  /// body(in) if the buffers `in` and `out` differ, else body(out): a loop
  /// over one buffer then reads and writes it through one argument, so
  /// that the arguments' noalias holds (KernelContract.h: one buffer).
  void inPlaceOr(Value *in, Value *out, function_ref<void(Value *source)> body) {
    k.ifElse(b.CreateICmpEQ(in, out), [&] { body(out); }, [&] { body(in); });
  }

  Function *elementwiseForward(size_t index) {
    Function *f = k.kernel(contract::vertexKernels[contract::ActForward], index);
    Value *Y = k.arg(f, "Y"), *B = k.arg(f, "B");
    const int64_t dim = sig.dim();
    inPlaceOr(k.arg(f, "Z"), Y, [&](Value *Z) {
      k.loop(k.arg(f, "j0"), k.arg(f, "j1"), "j", [&](Value *j) {
        k.loop(k.c64(0), k.c64(dim), "a", [&](Value *a) {
          Value *ja = k.add(k.mul(j, k.c64(dim)), a);
          Value *bias = sig.bias ? k.load(k.arg(f, "bias"), ja) : nullptr;
          Value *rowStart = k.mul(ja, B);
          k.loop(k.c64(0), B, "b", [&](Value *bb) {
            Value *z = k.load(Z, k.add(rowStart, bb));
            if (bias)
              z = k.fadd(z, bias);
            b.CreateStore(activation(sig.act, z).first, k.at(Y, k.add(rowStart, bb)));
          });
        });
      });
    });
    b.CreateRetVoid();
    return f;
  }

  /// Where derivativeFromOutput(act), the argument Z holds Y (the bias is
  /// already in it).
  Function *elementwiseBackward(size_t index) {
    Function *f = k.kernel(contract::vertexKernels[contract::ActBackward], index);
    Value *Z = k.arg(f, "Z"), *dZ = k.arg(f, "dZ"), *B = k.arg(f, "B");
    const bool fromOutput = rslc::derivativeFromOutput(sig.act);
    const int64_t dim = sig.dim();
    inPlaceOr(k.arg(f, "dY"), dZ, [&](Value *dY) {
      k.loop(k.arg(f, "j0"), k.arg(f, "j1"), "j", [&](Value *j) {
        k.loop(k.c64(0), k.c64(dim), "a", [&](Value *a) {
          Value *ja = k.add(k.mul(j, k.c64(dim)), a);
          Value *bias = sig.bias && !fromOutput ? k.load(k.arg(f, "bias"), ja) : nullptr;
          Value *rowStart = k.mul(ja, B);
          Value *sum = k.sumOverBatch(B, [&](Value *bb) {
            Value *z = k.load(Z, k.add(rowStart, bb));
            if (bias)
              z = k.fadd(z, bias);
            Value *d = fromOutput ? derivativeFromOutput(sig.act, z) : activation(sig.act, z).second;
            Value *g = k.fmul(k.load(dY, k.add(rowStart, bb)), d);
            b.CreateStore(g, k.at(dZ, k.add(rowStart, bb)));
            return g;
          });
          if (sig.bias)
            k.addTo(k.arg(f, "dbias"), ja, sum);
        });
      });
    });
    b.CreateRetVoid();
    return f;
  }

  //===--- Joint operations along one axis --------------------------------===//

  /// The axis a softmax or layernorm acts along, and the components before
  /// and after it: component (o, kk, in) is (o * n + kk) * inner + in.
  struct Axis {
    int64_t outer = 1, n = 1, inner = 1;
  };
  Axis axis() const {
    const Shape &s = sig.shape;
    size_t ax = sig.act == Activation::Softmax && sig.axis >= 0 ? size_t(sig.axis) : s.size() - 1;
    Axis a;
    for (size_t i = 0; i < s.size(); ++i)
      (i < ax ? a.outer : i == ax ? a.n : a.inner) *= s[i];
    return a;
  }

  /// For each copy j, outer index o, inner index in and batch tile, calls
  /// body(row(kk), type, bias(kk)) where row(kk) is the tile's index of
  /// component (o, kk, in) and bias(kk) its bias (or null).
  void alongAxis(Function *f, function_ref<void(function_ref<Value *(Value *)> row, Type *type,
                                                function_ref<Value *(Value *)> bias)>
                                  body) {
    const Axis ax = axis();
    const int64_t dim = sig.dim();
    Value *B = k.arg(f, "B");
    k.loop(k.arg(f, "j0"), k.arg(f, "j1"), "j", [&](Value *j) {
      k.loop(k.c64(0), k.c64(ax.outer), "o", [&](Value *o) {
        k.loop(k.c64(0), k.c64(ax.inner), "in", [&](Value *in) {
          k.batchTiles(k.c64(0), B, [&](Value *t, size_t kind) {
            auto component = [&](Value *kk) {
              return k.add(k.mul(k.add(k.mul(o, k.c64(ax.n)), kk), k.c64(ax.inner)), in);
            };
            auto row = [&](Value *kk) {
              return k.add(k.mul(k.add(k.mul(j, k.c64(dim)), component(kk)), B), t);
            };
            auto bias = [&](Value *kk) -> Value * {
              if (!sig.bias)
                return nullptr;
              return k.load(k.arg(f, "bias"), k.add(k.mul(j, k.c64(dim)), component(kk)));
            };
            body(row, k.tileType(kind), bias);
          });
        });
      });
    });
  }

  /// The tile of Z at row(kk), plus its bias.
  Value *pre(Value *Z, Type *type, Value *row, Value *bias) {
    Value *z = k.loadTile(type, Z, row);
    return bias ? k.fadd(z, k.splat(type, bias)) : z;
  }

  /// Fills Y with softmax along the axis; returns nothing. Y = e^(z - max) / sum.
  void softmaxInto(Value *Z, Value *Y, function_ref<Value *(Value *)> row, Type *type,
                   function_ref<Value *(Value *)> bias) {
    const int64_t n = axis().n;
    Value *m = k.reduce(k.c64(0), k.c64(n), k.splat(type, -HUGE_VAL), "kk",
                        [&](Value *kk, Value *acc) {
                          return k.call(Intrinsic::maxnum, {acc, pre(Z, type, row(kk), bias(kk))});
                        });
    Value *sum = k.reduce(k.c64(0), k.c64(n), Constant::getNullValue(type), "kk",
                          [&](Value *kk, Value *acc) {
                            Value *e = k.exp(k.fsub(pre(Z, type, row(kk), bias(kk)), m));
                            k.storeTile(e, Y, row(kk));
                            return k.fadd(acc, e);
                          });
    Value *inv = b.CreateFDiv(k.splat(type, 1.0), sum);
    k.loop(k.c64(0), k.c64(n), "kk", [&](Value *kk) {
      k.storeTile(k.fmul(k.loadTile(type, Y, row(kk)), inv), Y, row(kk));
    });
  }

  Function *softmaxForward(size_t index) {
    Function *f = k.kernel(contract::vertexKernels[contract::ActForward], index);
    Value *Z = k.arg(f, "Z"), *Y = k.arg(f, "Y");
    alongAxis(f, [&](auto row, Type *type, auto bias) { softmaxInto(Z, Y, row, type, bias); });
    b.CreateRetVoid();
    return f;
  }

  /// dZ = y (dY - sum(y dY)) along the axis, y recomputed into dZ first.
  Function *softmaxBackward(size_t index) {
    Function *f = k.kernel(contract::vertexKernels[contract::ActBackward], index);
    Value *Z = k.arg(f, "Z"), *dY = k.arg(f, "dY"), *dZ = k.arg(f, "dZ");
    const int64_t n = axis().n;
    alongAxis(f, [&](auto row, Type *type, auto bias) {
      softmaxInto(Z, dZ, row, type, bias); // dZ holds y for now
      Value *dot = k.reduce(k.c64(0), k.c64(n), Constant::getNullValue(type), "kk",
                            [&](Value *kk, Value *acc) {
                              return k.fma(k.loadTile(type, dZ, row(kk)),
                                           k.loadTile(type, dY, row(kk)), acc);
                            });
      k.loop(k.c64(0), k.c64(n), "kk", [&](Value *kk) {
        Value *y = k.loadTile(type, dZ, row(kk));
        k.storeTile(k.fmul(y, k.fsub(k.loadTile(type, dY, row(kk)), dot)), dZ, row(kk));
      });
    });
    biasGradient(f);
    b.CreateRetVoid();
    return f;
  }

  /// dbias[j][a] += sum over the batch of dZ[j][a] (after dZ is complete).
  void biasGradient(Function *f) {
    if (!sig.bias)
      return;
    const int64_t dim = sig.dim();
    Value *dZ = k.arg(f, "dZ"), *B = k.arg(f, "B");
    k.loop(k.arg(f, "j0"), k.arg(f, "j1"), "j", [&](Value *j) {
      k.loop(k.c64(0), k.c64(dim), "a", [&](Value *a) {
        Value *ja = k.add(k.mul(j, k.c64(dim)), a);
        Value *rowStart = k.mul(ja, B);
        k.addTo(k.arg(f, "dbias"), ja,
                k.sumOverBatch(B, [&](Value *bb) { return k.load(dZ, k.add(rowStart, bb)); }));
      });
    });
  }

  /// Mean and 1/sqrt(var + eps) of Z along the last axis, per column.
  std::pair<Value *, Value *> moments(Value *Z, function_ref<Value *(Value *)> row, Type *type) {
    const int64_t n = axis().n;
    Value *invN = k.splat(type, 1.0 / double(n));
    Value *mean = k.fmul(k.reduce(k.c64(0), k.c64(n), Constant::getNullValue(type), "kk",
                                  [&](Value *kk, Value *acc) {
                                    return k.fadd(acc, k.loadTile(type, Z, row(kk)));
                                  }),
                         invN);
    Value *var = k.fmul(k.reduce(k.c64(0), k.c64(n), Constant::getNullValue(type), "kk",
                                 [&](Value *kk, Value *acc) {
                                   Value *d = k.fsub(k.loadTile(type, Z, row(kk)), mean);
                                   return k.fma(d, d, acc);
                                 }),
                        invN);
    Value *rstd = b.CreateFDiv(k.splat(type, 1.0),
                               k.call(Intrinsic::sqrt, {k.fadd(var, k.splat(type, layerNormEpsilon))}));
    return {mean, rstd};
  }

  /// Layer normalisation along the last axis: the vertex's parameters per
  /// copy j are gains then shifts, each one per component of that axis.
  Value *gain(Function *f, Value *j, Value *kk) {
    return k.load(k.arg(f, "bias"), k.add(k.mul(j, k.c64(2 * axis().n)), kk));
  }
  Value *shift(Function *f, Value *j, Value *kk) {
    return k.load(k.arg(f, "bias"), k.add(k.mul(j, k.c64(2 * axis().n)), k.add(kk, k.c64(axis().n))));
  }

  /// Like alongAxis (layernorm: the last axis, no bias), also passing j.
  void alongLastAxis(Function *f, function_ref<void(Value *j, function_ref<Value *(Value *)> row,
                                                    Type *type)>
                                      body) {
    const Axis ax = axis();
    const int64_t dim = sig.dim();
    Value *B = k.arg(f, "B");
    k.loop(k.arg(f, "j0"), k.arg(f, "j1"), "j", [&](Value *j) {
      k.loop(k.c64(0), k.c64(ax.outer), "o", [&](Value *o) {
        k.batchTiles(k.c64(0), B, [&](Value *t, size_t kind) {
          auto row = [&](Value *kk) {
            return k.add(
                k.mul(k.add(k.mul(j, k.c64(dim)), k.add(k.mul(o, k.c64(ax.n)), kk)), B), t);
          };
          body(j, row, k.tileType(kind));
        });
      });
    });
  }

  Function *layerNormForward(size_t index) {
    Function *f = k.kernel(contract::vertexKernels[contract::ActForward], index);
    Value *Z = k.arg(f, "Z"), *Y = k.arg(f, "Y");
    alongLastAxis(f, [&](Value *j, auto row, Type *type) {
      auto [mean, rstd] = moments(Z, row, type);
      k.loop(k.c64(0), k.c64(axis().n), "kk", [&](Value *kk) {
        Value *xhat = k.fmul(k.fsub(k.loadTile(type, Z, row(kk)), mean), rstd);
        k.storeTile(k.fma(xhat, k.splat(type, gain(f, j, kk)), k.splat(type, shift(f, j, kk))),
                    Y, row(kk));
      });
    });
    b.CreateRetVoid();
    return f;
  }

  /// With xhat = (z - mean) rstd and g = dY gain:
  ///   dZ = rstd (g - mean(g) - xhat mean(g xhat)),
  ///   dgain += sum over tokens and batch of dY xhat, dshift += that of dY.
  Function *layerNormBackward(size_t index) {
    Function *f = k.kernel(contract::vertexKernels[contract::ActBackward], index);
    Value *Z = k.arg(f, "Z"), *dY = k.arg(f, "dY"), *dZ = k.arg(f, "dZ"), *B = k.arg(f, "B");
    const Axis ax = axis();
    const int64_t dim = sig.dim();
    // 1. dZ = xhat.
    alongLastAxis(f, [&](Value *, auto row, Type *type) {
      auto [mean, rstd] = moments(Z, row, type);
      k.loop(k.c64(0), k.c64(ax.n), "kk", [&](Value *kk) {
        k.storeTile(k.fmul(k.fsub(k.loadTile(type, Z, row(kk)), mean), rstd), dZ, row(kk));
      });
    });
    // 2. The parameters' gradients, summed over tokens then batch.
    Value *dparams = k.arg(f, "dbias");
    k.loop(k.arg(f, "j0"), k.arg(f, "j1"), "j", [&](Value *j) {
      k.loop(k.c64(0), k.c64(ax.n), "kk", [&](Value *kk) {
        Value *dgain = k.fp(0), *dshift = k.fp(0);
        for (int64_t o = 0; o < ax.outer; ++o) { // tokens: a short, fixed loop
          Value *rowStart = k.mul(k.add(k.mul(j, k.c64(dim)), k.add(k.c64(o * ax.n), kk)), B);
          dgain = k.fadd(dgain, k.sumOverBatch(B, [&](Value *bb) {
                           return k.fmul(k.load(dY, k.add(rowStart, bb)),
                                         k.load(dZ, k.add(rowStart, bb)));
                         }));
          dshift = k.fadd(dshift, k.sumOverBatch(B, [&](Value *bb) {
                            return k.load(dY, k.add(rowStart, bb));
                          }));
        }
        Value *base = k.mul(j, k.c64(2 * ax.n));
        k.addTo(dparams, k.add(base, kk), dgain);
        k.addTo(dparams, k.add(base, k.add(kk, k.c64(ax.n))), dshift);
      });
    });
    // 3. dZ from xhat (in dZ) and dY.
    alongLastAxis(f, [&](Value *j, auto row, Type *type) {
      Value *rstd = moments(Z, row, type).second;
      Value *invN = k.splat(type, 1.0 / double(ax.n));
      Value *zero = Constant::getNullValue(type);
      auto g = [&](Value *kk) { return k.fmul(k.loadTile(type, dY, row(kk)), k.splat(type, gain(f, j, kk))); };
      Value *mg = k.fmul(k.reduce(k.c64(0), k.c64(ax.n), zero, "kk",
                                  [&](Value *kk, Value *acc) { return k.fadd(acc, g(kk)); }),
                         invN);
      Value *mgx = k.fmul(k.reduce(k.c64(0), k.c64(ax.n), zero, "kk",
                                   [&](Value *kk, Value *acc) {
                                     return k.fma(g(kk), k.loadTile(type, dZ, row(kk)), acc);
                                   }),
                          invN);
      k.loop(k.c64(0), k.c64(ax.n), "kk", [&](Value *kk) {
        Value *xhat = k.loadTile(type, dZ, row(kk));
        Value *d = k.fsub(k.fsub(g(kk), mg), k.fmul(xhat, mgx));
        k.storeTile(k.fmul(rstd, d), dZ, row(kk));
      });
    });
    b.CreateRetVoid();
    return f;
  }

  //===--- Attention ------------------------------------------------------===//

  /// Shapes: query [Tq, dk], key [Tk, dk], value [Tk, dv], output [Tq, dv].
  struct Dims {
    int64_t tq, tk, dk, dv;
  };
  Dims dims() const {
    return {sig.shape[0], sig.keyShape[0], sig.keyShape[1], sig.valueShape[1]};
  }

  /// Scratch tiles per tile kind, in the entry block: the probabilities of
  /// one query token over the keys, and (backward) their gradients.
  void scratch() {
    probs.clear(), grads.clear();
    for (size_t kind = 0; kind < k.tiles.size(); ++kind) {
      Type *array = ArrayType::get(k.tileType(kind), dims().tk);
      probs.push_back(b.CreateAlloca(array, nullptr, "P"));
      grads.push_back(b.CreateAlloca(array, nullptr, "dS"));
    }
  }
  Value *element(AllocaInst *array, Value *s) {
    return b.CreateInBoundsGEP(array->getAllocatedType(), array, {k.c64(0), s});
  }

  /// Tile indices into the buffers of one copy: (token, component).
  using RowFn = function_ref<Value *(Value *token, Value *c)>;

  /// For each copy j and batch tile: calls start(kind, type, rowK, rowV)
  /// once, then body(kind, type, rowQ, rowK, rowV, rowO, tq, visible) for
  /// every query token tq, `visible` keys counting from 0 (causal: tq + 1).
  template <typename Start, typename Body> void forEachQuery(Function *f, Start start, Body body) {
    const Dims d = dims();
    Value *B = k.arg(f, "B");
    k.loop(k.arg(f, "j0"), k.arg(f, "j1"), "j", [&](Value *j) {
      k.batchTiles(k.arg(f, "b0"), k.arg(f, "b1"), [&](Value *t, size_t kind) {
        auto rowIn = [&](int64_t tokens, int64_t width, Value *token, Value *c) {
          return k.add(k.mul(k.add(k.mul(j, k.c64(tokens * width)),
                                   k.add(k.mul(token, k.c64(width)), c)),
                             B),
                       t);
        };
        auto rowQ = [&](Value *tok, Value *c) { return rowIn(d.tq, d.dk, tok, c); };
        auto rowK = [&](Value *tok, Value *c) { return rowIn(d.tk, d.dk, tok, c); };
        auto rowV = [&](Value *tok, Value *c) { return rowIn(d.tk, d.dv, tok, c); };
        auto rowO = [&](Value *tok, Value *c) { return rowIn(d.tq, d.dv, tok, c); };
        Type *type = k.tileType(kind);
        start(kind, type, RowFn(rowK), RowFn(rowV));
        k.loop(k.c64(0), k.c64(d.tq), "tq", [&](Value *tq) {
          Value *visible = sig.causal ? k.add(tq, k.c64(1)) : k.c64(d.tk);
          body(kind, type, RowFn(rowQ), RowFn(rowK), RowFn(rowV), RowFn(rowO), tq, visible);
        });
      });
    });
  }

  /// probs = softmax over the visible keys s of q[tq] . k[s] / sqrt(dk).
  void probabilities(size_t kind, Type *type, Value *Zq, Value *Zk, RowFn rowQ, RowFn rowK,
                     Value *tq, Value *visible) {
    const Dims d = dims();
    Value *scale = k.splat(type, 1.0 / std::sqrt(double(d.dk)));
    Value *zero = Constant::getNullValue(type);
    Value *m = k.reduce(k.c64(0), visible, k.splat(type, -HUGE_VAL), "s", [&](Value *s, Value *acc) {
      Value *dot = k.reduce(k.c64(0), k.c64(d.dk), zero, "c", [&](Value *c, Value *a) {
        return k.fma(k.loadTile(type, Zq, rowQ(tq, c)), k.loadTile(type, Zk, rowK(s, c)), a);
      });
      Value *score = k.fmul(dot, scale);
      b.CreateStore(score, element(probs[kind], s));
      return k.call(Intrinsic::maxnum, {acc, score});
    });
    Value *sum = k.reduce(k.c64(0), visible, zero, "s", [&](Value *s, Value *acc) {
      Value *e = k.exp(k.fsub(b.CreateLoad(type, element(probs[kind], s)), m));
      b.CreateStore(e, element(probs[kind], s));
      return k.fadd(acc, e);
    });
    Value *inv = b.CreateFDiv(k.splat(type, 1.0), sum);
    k.loop(k.c64(0), visible, "s", [&](Value *s) {
      b.CreateStore(k.fmul(b.CreateLoad(type, element(probs[kind], s)), inv),
                    element(probs[kind], s));
    });
  }

  Function *attentionForward(size_t index) {
    Function *f = k.kernel(contract::vertexKernels[contract::AggForward], index);
    scratch();
    Value *Zq = k.arg(f, "Zq"), *Zk = k.arg(f, "Zk"), *Zv = k.arg(f, "Zv"), *Z = k.arg(f, "Z");
    const Dims d = dims();
    forEachQuery(
        f, [](size_t, Type *, RowFn, RowFn) {},
        [&](size_t kind, Type *type, RowFn rowQ, RowFn rowK, RowFn rowV, RowFn rowO, Value *tq,
            Value *visible) {
          probabilities(kind, type, Zq, Zk, rowQ, rowK, tq, visible);
          k.loop(k.c64(0), k.c64(d.dv), "e", [&](Value *e) {
            Value *o = k.reduce(k.c64(0), visible, Constant::getNullValue(type), "s",
                                [&](Value *s, Value *acc) {
                                  return k.fma(b.CreateLoad(type, element(probs[kind], s)),
                                               k.loadTile(type, Zv, rowV(s, e)), acc);
                                });
            k.storeTile(o, Z, rowO(tq, e));
          });
        });
    b.CreateRetVoid();
    return f;
  }

  /// With P the probabilities of query token tq and dO = dZ[tq]:
  ///   dV[s] += P[s] dO;  dP[s] = dO . V[s];
  ///   dS[s] = P[s] (dP[s] - sum_s' P dP) / sqrt(dk);
  ///   dQ[tq] = sum_s dS[s] K[s];  dK[s] += dS[s] Q[tq].
  Function *attentionBackward(size_t index) {
    Function *f = k.kernel(contract::vertexKernels[contract::AggBackward], index);
    scratch();
    Value *Zq = k.arg(f, "Zq"), *Zk = k.arg(f, "Zk"), *Zv = k.arg(f, "Zv"), *dZ = k.arg(f, "dZ");
    Value *dZq = k.arg(f, "dZq"), *dZk = k.arg(f, "dZk"), *dZv = k.arg(f, "dZv");
    const Dims d = dims();
    auto clearKeysAndValues = [&](size_t, Type *type, RowFn rowK, RowFn rowV) {
      Value *zero = Constant::getNullValue(type);
      k.loop(k.c64(0), k.c64(d.tk), "s", [&](Value *s) {
        k.loop(k.c64(0), k.c64(d.dk), "c", [&](Value *c) { k.storeTile(zero, dZk, rowK(s, c)); });
        k.loop(k.c64(0), k.c64(d.dv), "e", [&](Value *e) { k.storeTile(zero, dZv, rowV(s, e)); });
      });
    };
    forEachQuery(f, clearKeysAndValues, [&](size_t kind, Type *type, RowFn rowQ, RowFn rowK,
                                            RowFn rowV, RowFn rowO, Value *tq, Value *visible) {
      Value *zero = Constant::getNullValue(type);
      probabilities(kind, type, Zq, Zk, rowQ, rowK, tq, visible);
      // dP[s] into grads, dV[s] += P[s] dO, and sum_s P dP.
      Value *pdp = k.reduce(k.c64(0), visible, zero, "s", [&](Value *s, Value *acc) {
        Value *p = b.CreateLoad(type, element(probs[kind], s));
        Value *dp = k.reduce(k.c64(0), k.c64(d.dv), zero, "e", [&](Value *e, Value *a) {
          Value *dO = k.loadTile(type, dZ, rowO(tq, e));
          k.storeTile(k.fma(p, dO, k.loadTile(type, dZv, rowV(s, e))), dZv, rowV(s, e));
          return k.fma(dO, k.loadTile(type, Zv, rowV(s, e)), a);
        });
        b.CreateStore(dp, element(grads[kind], s));
        return k.fma(p, dp, acc);
      });
      // dS[s] = P[s] (dP[s] - pdp) / sqrt(dk), into grads.
      Value *scale = k.splat(type, 1.0 / std::sqrt(double(d.dk)));
      k.loop(k.c64(0), visible, "s", [&](Value *s) {
        Value *p = b.CreateLoad(type, element(probs[kind], s));
        Value *dp = b.CreateLoad(type, element(grads[kind], s));
        b.CreateStore(k.fmul(k.fmul(p, k.fsub(dp, pdp)), scale), element(grads[kind], s));
      });
      // dQ[tq] = sum_s dS[s] K[s]; dK[s] += dS[s] Q[tq].
      k.loop(k.c64(0), k.c64(d.dk), "c", [&](Value *c) {
        Value *q = k.loadTile(type, Zq, rowQ(tq, c));
        Value *dq = k.reduce(k.c64(0), visible, zero, "s", [&](Value *s, Value *acc) {
          Value *ds = b.CreateLoad(type, element(grads[kind], s));
          k.storeTile(k.fma(ds, q, k.loadTile(type, dZk, rowK(s, c))), dZk, rowK(s, c));
          return k.fma(ds, k.loadTile(type, Zk, rowK(s, c)), acc);
        });
        k.storeTile(dq, dZq, rowQ(tq, c));
      });
    });
    b.CreateRetVoid();
    return f;
  }

private:
  KernelBuilder &k;
  const VertexSignature &sig;
  IRBuilder<> &b;
  std::vector<AllocaInst *> probs, grads;
};

} // namespace

Function *KernelBuilder::activationForward(const VertexSignature &sig, size_t k) {
  VertexEmitter e(*this, sig);
  if (sig.act == Activation::Softmax)
    return e.softmaxForward(k);
  if (sig.act == Activation::LayerNorm)
    return e.layerNormForward(k);
  return e.elementwiseForward(k);
}
Function *KernelBuilder::activationBackward(const VertexSignature &sig, size_t k) {
  VertexEmitter e(*this, sig);
  if (sig.act == Activation::Softmax)
    return e.softmaxBackward(k);
  if (sig.act == Activation::LayerNorm)
    return e.layerNormBackward(k);
  return e.elementwiseBackward(k);
}
Function *KernelBuilder::attentionForward(const VertexSignature &sig, size_t k) {
  return VertexEmitter(*this, sig).attentionForward(k);
}
Function *KernelBuilder::attentionBackward(const VertexSignature &sig, size_t k) {
  return VertexEmitter(*this, sig).attentionBackward(k);
}

} // namespace rslc::codegen
