/* Loads a generated library with dlopen and resolves its C ABI, so one
 * harness can test any model. Used by gradcheck.c and abicheck.c. */
#ifndef RSLC_TESTS_MODEL_API_H
#define RSLC_TESTS_MODEL_API_H

#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct rslc_model rslc_model;

typedef struct {
  void *lib;
  int (*abi_version)(void);
  int (*real_size)(void);
  const char *(*blueprint_name)(void);
  int (*create)(uint64_t, rslc_model **);
  void (*destroy)(rslc_model *);
  const char *(*last_error)(const rslc_model *);
  int64_t (*input_size)(const rslc_model *);
  int64_t (*output_size)(const rslc_model *);
  int64_t (*num_params)(const rslc_model *);
  int64_t (*num_lifted_edges)(const rslc_model *);
  uint64_t (*seed)(const rslc_model *);
  int (*forward)(rslc_model *, const void *, int64_t, void *);
  int (*backward)(rslc_model *, const void *, void *);
  int (*loss_and_grad)(rslc_model *, const void *, const void *, int64_t, int, double *);
  int (*get_params)(const rslc_model *, void *, int64_t);
  int (*set_params)(rslc_model *, const void *, int64_t);
  int (*get_grads)(const rslc_model *, void *, int64_t);
  int (*zero_grads)(rslc_model *);
} model_api;

#define RESOLVE(api, name)                                                                         \
  do {                                                                                             \
    *(void **)&(api)->name = dlsym((api)->lib, "rslc_" #name);                                     \
    if (!(api)->name) {                                                                            \
      fprintf(stderr, "missing symbol rslc_%s\n", #name);                                          \
      exit(2);                                                                                     \
    }                                                                                              \
  } while (0)

static inline model_api load_model(const char *path) {
  model_api api;
  api.lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!api.lib) {
    fprintf(stderr, "cannot load %s: %s\n", path, dlerror());
    exit(2);
  }
  RESOLVE(&api, abi_version);
  RESOLVE(&api, real_size);
  RESOLVE(&api, blueprint_name);
  RESOLVE(&api, create);
  RESOLVE(&api, destroy);
  RESOLVE(&api, last_error);
  RESOLVE(&api, input_size);
  RESOLVE(&api, output_size);
  RESOLVE(&api, num_params);
  RESOLVE(&api, num_lifted_edges);
  RESOLVE(&api, seed);
  RESOLVE(&api, forward);
  RESOLVE(&api, backward);
  RESOLVE(&api, loss_and_grad);
  RESOLVE(&api, get_params);
  RESOLVE(&api, set_params);
  RESOLVE(&api, get_grads);
  RESOLVE(&api, zero_grads);
  return api;
}

/* Deterministic uniform numbers in [-1, 1). */
static inline double test_uniform(uint64_t *state) {
  *state = *state * 6364136223846793005ull + 1442695040888963407ull;
  return (double)(*state >> 11) * 0x1.0p-52 - 1.0;
}

#endif
