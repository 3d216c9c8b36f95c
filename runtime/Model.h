//===- Model.h - a lifted network in memory, and its forward/backward -----===//
#ifndef RSLC_RUNTIME_MODEL_H
#define RSLC_RUNTIME_MODEL_H

#include "core/Kinds.h"
#include "core/LiftedGraph.h"
#include "rslc.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace rslc::rt {

/// A failure the ABI reports as `status` with `message`.
struct Error {
  rslc_status status;
  std::string message;
};

/// Precision-independent interface behind the opaque rslc_model handle.
class ModelBase {
public:
  virtual ~ModelBase() = default;
  /// Builds the lifted graph of the embedded plan (seed 0: the plan's);
  /// throws Error.
  static std::unique_ptr<ModelBase> create(uint64_t seed);

  virtual void forward(const void *x, int64_t batch, void *y) = 0;
  virtual void backward(const void *dy, void *dx) = 0;
  virtual double lossAndGrad(const void *x, const void *target, int64_t batch, Loss loss) = 0;
  virtual void getParams(void *out) const = 0;
  virtual void setParams(const void *in) = 0;
  virtual void getGrads(void *out) const = 0;
  virtual void zeroGrads() = 0;

  /// The parameters as doubles (the integrators' working precision).
  virtual void paramsToDouble(std::vector<double> &out) const = 0;
  virtual void paramsFromDouble(const std::vector<double> &in) = 0;
  /// Mean loss over rows `rows` of (x, target) (all rows if empty), and its
  /// gradient as doubles unless `grad` is null; `correct` counts right
  /// classes (cross-entropy).
  virtual double lossGrad(const void *x, const void *target, int64_t n,
                          const std::vector<int64_t> &rows, Loss loss, std::vector<double> *grad,
                          int64_t *correct) = 0;
  virtual int realBytes() const = 0;

  /// Optimiser state: what a checkpoint holds besides the parameters.
  struct TrainState {
    int32_t integrator = -1; ///< -1: never trained
    int64_t step = 0;
    double flowTime = 0, stepSize = 0;
    std::vector<double> m, v; ///< momentum / Adam moments
  } train;

  int64_t inputSize = 0, outputSize = 0;
  /// The most values one sample takes in any buffer (input, output, or a
  /// vertex's copies x dim): a batch times this must fit 64-bit sizes.
  int64_t maxPerSample = 1;
  const lift::LiftedGraph &graph() const { return g; }
  std::string lastError;

protected:
  lift::LiftedGraph g;
};

} // namespace rslc::rt

#endif
