//===- ABI.cpp - the exported C functions (see rslc.h, docs/abi.md) -------===//
#include "rslc.h"

#include "Checkpoint.h"
#include "Describe.h"
#include "Integrators.h"
#include "Model.h"
#include "Sharpness.h"

#include "core/KernelContract.h"

#include <cmath>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <unordered_set>

using rslc::rt::Error;
using rslc::rt::ModelBase;

#define RSLC_EXPORT extern "C" __attribute__((visibility("default")))

struct rslc_model {
  std::unique_ptr<ModelBase> impl;
  /// Inside rslc_train: its callback may read the model, not change it.
  bool training = false;
  mutable std::string description; ///< rslc_describe's JSON, made once
};

namespace {

thread_local std::string threadError;

/// Live handles: a destroyed or foreign pointer is recognised without being
/// dereferenced.
std::mutex registryMutex;
std::unordered_set<const rslc_model *> &registry() {
  static auto *live = new std::unordered_set<const rslc_model *>;
  return *live;
}

/// Runs `body`, turning exceptions into a status and a message.
template <typename Body> rslc_status guarded(const rslc_model *m, Body body) {
  std::string *sink = m ? &m->impl->lastError : &threadError;
  try {
    body();
    return RSLC_OK;
  } catch (const Error &e) {
    *sink = e.message;
    return rslc_status(e.status);
  } catch (const std::bad_alloc &) {
    *sink = "out of memory";
    return RSLC_ERROR_MEMORY;
  } catch (const std::exception &e) {
    *sink = std::string("internal error: ") + e.what();
    return RSLC_ERROR_INTERNAL;
  }
}

/// A usable handle: one rslc_create returned and rslc_destroy did not take.
bool valid(const rslc_model *m) {
  std::lock_guard<std::mutex> lock(registryMutex);
  if (!m || !registry().count(m)) {
    threadError = "invalid model handle (null, destroyed, or not an rslc_model)";
    return false;
  }
  return true;
}

/// Batch-long buffers hold batch x (values per sample): refuse batches
/// whose sizes would overflow, before anything is allocated or read.
bool batchFits(const rslc_model *m, int64_t batch) {
  return batch <= (int64_t(1) << 60) / m->impl->maxPerSample;
}

std::string tooLarge(const char *fn, const char *what, int64_t n, const rslc_model *m) {
  return std::string(fn) + ": " + what + " = " + std::to_string(n) +
         " is too large for this model (" + std::to_string(m->impl->maxPerSample) +
         " values per sample)";
}

#define CHECK_HANDLE(m)                                                                            \
  if (!valid(m))                                                                                   \
    return RSLC_ERROR_NULL;
/// A call that changes the model (or reuses its buffers) is refused while
/// the model trains, i.e. from its own training callback.
#define CHECK_IDLE(m, fn)                                                                          \
  CHECK_HANDLE(m);                                                                                 \
  REQUIRE(!m->training, RSLC_ERROR_STATE, busyMessage(fn));
#define REQUIRE(cond, status, msg)                                                                 \
  if (!(cond)) {                                                                                   \
    m->impl->lastError = msg;                                                                      \
    return status;                                                                                 \
  }

std::string busyMessage(const char *fn) {
  return std::string(fn) + ": the model is training (this is a call from its training " +
         "callback, which may only read parameters, gradients and sizes, and return non-zero " +
         "to stop); call it after rslc_train returns";
}

} // namespace

RSLC_EXPORT int rslc_abi_version(void) { return RSLC_ABI_VERSION; }
RSLC_EXPORT int rslc_real_size(void) { return rslc_real_bytes; }
RSLC_EXPORT const char *rslc_blueprint_name(void) {
  static const std::string name = [] {
    std::string text(rslc_plan_text, rslc_plan_size);
    size_t a = text.find('\n'), b = text.find('\n', a + 1), c = text.find('\n', b + 1);
    return text.substr(a + 1, b - a - 1) + "." + text.substr(b + 1, c - b - 1);
  }();
  return name.c_str();
}

RSLC_EXPORT rslc_status rslc_create(uint64_t seed, rslc_model **out) {
  if (!out) {
    threadError = "rslc_create: the output pointer is null";
    return RSLC_ERROR_NULL;
  }
  *out = nullptr;
  std::unique_ptr<ModelBase> impl;
  rslc_status s = guarded(nullptr, [&] { impl = ModelBase::create(seed); });
  if (s == RSLC_OK) {
    *out = new rslc_model{std::move(impl), false, {}};
    std::lock_guard<std::mutex> lock(registryMutex);
    registry().insert(*out);
  }
  return s;
}

