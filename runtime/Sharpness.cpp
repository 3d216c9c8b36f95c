//===- Sharpness.cpp - power iteration on Hessian-vector products ---------===//
//
// Gradient flow is stiff: explicit Euler follows it only for steps below
// 2 / lambda_max, lambda_max the Hessian's largest eigenvalue (the
// sharpness), and lambda_max grows with the lift's width (docs/runtime.md,
// "Step sizes"). This estimates it by power iteration. Each Hessian-vector
// product is a central difference of exact gradients,
//     H v = (grad L(theta + e v) - grad L(theta - e v)) / (2 e) + O(e^2),
// with |v| = 1 and e = stepScale (1 + |theta|): two gradient evaluations
// over the data per product. (Exact forward-over-reverse products would
// need second-order kernels.) The differences are formed in double
// precision from the model's own gradients.
//
//===----------------------------------------------------------------------===//
#include "Sharpness.h"

#include "core/Random.h"

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

template <typename T>
double powerIteration(ModelBase &model, const void *x, const void *target, int64_t n, Loss loss,
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

  std::vector<double> v(P), plus(P), hv(P);
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
  double lambda = 0;
  for (int64_t it = 0; it < iterations; ++it) {
    gradientAt(+1, &plus);
    gradientAt(-1, nullptr);
    double dot = 0, hnorm = 0;
    for (size_t i = 0; i < P; ++i) {
      hv[i] = (plus[i] - double(grad[i])) / (2 * e);
      dot += v[i] * hv[i], hnorm += hv[i] * hv[i];
    }
    if (!std::isfinite(dot) || !std::isfinite(hnorm))
      throw Error{RSLC_ERROR_NUMERIC, "rslc_sharpness: a gradient is not finite"};
    const double previous = lambda;
    lambda = dot; // the Rayleigh quotient of the unit vector v
    if (hnorm == 0)
      break; // v is in the Hessian's kernel (a linear loss in every direction tried)
    hnorm = std::sqrt(hnorm);
    for (size_t i = 0; i < P; ++i)
      v[i] = hv[i] / hnorm;
    if (it > 0 && std::fabs(lambda - previous) <= 1e-4 * std::fabs(lambda))
      break;
  }
  return lambda;
}

} // namespace

double sharpness(ModelBase &model, const void *x, const void *target, int64_t n, Loss loss,
                 int64_t iterations, uint64_t seed) {
  return model.realBytes() == 8 ? powerIteration<double>(model, x, target, n, loss, iterations, seed)
                                : powerIteration<float>(model, x, target, n, loss, iterations, seed);
}

} // namespace rslc::rt
