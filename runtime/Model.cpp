//===- Model.cpp - runs the generated kernels over the lifted graph --------===//
//
// Execution is grouped by topological level: all base vertices of one level
// (a layer of a family, every pixel of a grid) are computed by the same
// parallel loops, so the number of parallel regions and barriers grows with
// the depth of the base graph, not with its number of edges. A pass is one
// parallel region; each level is two `omp for` loops over fixed tasks
// (chunks of rows, or also of batch columns when rows are few).
//
// Determinism: every output element is computed by one task, with the same
// operations in the same order whatever the thread count. Sums over a
// vertex's in-edges run in edge order; sums over a source's out-edges and
// over the edges sharing a weight group run in the order of the backward
// visit (targets in reverse topological order, then their in-edges).
//
//===----------------------------------------------------------------------===//
#include "Model.h"

#include "CacheAligned.h"
#include "CpuFeatures.h"

#include "Losses.h"
#include "BatchLayout.h"

#include "core/Build.h"
#include "core/KernelContract.h"
#include "core/KernelSignatures.h"
#include "core/LiftKinds.h"
#include "core/PlanIO.h"
#include "core/Topo.h"

#include <omp.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>

namespace rslc::rt {

using namespace rslc::lift;

namespace {

constexpr int64_t rowChunk = 16;
/// Batch columns per chunk (the widest register tile: 8 AVX-512 registers).
constexpr int64_t batchChunk = 128;
/// Forward positions per chunk of a weight gradient split by positions.
constexpr int64_t positionChunk = 1024;
/// Parts of a data gradient in forward order (scatterParts), each summing
/// the terms of a fixed range of target rows, whatever the team.
constexpr int64_t scatterSplit = 8;
/// Copies of the parameters longer than this run on the OpenMP team.
constexpr size_t paramLoopLength = 1 << 15;
/// Below this many multiply-adds per pass, starting threads costs more than
/// it saves.
constexpr int64_t minParallelWork = 1 << 16;

/// Too few row chunks of `chunk` rows to keep every thread busy?
bool fewRows(int64_t rows, int64_t chunk = rowChunk) {
  return (rows + chunk - 1) / chunk < 4 * int64_t(omp_get_max_threads());
}

/// A piece of a pass: rows [r0, r1) and batch columns [b0, b1) of vertex
/// `item`; for weight gradients, rows [r0, r1) and forward positions
/// [b0, b1) of weight group `item`.
struct Task {
  uint32_t item;
  int64_t r0, r1, b0, b1;
  bool weightGrad = false;
  /// The task covers whole rows (every batch column): it also runs the
  /// vertex's activation on them (forward or backward), saving a pass and
  /// a barrier.
  bool thenActivate = false;
};

/// Tasks covering rows [0, rows) x columns [0, batch) of `item`: chunks of
/// `chunk` rows, and of columns too when `splitColumns` (else they activate
/// too).
void addTasks(uint32_t item, int64_t rows, int64_t batch, bool splitColumns,
              std::vector<Task> &out, int64_t chunk = rowChunk) {
  int64_t columnChunk = splitColumns ? batchChunk : std::max<int64_t>(batch, 1);
  for (int64_t r = 0; r < rows; r += chunk)
    for (int64_t c = 0; c < batch; c += columnChunk)
      out.push_back({item, r, std::min(rows, r + chunk), c, std::min(batch, c + columnChunk),
                     false, !splitColumns});
}

/// Each thread's share of a list of tasks: indices, in list order.
using Shares = std::vector<std::vector<uint32_t>>;

/// Shares of tasks of estimated work `work`, for a team of `threads`: the
/// largest task first, each to the least loaded thread (ties: the lowest).
/// Tasks of equal work go round-robin. Which thread runs a task changes no
/// result: each task writes its own outputs.
Shares shareTasks(const std::vector<double> &work, size_t threads) {
  std::vector<uint32_t> order(work.size());
  std::iota(order.begin(), order.end(), 0u);
  std::stable_sort(order.begin(), order.end(),
                   [&](uint32_t a, uint32_t b) { return work[a] > work[b]; });
  std::vector<double> load(threads, 0.0);
  Shares shares(threads);
  for (uint32_t t : order) {
    const size_t least = size_t(std::min_element(load.begin(), load.end()) - load.begin());
    shares[least].push_back(t);
    load[least] += work[t];
  }
  for (std::vector<uint32_t> &share : shares)
    std::sort(share.begin(), share.end());
  return shares;
}

/// The tasks of one level of a pass: first the edge tasks (all of them),
/// then the vertex tasks (activations). Backward, the edge tasks also hold
/// the weight gradients of the groups whose last dZ the level before made.
/// Their shares for the whole team; backward, edgeSharesNoDx for calls
/// without dL/dx (the inputs' tasks then do nothing).
struct Level {
  std::vector<unsigned> vertices;
  std::vector<Task> edgeTasks, vertexTasks;
  Shares edgeShares, edgeSharesNoDx, vertexShares;
  /// Backward: before the edge tasks, the data gradients in forward order
  /// (scatterEdge) of edges whose target's dZ the level before made.
  std::vector<Task> scatterTasks;
  Shares scatterShares;
};

/// Runs body(task) for every task, each thread its share (inside a parallel
/// region: tasks of different kinds and sizes interleave; in a team of
/// another size, or none, round-robin); ends with the team's barrier,
/// unless there is no task (every thread sees the same list).
template <typename Body>
void forTasks(const std::vector<Task> &tasks, const Shares &shares, Body body) {
  const int64_t n = int64_t(tasks.size());
  if (n == 0)
    return;
  if (size_t(omp_get_num_threads()) == shares.size()) {
    for (uint32_t t : shares[size_t(omp_get_thread_num())])
      body(tasks[t]);
#pragma omp barrier
    return;
  }
#pragma omp for schedule(static, 1)
  for (int64_t t = 0; t < n; ++t)
    body(tasks[t]);
}

template <typename T> class Model final : public ModelBase {
  using K = contract::Kernels<T>;

public:
  explicit Model(LiftedGraph graph) {
    g = std::move(graph);
    const LiftPlan &p = g.plan;
    params.resize(g.numParams);
    grads.assign(g.numParams, T(0));
    if constexpr (sizeof(T) == sizeof(float)) {
      initParameters(g, params.data());
    } else {
      std::vector<float> tmp(g.numParams);
      initParameters(g, tmp.data());
      std::copy(tmp.begin(), tmp.end(), params.begin());
    }
    for (unsigned v = 0; v < p.vertices.size(); ++v) {
      const PlanVertex &pv = p.vertices[v];
      if (pv.role == Role::Input)
        inputs.push_back({v, inputSize}), inputSize += pv.dim;
      if (pv.role == Role::Output)
        outputs.push_back({v, outputSize}), outputSize += pv.dim;
      maxPerSample = std::max(maxPerSample, pv.copies * pv.dim); // <= 2^48 (estimate)
    }
    maxPerSample = std::max({maxPerSample, inputSize, outputSize});
    findKernels();
    schedule();
  }

  void forward(const void *xv, int64_t batch, void *yv) override {
    run(static_cast<const T *>(xv), nullptr, batch, static_cast<T *>(yv));
  }

  /// The forward pass on samples x[rows[b]] (x[b] if rows is null), b <
  /// batch: outputs y[b].
  void run(const T *x, const int64_t *rows, int64_t batch, T *y) {
    const LiftPlan &p = g.plan;
    // Allocate first: a batch too large for memory fails here (bad_alloc)
    // before x is read. A failed forward leaves no forward to differentiate.
    haveForward = false;
    resize(batch);
    auto sample = [&](int64_t b) { return x + (rows ? rows[b] : b) * inputSize; };
    bool finite = true;
    readoutSum.resize(size_t(batch));
    // One parallel region: the inputs, the levels, the readout (no serial
    // gap in which waiting threads would fall asleep).
#pragma omp parallel if (forwardWork >= minParallelWork)
    {
      for (const Port &in : inputs) {
        // By tiles of 16 x 16 (both sides stay in cache lines), checking
        // that every input is finite on the way.
        constexpr int64_t tile = transposeTile;
        const int64_t d = p.vertices[in.v].dim;
        T *into = Y[in.v].data();
#pragma omp for schedule(static) reduction(&& : finite)
        for (int64_t b0 = 0; b0 < batch; b0 += tile) {
          const int64_t nb = std::min(batch - b0, tile);
          const T *from[tile];
          for (int64_t b = 0; b < nb; ++b)
            from[b] = sample(b0 + b) + in.offset;
          for (int64_t a0 = 0; a0 < d; a0 += tile) {
            const T *at[tile];
            for (int64_t b = 0; b < nb; ++b)
              at[b] = from[b] + a0;
            const bool ok = toFeatureMajor(at, nb, std::min(d - a0, tile), into + a0 * batch + b0,
                                           batch);
            finite = finite && ok;
          }
        }
      }
      // After the loops' barriers every thread sees the same `finite`: a
      // non-finite input runs no kernel and leaves y as it was.
      for (const Level &level : forwardLevels) {
        if (!finite)
          break;
        forTasks(level.edgeTasks, level.edgeShares, [&](const Task &t) {
          sumInEdges(t);
          if (t.thenActivate)
            activationForward(t);
        });
        forTasks(level.vertexTasks, level.vertexShares,
                 [&](const Task &t) { activationForward(t); });
      }
      // y = the readout: sums over the copies in copy order, by chunks of
      // the batch's columns.
      const int64_t chunks = finite ? (batch + readoutTile - 1) / readoutTile : 0;
#pragma omp for schedule(static)
      for (int64_t chunk = 0; chunk < chunks; ++chunk) {
        const int64_t b0 = chunk * readoutTile, b1 = std::min(batch, b0 + readoutTile);
        T *sum = &readoutSum[size_t(b0)];
        for (const Port &out : outputs) {
          const PlanVertex &pv = p.vertices[out.v];
          const T c = readoutScale(pv.copies);
          for (int64_t a = 0; a < pv.dim; ++a) {
            sumCopies(&Y[out.v][a * batch + b0], pv.dim * batch, pv.copies, b1 - b0, sum);
            for (int64_t b = b0; b < b1; ++b)
              y[b * outputSize + out.offset + a] = c * sum[b - b0];
          }
        }
      }
    }
    if (!finite) // the first value that is not, in sample order
      for (int64_t b = 0; b < batch; ++b)
        requireFinite(sample(b), inputSize,
                      ("input x[" + std::to_string(rows ? rows[b] : b) + "]").c_str());
    haveForward = true;
  }

  void backward(const void *dyv, void *dxv) override {
    if (!haveForward)
      throw Error{RSLC_ERROR_STATE, "backward needs a forward pass first"};
    const T *dy = static_cast<const T *>(dyv);
    T *dx = static_cast<T *>(dxv);
    const LiftPlan &p = g.plan;
#pragma omp parallel if (backwardWork >= minParallelWork)
    {
      // Outputs start from the readout's gradient; every other dY is
      // cleared by the task that sums into it (sumOutEdges).
      for (const Port &out : outputs) {
        const PlanVertex &pv = p.vertices[out.v];
        const T c = readoutScale(pv.copies);
        T *into = dY[out.v].data();
#pragma omp for schedule(static)
        for (int64_t j = 0; j < pv.copies; ++j)
          for (int64_t a = 0; a < pv.dim; ++a)
            for (int64_t b = 0; b < batch; ++b)
              into[(j * pv.dim + a) * batch + b] = c * dy[b * outputSize + out.offset + a];
      }
      for (const Level &level : backwardLevels) {
        forTasks(level.scatterTasks, level.scatterShares, [&](const Task &t) { scatterEdge(t); });
        forTasks(level.edgeTasks, dx ? level.edgeShares : level.edgeSharesNoDx, [&](const Task &t) {
          if (t.weightGrad) {
            sumWeightGrads(t);
            return;
          }
          if (p.vertices[t.item].role == Role::Input && !dx)
            return;
          sumOutEdges(t);
          if (t.thenActivate)
            activationBackward(t);
        });
        forTasks(level.vertexTasks, level.vertexShares,
                 [&](const Task &t) { activationBackward(t); });
      }
      forTasks(lastWeightGradTasks, lastWeightGradShares,
               [&](const Task &t) { sumWeightGrads(t); });
      for (const Port &in : inputs) {
        if (!dx)
          break;
        // By 16 x 16 tiles, as the forward's inputs.
        constexpr int64_t tile = transposeTile;
        const int64_t d = p.vertices[in.v].dim;
        const T *from = dY[in.v].data();
#pragma omp for schedule(static)
        for (int64_t b0 = 0; b0 < batch; b0 += tile)
          for (int64_t a0 = 0; a0 < d; a0 += tile)
            toSampleMajor(from + a0 * batch + b0, batch, std::min(d - a0, tile),
                          std::min(batch - b0, tile), dx + b0 * inputSize + in.offset + a0,
                          inputSize);
      }
    }
  }

  /// Forward mode on the kernels: for each vertex in forward order,
  /// dZ = sum over in-edges of M(dW, Y_u) + M(W, dY_u) (the forward
  /// kernel is linear in each of W and Y for the maps allowed), plus the
  /// bias's tangent; dY = act'(Z + b) dZ, which is what the activation's
  /// backward kernel computes (for softmax too: its Jacobian is symmetric).
  void jvp(const void *xv, int64_t n, const void *dthetav, void *dyv) override {
    const LiftPlan &p = g.plan;
    const T *dtheta = static_cast<const T *>(dthetav);
    T *dy = static_cast<T *>(dyv);
    for (size_t k = 0; k < params.size(); ++k)
      if (!std::isfinite(dtheta[k]))
        throw Error{RSLC_ERROR_NUMERIC, "rslc_jvp: dtheta[" + std::to_string(k) +
                                            "] is not a finite number"};
    lossY.resize(size_t(n * outputSize));
    run(static_cast<const T *>(xv), nullptr, n, lossY.data());
    std::vector<std::vector<T>> tZ(p.vertices.size()), tY(p.vertices.size());
    for (const Level &level : forwardLevels)
      for (unsigned v : level.vertices) {
        const PlanVertex &pv = p.vertices[v];
        const int64_t rows = pv.copies, per = pv.dim * n;
        tZ[v].assign(size_t(rows * per), T(0));
        tY[v].assign(size_t(rows * per), T(0));
        const T *dbias = g.vertexTensor[v] >= 0 ? dtheta + g.tensors[g.vertexTensor[v]].offset
                                                : nullptr;
        // The backward kernel adds its bias gradient somewhere: a scratch.
        std::vector<T> scratch(g.vertexTensor[v] >= 0 ? g.tensors[g.vertexTensor[v]].size : 0);
        // layernorm: unit gains and zero shifts, and xhat (layerNormTangent)
        std::vector<T> unit, xhat;
        if (pv.act == Activation::LayerNorm) {
          const int64_t axis = pv.shape.back();
          unit.assign(size_t(rows * 2 * axis), T(0));
          for (int64_t j = 0; j < rows; ++j)
            std::fill_n(&unit[size_t(j * 2 * axis)], axis, T(1));
          xhat.resize(tY[v].size());
        }
        // products and attention: each in-edge's own tangent first
        const bool product = pv.agg == Aggregation::Prod;
        const bool joint = pv.agg != Aggregation::Sum;
        std::vector<std::vector<T>> tZe(joint ? inEdges[v].size() : 0);
        for (size_t k = 0; k < tZe.size(); ++k)
          tZe[k].assign(Ze[inEdges[v][k]].size(), T(0));
#pragma omp parallel for schedule(dynamic, 1) if (rows * per >= 4096)
        for (int64_t r0 = 0; r0 < rows; r0 += 16) {
          const int64_t r1 = std::min(rows, r0 + 16);
          for (size_t k = 0; k < inEdges[v].size(); ++k) {
            const size_t e = inEdges[v][k];
            const LiftedEdge &le = g.edges[e];
            const unsigned u = p.edges[e].src;
            std::vector<T> &target = joint ? tZe[k] : tZ[v];
            if (p.edges[e].map == MapKind::MaxPool) {
              if (!tY[u].empty())
                maxPoolTangent(e, n, tY[u], target, r0, r1);
              continue;
            }
            if (p.edges[e].group != noGroup)
              edgeKernels[e].forward(dtheta + g.tensors[p.edges[e].group].offset, Y[u].data(),
                                     target.data(), le.col.data(), le.rowPtr.data(), r0, r1, 0,
                                     n, n, true);
            if (!tY[u].empty())
              edgeKernels[e].forward(weights(e, params), tY[u].data(), target.data(),
                                     le.col.data(), le.rowPtr.data(), r0, r1, 0, n, n, true);
          }
          if (pv.agg == Aggregation::Attention)
            attentionTangent(v, n, tZe, tZ[v], r0, r1);
          if (product) // tZ = sum over e of tZ_e times the other edges' Z
            for (int64_t at = r0 * per; at < r1 * per; ++at)
              for (size_t k = 0; k < tZe.size(); ++k) {
                T term = tZe[k][size_t(at)];
                for (size_t l = 0; l < tZe.size(); ++l)
                  if (l != k)
                    term *= Ze[inEdges[v][l]][size_t(at)];
                tZ[v][size_t(at)] += term;
              }
          if (dbias && pv.bias && pv.act != Activation::LayerNorm) // a bias per component
            for (int64_t row = r0 * pv.dim; row < r1 * pv.dim; ++row)
              for (int64_t b = 0; b < n; ++b)
                tZ[v][row * n + b] += dbias[row];
          if (pv.act == Activation::LayerNorm) {
            layerNormTangent(v, n, dbias, unit, tZ[v], xhat, tY[v], scratch, r0, r1);
            continue;
          }
          vertexKernels[v].backward(preActivation(v), bias(v, params), tZ[v].data(), tY[v].data(),
                                    scratch.empty() ? nullptr : scratch.data(), r0, r1, n);
        }
      }
    int64_t off = 0;
    for (size_t v = 0; v < p.vertices.size(); ++v) {
      const PlanVertex &pv = p.vertices[v];
      if (pv.role != Role::Output)
        continue;
      const T c = readoutScale(pv.copies);
      for (int64_t a = 0; a < pv.dim; ++a)
        for (int64_t b = 0; b < n; ++b) {
          T sum = 0;
          for (int64_t j = 0; j < pv.copies; ++j)
            sum += tY[v][(j * pv.dim + a) * n + b];
          dy[b * outputSize + off + a] = c * sum;
        }
      off += pv.dim;
    }
  }

  /// The tangent of layernorm vertex v, rows r0..r1 of n columns: with
  /// xhat = (z - mean) rstd, gains g, shifts s and tangents t.,
  ///   ty = g rstd (tz - mean(tz) - xhat mean(xhat tz)) + tg xhat + ts.
  /// Its kernels give both parts at unit gains and zero shifts: the
  /// backward's dZ (the bracket; the Jacobian there is symmetric) and the
  /// forward's Y (xhat). `dparams`: the tangent of the vertex's parameters;
  /// `unit`: unit gains and zero shifts; `xhat`: a buffer like ty.
  void layerNormTangent(unsigned v, int64_t n, const T *dparams, const std::vector<T> &unit,
                        const std::vector<T> &tz, std::vector<T> &xhat, std::vector<T> &ty,
                        std::vector<T> &scratch, int64_t r0, int64_t r1) {
    const PlanVertex &pv = g.plan.vertices[v];
    const int64_t axis = pv.shape.back(), dim = pv.dim;
    vertexKernels[v].backward(Z[v].data(), unit.data(), tz.data(), ty.data(), scratch.data(), r0,
                              r1, n);
    vertexKernels[v].forward(Z[v].data(), unit.data(), xhat.data(), r0, r1, n);
    const T *gains = bias(v, params);
    for (int64_t j = r0; j < r1; ++j)
      for (int64_t c = 0; c < dim; ++c) {
        const int64_t kk = c % axis, at = j * 2 * axis + kk;
        for (int64_t b = 0; b < n; ++b) {
          const size_t i = size_t((j * dim + c) * n + b);
          ty[i] = gains[at] * ty[i] + dparams[at] * xhat[i] + dparams[at + axis];
        }
      }
  }

  /// tz (rows r0..r1 of n columns) += the tangent through maxpool edge e
  /// of its source's tangent tyu: each window's output moves with the
  /// source pixel of its first maximum, where the backward kernel sends the
  /// gradient (window positions row by row, a later one only if greater).
  void maxPoolTangent(size_t e, int64_t n, const std::vector<T> &tyu, std::vector<T> &tz,
                      int64_t r0, int64_t r1) {
    const PlanEdge &pe = g.plan.edges[e];
    const EdgeFibers fib = edgeFibers(g.plan, pe);
    const MapParams &mp = pe.params;
    const int64_t H = fib.uShape[0], W = fib.uShape[1], Wo = fib.vShape[1];
    const LiftedEdge &le = g.edges[e];
    const T *y = Y[pe.src].data();
    for (int64_t j = r0; j < r1; ++j)
      for (uint64_t q = le.rowBegin(j); q < le.rowEnd(j); ++q) {
        const int64_t i = int64_t(le.sourceAt(j, q));
        for (int64_t a = 0; a < fib.dv; ++a)
          for (int64_t b = 0; b < n; ++b) {
            T best = -std::numeric_limits<T>::infinity();
            int64_t at = -1;
            for (int64_t ky = 0; ky < mp.kernel; ++ky)
              for (int64_t kx = 0; kx < mp.kernel; ++kx) {
                const int64_t iy = a / Wo * mp.stride + ky * mp.dilation - mp.padding;
                const int64_t ix = a % Wo * mp.stride + kx * mp.dilation - mp.padding;
                if (iy < 0 || iy >= H || ix < 0 || ix >= W)
                  continue;
                const T value = y[(i * fib.du + iy * W + ix) * n + b];
                if (value > best)
                  best = value, at = iy * W + ix;
              }
            if (at >= 0)
              tz[size_t((j * fib.dv + a) * n + b)] += tyu[size_t((i * fib.du + at) * n + b)];
          }
      }
  }

  /// tz (copies r0..r1 of attention vertex v, n columns) = the tangent of
  /// O = P V, P = softmax(S), S = Q K^T / sqrt(dk) (visible keys only),
  /// given the tangents tZe of the in-edges (in inEdges order):
  ///   tO = tP V + P tV, tP = P (tS - sum over keys of P tS),
  ///   tS = (tQ K^T + Q tK^T) / sqrt(dk).
  void attentionTangent(unsigned v, int64_t n, const std::vector<std::vector<T>> &tZe,
                        std::vector<T> &tz, int64_t r0, int64_t r1) {
    const PlanVertex &pv = g.plan.vertices[v];
    auto [qe, ke, ve] = attentionEdges(v);
    auto tangentOf = [&](size_t e) -> const std::vector<T> & {
      return tZe[size_t(std::find(inEdges[v].begin(), inEdges[v].end(), e) - inEdges[v].begin())];
    };
    const std::vector<T> &tq = tangentOf(qe), &tk = tangentOf(ke), &tv = tangentOf(ve);
    // shapes as the kernels take them (KernelSignatures): the key's and
    // the value's sources, the output's tokens
    const Shape &ks = g.plan.vertices[g.plan.edges[ke].src].shape;
    const Shape &vs = g.plan.vertices[g.plan.edges[ve].src].shape;
    const int64_t Tq = pv.shape[0], dk = ks[1], Tk = ks[0], dv = vs[1];
    const T scale = T(1) / std::sqrt(T(dk));
    std::vector<T> P(static_cast<size_t>(Tk)), tP(static_cast<size_t>(Tk));
    for (int64_t j = r0; j < r1; ++j)
      for (int64_t b = 0; b < n; ++b) {
        // element (token, c) of copy j of an in-edge of `width` components
        auto at = [&](int64_t tokens, int64_t width, int64_t token, int64_t c) {
          return size_t(((j * tokens + token) * width + c) * n + b);
        };
        for (int64_t t = 0; t < Tq; ++t) {
          const int64_t visible = pv.causal ? t + 1 : Tk;
          T top = -std::numeric_limits<T>::infinity(), sum = 0, mean = 0;
          for (int64_t s = 0; s < visible; ++s) {
            T score = 0, tscore = 0;
            for (int64_t c = 0; c < dk; ++c) {
              score += Ze[qe][at(Tq, dk, t, c)] * Ze[ke][at(Tk, dk, s, c)];
              tscore += tq[at(Tq, dk, t, c)] * Ze[ke][at(Tk, dk, s, c)] +
                        Ze[qe][at(Tq, dk, t, c)] * tk[at(Tk, dk, s, c)];
            }
            P[size_t(s)] = score * scale, tP[size_t(s)] = tscore * scale;
            top = std::max(top, P[size_t(s)]);
          }
          for (int64_t s = 0; s < visible; ++s)
            sum += P[size_t(s)] = std::exp(P[size_t(s)] - top);
          for (int64_t s = 0; s < visible; ++s)
            mean += (P[size_t(s)] /= sum) * tP[size_t(s)];
          for (int64_t e = 0; e < dv; ++e) {
            T o = 0;
            for (int64_t s = 0; s < visible; ++s)
              o += P[size_t(s)] * ((tP[size_t(s)] - mean) * Ze[ve][at(Tk, dv, s, e)] +
                                   tv[at(Tk, dv, s, e)]);
            tz[at(Tq, dv, t, e)] = o;
          }
        }
      }
  }

  double lossAndGrad(const void *xv, const void *tv, int64_t n, Loss loss) override {
    checkTargets(loss, static_cast<const T *>(tv), n, outputSize); // before any gradient is added
    return lossPasses(static_cast<const T *>(xv), static_cast<const T *>(tv), n, {}, loss, true,
                      nullptr);
  }

  double lossGrad(const void *xv, const void *tv, int64_t n, const std::vector<int64_t> &rows,
                  Loss loss, bool gradient, int64_t *correct) override {
    if (gradient)
      zeroGrads();
    return lossPasses(static_cast<const T *>(xv), static_cast<const T *>(tv), n, rows, loss,
                      gradient, correct);
  }

  /// Samples per forward-and-backward pass of a loss over `count`. One
  /// pass (at most 512 samples, bounding the activations' memory) where
  /// the widest vertex's activations of the batch (copies x components x
  /// samples) fit a core's L2 (2 MiB); else equal passes, each keeping them
  /// within 1 MiB (at least 64 samples: the dense kernels' batch tile;
  /// lengths a multiple of 16, the last pass shorter), so
  /// that the rows a sparse edge gathers stay in L2 (bench/reference.rsl,
  /// 4096 copies: 1.45x faster per sample in passes of 64 than in one of
  /// 256; a model that fits trains faster in one pass). It depends on the
  /// model and the count only, so the gradient's summation order does too.
  int64_t passSamples(int64_t count) const {
    const int64_t bytes = maxPerSample * int64_t(sizeof(T)), maxPass = 512;
    const int64_t fit = count <= (int64_t(2) << 20) / bytes
                            ? maxPass
                            : std::clamp<int64_t>((int64_t(1) << 20) / bytes, 64, maxPass);
    const int64_t passes = (count + fit - 1) / fit;
    if (passes == 1)
      return count;
    return ((count + passes - 1) / passes + 15) / 16 * 16; // whole registers
  }

  /// The mean loss over the samples (x[rows[b]] or x[b]) in passes of
  /// passSamples(count) in sample order (deterministic); with `gradient`, adds
  /// its gradient. A backward of the last pass would not follow the
  /// caller's forward: none is kept.
  double lossPasses(const T *x, const T *target, int64_t n, const std::vector<int64_t> &rows,
                    Loss loss, bool gradient, int64_t *correct) {
    const int64_t count = rows.empty() ? n : int64_t(rows.size());
    const int64_t tw = targetWidth(loss, outputSize);
    if (correct)
      *correct = 0;
    const int64_t chunk = passSamples(count);
    // Two passes or more: one copy of the weights in transposed order
    // serves every pass's data gradients.
    struct Reset {
      bool &flag;
      ~Reset() { flag = false; }
    } reset{transposedOrder};
    if (gradient && count > chunk)
      transposeWeights();
    double total = 0;
    for (int64_t c0 = 0; c0 < count; c0 += chunk) {
      int64_t nc = std::min(chunk, count - c0);
      const T *xc = x + c0 * inputSize, *tc = target + c0 * tw;
      const int64_t *rc = nullptr;
      if (!rows.empty()) { // the forward reads the rows; their targets are gathered
        xc = x, rc = &rows[c0];
        rowsT.resize(size_t(nc * tw));
        for (int64_t r = 0; r < nc; ++r)
          std::copy(target + rc[r] * tw, target + (rc[r] + 1) * tw, &rowsT[r * tw]);
        tc = rowsT.data();
      }
      checkTargets(loss, tc, nc, outputSize);
      int64_t right = 0;
      total += computeLoss(xc, rc, tc, nc, loss, T(1) / T(count), gradient, &right);
      if (correct)
        *correct += right;
    }
    haveForward = false;
    return total / double(count);
  }

  void *array(Array a) override {
    switch (a) {
    case Array::Params: return params.data();
    case Array::Grads: return grads.data();
    case Array::Moment1: return moment1.empty() ? nullptr : moment1.data();
    case Array::Moment2: return moment2.empty() ? nullptr : moment2.data();
    }
    return nullptr;
  }
  int moments() const override { return int(!moment1.empty()) + int(!moment2.empty()); }
  void setMoments(int count) override {
    auto size = [&](CacheAlignedVector<T> &m, bool keep) {
      if (!keep)
        CacheAlignedVector<T>().swap(m);
      else if (m.size() != params.size())
        m.assign(params.size(), T(0));
    };
    size(moment1, count >= 1);
    size(moment2, count >= 2);
  }
  void forgetForward() override { haveForward = false; }

  void paramsToDouble(std::vector<double> &out) const override {
    const size_t P = params.size();
    out.resize(P);
#pragma omp parallel for schedule(static) if (P > paramLoopLength)
    for (size_t k = 0; k < P; ++k)
      out[k] = params[k];
  }
  void paramsFromDouble(const std::vector<double> &in) override {
    const size_t P = params.size();
#pragma omp parallel for schedule(static) if (P > paramLoopLength)
    for (size_t k = 0; k < P; ++k)
      params[k] = T(in[k]);
    haveForward = false;
  }
  int realBytes() const override { return sizeof(T); }

  void getParams(void *out) const override {
    std::memcpy(out, params.data(), params.size() * sizeof(T));
  }
  void setParams(const void *in) override {
    const T *values = static_cast<const T *>(in);
    for (size_t k = 0; k < params.size(); ++k) // refused whole: nothing is changed
      if (!std::isfinite(values[k]))
        throw Error{RSLC_ERROR_NUMERIC, "rslc_set_params: parameter " + std::to_string(k) +
                                            " is not a finite number (NaN or infinity)"};
    std::memcpy(params.data(), in, params.size() * sizeof(T));
    haveForward = false;
  }
  void getGrads(void *out) const override {
    std::memcpy(out, grads.data(), grads.size() * sizeof(T));
  }
  void zeroGrads() override { std::fill(grads.begin(), grads.end(), T(0)); }

private:
  //===--- Kernels and schedule (fixed at creation) -----------------------===//

  struct EdgeKernels {
    typename K::Forward forward;
    typename K::WeightGrad weightGrad; ///< null for maps without weights
    typename K::DataGrad dataGrad;
    typename K::DataGradScatter scatter; ///< null where the signature has none
  };
  struct VertexKernels {
    typename K::ActForward forward = nullptr;
    typename K::ActBackward backward = nullptr;
    typename K::AggForward aggregate = nullptr;          ///< attention
    typename K::AggBackward aggregateBackward = nullptr; ///< attention
  };

  /// Each edge's and vertex's kernels, by signature (KernelContract.h).
  void findKernels() {
    const rslc_kernel_variant &variant = *runnableVariant();
    KernelSignatures sigs = kernelSignatures(g.plan);
    if (rslc_num_edge_kernels != sigs.edges.size() ||
        rslc_num_vertex_kernels != sigs.vertices.size())
      throw Error{RSLC_ERROR_INTERNAL, "the library's kernel tables do not match its plan"};
    for (uint32_t k : sigs.edgeKernel) {
      void *const *slots = &variant.edge_kernels[size_t(k) * contract::NumEdgeSlots];
      edgeKernels.push_back({reinterpret_cast<typename K::Forward>(slots[contract::Forward]),
                             reinterpret_cast<typename K::WeightGrad>(slots[contract::WeightGrad]),
                             reinterpret_cast<typename K::DataGrad>(slots[contract::DataGrad]),
                             reinterpret_cast<typename K::DataGradScatter>(
                                 slots[contract::DataGradScatter])});
    }
    vertexKernels.resize(sigs.vertexKernel.size());
    for (size_t v = 0; v < sigs.vertexKernel.size(); ++v) {
      uint32_t k = sigs.vertexKernel[v];
      if (k == noKernel)
        continue;
      void *const *slots = &variant.vertex_kernels[size_t(k) * contract::NumVertexSlots];
      vertexKernels[v] = {
          reinterpret_cast<typename K::ActForward>(slots[contract::ActForward]),
          reinterpret_cast<typename K::ActBackward>(slots[contract::ActBackward]),
          reinterpret_cast<typename K::AggForward>(slots[contract::AggForward]),
          reinterpret_cast<typename K::AggBackward>(slots[contract::AggBackward])};
    }
    // The attention roles of each edge into an attention vertex.
    role.assign(g.plan.edges.size(), -1);
    for (size_t e = 0; e < g.plan.edges.size(); ++e) {
      MapKind m = g.plan.edges[e].map;
      role[e] = m == MapKind::Query ? 0 : m == MapKind::Key ? 1 : m == MapKind::Value ? 2 : -1;
    }
  }

  /// Edges into an attention vertex in role order: query, key, value.
  std::array<size_t, 3> attentionEdges(unsigned v) const {
    std::array<size_t, 3> qkv{};
    for (size_t e : inEdges[v])
      if (role[e] >= 0)
        qkv[role[e]] = e;
    return qkv;
  }

  /// Levels, edge lists in their fixed summation orders, weight groups.
  void schedule() {
    const LiftPlan &p = g.plan;
    const size_t V = p.vertices.size(), E = p.edges.size();
    inEdges.assign(V, {});
    edgeDim.assign(E, 0);
    for (size_t e = 0; e < E; ++e) {
      inEdges[p.edges[e].dst].push_back(e);
      edgeDim[e] = edgeFibers(p, p.edges[e]).dv;
    }
    std::vector<unsigned> order = topologicalOrder(V, p.edges);
    // Forward level: 1 + the deepest source (inputs: 0).
    std::vector<size_t> depth(V, 0);
    for (unsigned v : order)
      for (size_t e : inEdges[v])
        depth[v] = std::max(depth[v], depth[p.edges[e].src] + 1);
    for (unsigned v : order) {
      if (p.vertices[v].role == Role::Input)
        continue;
      if (forwardLevels.size() < depth[v])
        forwardLevels.resize(depth[v]);
      forwardLevels[depth[v] - 1].vertices.push_back(v);
    }
    // The backward visit: targets in reverse topological order, their
    // in-edges in order. Out-edges and weight groups are summed in it.
    outEdges.assign(V, {});
    transposedW.assign(p.edges.size(), {});
    groupEdges.assign(p.groupNames.size(), {});
    height.assign(V, 0);
    for (auto it = order.rbegin(); it != order.rend(); ++it)
      for (size_t e : inEdges[*it]) {
        const PlanEdge &pe = p.edges[e];
        outEdges[pe.src].push_back(e);
        if (pe.group != noGroup)
          groupEdges[pe.group].push_back(e);
        height[pe.src] = std::max(height[pe.src], height[pe.dst] + 1);
      }
    // Backward level: 1 + the highest target (sinks: 0). Inputs take part
    // for dL/dx.
    for (auto it = order.rbegin(); it != order.rend(); ++it) {
      if (backwardLevels.size() <= height[*it])
        backwardLevels.resize(height[*it] + 1);
      backwardLevels[height[*it]].vertices.push_back(*it);
    }
  }

  /// Do a vertex's kernels over `edges` (its in-edges forward, its
  /// out-edges backward) all run dense linear maps (implicit rows, each
  /// reading every source copy) summing together over more than
  /// contract::denseInnerChunk rows? Those kernels sum in chunks, and each
  /// task fetches every chunk's batch tiles into L2 (1 MiB at batch 256).
  bool wideDense(const std::vector<size_t> &edges, bool forward) const {
    int64_t inner = 0;
    for (size_t e : edges) {
      const LiftedEdge &le = g.edges[e];
      const PlanEdge &pe = g.plan.edges[e];
      if (pe.map != MapKind::Linear || le.layout.explicitRows || le.layout.stride != 0)
        return false;
      inner += forward ? le.layout.rowLength * int64_t(g.plan.vertices[pe.src].dim)
                       : le.nv * int64_t(g.plan.vertices[pe.dst].dim);
    }
    return inner > contract::denseInnerChunk;
  }

  /// The edge (and, with few rows, activation) tasks of vertex v of `rows`
  /// copies. Wide dense vertices get one task per thread over the whole
  /// batch, its share of the rows a multiple of contract::denseBlockRows
  /// (2048 rows on 2 threads: 1026 and 1022), so each chunk is fetched once
  /// per thread; against tasks of 96 rows a 2048 x 2048 forward at batch
  /// 256 was 11-14% faster on 1 and 2 threads, forward and backward 2-5%
  /// (splitting the batch too reads W once more per part). Others get
  /// chunks of rowChunk rows; where those are few for the team, the batch
  /// is split too and the activation runs in a second loop.
  void addVertexTasks(unsigned v, int64_t rows, bool wide, Level &level) const {
    if (wide) {
      const int64_t block = contract::denseBlockRows, threads = omp_get_max_threads();
      addTasks(v, rows, batch, false, level.edgeTasks,
               std::max<int64_t>(1, block * ((rows + block * threads - 1) / (block * threads))));
      return;
    }
    const bool split = fewRows(rows);
    addTasks(v, rows, batch, split, level.edgeTasks);
    if (split)
      addTasks(v, rows, batch, false, level.vertexTasks);
  }

  /// The tasks of every level for this batch size.
  void scheduleTasks() {
    const LiftPlan &p = g.plan;
    forwardWork = backwardWork = 0;
    for (Level &level : forwardLevels) {
      level.edgeTasks.clear(), level.vertexTasks.clear();
      for (unsigned v : level.vertices) {
        addVertexTasks(v, p.vertices[v].copies, wideDense(inEdges[v], true), level);
        for (size_t e : inEdges[v])
          forwardWork += edgeWork(e);
      }
    }
    for (Level &level : backwardLevels) {
      level.edgeTasks.clear(), level.vertexTasks.clear(), level.scatterTasks.clear();
      for (unsigned v : level.vertices) {
        int64_t rows = p.vertices[v].copies;
        if (p.vertices[v].role == Role::Input) {
          // Out-edges may read an input as one copy or as its components
          // (readsComponents): its tasks split the batch only, and each
          // edge covers every row of its own view (r1 = 0).
          // A task per thread where the batch allows chunks of 64 (a dense
          // data gradient copies W into panels once per task).
          const int64_t threads = omp_get_max_threads();
          const int64_t chunk = std::clamp<int64_t>(
              ((batch + threads - 1) / threads + 15) & ~int64_t(15), 64, batchChunk);
          for (int64_t b = 0; b < batch && !outEdges[v].empty(); b += chunk)
            level.edgeTasks.push_back({v, 0, 0, b, std::min(batch, b + chunk)});
          continue;
        }
        addVertexTasks(v, rows, wideDense(outEdges[v], false), level);
      }
    }
    // Data gradients of a batch of 1 in forward order where the kernel
    // exists: through tPos they read W at random (a miss per edge once W
    // outgrows the caches), in forward order along it. Each of
    // scatterSplit ranges of target rows sums into its own part (nu values);
    // sumOutEdges adds the parts in order. Not for inputs (their gradient
    // is optional). Larger batches keep tPos: parts of nu x batch values
    // would outweigh the random reads they save once W fits in cache.
    scatterParts.resize(p.edges.size());
    for (size_t e = 0; e < p.edges.size(); ++e) {
      const LiftedEdge &le = g.edges[e];
      const bool on = batch == 1 && edgeKernels[e].scatter &&
                      p.vertices[p.edges[e].src].role != Role::Input;
      scatterParts[e] = CacheAlignedVector<T>();
      if (!on)
        continue;
      scatterParts[e].resize(size_t(scatterSplit * le.nu * batch));
      const int64_t rows = scatterPartRows(e);
      for (int64_t r = 0; r < le.nv; r += rows)
        backwardLevels[height[p.edges[e].dst] + 1].scatterTasks.push_back(
            {uint32_t(e), r, std::min(le.nv, r + rows), 0, batch});
    }
    // Weight gradients: by rows, or by positions when rows are few; tied
    // edges have the same structure, so one split serves the whole group.
    // A group's tasks run with the edge tasks of the level after the one
    // that makes the last dZ it needs, while that dZ is in cache.
    lastWeightGradTasks.clear();
    for (uint32_t grp = 0; grp < groupEdges.size(); ++grp) {
      if (groupEdges[grp].empty())
        continue;
      size_t ready = 0;
      for (size_t e : groupEdges[grp])
        ready = std::max(ready, height[p.edges[e].dst]);
      std::vector<Task> &tasks = ready + 1 < backwardLevels.size()
                                     ? backwardLevels[ready + 1].edgeTasks
                                     : lastWeightGradTasks;
      const LiftedEdge &le = g.edges[groupEdges[grp].front()];
      int64_t count = int64_t(le.count);
      if (!fewRows(le.nv)) {
        // Two tasks per thread: a dense weight gradient transposes its
        // source panel once per task (EdgeKernels.cpp, "outer products").
        const int64_t threads = omp_get_max_threads();
        const int64_t rows = std::max(rowChunk, (le.nv + 2 * threads - 1) / (2 * threads));
        for (int64_t r = 0; r < le.nv; r += rows)
          tasks.push_back({grp, r, std::min(le.nv, r + rows), 0, count, true});
      } else {
        for (int64_t q = 0; q < count; q += positionChunk)
          tasks.push_back({grp, 0, le.nv, q, std::min(count, q + positionChunk), true});
      }
      for (size_t e : groupEdges[grp])
        backwardWork += 2 * edgeWork(e);
    }
    // Each thread's share of every list.
    const size_t threads = size_t(omp_get_max_threads());
    auto share = [&](const std::vector<Task> &tasks, auto work) {
      std::vector<double> estimates;
      for (const Task &t : tasks)
        estimates.push_back(work(t));
      return shareTasks(estimates, threads);
    };
    auto activation = [&](const Task &t) { return activationWork(t); };
    for (Level &level : forwardLevels) {
      level.edgeShares = share(level.edgeTasks, [&](const Task &t) { return taskWork(t, false, true); });
      level.vertexShares = share(level.vertexTasks, activation);
    }
    for (Level &level : backwardLevels) {
      level.edgeShares = share(level.edgeTasks, [&](const Task &t) { return taskWork(t, true, true); });
      level.edgeSharesNoDx =
          share(level.edgeTasks, [&](const Task &t) { return taskWork(t, true, false); });
      level.vertexShares = share(level.vertexTasks, activation);
      level.scatterShares = share(level.scatterTasks, [&](const Task &t) {
        return double(edgeWork(t.item)) * double(t.r1 - t.r0) / double(g.edges[t.item].nv);
      });
    }
    lastWeightGradShares =
        share(lastWeightGradTasks, [&](const Task &t) { return taskWork(t, true, true); });
    scheduledThreads = omp_get_max_threads();
  }

  /// Estimated multiply-adds of task t, to share tasks among threads:
  /// forward or backward (an input's data gradients count only `withDx`).
  double taskWork(const Task &t, bool backward, bool withDx) const {
    // A fraction of edge e's work on the whole batch.
    auto part = [&](size_t e, double fraction) { return double(edgeWork(e)) * fraction; };
    const double columns = double(t.b1 - t.b0) / double(std::max<int64_t>(batch, 1));
    double work = 0;
    if (t.weightGrad) { // rows r0..r1, positions b0..b1
      for (size_t e : groupEdges[t.item]) {
        const LiftedEdge &le = g.edges[e];
        work += part(e, double(t.r1 - t.r0) / double(le.nv) * double(t.b1 - t.b0) /
                             double(std::max<uint64_t>(le.count, 1)));
      }
      return work;
    }
    if (t.thenActivate)
      work += activationWork(t);
    if (!backward) {
      for (size_t e : inEdges[t.item])
        work += part(e, double(t.r1 - t.r0) / double(g.edges[e].nv) * columns);
      return work;
    }
    if (g.plan.vertices[t.item].role == Role::Input && !withDx)
      return 0;
    for (size_t e : outEdges[t.item]) {
      const double rows = t.r1 ? double(t.r1 - t.r0) / double(g.edges[e].nu) : 1.0;
      work += part(e, rows * columns);
    }
    return work;
  }
  /// Values an activation task computes.
  double activationWork(const Task &t) const {
    return double(t.r1 - t.r0) * double(g.plan.vertices[t.item].dim) * double(t.b1 - t.b0);
  }

  //===--- The tasks --------------------------------------------------------===//

  /// Z[v] (rows r0..r1, columns b0..b1) = the aggregate of the in-edges:
  /// their sum, product, or attention. The first edge into a buffer
  /// overwrites it (the kernels' `add` = 0), the others add.
  void sumInEdges(const Task &t) {
    const unsigned v = t.item;
    const PlanVertex &pv = g.plan.vertices[v];
    auto run = [&](size_t e, T *target, bool add) {
      const LiftedEdge &le = g.edges[e];
      edgeKernels[e].forward(weights(e, params), Y[g.plan.edges[e].src].data(), target,
                             le.col.data(), le.rowPtr.data(), t.r0, t.r1, t.b0, t.b1, batch,
                             add);
    };
    T *z = preActivation(v);
    if (pv.agg == Aggregation::Sum) {
      if (inEdges[v].empty())
        for (int64_t row = t.r0 * pv.dim; row < t.r1 * pv.dim; ++row)
          std::fill(z + row * batch + t.b0, z + row * batch + t.b1, T(0));
      for (size_t e : inEdges[v])
        run(e, z, e != inEdges[v].front());
      return;
    }
    for (size_t e : inEdges[v])
      run(e, Ze[e].data(), false);
    if (pv.agg == Aggregation::Attention) {
      auto [q, k, val] = attentionEdges(v);
      vertexKernels[v].aggregate(Ze[q].data(), Ze[k].data(), Ze[val].data(), z, t.r0,
                                 t.r1, t.b0, t.b1, batch);
      return;
    }
    for (int64_t row = t.r0 * pv.dim; row < t.r1 * pv.dim; ++row)
      for (int64_t b = t.b0; b < t.b1; ++b) {
        T product = 1;
        for (size_t e : inEdges[v])
          product *= Ze[e][row * batch + b];
        z[row * batch + b] = product;
      }
  }

  /// dY[u] (rows r0..r1, or every row if r1 = 0; columns b0..b1) = the
  /// readout's gradient (outputs) or 0, plus the out-edges' data gradients
  /// (the first overwrites dY where it is not an output's).
  void sumOutEdges(const Task &t) {
    const unsigned u = t.item;
    const PlanVertex &pu = g.plan.vertices[u];
    const bool output = pu.role == Role::Output;
    if (!output && outEdges[u].empty()) {
      int64_t r1 = t.r1 ? t.r1 : pu.copies;
      for (int64_t row = t.r0 * pu.dim; row < r1 * pu.dim; ++row)
        std::fill(&dY[u][row * batch + t.b0], &dY[u][row * batch + t.b1], T(0));
    }
    for (size_t e : outEdges[u]) {
      const LiftedEdge &le = g.edges[e];
      const bool add = output || e != outEdges[u].front();
      if (!scatterParts[e].empty()) { // the parts of scatterEdge, in order
        const int64_t parts = (le.nv + scatterPartRows(e) - 1) / scatterPartRows(e);
        for (int64_t row = t.r0; row < (t.r1 ? t.r1 : le.nu); ++row)
          for (int64_t b = t.b0; b < t.b1; ++b) {
            const T *part = &scatterParts[e][size_t(row * batch + b)];
            T sum = part[0];
            for (int64_t c = 1; c < parts; ++c)
              sum += part[c * le.nu * batch];
            T &out = dY[u][row * batch + b];
            out = add ? out + sum : sum;
          }
        continue;
      }
      const bool transposed = transposedOrder && !transposedW[e].empty();
      edgeKernels[e].dataGrad(transposed ? transposedW[e].data() : weights(e, params),
                              edgeGradient(e), Y[u].data(), dY[u].data(), le.tPtr.data(),
                              le.tRow.data(), transposed ? nullptr : le.tPos.data(), t.r0,
                              t.r1 ? t.r1 : le.nu, t.b0, t.b1, batch, add);
    }
  }

  /// The part of edge t.item's data gradient from target rows [t.r0,
  /// t.r1), in forward order (contract::DataGradScatter).
  void scatterEdge(const Task &t) {
    const LiftedEdge &le = g.edges[t.item];
    T *part = &scatterParts[t.item][size_t(t.r0 / scatterPartRows(t.item) * le.nu * batch)];
    std::fill(part, part + le.nu * batch, T(0));
    edgeKernels[t.item].scatter(weights(t.item, params), edgeGradient(t.item), part, le.col.data(),
                                le.rowPtr.data(), t.r0, t.r1, batch);
  }

  /// Target rows per part of edge e's data gradient in forward order.
  int64_t scatterPartRows(size_t e) const {
    return std::max<int64_t>(1, (g.edges[e].nv + scatterSplit - 1) / scatterSplit);
  }

  /// transposedW[e][t] = the weights of the lifted edge at transposed
  /// position t (entry t of tPtr/tRow/tPos), for every edge with explicit
  /// rows and weights whose data gradient runs; sets transposedOrder. The
  /// data gradient then reads them in turn instead of at random (the
  /// reference network: SGD step 8% faster), for 4 bytes per lifted edge.
  void transposeWeights() {
    for (size_t e = 0; e < g.edges.size(); ++e) {
      const LiftedEdge &le = g.edges[e];
      const uint64_t w = g.weightsPerEdge(e);
      if (!le.layout.explicitRows || w == 0 ||
          g.plan.vertices[g.plan.edges[e].src].role == Role::Input)
        continue;
      transposedW[e].resize(le.count * w);
      const T *W = weights(e, params);
      T *out = transposedW[e].data();
      const uint32_t *pos = le.tPos.data();
      const int64_t count = int64_t(le.count);
      if (w == 1) { // the common case, a gather
#pragma omp parallel for schedule(static) if (le.count > paramLoopLength)
        for (int64_t t = 0; t < count; ++t)
          out[t] = W[pos[t]];
        continue;
      }
#pragma omp parallel for schedule(static) if (le.count * w > paramLoopLength)
      for (int64_t t = 0; t < count; ++t)
        std::copy(W + pos[t] * w, W + (pos[t] + 1) * w, out + t * w);
    }
    transposedOrder = true;
  }

  /// Y[v] = act(Z[v] + b), rows r0..r1.
  void activationForward(const Task &t) {
    vertexKernels[t.item].forward(preActivation(t.item), bias(t.item, params), Y[t.item].data(), t.r0,
                                  t.r1, batch);
  }

  /// dZ[v] = dY[v] * act'(Z[v] + b) and the bias gradient, rows r0..r1; for
  /// products, each in-edge's dZ_e = dZ * the product of the other edges' Z;
  /// for attention, the query's, key's and value's dZ_e.
  void activationBackward(const Task &t) {
    const unsigned v = t.item;
    const PlanVertex &pv = g.plan.vertices[v];
    T *dz = preActivationGrad(v);
    vertexKernels[v].backward(preActivation(v), bias(v, params), dY[v].data(), dz,
                              bias(v, grads), t.r0, t.r1, batch);
    if (pv.agg == Aggregation::Sum)
      return;
    if (pv.agg == Aggregation::Attention) {
      auto [q, k, val] = attentionEdges(v);
      vertexKernels[v].aggregateBackward(Ze[q].data(), Ze[k].data(), Ze[val].data(),
                                         dz, dZe[q].data(), dZe[k].data(),
                                         dZe[val].data(), t.r0, t.r1, 0, batch, batch);
      return;
    }
    for (size_t e : inEdges[v])
      for (int64_t k = t.r0 * pv.dim * batch; k < t.r1 * pv.dim * batch; ++k) {
        T others = 1;
        for (size_t f : inEdges[v])
          if (f != e)
            others *= Ze[f][k];
        dZe[e][k] = dz[k] * others;
      }
  }

  /// dW of weight group `item` (rows r0..r1, positions b0..b1) += each
  /// tied edge's weight gradient.
  void sumWeightGrads(const Task &t) {
    for (size_t e : groupEdges[t.item]) {
      const LiftedEdge &le = g.edges[e];
      edgeKernels[e].weightGrad(weights(e, grads), edgeGradient(e),
                                Y[g.plan.edges[e].src].data(), le.col.data(), le.rowPtr.data(),
                                t.r0, t.r1, t.b0, t.b1, batch);
    }
  }

  //===--- Helpers --------------------------------------------------------===//

  /// dL/dZ_e of edge e: the target's dZ, or its own under a product or an
  /// attention.
  const T *edgeGradient(size_t e) {
    unsigned v = g.plan.edges[e].dst;
    return g.plan.vertices[v].agg == Aggregation::Sum ? preActivationGrad(v) : dZe[e].data();
  }

  /// Multiply-adds of one pass over edge e's lifted edges.
  int64_t edgeWork(size_t e) const {
    double work = double(g.edges[e].count) * std::max(1.0, double(g.weightsPerEdge(e))) *
                  double(batch);
    return int64_t(std::min(work, 1e18)); // only compared with minParallelWork
  }

  /// Forward on n samples (x[rows[b]], or x[b] if rows is null); returns
  /// the summed loss; with `backward`, adds the gradient of (dyScale *
  /// summed loss) to the gradients.
  double computeLoss(const T *x, const int64_t *rows, const T *target, int64_t n, Loss loss,
                     T dyScale, bool backward, int64_t *correct) {
    lossY.resize(size_t(n * outputSize));
    lossDy.resize(size_t(n * outputSize));
    run(x, rows, n, lossY.data());
    double total =
        batchLoss(loss, lossY.data(), target, n, outputSize, dyScale, lossDy.data(), correct);
    if (!std::isfinite(total))
      throw Error{RSLC_ERROR_NUMERIC, "the loss is not finite (" + std::to_string(total) + ")"};
    if (backward)
      this->backward(lossDy.data(), nullptr);
    return total;
  }

  T readoutScale(int64_t n) const {
    switch (g.plan.readout) {
    case Readout::Mean: return T(1) / T(n);
    case Readout::Sqrt: return T(1) / std::sqrt(T(n));
    case Readout::Sum: return T(1);
    }
    return T(1);
  }

  /// Z of vertex v: its own buffer, or Y where the activation's
  /// derivative follows from its output (the forward activates in place).
  T *preActivation(unsigned v) { return Z[v].empty() ? Y[v].data() : Z[v].data(); }
  /// dZ of vertex v: its own buffer, or dY for elementwise activations (the
  /// backward writes dZ over dY, which nothing reads after).
  T *preActivationGrad(unsigned v) { return dZ[v].empty() ? dY[v].data() : dZ[v].data(); }

  template <typename V> auto weights(size_t e, V &array) const {
    uint32_t grp = g.plan.edges[e].group;
    return array.data() + (grp == noGroup ? 0 : g.tensors[grp].offset);
  }
  template <typename V> auto bias(size_t v, V &array) const {
    return g.vertexTensor[v] >= 0 ? array.data() + g.tensors[g.vertexTensor[v]].offset : nullptr;
  }

  void resize(int64_t b) {
    if (b == batch && !Y.empty()) {
      if (scheduledThreads != omp_get_max_threads()) // omp_set_num_threads since
        scheduleTasks();
      return;
    }
    batch = b;
    const LiftPlan &p = g.plan;
    // Sizes change in place: passes of different lengths (a loss's last
    // one) reuse the memory. Every task writes its rows before reading them.
    Z.resize(p.vertices.size()), Y.resize(p.vertices.size());
    dY.resize(p.vertices.size()), dZ.resize(p.vertices.size());
    Ze.resize(p.edges.size()), dZe.resize(p.edges.size());
    for (size_t v = 0; v < p.vertices.size(); ++v) {
      size_t n = size_t(p.vertices[v].copies) * p.vertices[v].dim * b;
      Y[v].resize(n);
      dY[v].resize(n);
      const PlanVertex &pv = p.vertices[v];
      if (pv.role != Role::Input && !derivativeFromOutput(pv.act))
        Z[v].resize(n);
      if (pv.role != Role::Input && !actsElementwise(pv.act))
        dZ[v].resize(n);
      if (p.vertices[v].agg != Aggregation::Sum)
        for (size_t e : inEdges[v]) { // Z_e has the edge's own dimension
          size_t ne = size_t(p.vertices[v].copies) * size_t(edgeDim[e]) * size_t(b);
          Ze[e].resize(ne);
          dZe[e].resize(ne);
        }
    }
    scheduleTasks();
  }

  CacheAlignedVector<T> params, grads, moment1, moment2;
  /// Reused across calls: the targets of a mini-batch's rows, a loss's
  /// outputs and their gradient, and the readout's sums of one output
  /// component.
  CacheAlignedVector<T> rowsT, lossY, lossDy, readoutSum;
  /// The input and output vertices, with their offsets in a sample's
  /// inputs and outputs.
  struct Port {
    unsigned v;
    int64_t offset;
  };
  std::vector<Port> inputs, outputs;
  /// Per vertex: pre-activations, activations and their gradients, each
  /// [copy][component][batch] (Z and dZ empty where they share Y's and dY's
  /// buffer: preActivation, preActivationGrad); per edge into a product or
  /// an attention: its own Z and dZ.
  std::vector<CacheAlignedVector<T>> Z, Y, dY, dZ, Ze, dZe;
  std::vector<EdgeKernels> edgeKernels;
  std::vector<VertexKernels> vertexKernels;
  std::vector<std::vector<size_t>> inEdges, outEdges, groupEdges;
  std::vector<int64_t> edgeDim; ///< per edge: components of its Z_e per copy
  std::vector<int> role;        ///< per edge: attention role 0, 1, 2 (query, key, value) or -1
  std::vector<Level> forwardLevels, backwardLevels;
  std::vector<Task> lastWeightGradTasks;
  Shares lastWeightGradShares;
  std::vector<size_t> height; ///< per vertex: its backward level
  int64_t forwardWork = 0, backwardWork = 0;
  int scheduledThreads = 0; ///< the team size the tasks were shared for
  int64_t batch = 0;
  bool haveForward = false;
  /// Per edge: its weights in transposed order (transposeWeights), valid
  /// while transposedOrder (inside a loss's passes).
  std::vector<CacheAlignedVector<T>> transposedW;
  bool transposedOrder = false;
  /// Per edge whose data gradient runs in forward order at this batch
  /// (scheduleTasks): [part][source row][batch] (scatterSplit parts); else
  /// empty.
  std::vector<CacheAlignedVector<T>> scatterParts;
};

} // namespace

const rslc_kernel_variant *runnableVariant() {
  static const rslc_kernel_variant *chosen = [] {
    for (uint32_t v = 0; v < rslc_num_kernel_variants; ++v)
      if (missingCpuFeatures(rslc_kernel_variants[v].features).empty())
        return &rslc_kernel_variants[v];
    return static_cast<const rslc_kernel_variant *>(nullptr);
  }();
  return chosen;
}

std::unique_ptr<ModelBase> ModelBase::create(uint64_t seed) {
  if (rslc_contract_version != contract::version)
    throw Error{RSLC_ERROR_INTERNAL,
                "the library's kernels follow kernel contract " +
                    std::to_string(rslc_contract_version) + ", its runtime contract " +
                    std::to_string(contract::version) + ": rebuild it with a matching rslc"};
  // Before any kernel runs: an instruction the CPU lacks would end the
  // process (a library built elsewhere, or with --target-features).
  if (!runnableVariant()) {
    const rslc_kernel_variant &last = rslc_kernel_variants[rslc_num_kernel_variants - 1];
    std::string names;
    for (const std::string &f : missingCpuFeatures(last.features))
      names += (names.empty() ? "" : ", ") + f;
    throw Error{RSLC_ERROR_UNSUPPORTED,
                "this library's kernels were compiled for CPU '" + std::string(last.cpu) + "'" +
                    (rslc_num_kernel_variants > 1 ? " at the least" : "") +
                    " and need CPU features this machine lacks: " + names +
                    "; rebuild it on this machine, or with rslc --target-cpu=x86-64-v2 (or v3) "
                    "for a library that runs on most x86-64 machines"};
  }
  LiftPlan plan;
  std::string error;
  if (!deserializePlan(std::string(rslc_plan_text, rslc_plan_size), plan, error))
    throw Error{RSLC_ERROR_INTERNAL, error};
  if (seed)
    plan.seed = seed;
  LiftedGraph graph;
  try {
    graph = buildLifted(plan);
  } catch (const BuildError &e) {
    throw Error{e.kind == BuildError::Kind::Unsupported ? RSLC_ERROR_SIZE : RSLC_ERROR_INTERNAL,
                e.what()};
  }
  if (rslc_real_bytes == 8)
    return std::make_unique<Model<double>>(std::move(graph));
  return std::make_unique<Model<float>>(std::move(graph));
}

} // namespace rslc::rt
