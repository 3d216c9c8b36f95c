//===- Integrators.cpp - gradient flow and its practical cousins -----------===//
//
// The trainer works in place on the model's own arrays, in its precision:
// the parameters, their gradient and the optimiser's moments. Nothing
// proportional to the data or the parameters is copied or allocated per
// step, except the stage vectors of the full-batch Runge-Kutta methods
// (allocated once per call). L(theta) is the mean loss plus
// weight_decay/2 |theta|^2. The optimiser state (step, flow time, adaptive
// step size, moments) lives in the model, so training resumed from a
// checkpoint takes exactly the steps an uninterrupted run would.
//
// Metrics: full-batch methods report the loss and gradient of the step;
// mini-batch methods the running averages over the batches since the last
// log (each batch's loss at the parameters it was computed with), unless
// train_eval asks for a pass over the whole training set at each log.
// Sums over parameters run over fixed chunks combined in order, so every
// figure is the same on any thread count.
//
//===----------------------------------------------------------------------===//
#include "Integrators.h"

#include "core/Random.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <numeric>

namespace rslc::rt {

namespace {

/// Parameters per chunk of the update and reduction loops.
constexpr size_t chunkSize = 1 << 16;

/// Runs body(i) for i in [0, P), on the team when P is large; returns
/// whether every call returned true (a finite result).
template <typename Body> bool forParams(size_t P, Body body) {
  bool finite = true;
#pragma omp parallel for schedule(static) reduction(&& : finite) if (P > chunkSize)
  for (size_t i = 0; i < P; ++i)
    finite = body(i) && finite;
  return finite;
}

//===--- Element-wise updates -----------------------------------------------===//
//
// The optimisers' loops over the parameters, compiled for AVX-512, AVX2 and
// the baseline, the best the CPU has chosen when the library loads
// (target_clones). They give the same results on all three: every operation
// is correctly rounded per element and none is contracted into an FMA
// (-ffp-contract=off, runtime/CMakeLists.txt). Each returns whether every
// new value is finite; `undo` (the gradient's array) receives the old
// parameters.

#define RSLC_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))

template <typename T>
inline bool eulerRange(T *__restrict theta, T *__restrict undo, size_t i0, size_t i1, T h) {
  int bad = 0;
  for (size_t i = i0; i < i1; ++i) {
    T old = theta[i], v = old - h * undo[i];
    undo[i] = old, theta[i] = v;
    bad |= !std::isfinite(v);
  }
  return !bad;
}
template <typename T>
inline bool sgdRange(T *__restrict theta, T *__restrict undo, T *__restrict m1, size_t i0,
                     size_t i1, T h, T mu) {
  int bad = 0;
  for (size_t i = i0; i < i1; ++i) {
    T m = mu * m1[i] + undo[i];
    T old = theta[i], v = old - h * m;
    m1[i] = m, undo[i] = old, theta[i] = v;
    bad |= !std::isfinite(v);
  }
  return !bad;
}
template <typename T>
inline bool adamRange(T *__restrict theta, T *__restrict undo, T *__restrict m1, T *__restrict m2,
                      size_t i0, size_t i1, T h, T b1, T b2, T c1, T c2, T eps) {
  int bad = 0;
  for (size_t i = i0; i < i1; ++i) {
    T gi = undo[i];
    T a = b1 * m1[i] + (T(1) - b1) * gi;
    T b = b2 * m2[i] + (T(1) - b2) * gi * gi;
    T old = theta[i], v = old - h * (a / c1) / (std::sqrt(b / c2) + eps);
    m1[i] = a, m2[i] = b, undo[i] = old, theta[i] = v;
    bad |= !std::isfinite(v);
  }
  return !bad;
}
/// sum of double(g[i])^2 over [i0, i1) in 32 interleaved partial sums,
/// combined in order: four independent registers of 8 doubles (with 8, one
/// register's add latency bound the loop: 2.5% of a dense MLP's step).
template <typename T> inline double squaresRange(const T *__restrict g, size_t i0, size_t i1) {
  constexpr int parts = 32;
  double part[parts] = {};
  size_t i = i0;
  for (; i + parts <= i1; i += parts)
    for (int l = 0; l < parts; ++l)
      part[l] += double(g[i + l]) * double(g[i + l]);
  for (; i < i1; ++i)
    part[0] += double(g[i]) * double(g[i]);
  double s = 0;
  for (double p : part)
    s += p;
  return s;
}

#define RSLC_UPDATES(T)                                                                      \
  RSLC_CLONES bool eulerChunk(T *theta, T *undo, size_t i0, size_t i1, T h) {               \
    return eulerRange(theta, undo, i0, i1, h);                                               \
  }                                                                                          \
  RSLC_CLONES bool sgdChunk(T *theta, T *undo, T *m1, size_t i0, size_t i1, T h, T mu) {    \
    return sgdRange(theta, undo, m1, i0, i1, h, mu);                                         \
  }                                                                                          \
  RSLC_CLONES bool adamChunk(T *theta, T *undo, T *m1, T *m2, size_t i0, size_t i1, T h,    \
                             T b1, T b2, T c1, T c2, T eps) {                                \
    return adamRange(theta, undo, m1, m2, i0, i1, h, b1, b2, c1, c2, eps);                   \
  }                                                                                          \
  RSLC_CLONES double squaresChunk(const T *g, size_t i0, size_t i1) {                       \
    return squaresRange(g, i0, i1);                                                          \
  }
RSLC_UPDATES(float)
RSLC_UPDATES(double)
#undef RSLC_UPDATES
#undef RSLC_CLONES

/// body(i0, i1) over fixed chunks of [0, P), on the team when there are
/// several; whether every call returned true.
template <typename Body> bool forChunks(size_t P, Body body) {
  const size_t chunks = (P + chunkSize - 1) / chunkSize;
  bool finite = true;
#pragma omp parallel for schedule(static) reduction(&& : finite) if (chunks > 1)
  for (size_t c = 0; c < chunks; ++c)
    finite = body(c * chunkSize, std::min(P, (c + 1) * chunkSize)) && finite;
  return finite;
}

/// sum over [0, P) of double(g[i])^2, the same on any thread count.
template <typename T> double sumSquares(const T *g, size_t P) {
  const size_t chunks = (P + chunkSize - 1) / chunkSize;
  double partial[64];
  std::vector<double> more;
  double *part = chunks <= 64 ? partial : (more.assign(chunks, 0.0), more.data());
#pragma omp parallel for schedule(static) if (chunks > 1)
  for (size_t c = 0; c < chunks; ++c)
    part[c] = squaresChunk(g, c * chunkSize, std::min(P, (c + 1) * chunkSize));
  double total = 0;
  for (size_t c = 0; c < chunks; ++c)
    total += part[c];
  return total;
}

template <typename T> class Trainer {
public:
  Trainer(ModelBase &model, const rslc_train_options &o, const void *x, const void *t, int64_t n,
          const void *xTest, const void *tTest, int64_t nTest)
      : model(model), o(o), x(x), t(t), n(n), xTest(xTest), tTest(tTest), nTest(nTest),
        start(std::chrono::steady_clock::now()),
        theta(static_cast<T *>(model.array(ModelBase::Array::Params))),
        grad(static_cast<T *>(model.array(ModelBase::Array::Grads))),
        P(model.graph().numParams) {}

  rslc_metrics run() {
    ModelBase::TrainState &s = model.train;
    if (s.integrator >= 0 && s.integrator != o.integrator)
      throw Error{RSLC_ERROR_OPTION, "the model's optimiser state is for integrator " +
                                         std::to_string(s.integrator) +
                                         "; resume with the same integrator (or a fresh model)"};
    s.integrator = o.integrator;
    if (s.stepSize <= 0)
      s.stepSize = o.step_size;
    // SGD without momentum keeps no velocity (a later run with momentum
    // starts it from zero, as PyTorch starts its buffer from the gradient).
    const bool velocity = o.integrator == RSLC_SGD && o.momentum != 0;
    model.setMoments(velocity ? 1 : o.integrator == RSLC_ADAM ? 2 : 0);
    m1 = static_cast<T *>(model.array(ModelBase::Array::Moment1));
    m2 = static_cast<T *>(model.array(ModelBase::Array::Moment2));
    if (o.integrator == RSLC_RK4 || o.integrator == RSLC_ADAPTIVE)
      for (std::vector<T> *v : {&base, &k1, &k2, &k3})
        v->assign(P, T(0));
    if (o.allreduce)
      sums.assign(P + 3, 0.0);
    const int64_t stepsPerEpoch = minibatch() ? (n + o.batch_size - 1) / o.batch_size : 1;
    rslc_metrics last{};
    for (int64_t k = 0;; ++k) {
      bool logNow = o.log_every > 0 && k % o.log_every == 0;
      bool outOfTime = o.time_budget > 0 && elapsed() >= o.time_budget;
      if (o.allreduce) { // stop when any process asks; all learn it together
        stopVote = outOfTime || stopRequested;
        outOfTime = agreedStop;
      }
      bool end = k >= o.max_steps || outOfTime;
      // The gradient of this step: the whole training set (full batch), or
      // the step's mini-batch, which the running averages then include.
      double L = NAN;
      if (!end || !minibatch()) {
        int64_t right = 0;
        L = minibatch() ? lossGrad(batchRows(stepsPerEpoch), &right) : lossGrad({}, &right);
        double gg = sumSquares(grad, P);
        if (!std::isfinite(L) || !std::isfinite(gg))
          fail(L);
        if (!minibatch()) // full batch: the metrics are this step's
          run_ = Running{};
        run_.add(L, gg, double(right), double(minibatch() ? o.batch_size : n));
      }
      bool done = end || (!minibatch() && o.target_loss > 0 && L < o.target_loss);
      if (done || logNow) {
        last = metrics(done, stepsPerEpoch);
        if (minibatch() && o.target_loss > 0 && last.loss < o.target_loss)
          done = true;
        if (o.callback && o.callback(&last, o.user)) {
          stopRequested = true;
          done = done || !o.allreduce;
        }
      }
      if (done)
        break;
      step(L);
      ++s.step;
    }
    model.forgetForward();
    return last;
  }

private:
  bool minibatch() const {
    return (o.integrator == RSLC_SGD || o.integrator == RSLC_ADAM) && o.batch_size > 0 &&
           o.batch_size < n;
  }
  double elapsed() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }

