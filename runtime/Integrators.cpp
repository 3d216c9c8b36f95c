//===- Integrators.cpp - gradient flow and its practical cousins -----------===//
//
// The integrators work on the parameters as doubles. L(theta) is the mean
// loss plus weight_decay/2 |theta|^2. The optimiser state (step, flow time,
// adaptive step size, momenta) lives in the model, so training resumed from
// a checkpoint takes exactly the steps an uninterrupted run would.
//
//===----------------------------------------------------------------------===//
#include "Integrators.h"

#include "core/Random.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <numeric>

namespace rslc::rt {

namespace {

double norm(const std::vector<double> &v) {
  double s = 0;
  for (double x : v)
    s += x * x;
  return std::sqrt(s);
}

/// theta + h * k
void axpy(std::vector<double> &out, const std::vector<double> &theta, double h,
          const std::vector<double> &k) {
  out.resize(theta.size());
  for (size_t i = 0; i < theta.size(); ++i)
    out[i] = theta[i] + h * k[i];
}

class Trainer {
public:
  Trainer(ModelBase &model, const rslc_train_options &o, const void *x, const void *t, int64_t n,
          const void *xTest, const void *tTest, int64_t nTest)
      : model(model), o(o), x(x), t(t), n(n), xTest(xTest), tTest(tTest), nTest(nTest),
        start(std::chrono::steady_clock::now()) {}

  rslc_metrics run() {
    ModelBase::TrainState &s = model.train;
    if (s.integrator >= 0 && s.integrator != o.integrator)
      throw Error{RSLC_ERROR_OPTION, "the model's optimiser state is for integrator " + std::to_string(s.integrator) +
                         "; resume with the same integrator (or a fresh model)"};
    s.integrator = o.integrator;
    if (s.stepSize <= 0)
      s.stepSize = o.step_size;
    model.paramsToDouble(theta);
    int64_t stepsPerEpoch = minibatch() ? (n + o.batch_size - 1) / o.batch_size : 1;
    rslc_metrics last{};
    for (int64_t k = 0;; ++k) {
      // Full-data loss and gradient: every step for gradient flow; at logged
      // steps and at the end for mini-batch methods (which check the target
      // loss there).
      bool logNow = o.log_every > 0 && k % o.log_every == 0;
      bool outOfTime = o.time_budget > 0 && elapsed() >= o.time_budget;
      if (o.allreduce) { // stop when any process asks; all learn it together
        stopVote = outOfTime || stopRequested;
        outOfTime = agreedStop;
      }
      bool needFull = !minibatch() || logNow || k >= o.max_steps || outOfTime;
      double L = NAN;
      if (needFull) {
        L = fullLossGrad(theta, g);
        if (!std::isfinite(L) || !std::isfinite(norm(g)))
          fail(L);
      }
      bool done = k >= o.max_steps || outOfTime || (needFull && o.target_loss > 0 && L < o.target_loss);
      if (done || logNow) {
        last = metrics(L);
        if (o.callback && o.callback(&last, o.user)) {
          stopRequested = true;
          done = done || !o.allreduce;
        }
      }
      if (done)
        break;
      good = theta;
      step(stepsPerEpoch);
      if (!std::all_of(theta.begin(), theta.end(), [](double v) { return std::isfinite(v); }))
        fail(NAN);
      // The model's parameters (float or double) are the state: round to
      // them, so a run resumed from a checkpoint continues identically.
      model.paramsFromDouble(theta);
      model.paramsToDouble(theta);
      ++s.step;
    }
    model.paramsFromDouble(theta);
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
    if (!good.empty())
      model.paramsFromDouble(good);
    char loss[32];
    std::snprintf(loss, sizeof loss, "%g", L);
    throw Error{RSLC_ERROR_NUMERIC, "training diverged at step " + std::to_string(model.train.step) +
                       (std::isfinite(L) ? ": the gradient overflowed (loss " + std::string(loss) + ")"
                                         : ": the loss is " + std::string(loss)) +
                       "; the parameters are restored to the last finite step"};
  }

