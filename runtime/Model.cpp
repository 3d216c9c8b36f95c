//===- Model.cpp - orchestrates the generated kernels ----------------------===//
//
// Forward visits base vertices in topological order, backward in reverse.
// Work is split into fixed chunks of rows (or of source copies), run in
// parallel; each row is computed by one kernel call in a fixed order, so the
// results do not depend on the number of threads. Reductions over the batch
// (loss) run in a fixed order too.
//
//===----------------------------------------------------------------------===//
#include "Model.h"

#include "IR/Topo.h"
#include "Kernels.h"
#include "Lift/PlanIO.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>

namespace rslc::rt {

using namespace rslc::lift;

namespace {

constexpr int64_t rowChunk = 16;

/// Batch columns per chunk (the widest register tile: 8 AVX-512 registers).
constexpr int64_t batchChunk = 128;
/// Forward positions per chunk of a weight gradient split by positions.
constexpr int64_t positionChunk = 1024;

/// Copies of the parameters longer than this run on the OpenMP team.
constexpr size_t paramLoopLength = 1 << 15;

/// Below this many multiply-adds, starting threads costs more than it saves.
constexpr int64_t minParallelWork = 1 << 16;

/// Calls body(begin, end) over [0, n) in fixed chunks, in parallel when the
/// `work` (multiply-adds) is worth it.
template <typename Body> void parallelRows(int64_t n, int64_t work, Body body) {
  int64_t chunks = (n + rowChunk - 1) / rowChunk;
#pragma omp parallel for schedule(static) if (chunks > 1 && work >= minParallelWork)
  for (int64_t c = 0; c < chunks; ++c)
    body(c * rowChunk, std::min(n, (c + 1) * rowChunk));
}

/// Too few row chunks to keep every thread busy?
bool fewRows(int64_t rows) {
  return (rows + rowChunk - 1) / rowChunk < 4 * int64_t(omp_get_max_threads());
}

/// Calls body(r0, r1, b0, b1) over rows [0, rows) and batch columns
/// [0, batch) in fixed chunks, in parallel; the batch is split only when
/// rows are few. Every output element is computed by the same operations
/// whatever the split, so results do not depend on the thread count.
template <typename Body>
void parallelRowsAndBatch(int64_t rows, int64_t batch, int64_t work, Body body) {
  int64_t rowChunks = (rows + rowChunk - 1) / rowChunk;
  int64_t batchChunks = fewRows(rows) ? (batch + batchChunk - 1) / batchChunk : 1;
  int64_t tasks = rowChunks * batchChunks;
#pragma omp parallel for schedule(static) if (tasks > 1 && work >= minParallelWork)
  for (int64_t t = 0; t < tasks; ++t) {
    int64_t r = t / batchChunks, c = t % batchChunks;
    body(r * rowChunk, std::min(rows, (r + 1) * rowChunk), c * batchChunk,
         batchChunks == 1 ? batch : std::min(batch, (c + 1) * batchChunk));
  }
}

/// Calls body(j0, j1, q0, q1) so that every forward position of an edge
/// with `rows` target rows and `count` lifted edges is visited once: by row
/// chunks, or, when rows are few, by chunks of positions.
template <typename Body>
void parallelRowsOrPositions(int64_t rows, int64_t count, int64_t work, Body body) {
  if (!fewRows(rows))
    return parallelRows(rows, work, [&](int64_t j0, int64_t j1) { body(j0, j1, int64_t(0), count); });
  int64_t chunks = (count + positionChunk - 1) / positionChunk;
#pragma omp parallel for schedule(static) if (chunks > 1 && work >= minParallelWork)
  for (int64_t c = 0; c < chunks; ++c)
    body(int64_t(0), rows, c * positionChunk, std::min(count, (c + 1) * positionChunk));
}

template <typename T> class Model final : public ModelBase {
  using K = KernelTypes<T>;

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
    inEdges.resize(p.vertices.size());
    for (size_t e = 0; e < p.edges.size(); ++e)
      inEdges[p.edges[e].dst].push_back(e);
    order = topologicalOrder(p.vertices.size(), p.edges);
    for (const PlanVertex &v : p.vertices) {
      if (v.role == Role::Input)
        inputSize += v.dim;
      if (v.role == Role::Output)
        outputSize += v.dim;
      maxPerSample = std::max(maxPerSample, v.copies * v.dim); // <= 2^48 (estimate)
    }
    maxPerSample = std::max({maxPerSample, inputSize, outputSize});
  }