  [[noreturn]] void fail(double L) {
    char loss[32];
    std::snprintf(loss, sizeof loss, "%g", L);
    throw Error{RSLC_ERROR_NUMERIC,
                "training diverged at step " + std::to_string(model.train.step) +
                    (std::isfinite(L) ? ": the gradient overflowed (loss " + std::string(loss) + ")"
                                      : ": the loss is " + std::string(loss)) +
                    "; the parameters are restored to the last finite step"};
  }

  /// L(theta) on rows `rows` of the training set (all if empty), plus weight
  /// decay; the gradient in `grad`; right answers (cross-entropy) in *right.
  double lossGrad(const std::vector<int64_t> &rows, int64_t *right) {
    model.forgetForward();
    double L;
    int64_t count = rows.empty() ? n : int64_t(rows.size());
    try {
      L = model.lossGrad(x, t, n, rows, Loss(o.loss), true, right);
    } catch (const Error &e) {
      if (e.status != RSLC_ERROR_NUMERIC)
        throw;
      if (!o.allreduce)
        fail(NAN); // nothing changed since the last finite step
      L = NAN;     // the others learn of it through the sum
      std::fill(grad, grad + P, T(NAN));
    }
    if (o.allreduce)
      L = sumOverProcesses(L, count);
    if (o.weight_decay > 0) {
      const T wd = T(o.weight_decay);
      forParams(P, [&](size_t i) {
        grad[i] += wd * theta[i];
        return true;
      });
      L += 0.5 * o.weight_decay * sumSquares(theta, P);
    }
    return L;
  }