RSLC_EXPORT void rslc_destroy(rslc_model *m) {
  {
    std::lock_guard<std::mutex> lock(registryMutex);
    if (!m || !registry().count(m))
      return; // null, foreign or already destroyed: nothing to do
    if (m->training) { // from its own training callback: the trainer still uses it
      m->impl->lastError = busyMessage("rslc_destroy") + " (the call was ignored)";
      return;
    }
    registry().erase(m);
  }
  delete m;
}

RSLC_EXPORT const char *rslc_last_error(const rslc_model *m) {
  if (m && valid(m))
    return m->impl->lastError.c_str();
  return threadError.c_str();
}

RSLC_EXPORT int64_t rslc_input_size(const rslc_model *m) { return valid(m) ? m->impl->inputSize : -1; }
RSLC_EXPORT int64_t rslc_output_size(const rslc_model *m) { return valid(m) ? m->impl->outputSize : -1; }
RSLC_EXPORT int64_t rslc_num_params(const rslc_model *m) {
  return valid(m) ? int64_t(m->impl->graph().numParams) : -1;
}
RSLC_EXPORT int64_t rslc_num_lifted_edges(const rslc_model *m) {
  return valid(m) ? int64_t(m->impl->graph().numLiftedEdges()) : -1;
}
RSLC_EXPORT int64_t rslc_num_copies(const rslc_model *m) {
  return valid(m) ? int64_t(m->impl->graph().numCopies()) : -1;
}
RSLC_EXPORT uint64_t rslc_seed(const rslc_model *m) { return valid(m) ? m->impl->graph().plan.seed : 0; }

RSLC_EXPORT rslc_status rslc_forward(rslc_model *m, const rslc_real *x, int64_t batch, rslc_real *y) {
  CHECK_IDLE(m, "rslc_forward");
  REQUIRE(x && y, RSLC_ERROR_NULL, "rslc_forward: x and y must not be null");
  REQUIRE(batch > 0, RSLC_ERROR_SIZE, "rslc_forward: batch must be positive, got " + std::to_string(batch));
  REQUIRE(batchFits(m, batch), RSLC_ERROR_SIZE, tooLarge("rslc_forward", "batch", batch, m));
  return guarded(m, [&] { m->impl->forward(x, batch, y); });
}

RSLC_EXPORT rslc_status rslc_backward(rslc_model *m, const rslc_real *dy, rslc_real *dx) {
  CHECK_IDLE(m, "rslc_backward");
  REQUIRE(dy, RSLC_ERROR_NULL, "rslc_backward: dy must not be null");
  return guarded(m, [&] { m->impl->backward(dy, dx); });
}

RSLC_EXPORT rslc_status rslc_loss_and_grad(rslc_model *m, const rslc_real *x, const rslc_real *target,
                                           int64_t batch, rslc_loss loss, double *loss_out) {
  CHECK_IDLE(m, "rslc_loss_and_grad");
  REQUIRE(x && target && loss_out, RSLC_ERROR_NULL,
          "rslc_loss_and_grad: x, target and loss_out must not be null");
  REQUIRE(batch > 0, RSLC_ERROR_SIZE, "rslc_loss_and_grad: batch must be positive, got " + std::to_string(batch));
  REQUIRE(batchFits(m, batch), RSLC_ERROR_SIZE, tooLarge("rslc_loss_and_grad", "batch", batch, m));
  REQUIRE(rslc::isValidKind<rslc::Loss>(loss), RSLC_ERROR_OPTION,
          "rslc_loss_and_grad: unknown loss " + std::to_string(int(loss)));
  return guarded(m, [&] { *loss_out = m->impl->lossAndGrad(x, target, batch, rslc::Loss(loss)); });
}

RSLC_EXPORT rslc_status rslc_jvp(rslc_model *m, const rslc_real *x, int64_t batch,
                                 const rslc_real *dtheta, rslc_real *dy) {
  CHECK_IDLE(m, "rslc_jvp");
  REQUIRE(x && dtheta && dy, RSLC_ERROR_NULL, "rslc_jvp: x, dtheta and dy must not be null");
  REQUIRE(batch > 0, RSLC_ERROR_SIZE, "rslc_jvp: batch must be positive, got " + std::to_string(batch));
  REQUIRE(batchFits(m, batch), RSLC_ERROR_SIZE, tooLarge("rslc_jvp", "batch", batch, m));
  return guarded(m, [&] { m->impl->jvp(x, batch, dtheta, dy); });
}

RSLC_EXPORT const char *rslc_describe(const rslc_model *m) {
  if (!valid(m))
    return nullptr;
  if (m->description.empty())
    m->description = rslc::rt::describe(*m->impl);
  return m->description.c_str();
}