  void forward(const void *xv, int64_t batch, void *yv) override {
    const T *x = static_cast<const T *>(xv);
    T *y = static_cast<T *>(yv);
    const LiftPlan &p = g.plan;
    // Allocate first: a batch too large for memory fails here (bad_alloc)
    // before x is read. A failed forward leaves no forward to differentiate.
    haveForward = false;
    resize(batch);
    requireFinite(x, batch * inputSize, "input x");
    int64_t off = 0;
    for (size_t v = 0; v < p.vertices.size(); ++v) {
      if (p.vertices[v].role != Role::Input)
        continue;
      int64_t d = p.vertices[v].dim;
      for (int64_t a = 0; a < d; ++a)
        for (int64_t b = 0; b < batch; ++b)
          Y[v][a * batch + b] = x[b * inputSize + off + a];
      off += d;
    }
    for (unsigned v : order) {
      const PlanVertex &pv = p.vertices[v];
      if (pv.role == Role::Input)
        continue;
      bool prod = pv.agg == Aggregation::Prod;
      if (!prod)
        std::fill(Z[v].begin(), Z[v].end(), T(0));
      for (size_t e : inEdges[v]) {
        T *target = Z[v].data();
        if (prod) {
          std::fill(Ze[e].begin(), Ze[e].end(), T(0));
          target = Ze[e].data();
        }
        auto fwd = reinterpret_cast<typename K::Forward>(rslc_edge_kernels[3 * e]);
        const LiftedEdge &le = g.edges[e];
        const T *W = weights(e, params);
        const T *src = Y[p.edges[e].src].data();
        parallelRowsAndBatch(le.nv, batch, edgeWork(e, batch), [&](int64_t j0, int64_t j1, int64_t b0, int64_t b1) {
          fwd(W, src, target, le.col.data(), le.rowPtr.data(), j0, j1, b0, b1, batch);
        });
      }
      if (prod) {
        std::fill(Z[v].begin(), Z[v].end(), T(1));
        for (size_t e : inEdges[v])
          for (size_t k = 0; k < Z[v].size(); ++k)
            Z[v][k] *= Ze[e][k];
      }
      auto act = reinterpret_cast<typename K::ActForward>(rslc_vertex_kernels[2 * v]);
      const T *bias = g.biasTensor[v] >= 0 ? params.data() + g.tensors[g.biasTensor[v]].offset
                                           : nullptr;
      parallelRows(pv.copies, pv.copies * pv.dim * batch, [&](int64_t j0, int64_t j1) {
        act(Z[v].data(), bias, Y[v].data(), j0, j1, batch);
      });
    }
    off = 0;
    for (size_t v = 0; v < p.vertices.size(); ++v) {
      const PlanVertex &pv = p.vertices[v];
      if (pv.role != Role::Output)
        continue;
      T c = readoutScale(pv.copies);
      for (int64_t b = 0; b < batch; ++b)
        for (int64_t a = 0; a < pv.dim; ++a) {
          T s = 0;
          for (int64_t j = 0; j < pv.copies; ++j)
            s += Y[v][(j * pv.dim + a) * batch + b];
          y[b * outputSize + off + a] = c * s;
        }
      off += pv.dim;
    }
    haveForward = true;
  }