  /// Data-parallel: the mean loss and gradient over every process's samples
  /// (each process passes its own mean over `count` samples); also shares
  /// the stop votes. Identical on every process. (Right answers are summed
  /// with the other metrics, at logs.)
  double sumOverProcesses(double L, int64_t count) {
    for (size_t i = 0; i < P; ++i)
      sums[i] = double(grad[i]) * double(count);
    sums[P] = L * double(count), sums[P + 1] = double(count), sums[P + 2] = stopVote;
    allreduce(sums.data(), sums.size());
    double total = sums[P + 1];
    for (size_t i = 0; i < P; ++i)
      grad[i] = T(sums[i] / total);
    agreedStop = sums[P + 2] > 0;
    return sums[P] / total;
  }

  void allreduce(double *values, size_t count) {
    if (o.allreduce(values, int64_t(count), o.allreduce_user))
      throw Error{RSLC_ERROR_OPTION, "the allreduce callback failed"};
  }

  /// The rows of mini-batch `k` of an epoch: a seeded permutation per epoch.
  std::vector<int64_t> batchRows(int64_t stepsPerEpoch) {
    int64_t epoch = model.train.step / stepsPerEpoch, k = model.train.step % stepsPerEpoch;
    if (epoch != permEpoch) {
      perm = lift::permutation(n, lift::streamKey(o.shuffle_seed, 0x5e1ec7, epoch));
      permEpoch = epoch;
    }
    int64_t b0 = k * o.batch_size, b1 = std::min(n, b0 + o.batch_size);
    return {perm.begin() + b0, perm.begin() + b1};
  }

