//===- Losses.cpp - mean squared error and softmax cross-entropy -----------===//
//
// Losses are summed in double in sample order, so the result does not
// depend on the thread count. Cross-entropy subtracts the row's maximum
// before exponentiating.
//
//===----------------------------------------------------------------------===//
#include "Losses.h"

#include "Model.h"

#include "core/Targets.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace rslc::rt {

template <typename T> void requireFinite(const T *a, int64_t n, const char *what) {
  for (int64_t k = 0; k < n; ++k)
    if (!std::isfinite(a[k]))
      throw Error{RSLC_ERROR_NUMERIC, std::string(what) + "[" + std::to_string(k) + "] is " +
                                          std::to_string(double(a[k])) + ", not a finite number"};
}

template <typename T> void checkTargets(Loss loss, const T *target, int64_t n, int64_t outputs) {
  if (loss == Loss::Mse) {
    requireFinite(target, n * outputs, "target");
    return;
  }
  for (int64_t b = 0; b < n; ++b)
    if (std::string why = classIndexProblem(double(target[b]), outputs); !why.empty())
      throw Error{RSLC_ERROR_OPTION, "sample " + std::to_string(b) + ": cross-entropy " + why};
}

template <typename T>
double batchLoss(Loss loss, const T *y, const T *target, int64_t n, int64_t outputs, T scale,
                 T *dy, int64_t *correct) {
  double total = 0;
  for (int64_t b = 0; b < n; ++b) {
    const T *yb = &y[b * outputs];
    T *db = &dy[b * outputs];
    if (loss == Loss::Mse) {
      for (int64_t o = 0; o < outputs; ++o) {
        double r = double(yb[o]) - double(target[b * outputs + o]);
        total += 0.5 * r * r;
        db[o] = T(r) * scale;
      }
      continue;
    }
    int64_t best = std::max_element(yb, yb + outputs) - yb;
    double m = double(yb[best]), z = 0;
    for (int64_t o = 0; o < outputs; ++o)
      z += std::exp(double(yb[o]) - m);
    int64_t cls = int64_t(target[b]);
    if (correct && best == cls)
      ++*correct;
    total += -(double(yb[cls]) - m - std::log(z));
    for (int64_t o = 0; o < outputs; ++o)
      db[o] = T(std::exp(double(yb[o]) - m) / z - (o == cls ? 1.0 : 0.0)) * scale;
  }
  return total;
}

#define RSLC_INSTANTIATE(T)                                                                        \
  template void requireFinite<T>(const T *, int64_t, const char *);                                \
  template void checkTargets<T>(Loss, const T *, int64_t, int64_t);                                \
  template double batchLoss<T>(Loss, const T *, const T *, int64_t, int64_t, T, T *, int64_t *);
RSLC_INSTANTIATE(float)
RSLC_INSTANTIATE(double)
#undef RSLC_INSTANTIATE

} // namespace rslc::rt