  void backward(const void *dyv, void *dxv) override {
    if (!haveForward)
      throw Error{5, "backward needs a forward pass first"};
    const T *dy = static_cast<const T *>(dyv);
    T *dx = static_cast<T *>(dxv);
    const LiftPlan &p = g.plan;
    for (auto &buf : dY)
      std::fill(buf.begin(), buf.end(), T(0));
    int64_t off = 0;
    for (size_t v = 0; v < p.vertices.size(); ++v) {
      const PlanVertex &pv = p.vertices[v];
      if (pv.role != Role::Output)
        continue;
      T c = readoutScale(pv.copies);
      for (int64_t j = 0; j < pv.copies; ++j)
        for (int64_t a = 0; a < pv.dim; ++a)
          for (int64_t b = 0; b < batch; ++b)
            dY[v][(j * pv.dim + a) * batch + b] += c * dy[b * outputSize + off + a];
      off += pv.dim;
    }
    for (auto it = order.rbegin(); it != order.rend(); ++it) {
      unsigned v = *it;
      const PlanVertex &pv = p.vertices[v];
      if (pv.role == Role::Input)
        continue;
      auto act = reinterpret_cast<typename K::ActBackward>(rslc_vertex_kernels[2 * v + 1]);
      const T *bias = nullptr;
      T *dbias = nullptr;
      if (g.biasTensor[v] >= 0) {
        bias = params.data() + g.tensors[g.biasTensor[v]].offset;
        dbias = grads.data() + g.tensors[g.biasTensor[v]].offset;
      }
      parallelRows(pv.copies, pv.copies * pv.dim * batch, [&](int64_t j0, int64_t j1) {
        act(Z[v].data(), bias, dY[v].data(), dZ[v].data(), dbias, j0, j1, batch);
      });
      for (size_t e : inEdges[v]) {
        const T *dZe = dZ[v].data();
        if (pv.agg == Aggregation::Prod) { // dZ_e = dZ * prod of the other edges' Z
          for (size_t k = 0; k < scratch.size() && k < dZ[v].size(); ++k) {
            T prodOthers = 1;
            for (size_t f : inEdges[v])
              if (f != e)
                prodOthers *= Ze[f][k];
            scratch[k] = dZ[v][k] * prodOthers;
          }
          dZe = scratch.data();
        }
        const LiftedEdge &le = g.edges[e];
        unsigned u = p.edges[e].src;
        if (void *wk = rslc_edge_kernels[3 * e + 1]) {
          auto wgrad = reinterpret_cast<typename K::WeightGrad>(wk);
          T *dW = weights(e, grads);
          const T *src = Y[u].data();
          parallelRowsOrPositions(le.nv, int64_t(le.count), edgeWork(e, batch),
                                  [&](int64_t j0, int64_t j1, int64_t q0, int64_t q1) {
            wgrad(dW, dZe, src, le.col.data(), le.rowPtr.data(), j0, j1, q0, q1, batch);
          });
        }
        if (p.vertices[u].role == Role::Input && !dx)
          continue;
        auto dgrad = reinterpret_cast<typename K::DataGrad>(rslc_edge_kernels[3 * e + 2]);
        const T *W = weights(e, params);
        T *dsrc = dY[u].data();
        parallelRowsAndBatch(le.nu, batch, edgeWork(e, batch), [&](int64_t i0, int64_t i1, int64_t b0, int64_t b1) {
          dgrad(W, dZe, dsrc, le.tPtr.data(), le.tRow.data(), le.tPos.data(), i0, i1, b0, b1, batch);
        });
      }
    }
    if (!dx)
      return;
    off = 0;
    for (size_t v = 0; v < p.vertices.size(); ++v) {
      if (p.vertices[v].role != Role::Input)
        continue;
      int64_t d = p.vertices[v].dim;
      for (int64_t a = 0; a < d; ++a)
        for (int64_t b = 0; b < batch; ++b)
          dx[b * inputSize + off + a] = dY[v][a * batch + b];
      off += d;
    }
  }

  double lossAndGrad(const void *xv, const void *tv, int64_t n, int loss) override {
    const T *x = static_cast<const T *>(xv), *target = static_cast<const T *>(tv);
    checkTargets(target, n, loss);
    return computeLoss(x, target, n, loss, T(1) / T(n), true, nullptr) / double(n);
  }

