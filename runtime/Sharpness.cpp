//===- Sharpness.cpp - Lanczos on Hessian-vector products -----------------===//
//
// Gradient flow is stiff: explicit Euler follows it only for steps below
// 2 / lambda_max, lambda_max the Hessian's largest eigenvalue (the
// sharpness), and lambda_max grows with the lift's width (docs/runtime.md,
// "Step sizes"). This estimates it by the Lanczos iteration: k Hessian-vector
// products span a Krylov space whose tridiagonal matrix T_k has, as its
// largest eigenvalue, an estimate of lambda_max from below that converges
// much faster than power iteration, and to the largest eigenvalue, not to
// the one of largest magnitude (which at a saddle, or with a mean readout of
// a wide lift, is negative). No reorthogonalisation: three vectors of
// memory; lost orthogonality only repeats converged eigenvalues. Each
// Hessian-vector product is a central difference of exact gradients,
//     H v = (grad L(theta + e v) - grad L(theta - e v)) / (2 e) + O(e^2),
// with |v| = 1 and e = stepScale (1 + |theta|): two gradient evaluations
// over the data per product. (Exact forward-over-reverse products would
// need second-order kernels.) The differences are formed in double
// precision from the model's own gradients.
//===----------------------------------------------------------------------===//
#include "Sharpness.h"

#include "core/Random.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace rslc::rt {

namespace {

/// The difference step relative to 1 + |theta|. ReLU networks' gradients
/// jump where a unit changes sign: a difference that straddles such a kink
/// adds about (jump / step) to the product, so tiny steps (the usual
/// sqrt(machine epsilon)) give wild estimates (-1500 to 3000 where the
/// sharpness is 4 to 6); at 1e-3 many small kinks average out (within 2%
/// of 1e-2), and for smooth activations the O(step^2) error stays near
/// 1e-4 relative (against the eigenvalue of a dense Hessian, python/tests).
constexpr double stepScale = 1e-3;

/// The largest eigenvalue of the symmetric tridiagonal matrix with diagonal
/// a and off-diagonal b (b[i] joins i and i + 1), by bisection on Sturm
/// counts within Gershgorin's bounds.
double largestTridiagonal(const std::vector<double> &a, const std::vector<double> &b) {
  const size_t k = a.size();
  double lo = a[0], hi = a[0];
  for (size_t i = 0; i < k; ++i) {
    double r = (i > 0 ? std::fabs(b[i - 1]) : 0) + (i + 1 < k ? std::fabs(b[i]) : 0);
    lo = std::min(lo, a[i] - r), hi = std::max(hi, a[i] + r);
  }
  auto below = [&](double x) { // eigenvalues < x
    size_t count = 0;
    double d = 1;
    for (size_t i = 0; i < k; ++i) {
      d = a[i] - x - (i > 0 ? b[i - 1] * b[i - 1] / d : 0);
      if (d == 0)
        d = 1e-300;
      count += d < 0;
    }
    return count;
  };
  for (int it = 0; it < 200 && hi - lo > 1e-12 * std::max(1.0, std::fabs(hi)); ++it) {
    double mid = 0.5 * (lo + hi);
    (below(mid) < k ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

template <typename T>
double lanczos(ModelBase &model, const void *x, const void *target, int64_t n, Loss loss,
               int64_t iterations, uint64_t seed) {
  const size_t P = model.graph().numParams;
  T *theta = static_cast<T *>(model.array(ModelBase::Array::Params));
  T *grad = static_cast<T *>(model.array(ModelBase::Array::Grads));
  const std::vector<T> base(theta, theta + P), savedGrad(grad, grad + P);
  struct Restore { // whatever way this ends
    ModelBase &model;
    T *theta, *grad;
    const std::vector<T> &base, &savedGrad;
    ~Restore() {
      std::copy(base.begin(), base.end(), theta);
      std::copy(savedGrad.begin(), savedGrad.end(), grad);
      model.forgetForward();
    }
  } restore{model, theta, grad, base, savedGrad};

  double thetaNorm = 0;
  for (T t : base)
    thetaNorm += double(t) * double(t);
  const double e = stepScale * (1 + std::sqrt(thetaNorm));

  std::vector<double> v(P), previous(P, 0.0), plus(P), w(P);
  const uint64_t key = lift::streamKey(seed, 0x5ba7e55);
  double norm = 0;
  for (size_t i = 0; i < P; ++i) {
    v[i] = lift::normal(lift::draw(key, 2 * i), lift::draw(key, 2 * i + 1));
    norm += v[i] * v[i];
  }
  for (double &vi : v)
    vi /= std::sqrt(norm);

  auto gradientAt = [&](double sign, std::vector<double> *out) {
    for (size_t i = 0; i < P; ++i)
      theta[i] = T(double(base[i]) + sign * e * v[i]);
    model.forgetForward();
    model.lossGrad(x, target, n, {}, loss, true, nullptr);
    if (out)
      for (size_t i = 0; i < P; ++i)
        (*out)[i] = double(grad[i]);
  };
  std::vector<double> alpha, beta; // T_k: diagonal, off-diagonal
  double lambda = 0;
  for (int64_t it = 0; it < iterations && size_t(it) < P; ++it) {
    gradientAt(+1, &plus);
    gradientAt(-1, nullptr);
    double a = 0;
    for (size_t i = 0; i < P; ++i) {
      w[i] = (plus[i] - double(grad[i])) / (2 * e); // H v
      a += w[i] * v[i];
    }
    if (!std::isfinite(a))
      throw Error{RSLC_ERROR_NUMERIC, "rslc_sharpness: a gradient is not finite"};
    const double b = beta.empty() ? 0 : beta.back();
    double next = 0;
    for (size_t i = 0; i < P; ++i) {
      w[i] -= a * v[i] + b * previous[i];
      next += w[i] * w[i];
    }
    alpha.push_back(a);
    const double last = lambda;
    lambda = largestTridiagonal(alpha, beta);
    next = std::sqrt(next);
    // An invariant subspace (next ~ 0) holds the estimate exactly.
    if (!(next > 1e-12 * std::max(1.0, std::fabs(lambda))) ||
        (it > 1 && std::fabs(lambda - last) <= 1e-5 * std::fabs(lambda)))
      break;
    beta.push_back(next);
    previous.swap(v);
    for (size_t i = 0; i < P; ++i)
      v[i] = w[i] / next;
  }
  return lambda;
}

} // namespace

double sharpness(ModelBase &model, const void *x, const void *target, int64_t n, Loss loss,
                 int64_t iterations, uint64_t seed) {
  return model.realBytes() == 8 ? lanczos<double>(model, x, target, n, loss, iterations, seed)
                                : lanczos<float>(model, x, target, n, loss, iterations, seed);
}

} // namespace rslc::rt
