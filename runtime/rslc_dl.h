/* rslc_dl.h - load any rslc-generated library at run time (dlopen) and
 * resolve its C ABI (docs/abi.md) into a table of function pointers. Arrays
 * of reals are `void *` here: float or double, as rslc_real_size() says.
 * Used by rslc-train and the test harnesses; usable by applications. */
#ifndef RSLC_DL_H
#define RSLC_DL_H

#include "rslc.h"

#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
  void (*default_train_options)(rslc_train_options *);
  int (*train)(rslc_model *, const rslc_train_options *, const void *, const void *, int64_t,
               const void *, const void *, int64_t, rslc_metrics *);
  int (*evaluate)(rslc_model *, const void *, const void *, int64_t, int, double *, double *);
  int (*save)(const rslc_model *, const char *);
  int (*load)(rslc_model *, const char *);
} model_api;

#define RESOLVE(api, name)                                                                         \
  do {                                                                                             \
    *(void **)&(api)->name = dlsym((api)->lib, "rslc_" #name);                                     \
    if (!(api)->name) {                                                                            \
      snprintf(error, error_size, "%s is not an rslc model library (no rslc_%s)", path, #name);    \
      dlclose((api)->lib);                                                                         \
      return 0;                                                                                    \
    }                                                                                              \
  } while (0)

/* Loads `path`; returns 1, or 0 with a message in error[error_size]. */
static inline int rslc_dl_open(const char *path, model_api *out, char *error, size_t error_size) {
  model_api api;
  /* dlopen searches the library path for names without a slash: a file
   * name given by the user means the file here. */
  char local[4096];
  if (!strchr(path, '/') && strlen(path) + 3 < sizeof local) {
    snprintf(local, sizeof local, "./%s", path);
    api.lib = dlopen(local, RTLD_NOW | RTLD_LOCAL);
  } else {
    api.lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  }
  if (!api.lib) {
    snprintf(error, error_size, "cannot load %s: %s", path, dlerror());
    return 0;
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
  RESOLVE(&api, default_train_options);
  RESOLVE(&api, train);
  RESOLVE(&api, evaluate);
  RESOLVE(&api, save);
  RESOLVE(&api, load);
  if (api.abi_version() != RSLC_ABI_VERSION) {
    snprintf(error, error_size, "%s has ABI version %d; expected %d", path, api.abi_version(),
             RSLC_ABI_VERSION);
    dlclose(api.lib);
    return 0;
  }
  *out = api;
  return 1;
}

/* rslc_dl_open or exit(2) with the message: for tools and tests. */
static inline model_api load_model(const char *path) {
  model_api api;
  char error[512];
  if (!rslc_dl_open(path, &api, error, sizeof error)) {
    fprintf(stderr, "%s\n", error);
    exit(2);
  }
  return api;
}

#endif /* RSLC_DL_H */