  double lossGrad(const void *xv, const void *tv, int64_t n, const std::vector<int64_t> &rows,
                  int loss, std::vector<double> *grad, int64_t *correct) override {
    const T *x = static_cast<const T *>(xv), *target = static_cast<const T *>(tv);
    const int64_t count = rows.empty() ? n : int64_t(rows.size());
    const int64_t tw = loss == 0 ? outputSize : 1; // target values per sample
    if (grad)
      zeroGrads();
    if (correct)
      *correct = 0;
    // Fixed chunks bound the activation memory; the order is fixed, so the
    // result is deterministic.
    constexpr int64_t chunk = 512;
    std::vector<T> xs, ts;
    double total = 0;
    for (int64_t c0 = 0; c0 < count; c0 += chunk) {
      int64_t nc = std::min(chunk, count - c0);
      const T *xc = x + c0 * inputSize, *tc = target + c0 * tw;
      if (!rows.empty()) {
        xs.resize(nc * inputSize);
        ts.resize(nc * tw);
        for (int64_t r = 0; r < nc; ++r) {
          int64_t src = rows[c0 + r];
          std::copy(x + src * inputSize, x + (src + 1) * inputSize, &xs[r * inputSize]);
          std::copy(target + src * tw, target + (src + 1) * tw, &ts[r * tw]);
        }
        xc = xs.data(), tc = ts.data();
      }
      checkTargets(tc, nc, loss);
      int64_t right = 0;
      total += computeLoss(xc, tc, nc, loss, T(1) / T(count), grad != nullptr, &right);
      if (correct)
        *correct += right;
    }
    if (grad) {
      grad->resize(grads.size());
      const size_t P = grads.size();
#pragma omp parallel for schedule(static) if (P > paramLoopLength)
      for (size_t k = 0; k < P; ++k)
        (*grad)[k] = grads[k];
    }
    return total / double(count);
  }

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
    std::memcpy(params.data(), in, params.size() * sizeof(T));
    haveForward = false;
  }
  void getGrads(void *out) const override {
    std::memcpy(out, grads.data(), grads.size() * sizeof(T));
  }
  void zeroGrads() override { std::fill(grads.begin(), grads.end(), T(0)); }

private:
  /// Multiply-adds of one pass over edge e's lifted edges for `batch` samples.
  int64_t edgeWork(size_t e, int64_t batch) const {
    const PlanEdge &pe = g.plan.edges[e];
    int64_t du = g.plan.vertices[pe.src].dim, dv = g.plan.vertices[pe.dst].dim;
    double work = double(g.edges[e].count) * double(pe.map == MapKind::Linear ? du * dv : dv) * double(batch);
    return int64_t(std::min(work, 1e18)); // only compared with minParallelWork
  }
  void checkTargets(const T *target, int64_t n, int loss) {
    if (loss == 0) {
      requireFinite(target, n * outputSize, "target");
      return;
    }
    for (int64_t b = 0; b < n; ++b) {
      T t = target[b];
      if (!(t >= 0 && t < T(outputSize) && t == std::floor(t)))
        throw Error{3, "cross-entropy target " + std::to_string(double(t)) + " of sample " +
                           std::to_string(b) + " is not a class index in [0, " +
                           std::to_string(outputSize) + ")"};
    }
  }