  /// Runs an element-wise update chunk(i0, i1) that leaves the old
  /// parameters in `grad`; if a new value is not finite, every parameter is
  /// restored and training stops (the loss and gradient were finite: an
  /// update overflowed).
  template <typename Chunk> void update(Chunk chunk) {
    if (!forChunks(P, chunk)) {
      std::copy(grad, grad + P, theta);
      fail(NAN);
    }
  }

  void step(double L) {
    ModelBase::TrainState &s = model.train;
    const T h = T(o.step_size);
    switch (o.integrator) {
    case RSLC_EULER:
      update([&](size_t i0, size_t i1) { return eulerChunk(theta, grad, i0, i1, h); });
      s.flowTime += o.step_size;
      return;
    case RSLC_RK4:
      return rk4();
    case RSLC_ADAPTIVE:
      return adaptiveStep(L);
    case RSLC_SGD: {
      const T mu = T(o.momentum);
      if (mu == 0) // the same values: mu * m1 + g = g
        update([&](size_t i0, size_t i1) { return eulerChunk(theta, grad, i0, i1, h); });
      else
        update([&](size_t i0, size_t i1) { return sgdChunk(theta, grad, m1, i0, i1, h, mu); });
      s.flowTime += o.step_size;
      return;
    }
    case RSLC_ADAM: {
      double t1 = double(s.step + 1);
      const T b1 = T(o.beta1), b2 = T(o.beta2), eps = T(o.epsilon);
      const T c1 = T(1 - std::pow(o.beta1, t1)), c2 = T(1 - std::pow(o.beta2, t1));
      update([&](size_t i0, size_t i1) {
        return adamChunk(theta, grad, m1, m2, i0, i1, h, b1, b2, c1, c2, eps);
      });
      s.flowTime += o.step_size;
      return;
    }
    default: // checked by rslc_train
      break;
    }
    throw Error{RSLC_ERROR_OPTION, "unknown integrator " + std::to_string(int(o.integrator))};
  }

  /// theta = base + a * k (the parameters at a stage), then the gradient there.
  double stage(T a, const std::vector<T> &k) {
    forParams(P, [&](size_t i) {
      theta[i] = base[i] + a * k[i];
      return true;
    });
    return lossGrad({}, nullptr);
  }

  /// The gradient is the first slope; the others are evaluated at stages
  /// from `base`, the parameters at the start of the step.
  void rk4() {
    const T h = T(o.step_size);
    std::copy(theta, theta + P, base.data());
    std::copy(grad, grad + P, k1.data());
    stageOrFail(stage(-h / 2, k1));
    std::copy(grad, grad + P, k2.data());
    stageOrFail(stage(-h / 2, k2));
    std::copy(grad, grad + P, k3.data());
    stageOrFail(stage(-h, k3)); // k4 stays in grad
    bool finite = forParams(P, [&](size_t i) {
      theta[i] = base[i] - h / 6 * (k1[i] + 2 * k2[i] + 2 * k3[i] + grad[i]);
      return std::isfinite(theta[i]);
    });
    if (!finite)
      stageOrFail(NAN);
    model.train.flowTime += o.step_size;
  }

  /// A stage whose loss is not finite: back to the step's start, and stop.
  void stageOrFail(double L) {
    if (std::isfinite(L))
      return;
    std::copy(base.begin(), base.end(), theta);
    fail(L);
  }