RSLC_EXPORT rslc_status rslc_lifted_edges(const rslc_model *m, int64_t edge, uint32_t *src,
                                          uint32_t *dst, int64_t n) {
  CHECK_HANDLE(m);
  const rslc::lift::LiftedGraph &g = m->impl->graph();
  REQUIRE(edge >= 0 && size_t(edge) < g.edges.size(), RSLC_ERROR_OPTION,
          "rslc_lifted_edges: the model has " + std::to_string(g.edges.size()) +
              " base edges, got edge = " + std::to_string(edge));
  REQUIRE(src && dst, RSLC_ERROR_NULL, "rslc_lifted_edges: src and dst must not be null");
  const rslc::lift::LiftedEdge &le = g.edges[size_t(edge)];
  REQUIRE(n == int64_t(le.count), RSLC_ERROR_SIZE,
          "rslc_lifted_edges: edge " + std::to_string(edge) + " has " + std::to_string(le.count) +
              " lifted edges, got n = " + std::to_string(n));
  for (int64_t j = 0; j < le.nv; ++j)
    for (uint64_t q = le.rowBegin(j); q < le.rowEnd(j); ++q) {
      src[q] = uint32_t(le.sourceAt(j, q));
      dst[q] = uint32_t(j);
    }
  return RSLC_OK;
}