  /// Forward on n samples; returns the summed loss; with `backward`, adds
  /// the gradient of (dyScale * summed loss) to the gradients.
  double computeLoss(const T *x, const T *target, int64_t n, int loss, T dyScale, bool backward,
                     int64_t *correct) {
    std::vector<T> y(n * outputSize), dy(n * outputSize);
    forward(x, n, y.data());
    double total = 0;
    for (int64_t b = 0; b < n; ++b) {
      const T *yb = &y[b * outputSize];
      T *db = &dy[b * outputSize];
      if (loss == 0) {
        for (int64_t o = 0; o < outputSize; ++o) {
          double r = double(yb[o]) - double(target[b * outputSize + o]);
          total += 0.5 * r * r;
          db[o] = T(r) * dyScale;
        }
        continue;
      }
      int64_t best = std::max_element(yb, yb + outputSize) - yb;
      double m = double(yb[best]), z = 0;
      for (int64_t o = 0; o < outputSize; ++o)
        z += std::exp(double(yb[o]) - m);
      int64_t cls = int64_t(target[b]);
      if (correct && best == cls)
        ++*correct;
      total += -(double(yb[cls]) - m - std::log(z));
      for (int64_t o = 0; o < outputSize; ++o)
        db[o] = T(std::exp(double(yb[o]) - m) / z - (o == cls ? 1.0 : 0.0)) * dyScale;
    }
    if (!std::isfinite(total))
      throw Error{7, "the loss is not finite (" + std::to_string(total) + ")"};
    if (backward)
      this->backward(dy.data(), nullptr);
    return total;
  }

  /// Non-finite data would silently poison (or, through relu, vanish from)
  /// the results: refuse it with its position.
  static void requireFinite(const T *a, int64_t n, const char *what) {
    for (int64_t k = 0; k < n; ++k)
      if (!std::isfinite(a[k]))
        throw Error{7, std::string(what) + "[" + std::to_string(k) + "] is " +
                           std::to_string(double(a[k])) + ", not a finite number"};
  }

  T readoutScale(int64_t n) const {
    switch (g.plan.readout) {
    case Readout::Mean: return T(1) / T(n);
    case Readout::Sqrt: return T(1) / std::sqrt(T(n));
    case Readout::Sum: return T(1);
    }
    return T(1);
  }

  template <typename V> auto weights(size_t e, V &array) const {
    uint32_t grp = g.plan.edges[e].group;
    return array.data() + (grp == noGroup ? 0 : g.tensors[grp].offset);
  }

  void resize(int64_t b) {
    if (b == batch && !Y.empty())
      return;
    batch = b;
    const LiftPlan &p = g.plan;
    size_t largest = 0;
    Z.assign(p.vertices.size(), {});
    Y.assign(p.vertices.size(), {});
    dY.assign(p.vertices.size(), {});
    dZ.assign(p.vertices.size(), {});
    Ze.assign(p.edges.size(), {});
    for (size_t v = 0; v < p.vertices.size(); ++v) {
      size_t n = size_t(p.vertices[v].copies) * p.vertices[v].dim * b;
      largest = std::max(largest, n);
      Y[v].assign(n, T(0));
      dY[v].assign(n, T(0));
      if (p.vertices[v].role != Role::Input) {
        Z[v].assign(n, T(0));
        dZ[v].assign(n, T(0));
      }
      if (p.vertices[v].agg == Aggregation::Prod)
        for (size_t e : inEdges[v])
          Ze[e].assign(n, T(0));
    }
    scratch.assign(largest, T(0));
  }

  std::vector<T> params, grads, scratch;
  std::vector<std::vector<T>> Z, Y, dY, dZ, Ze;
  std::vector<std::vector<size_t>> inEdges;
  std::vector<unsigned> order;
  int64_t batch = 0;
  bool haveForward = false;
};

} // namespace

std::unique_ptr<ModelBase> ModelBase::create(uint64_t seed) {
  LiftPlan plan;
  std::string error;
  if (!deserializePlan(std::string(rslc_plan_text, rslc_plan_size), plan, error))
    throw Error{6, error};
  if (seed)
    plan.seed = seed;
  SizeEstimate size = estimate(plan);
  if (!size.error.empty())
    throw Error{2, size.error};
  LiftedGraph g = expand(plan);
  std::vector<std::string> problems = verify(g);
  if (!problems.empty())
    throw Error{6, "lifted graph fails verification: " + problems.front()};
  if (rslc_real_bytes == 8)
    return std::make_unique<Model<double>>(std::move(g));
  return std::make_unique<Model<float>>(std::move(g));
}

} // namespace rslc::rt