  /// Bogacki-Shampine 3(2): an embedded pair estimates the local error;
  /// steps are retried with a smaller h until the error is within tolerance.
  void adaptiveStep(double) {
    ModelBase::TrainState &s = model.train;
    std::copy(theta, theta + P, base.data());
    std::copy(grad, grad + P, k1.data());
    for (int attempt = 0; attempt < 60; ++attempt) {
      const double hd = s.stepSize;
      const T h = T(hd);
      double L2 = stage(-h / 2, k1);
      std::copy(grad, grad + P, k2.data());
      double L3 = stage(-3 * h / 4, k2);
      std::copy(grad, grad + P, k3.data());
      // y3 into theta, its slope k4 into grad
      forParams(P, [&](size_t i) {
        theta[i] = base[i] - h * (T(2.0 / 9) * k1[i] + T(1.0 / 3) * k2[i] + T(4.0 / 9) * k3[i]);
        return true;
      });
      double L4 = lossGrad({}, nullptr);
      double err = 0;
      if (std::isfinite(L2) && std::isfinite(L3) && std::isfinite(L4)) {
        const size_t chunks = (P + chunkSize - 1) / chunkSize;
        std::vector<double> part(chunks, 0.0);
#pragma omp parallel for schedule(static) if (chunks > 1)
        for (size_t c = 0; c < chunks; ++c)
          for (size_t i = c * chunkSize, end = std::min(P, (c + 1) * chunkSize); i < end; ++i) {
            double y3 = double(theta[i]);
            double y2 = double(base[i]) - hd * (7.0 / 24 * double(k1[i]) + 0.25 * double(k2[i]) +
                                                1.0 / 3 * double(k3[i]) + 0.125 * double(grad[i]));
            double scale = o.tolerance * (1 + std::max(std::fabs(double(base[i])), std::fabs(y3)));
            part[c] = std::max(part[c], std::fabs(y3 - y2) / scale);
          }
        for (double e : part)
          err = std::max(err, e);
      } else {
        err = HUGE_VAL;
      }
      double factor = err > 0 ? 0.9 * std::pow(1 / err, 1.0 / 3) : 5.0;
      if (std::isfinite(L4) && err <= 1) { // accepted: theta holds y3
        s.flowTime += hd;
        s.stepSize = hd * std::clamp(factor, 0.2, 5.0);
        return;
      }
      s.stepSize = hd * std::clamp(std::isfinite(factor) ? factor : 0.2, 0.1, 0.9);
    }
    std::copy(base.begin(), base.end(), theta);
    throw Error{RSLC_ERROR_NUMERIC, "the adaptive integrator could not meet the tolerance (step size " +
                                        std::to_string(s.stepSize) + ")"};
  }

  /// Running sums over the steps since the last log.
  struct Running {
    double loss = 0, gradSq = 0, right = 0, samples = 0;
    int64_t steps = 0;
    void add(double L, double gg, double r, double count) {
      loss += L, gradSq += gg, right += r, samples += count, ++steps;
    }
  } run_;

  /// The metrics of a log. The test set is evaluated at every log of a
  /// full-batch method; for mini-batches, at the first log, once an epoch
  /// of steps has passed since the last evaluation, and at the end (its
  /// metrics are NaN at the other logs): a pass over a large test set at
  /// every log would cost more than the training.
  rslc_metrics metrics(bool final, int64_t stepsPerEpoch) {
    rslc_metrics m{};
    m.step = model.train.step;
    m.flow_time = model.train.flowTime;
    m.test_loss = m.accuracy = m.test_accuracy = NAN;
    const bool ce = o.loss == RSLC_LOSS_CROSS_ENTROPY;
    double steps = double(std::max<int64_t>(run_.steps, 1));
    m.loss = run_.steps ? run_.loss / steps : NAN;
    m.grad_norm = run_.steps ? std::sqrt(run_.gradSq / steps) : NAN;
    // Sums over processes (one process: these sums): right answers and
    // samples on the training set, test loss x samples, right answers and
    // samples on the test set.
    double sums[5] = {run_.right, run_.samples, 0, 0, 0};
    if (o.train_eval && minibatch()) { // the whole training set, as asked
      int64_t right = 0;
      model.forgetForward();
      m.loss = model.lossGrad(x, t, n, {}, Loss(o.loss), false, &right);
      sums[0] = double(right), sums[1] = double(n);
    }
    const int64_t step = model.train.step;
    const bool testNow = !minibatch() || final || lastTest < 0 || step - lastTest >= stepsPerEpoch;
    if (nTest > 0 && testNow) {
      lastTest = step;
      int64_t right = 0;
      sums[2] = double(nTest) * model.lossGrad(xTest, tTest, nTest, {}, Loss(o.loss), false, &right);
      sums[3] = double(right), sums[4] = double(nTest);
      model.forgetForward();
    }
    if (o.allreduce)
      allreduce(sums, 5);
    if (ce && sums[1] > 0)
      m.accuracy = sums[0] / sums[1];
    if (sums[4] > 0) {
      m.test_loss = sums[2] / sums[4];
      if (ce)
        m.test_accuracy = sums[3] / sums[4];
    }
    run_ = Running{};
    m.param_norm = std::sqrt(sumSquares(theta, P));
    m.grad_ratio = m.loss > 0 ? m.grad_norm * m.grad_norm / m.loss : NAN;
    m.step_size = o.integrator == RSLC_ADAPTIVE ? model.train.stepSize : o.step_size;
    m.wall_seconds = elapsed();
    m.diverging = divergence(m);
    return m;
  }