#define PARAM_COPY(fn, ptrType, call, check)                                                       \
  RSLC_EXPORT rslc_status fn(ptrType m, call##_type p, int64_t n) {                                \
    check;                                                                                         \
    REQUIRE(p, RSLC_ERROR_NULL, #fn ": the array is null");                                        \
    int64_t want = int64_t(m->impl->graph().numParams);                                            \
    REQUIRE(n == want, RSLC_ERROR_SIZE,                                                            \
            #fn ": the model has " + std::to_string(want) + " parameters, got n = " +            \
                std::to_string(n));                                                                \
    return guarded(m, [&] { m->impl->call(p); });                                                  \
  }
using getParams_type = rslc_real *;
using setParams_type = const rslc_real *;
using getGrads_type = rslc_real *;
PARAM_COPY(rslc_get_params, const rslc_model *, getParams, CHECK_HANDLE(m))
PARAM_COPY(rslc_set_params, rslc_model *, setParams, CHECK_IDLE(m, "rslc_set_params"))

PARAM_COPY(rslc_get_grads, const rslc_model *, getGrads, CHECK_HANDLE(m))

RSLC_EXPORT rslc_status rslc_zero_grads(rslc_model *m) {
  CHECK_IDLE(m, "rslc_zero_grads");
  return guarded(m, [&] { m->impl->zeroGrads(); });
}

RSLC_EXPORT void rslc_default_train_options(rslc_train_options *o) {
  if (!o)
    return;
  *o = rslc_train_options{};
  o->abi_version = RSLC_ABI_VERSION;
  o->integrator = RSLC_EULER;
  o->loss = RSLC_LOSS_MSE;
  o->step_size = 0.1;
  o->momentum = 0.9;
  o->beta1 = 0.9, o->beta2 = 0.999, o->epsilon = 1e-8;
  o->tolerance = 1e-4;
  o->max_steps = 1000;
  o->log_every = 10;
  o->train_eval = 0;
}

RSLC_EXPORT rslc_status rslc_train(rslc_model *m, const rslc_train_options *o, const rslc_real *x,
                                   const rslc_real *t, int64_t n, const rslc_real *xt,
                                   const rslc_real *tt, int64_t nt, rslc_metrics *final) {
  CHECK_IDLE(m, "rslc_train");
  REQUIRE(o && x && t, RSLC_ERROR_NULL, "rslc_train: options, x and target must not be null");
  REQUIRE(o->abi_version == RSLC_ABI_VERSION, RSLC_ERROR_OPTION,
          "rslc_train: options.abi_version is " + std::to_string(o->abi_version) +
              "; call rslc_default_train_options first");
  REQUIRE(n > 0 && nt >= 0 && (nt == 0 || (xt && tt)), RSLC_ERROR_SIZE,
          "rslc_train: need n > 0 samples (and test data when n_test > 0)");
  REQUIRE(batchFits(m, n), RSLC_ERROR_SIZE, tooLarge("rslc_train", "n", n, m));
  REQUIRE(batchFits(m, nt), RSLC_ERROR_SIZE, tooLarge("rslc_train", "n_test", nt, m));
  REQUIRE(rslc::isValidKind<rslc::Integrator>(o->integrator), RSLC_ERROR_OPTION,
          "rslc_train: unknown integrator " + std::to_string(int(o->integrator)));
  REQUIRE(rslc::isValidKind<rslc::Loss>(o->loss), RSLC_ERROR_OPTION,
          "rslc_train: unknown loss " + std::to_string(int(o->loss)));
  REQUIRE(o->step_size > 0 && std::isfinite(o->step_size), RSLC_ERROR_OPTION,
          "rslc_train: step_size must be positive");
  REQUIRE(o->max_steps >= 0 && o->batch_size >= 0 && o->log_every >= 0 && o->weight_decay >= 0 &&
              o->tolerance > 0 && o->momentum >= 0 && o->momentum < 1 && o->beta1 >= 0 &&
              o->beta1 < 1 && o->beta2 >= 0 && o->beta2 < 1 && o->epsilon > 0,
          RSLC_ERROR_OPTION,
          "rslc_train: an option is out of range (max_steps, batch_size, log_every, "
          "weight_decay >= 0; tolerance, epsilon > 0; momentum, beta1, beta2 in [0, 1))");
  struct Training { // set for the call, whatever way it ends
    rslc_model *m;
    ~Training() { m->training = false; }
  } during{m};
  m->training = true;
  return guarded(m, [&] {
    rslc_metrics r = rslc::rt::train(*m->impl, *o, x, t, n, xt, tt, nt);
    if (final)
      *final = r;
  });
}

RSLC_EXPORT rslc_status rslc_evaluate(rslc_model *m, const rslc_real *x, const rslc_real *t,
                                      int64_t n, rslc_loss loss, double *loss_out,
                                      double *accuracy_out) {
  CHECK_IDLE(m, "rslc_evaluate");
  REQUIRE(x && t && loss_out, RSLC_ERROR_NULL, "rslc_evaluate: x, target and loss_out must not be null");
  REQUIRE(n > 0, RSLC_ERROR_SIZE, "rslc_evaluate: n must be positive");
  REQUIRE(batchFits(m, n), RSLC_ERROR_SIZE, tooLarge("rslc_evaluate", "n", n, m));
  REQUIRE(rslc::isValidKind<rslc::Loss>(loss), RSLC_ERROR_OPTION,
          "rslc_evaluate: unknown loss " + std::to_string(int(loss)));
  return guarded(m, [&] {
    int64_t right = 0;
    *loss_out = m->impl->lossGrad(x, t, n, {}, rslc::Loss(loss), false, &right);
    m->impl->forgetForward(); // its forward was on x, not on the caller's last batch
    if (accuracy_out)
      *accuracy_out = loss == RSLC_LOSS_CROSS_ENTROPY ? double(right) / double(n) : NAN;
  });
}

RSLC_EXPORT rslc_status rslc_sharpness(rslc_model *m, const rslc_real *x, const rslc_real *t,
                                       int64_t n, rslc_loss loss, int64_t iterations,
                                       double *sharpness_out) {
  CHECK_IDLE(m, "rslc_sharpness");
  REQUIRE(x && t && sharpness_out, RSLC_ERROR_NULL,
          "rslc_sharpness: x, target and sharpness_out must not be null");
  REQUIRE(n > 0, RSLC_ERROR_SIZE, "rslc_sharpness: n must be positive");
  REQUIRE(batchFits(m, n), RSLC_ERROR_SIZE, tooLarge("rslc_sharpness", "n", n, m));
  REQUIRE(rslc::isValidKind<rslc::Loss>(loss), RSLC_ERROR_OPTION,
          "rslc_sharpness: unknown loss " + std::to_string(int(loss)));
  REQUIRE(iterations > 0, RSLC_ERROR_OPTION, "rslc_sharpness: iterations must be positive");
  return guarded(m, [&] {
    *sharpness_out = rslc::rt::sharpness(*m->impl, x, t, n, rslc::Loss(loss), iterations,
                                         m->impl->graph().plan.seed);
  });
}

RSLC_EXPORT rslc_status rslc_save(const rslc_model *m, const char *path) {
  CHECK_IDLE(m, "rslc_save");
  REQUIRE(path, RSLC_ERROR_NULL, "rslc_save: path must not be null");
  return guarded(m, [&] { rslc::rt::saveCheckpoint(*m->impl, path); });
}

RSLC_EXPORT rslc_status rslc_load(rslc_model *m, const char *path) {
  CHECK_IDLE(m, "rslc_load");
  REQUIRE(path, RSLC_ERROR_NULL, "rslc_load: path must not be null");
  return guarded(m, [&] { rslc::rt::loadCheckpoint(*m->impl, path); });
}

RSLC_EXPORT rslc_status rslc_set_note(rslc_model *m, const char *text) {
  CHECK_IDLE(m, "rslc_set_note");
  REQUIRE(text, RSLC_ERROR_NULL, "rslc_set_note: text must not be null");
  m->impl->note = text;
  return RSLC_OK;
}

RSLC_EXPORT const char *rslc_note(const rslc_model *m) {
  return valid(m) ? m->impl->note.c_str() : nullptr;
}
