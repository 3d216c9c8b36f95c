//===- Model.h - a lifted network in memory, and its forward/backward -----===//
#ifndef RSLC_RUNTIME_MODEL_H
#define RSLC_RUNTIME_MODEL_H

#include "core/KernelContract.h"
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
  /// dy = the outputs' derivative along the parameter direction dtheta
  /// (rslc_jvp), exact, for every kind of vertex and map; throws Error.
  virtual void jvp(const void *x, int64_t batch, const void *dtheta, void *dy) = 0;
  virtual void getParams(void *out) const = 0;
  virtual void setParams(const void *in) = 0;
  virtual void getGrads(void *out) const = 0;
  virtual void zeroGrads() = 0;

  /// The parameters as doubles (checkpoints).
  virtual void paramsToDouble(std::vector<double> &out) const = 0;
  virtual void paramsFromDouble(const std::vector<double> &in) = 0;
  /// Mean loss over rows `rows` of (x, target) (all rows if empty); with
  /// `gradient`, its gradient is left in array(Grads) (cleared first);
  /// `correct` counts right classes (cross-entropy).
  virtual double lossGrad(const void *x, const void *target, int64_t n,
                          const std::vector<int64_t> &rows, Loss loss, bool gradient,
                          int64_t *correct) = 0;
  virtual int realBytes() const = 0;

  /// The trainer works in place, in the model's precision (realBytes()), on
  /// arrays of numParams values: the parameters, their gradient, and the
  /// optimiser's moments (momentum, or Adam's two; empty until resized).
  enum class Array { Params, Grads, Moment1, Moment2 };
  virtual void *array(Array a) = 0;
  const void *array(Array a) const { return const_cast<ModelBase *>(this)->array(a); }
  /// How many moment arrays exist (0, 1 or 2); resizing keeps or zeroes them.
  virtual int moments() const = 0;
  virtual void setMoments(int count) = 0;
  /// The last forward is stale (parameters changed in place, or another
  /// forward ran for an evaluation): backward refuses until the next forward.
  virtual void forgetForward() = 0;

  /// Optimiser state besides the arrays: what a checkpoint holds with them.
  struct TrainState {
    int32_t integrator = -1; ///< -1: never trained
    int64_t step = 0;
    double flowTime = 0, stepSize = 0;
  } train;

  int64_t inputSize = 0, outputSize = 0;
  /// The most values one sample takes in any buffer (input, output, or a
  /// vertex's copies x dim): a batch times this must fit 64-bit sizes.
  int64_t maxPerSample = 1;
  const lift::LiftedGraph &graph() const { return g; }
  std::string lastError;
  /// The application's note, saved in and loaded from checkpoints.
  std::string note;

protected:
  lift::LiftedGraph g;
};

/// The best kernel variant of this library the machine can run (the
/// first, core/KernelContract.h), or null if none.
const struct ::rslc_kernel_variant *runnableVariant();

} // namespace rslc::rt

#endif