  /// The divergence detector (seed 003), for full-batch training on the
  /// squared error: a problem without an optimum is minimised by parameters
  /// escaping to infinity, |theta| growing like a power of the time t while
  /// the loss decreases like one; a converging run's |theta| settles. At a
  /// log, the trend holds when, over the logs of [t/4, t] (at least 5, t at
  /// least 100 steps' time), the least-squares slope of log |theta| against
  /// log t is at least `divergenceSlope` and the loss fell, by less than
  /// 10x (a power law: LU 2.6x); it fires once the trend has held at every
  /// log of [t/2, t] (an early transient of a converging run, where |theta|
  /// still moves, does not last a doubling of t). Cross-entropy is left
  /// out: on separable data its infimum is at infinity too, and every
  /// classifier's |theta| grows.
  static constexpr double divergenceSlope = 0.05;
  bool divergence(const rslc_metrics &m) {
    const ModelBase::TrainState &s = model.train;
    if (minibatch() || o.loss != RSLC_LOSS_MSE)
      return false;
    double t = s.flowTime > 0 ? s.flowTime : double(s.step);
    if (!(t > 0) || !(m.param_norm > 0) || !std::isfinite(m.loss))
      return false;
    history.push_back({t, m.param_norm, m.loss, false});
    size_t first = history.size();
    while (first > 0 && history[first - 1].t >= t / 4)
      --first;
    const size_t count = history.size() - first;
    const double minT = s.flowTime > 0 ? 100 * o.step_size : 100;
    const double L0 = history[first].loss;
    if (count < 5 || t < minT || L0 < m.loss || m.loss < 0.1 * L0)
      return false;
    double mx = 0, my = 0;
    for (size_t i = first; i < history.size(); ++i)
      mx += std::log(history[i].t), my += std::log(history[i].norm);
    mx /= double(count), my /= double(count);
    double sxy = 0, sxx = 0;
    for (size_t i = first; i < history.size(); ++i) {
      double dx = std::log(history[i].t) - mx;
      sxy += dx * (std::log(history[i].norm) - my), sxx += dx * dx;
    }
    history.back().trend = sxx > 0 && sxy / sxx >= divergenceSlope;
    // Held at every log since t/2, and at one before it (a whole doubling).
    size_t i = history.size();
    while (i > 0 && history[i - 1].t >= t / 2) {
      if (!history[i - 1].trend)
        return false;
      --i;
    }
    return i > 0 && history[i - 1].trend;
  }

  ModelBase &model;
  const rslc_train_options &o;
  const void *x, *t;
  int64_t n;
  const void *xTest, *tTest;
  int64_t nTest;
  std::chrono::steady_clock::time_point start;
  T *theta, *grad, *m1 = nullptr, *m2 = nullptr;
  const size_t P;
  /// Runge-Kutta: the parameters at the step's start and the slopes.
  std::vector<T> base, k1, k2, k3;
  std::vector<double> sums; ///< data-parallel sums (P + 3)
  std::vector<int64_t> perm;
  int64_t permEpoch = -1;
  int64_t lastTest = -1; ///< the step of the last test-set evaluation
  struct Logged {
    double t, norm, loss;
    bool trend; ///< the divergence trend held at this log
  };
  std::vector<Logged> history; ///< at every log: time, |theta|, loss
  // Stop votes: this process's (out of time, or the callback asked), and
  // the agreement of all processes at the last sum.
  bool stopRequested = false, agreedStop = false;
  double stopVote = 0;
};

} // namespace

rslc_metrics train(ModelBase &model, const rslc_train_options &o, const void *x, const void *t,
                   int64_t n, const void *xTest, const void *tTest, int64_t nTest) {
  if (model.realBytes() == 8)
    return Trainer<double>(model, o, x, t, n, xTest, tTest, nTest).run();
  return Trainer<float>(model, o, x, t, n, xTest, tTest, nTest).run();
}

} // namespace rslc::rt