  /// L(theta) on the whole training set (plus weight decay), gradient in g.
  double fullLossGrad(const std::vector<double> &th, std::vector<double> &grad,
                      const std::vector<int64_t> &rows = {}) {
    model.paramsFromDouble(th);
    double L;
    int64_t count = rows.empty() ? n : int64_t(rows.size());
    try {
      L = model.lossGrad(x, t, n, rows, Loss(o.loss), &grad, nullptr);
    } catch (const Error &e) {
      if (e.status != RSLC_ERROR_NUMERIC)
        throw;
      if (!o.allreduce)
        fail(NAN); // restores the last finite parameters
      L = NAN; // the others learn of it through the sum
      grad.assign(th.size(), NAN);
    }
    if (o.allreduce)
      L = sumOverProcesses(L, count, grad);
    if (o.weight_decay > 0) {
      double sq = 0;
      for (size_t i = 0; i < th.size(); ++i) {
        grad[i] += o.weight_decay * th[i];
        sq += th[i] * th[i];
      }
      L += 0.5 * o.weight_decay * sq;
    }
    return L;
  }

  /// Data-parallel: the mean loss and gradient over every process's samples
  /// (each process passes its own mean over `count` samples). Also shares
  /// the stop votes. Identical on every process.
  double sumOverProcesses(double L, int64_t count, std::vector<double> &grad) {
    const size_t P = grad.size();
    std::vector<double> sums(P + 3);
    for (size_t i = 0; i < P; ++i)
      sums[i] = grad[i] * double(count);
    sums[P] = L * double(count), sums[P + 1] = double(count), sums[P + 2] = stopVote;
    allreduce(sums);
    double total = sums[P + 1];
    for (size_t i = 0; i < P; ++i)
      grad[i] = sums[i] / total;
    agreedStop = sums[P + 2] > 0;
    return sums[P] / total;
  }

