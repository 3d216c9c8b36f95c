/* Misuse of the C ABI returns status codes and messages, never crashes;
 * handles are independent across threads; seeds are reproducible.
 * Usage: abicheck LIB.so [OTHER.so] (float models; LIB with at least 2
 * outputs). With OTHER, both libraries are loaded and used side by side. */
#include "harness.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

static int passed = 0, failed = 0;

#define EXPECT(cond)                                                                               \
  do {                                                                                             \
    if (cond)                                                                                      \
      ++passed;                                                                                    \
    else {                                                                                         \
      ++failed;                                                                                    \
      printf("FAIL line %d: %s\n", __LINE__, #cond);                                               \
    }                                                                                              \
  } while (0)

static rslc_api api;
/* The status values are part of the ABI (docs/abi.md): spelled as numbers. */
#define STATUS(value) ((rslc_status)(value))
#define OK STATUS(0)
#define E_NULL STATUS(1)
#define E_SIZE STATUS(2)
#define E_OPTION STATUS(3)
#define E_STATE STATUS(5)
#define E_NUMERIC STATUS(7)
#define E_IO STATUS(8)

typedef struct {
  rslc_model *m;
  float *x, *y;
  int64_t batch;
  int rounds;
} job;

static void *run_forward(void *arg) {
  job *j = arg;
  for (int r = 0; r < j->rounds; ++r)
    api.forward(j->m, j->x, j->batch, j->y);
  return NULL;
}

/* A training callback that misuses its own model: every call that would
 * change the model or reuse its buffers is refused with E_STATE, destroy
 * is ignored; reading the parameters works. */
typedef struct {
  rslc_model *m;
  float *x, *y, *params;
  int64_t P;
  int calls, refused, destroyIgnored, readOk;
} reentry;

static int misuse(const rslc_metrics *metrics, void *user) {
  reentry *r = user;
  (void)metrics;
  ++r->calls;
  rslc_train_options again;
  api.default_train_options(&again);
  double loss;
  r->refused += api.forward(r->m, r->x, 4, r->y) == E_STATE;
  r->refused += api.set_params(r->m, r->params, r->P) == E_STATE;
  r->refused += api.zero_grads(r->m) == E_STATE;
  r->refused += api.loss_and_grad(r->m, r->x, r->x, 4, 0, &loss) == E_STATE;
  r->refused += api.train(r->m, &again, r->x, r->x, 4, NULL, NULL, 0, NULL) == E_STATE;
  r->refused += api.load(r->m, "/nonexistent-dir/x.ckpt") == E_STATE;
  api.destroy(r->m); /* ignored: the trainer still uses the model */
  r->destroyIgnored += api.num_params(r->m) == r->P &&
                       strstr(api.last_error(r->m), "rslc_destroy: the model is training") != NULL;
  r->readOk += api.get_params(r->m, r->params, r->P) == OK;
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2)
    return 2;
  api = rslc_dl_open_or_exit(argv[1]);
  EXPECT(api.abi_version() == RSLC_ABI_VERSION);
  EXPECT(api.real_size() == 4);

  rslc_model *m = NULL;
  EXPECT(api.create(0, NULL) == E_NULL);
  EXPECT(strstr(api.last_error(NULL), "null") != NULL);
  EXPECT(api.create(0, &m) == OK && m != NULL);
  const int64_t nin = api.input_size(m), nout = api.output_size(m), P = api.num_params(m);
  EXPECT(nin > 0 && nout > 1 && P > 0);
  EXPECT(api.num_lifted_edges(m) > 0);

  float x[4 * 64], y[4 * 64], dy[4 * 64], t[4 * 64];
  uint64_t rng = 7;
  for (int k = 0; k < 4 * 64; ++k)
    x[k] = (float)test_uniform(&rng), dy[k] = 1, t[k] = 0;

  /* Null handles and pointers, sizes, order, options. */
  EXPECT(api.forward(NULL, x, 4, y) == E_NULL);
  EXPECT(strstr(api.last_error(NULL), "invalid model handle") != NULL);
  EXPECT(api.input_size(NULL) == -1);
  EXPECT(api.forward(m, NULL, 4, y) == E_NULL);
  EXPECT(api.forward(m, x, 4, NULL) == E_NULL);
  EXPECT(api.forward(m, x, 0, y) == E_SIZE);
  EXPECT(strstr(api.last_error(m), "batch must be positive") != NULL);
  EXPECT(api.forward(m, x, -3, y) == E_SIZE);
  EXPECT(api.backward(m, dy, NULL) == E_STATE);
  EXPECT(strstr(api.last_error(m), "forward") != NULL);
  EXPECT(api.backward(m, NULL, NULL) == E_NULL);
  float *params = malloc(sizeof(float) * P);
  EXPECT(api.get_params(m, params, P - 1) == E_SIZE);
  EXPECT(strstr(api.last_error(m), "parameters") != NULL);
  EXPECT(api.set_params(m, NULL, P) == E_NULL);
  EXPECT(api.get_grads(m, params, P + 1) == E_SIZE);
  double loss;
  EXPECT(api.loss_and_grad(m, x, t, 4, 9, &loss) == E_OPTION);
  EXPECT(api.loss_and_grad(m, x, t, 4, 0, NULL) == E_NULL);
  t[0] = 99; /* not a class index */
  EXPECT(api.loss_and_grad(m, x, t, 4, 1, &loss) == E_OPTION);
  EXPECT(strstr(api.last_error(m), "class index") != NULL);
  t[0] = 0.5f;
  EXPECT(api.loss_and_grad(m, x, t, 4, 1, &loss) == E_OPTION);
  t[0] = 0;
  EXPECT(api.loss_and_grad(m, x, t, 4, 1, &loss) == OK && isfinite(loss));
  x[0] = NAN;
  EXPECT(api.loss_and_grad(m, x, t, 4, 0, &loss) == E_NUMERIC);
  x[0] = 0.25f;
  /* A failed forward leaves nothing to differentiate. */
  EXPECT(api.backward(m, dy, NULL) == E_STATE);
  EXPECT(api.forward(m, x, 4, y) == OK);
  EXPECT(api.backward(m, dy, NULL) == OK);

  /* Sizes that would overflow buffer sizes are refused before anything is
   * allocated or read; the other counts must be positive or exact. */
  EXPECT(api.forward(m, x, INT64_MAX, y) == E_SIZE);
  EXPECT(strstr(api.last_error(m), "too large") != NULL);
  EXPECT(api.forward(m, x, (int64_t)1 << 61, y) == E_SIZE);
  EXPECT(api.loss_and_grad(m, x, t, INT64_MAX, 0, &loss) == E_SIZE);
  EXPECT(api.loss_and_grad(m, x, t, 0, 0, &loss) == E_SIZE);
  double acc;
  EXPECT(api.evaluate(m, x, t, 0, 0, &loss, &acc) == E_SIZE);
  EXPECT(api.evaluate(m, x, t, -1, 0, &loss, &acc) == E_SIZE);
  EXPECT(api.evaluate(m, x, t, INT64_MAX, 0, &loss, &acc) == E_SIZE);
  EXPECT(api.evaluate(m, x, t, 4, 7, &loss, &acc) == E_OPTION);
  /* A forward on 1 sample, an evaluation on 4, then backward: refused (it
   * used to return the gradient at the evaluation's inputs, reading past a
   * 1-row dy). */
  EXPECT(api.forward(m, x, 1, y) == OK);
  EXPECT(api.evaluate(m, x, t, 4, 0, &loss, &acc) == OK);
  EXPECT(api.backward(m, dy, NULL) == E_STATE);
  /* The sharpness: arguments checked; parameters and gradients untouched. */
  double sharp;
  EXPECT(api.sharpness(m, x, t, 4, 0, 20, NULL) == E_NULL);
  EXPECT(api.sharpness(m, x, t, 0, 0, 20, &sharp) == E_SIZE);
  EXPECT(api.sharpness(m, x, t, 4, 0, 0, &sharp) == E_OPTION);
  EXPECT(api.sharpness(m, x, t, 4, 7, 20, &sharp) == E_OPTION);
  {
    int64_t np = api.num_params(m);
    rslc_real *before = calloc((size_t)np, sizeof *before), *after = calloc((size_t)np, sizeof *after);
    rslc_real *gBefore = calloc((size_t)np, sizeof *gBefore), *gAfter = calloc((size_t)np, sizeof *gAfter);
    EXPECT(api.get_params(m, before, np) == OK && api.get_grads(m, gBefore, np) == OK);
    EXPECT(api.sharpness(m, x, t, 4, 0, 20, &sharp) == OK && isfinite(sharp) && sharp != 0);
    EXPECT(api.get_params(m, after, np) == OK && api.get_grads(m, gAfter, np) == OK);
    EXPECT(memcmp(before, after, (size_t)np * sizeof *before) == 0);
    EXPECT(memcmp(gBefore, gAfter, (size_t)np * sizeof *gBefore) == 0);
    free(before), free(after), free(gBefore), free(gAfter);
  }
  EXPECT(api.set_params(m, params, -1) == E_SIZE);
  EXPECT(api.get_params(m, params, 0) == E_SIZE);
  EXPECT(api.zero_grads(NULL) == E_NULL);
  rslc_train_options o;
  api.default_train_options(&o);
  api.default_train_options(NULL); /* ignored */
  EXPECT(api.train(m, NULL, x, t, 4, NULL, NULL, 0, NULL) == E_NULL);
  EXPECT(api.train(m, &o, x, t, 0, NULL, NULL, 0, NULL) == E_SIZE);
  EXPECT(api.train(m, &o, x, t, INT64_MAX, NULL, NULL, 0, NULL) == E_SIZE);
  EXPECT(api.train(m, &o, x, t, 4, NULL, NULL, 2, NULL) == E_SIZE); /* test data missing */
  o.abi_version = 0;
  EXPECT(api.train(m, &o, x, t, 4, NULL, NULL, 0, NULL) == E_OPTION);
  EXPECT(strstr(api.last_error(m), "rslc_default_train_options") != NULL);
  api.default_train_options(&o);
  o.integrator = (rslc_integrator)42;
  EXPECT(api.train(m, &o, x, t, 4, NULL, NULL, 0, NULL) == E_OPTION);
  EXPECT(api.save(m, NULL) == E_NULL);
  EXPECT(api.load(m, NULL) == E_NULL);
  EXPECT(api.save(m, "/nonexistent-dir/x.ckpt") == E_IO);
  EXPECT(api.load(m, "/nonexistent-dir/x.ckpt") == E_IO);
  EXPECT(strstr(api.last_error(m), "No such file") != NULL);
  EXPECT(api.load(m, "/") == E_IO); /* a directory, not a checkpoint */

  /* Non-finite parameters are refused, and change nothing. */
  EXPECT(api.get_params(m, params, P) == OK);
  float kept = params[P - 1];
  params[P - 1] = NAN;
  EXPECT(api.set_params(m, params, P) == E_NUMERIC);
  EXPECT(strstr(api.last_error(m), "not a finite number") != NULL);
  params[P - 1] = INFINITY;
  EXPECT(api.set_params(m, params, P) == E_NUMERIC);
  EXPECT(api.get_params(m, params, P) == OK && params[P - 1] == kept);

  /* Re-entrant calls from a training callback (once a use-after-free). */
  {
    reentry r = {m, x, y, params, P, 0, 0, 0, 0};
    rslc_train_options ro;
    api.default_train_options(&ro);
    ro.max_steps = 3, ro.log_every = 1, ro.callback = misuse, ro.user = &r;
    EXPECT(api.train(m, &ro, x, t, 4, NULL, NULL, 0, NULL) == OK);
    EXPECT(r.calls >= 3 && r.refused == 6 * r.calls && r.destroyIgnored == r.calls &&
           r.readOk == r.calls);
    EXPECT(api.forward(m, x, 4, y) == OK); /* usable again once training returns */
  }

  /* Seeds: the same seed gives the same parameters, another seed others. */
  rslc_model *a = NULL, *b = NULL, *c = NULL;
  EXPECT(api.create(5, &a) == OK && api.create(5, &b) == OK && api.create(6, &c) == OK);
  EXPECT(api.seed(a) == 5);
  float *pa = malloc(sizeof(float) * P), *pb = malloc(sizeof(float) * P), *pc = malloc(sizeof(float) * P);
  api.get_params(a, pa, P), api.get_params(b, pb, P), api.get_params(c, pc, P);
  EXPECT(memcmp(pa, pb, sizeof(float) * P) == 0);
  EXPECT(memcmp(pa, pc, sizeof(float) * P) != 0);

  /* Two handles used from two threads give what they give alone. */
  float ya[64 * 16], yb[64 * 16], ra[64 * 16], rb[64 * 16];
  api.forward(a, x, 16, ra);
  api.forward(c, x, 16, rb);
  job ja = {a, x, ya, 16, 50}, jb = {c, x, yb, 16, 50};
  pthread_t ta, tb;
  pthread_create(&ta, NULL, run_forward, &ja);
  pthread_create(&tb, NULL, run_forward, &jb);
  pthread_join(ta, NULL);
  pthread_join(tb, NULL);
  EXPECT(memcmp(ya, ra, sizeof(float) * 16 * nout) == 0);
  EXPECT(memcmp(yb, rb, sizeof(float) * 16 * nout) == 0);

  /* After destroy, the handle is refused; destroying twice is harmless. */
  api.destroy(a);
  EXPECT(api.forward(a, x, 4, y) == E_NULL);
  EXPECT(api.num_params(a) == -1);
  EXPECT(api.backward(a, dy, NULL) == E_NULL);
  EXPECT(api.get_params(a, pa, P) == E_NULL);
  EXPECT(api.load(a, "/nonexistent-dir/x.ckpt") == E_NULL);
  EXPECT(strstr(api.last_error(a), "invalid model handle") != NULL);
  api.destroy(a);
  api.destroy(NULL);
  /* A second, different library in the same process: both work, neither
   * disturbs the other. */
  if (argc > 2) {
    rslc_api other = rslc_dl_open_or_exit(argv[2]);
    rslc_model *o = NULL;
    EXPECT(other.create(0, &o) == OK);
    EXPECT(strcmp(other.blueprint_name(), api.blueprint_name()) != 0);
    int64_t oin = other.input_size(o), oout = other.output_size(o);
    float *ox = calloc(oin * 4, sizeof(float)), *oy = calloc(oout * 4, sizeof(float));
    EXPECT(other.forward(o, ox, 4, oy) == OK);
    float again[64 * 16];
    EXPECT(api.forward(c, x, 16, again) == OK);
    EXPECT(memcmp(again, rb, sizeof(float) * 16 * nout) == 0);
    other.destroy(o);
    free(ox), free(oy);
  }
  api.destroy(b), api.destroy(c), api.destroy(m);
  free(params), free(pa), free(pb), free(pc);
  printf("abicheck %s\n%d passed, %d failed\n", api.blueprint_name(), passed, failed);
  return failed ? 1 : 0;
}
