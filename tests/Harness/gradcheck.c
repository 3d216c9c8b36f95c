/* Checks a double-precision model's gradients against central finite
 * differences: dL/dtheta for every parameter (or an evenly spread sample of
 * 400), and dL/dx, on 3 samples or BATCH.
 * Usage: gradcheck LIB.so [mse|ce] [BATCH]
 * Prints one line per failure and "N passed, M failed". */
/* The libraries checked are built with --precision=f64. */
#define RSLC_REAL_DEFINED
typedef double rslc_real;
#include "harness.h"

#include <math.h>
#include <string.h>

static int passed = 0, failed = 0;

static void compare(const char *what, int64_t index, double analytic, double numeric) {
  double tol = 1e-6 + 1e-5 * fmax(fabs(analytic), fabs(numeric));
  if (fabs(analytic - numeric) <= tol) {
    ++passed;
    return;
  }
  ++failed;
  if (failed <= 20)
    printf("FAIL %s[%lld]: analytic %.10g, finite difference %.10g\n", what, (long long)index,
           analytic, numeric);
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: gradcheck LIB.so [mse|ce] [BATCH (default 3)]\n");
    return 2;
  }
  rslc_api api = rslc_dl_open_or_exit(argv[1]);
  rslc_loss loss = argc > 2 && strcmp(argv[2], "ce") == 0 ? RSLC_LOSS_CROSS_ENTROPY : RSLC_LOSS_MSE;
  if (api.real_size() != 8) {
    fprintf(stderr, "gradcheck needs a model built with --precision=f64\n");
    return 2;
  }
  rslc_model *m;
  if (api.create(0, &m)) {
    fprintf(stderr, "create failed: %s\n", api.last_error(NULL));
    return 2;
  }
  const int64_t B = argc > 3 ? atoll(argv[3]) : 3, nin = api.input_size(m), nout = api.output_size(m), P = api.num_params(m);
  uint64_t rng = 12345;
  double *x = malloc(sizeof(double) * B * nin), *t = malloc(sizeof(double) * B * nout);
  double *theta = malloc(sizeof(double) * P), *g = malloc(sizeof(double) * P);
  for (int64_t k = 0; k < B * nin; ++k)
    x[k] = test_uniform(&rng);
  for (int64_t k = 0; k < B * nout; ++k)
    t[k] = loss ? (double)(k % nout) : test_uniform(&rng);
  api.get_params(m, theta, P);
  /* Biases start at zero; move them so their gradients are exercised. */
  for (int64_t k = 0; k < P; ++k)
    theta[k] += 0.1 * test_uniform(&rng);
  api.set_params(m, theta, P);

  double L;
  api.zero_grads(m);
  if (api.loss_and_grad(m, x, t, B, loss, &L)) {
    fprintf(stderr, "loss_and_grad failed: %s\n", api.last_error(m));
    return 2;
  }
  api.get_grads(m, g, P);

  const double h = 1e-6;
  int64_t step = P > 400 ? P / 400 : 1;
  for (int64_t k = 0; k < P; k += step) {
    double saved = theta[k], lp, lm;
    theta[k] = saved + h;
    api.set_params(m, theta, P);
    api.loss_and_grad(m, x, t, B, loss, &lp);
    theta[k] = saved - h;
    api.set_params(m, theta, P);
    api.loss_and_grad(m, x, t, B, loss, &lm);
    theta[k] = saved;
    compare("dtheta", k, g[k], (lp - lm) / (2 * h));
  }
  api.set_params(m, theta, P);

  /* dL/dx through backward with a random output weighting v: L = v . f(x). */
  double *y = malloc(sizeof(double) * B * nout), *v = malloc(sizeof(double) * B * nout);
  double *dx = malloc(sizeof(double) * B * nin);
  for (int64_t k = 0; k < B * nout; ++k)
    v[k] = test_uniform(&rng);
  api.forward(m, x, B, y);
  if (api.backward(m, v, dx)) {
    fprintf(stderr, "backward failed: %s\n", api.last_error(m));
    return 2;
  }
  for (int64_t k = 0; k < B * nin; ++k) {
    double saved = x[k], lp = 0, lm = 0;
    x[k] = saved + h;
    api.forward(m, x, B, y);
    for (int64_t o = 0; o < B * nout; ++o)
      lp += v[o] * y[o];
    x[k] = saved - h;
    api.forward(m, x, B, y);
    for (int64_t o = 0; o < B * nout; ++o)
      lm += v[o] * y[o];
    x[k] = saved;
    compare("dx", k, dx[k], (lp - lm) / (2 * h));
  }
  printf("gradcheck %s (%s loss, %lld parameters, loss %.6g)\n", api.blueprint_name(),
         loss ? "cross-entropy" : "mse", (long long)P, L);
  printf("%d passed, %d failed\n", passed, failed);
  api.destroy(m);
  free(x), free(t), free(theta), free(g), free(y), free(v), free(dx);
  return failed ? 1 : 0;
}