  void allreduce(std::vector<double> &values) {
    if (o.allreduce(values.data(), int64_t(values.size()), o.allreduce_user))
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

  void step(int64_t stepsPerEpoch) {
    ModelBase::TrainState &s = model.train;
    const double h = o.step_size;
    const size_t P = theta.size();
    switch (o.integrator) {
    case RSLC_EULER:
      axpy(theta, theta, -h, g);
      s.flowTime += h;
      return;
    case RSLC_RK4: {
      std::vector<double> k2, k3, k4, tmp;
      axpy(tmp, theta, -h / 2, g);
      fullLossGrad(tmp, k2);
      axpy(tmp, theta, -h / 2, k2);
      fullLossGrad(tmp, k3);
      axpy(tmp, theta, -h, k3);
      fullLossGrad(tmp, k4);
      for (size_t i = 0; i < P; ++i)
        theta[i] -= h / 6 * (g[i] + 2 * k2[i] + 2 * k3[i] + k4[i]);
      s.flowTime += h;
      return;
    }
    case RSLC_ADAPTIVE:
      return adaptiveStep();
    case RSLC_SGD:
    case RSLC_ADAM: {
      std::vector<double> grad = g;
      if (minibatch() && !std::isfinite(fullLossGrad(theta, grad, batchRows(stepsPerEpoch))))
        fail(NAN);
      if (s.m.size() != P)
        s.m.assign(P, 0.0), s.v.assign(o.integrator == RSLC_ADAM ? P : 0, 0.0);
      if (o.integrator == RSLC_SGD) {
        for (size_t i = 0; i < P; ++i) {
          s.m[i] = o.momentum * s.m[i] + grad[i];
          theta[i] -= h * s.m[i];
        }
      } else {
        double t1 = double(s.step + 1);
        double c1 = 1 - std::pow(o.beta1, t1), c2 = 1 - std::pow(o.beta2, t1);
        for (size_t i = 0; i < P; ++i) {
          s.m[i] = o.beta1 * s.m[i] + (1 - o.beta1) * grad[i];
          s.v[i] = o.beta2 * s.v[i] + (1 - o.beta2) * grad[i] * grad[i];
          theta[i] -= h * (s.m[i] / c1) / (std::sqrt(s.v[i] / c2) + o.epsilon);
        }
      }
      s.flowTime += h;
      return;
    }
    default: // checked by rslc_train
      break;
    }
    throw Error{RSLC_ERROR_OPTION, "unknown integrator " + std::to_string(int(o.integrator))};
  }

  /// Bogacki-Shampine 3(2): an embedded pair estimates the local error;
  /// steps are retried with a smaller h until the error is within tolerance.
  void adaptiveStep() {
    ModelBase::TrainState &s = model.train;
    const size_t P = theta.size();
    std::vector<double> k2, k3, k4, tmp, y3(P);
    for (int attempt = 0; attempt < 60; ++attempt) {
      double h = s.stepSize;
      axpy(tmp, theta, -h / 2, g);
      fullLossGrad(tmp, k2);
      axpy(tmp, theta, -3 * h / 4, k2);
      fullLossGrad(tmp, k3);
      for (size_t i = 0; i < P; ++i)
        y3[i] = theta[i] - h * (2.0 / 9 * g[i] + 1.0 / 3 * k2[i] + 4.0 / 9 * k3[i]);
      double L4 = fullLossGrad(y3, k4);
      double err = 0;
      for (size_t i = 0; i < P; ++i) {
        double y2 = theta[i] - h * (7.0 / 24 * g[i] + 0.25 * k2[i] + 1.0 / 3 * k3[i] + 0.125 * k4[i]);
        double scale = o.tolerance * (1 + std::max(std::fabs(theta[i]), std::fabs(y3[i])));
        err = std::max(err, std::fabs(y3[i] - y2) / scale);
      }
      double factor = err > 0 ? 0.9 * std::pow(1 / err, 1.0 / 3) : 5.0;
      if (std::isfinite(L4) && err <= 1) {
        theta = y3;
        s.flowTime += h;
        s.stepSize = h * std::clamp(factor, 0.2, 5.0);
        return;
      }
      s.stepSize = h * std::clamp(std::isfinite(factor) ? factor : 0.2, 0.1, 0.9);
    }
    throw Error{RSLC_ERROR_NUMERIC, "the adaptive integrator could not meet the tolerance (step size " +
                       std::to_string(s.stepSize) + ")"};
  }

  rslc_metrics metrics(double L) {
    rslc_metrics m{};
    m.step = model.train.step;
    m.flow_time = model.train.flowTime;
    m.loss = L;
    m.test_loss = m.accuracy = m.test_accuracy = NAN;
    // Sums over processes (one process: these sums): right answers and
    // samples on the training set, test loss x samples, right answers and
    // samples on the test set.
    std::vector<double> sums(5, 0.0);
    if (o.loss == RSLC_LOSS_CROSS_ENTROPY || nTest > 0) // evaluations at theta follow
      model.paramsFromDouble(theta);
    if (o.loss == RSLC_LOSS_CROSS_ENTROPY && n > 0) {
      int64_t right = 0;
      model.lossGrad(x, t, n, {}, Loss(o.loss), nullptr, &right);
      sums[0] = double(right), sums[1] = double(n);
    }
    if (nTest > 0) {
      int64_t right = 0;
      sums[2] = double(nTest) * model.lossGrad(xTest, tTest, nTest, {}, Loss(o.loss), nullptr, &right);
      sums[3] = double(right), sums[4] = double(nTest);
    }
    if (o.allreduce)
      allreduce(sums);
    if (sums[1] > 0)
      m.accuracy = sums[0] / sums[1];
    if (sums[4] > 0) {
      m.test_loss = sums[2] / sums[4];
      if (o.loss == RSLC_LOSS_CROSS_ENTROPY)
        m.test_accuracy = sums[3] / sums[4];
    }
    m.param_norm = norm(theta);
    m.grad_norm = norm(g);
    m.grad_ratio = L > 0 ? m.grad_norm * m.grad_norm / L : NAN;
    m.step_size = o.integrator == RSLC_ADAPTIVE ? model.train.stepSize : o.step_size;
    m.wall_seconds = elapsed();
    // Divergence: over the last 5 logs the norm doubled, the loss fell < 1%.
    history.push_back({m.param_norm, L});
    if (history.size() > 5) {
      auto [n0, l0] = history[history.size() - 6];
      m.diverging = m.param_norm > 2 * n0 && L > 0.99 * l0;
    }
    return m;
  }

  ModelBase &model;
  const rslc_train_options &o;
  const void *x, *t;
  int64_t n;
  const void *xTest, *tTest;
  int64_t nTest;
  std::chrono::steady_clock::time_point start;
  std::vector<double> theta, g, good;
  std::vector<int64_t> perm;
  int64_t permEpoch = -1;
  std::vector<std::pair<double, double>> history;
  // Stop votes: this process's (out of time, or the callback asked), and
  // the agreement of all processes at the last sum.
  bool stopRequested = false, agreedStop = false;
  double stopVote = 0;
};

} // namespace

rslc_metrics train(ModelBase &model, const rslc_train_options &o, const void *x, const void *t,
                   int64_t n, const void *xTest, const void *tTest, int64_t nTest) {
  return Trainer(model, o, x, t, n, xTest, tTest, nTest).run();
}

} // namespace rslc::rt
