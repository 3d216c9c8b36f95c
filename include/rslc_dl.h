/*===- rslc_dl.h - load an rslc-generated library at run time (dlopen) -----===
 *
 * Resolves the C ABI of rslc.h from any generated library into a table of
 * function pointers typed exactly as rslc.h declares them (each field is
 * `__typeof__(&rslc_NAME)`). A library's reals are float or double, as
 * rslc_real_size() says: callers that handle both pass their buffers cast to
 * rslc_real *. Used by rslc-train, the test harnesses and the benchmarks;
 * usable by applications (C, or C++ with GNU extensions). Defines no macros
 * beyond its include guard.
 *===----------------------------------------------------------------------===*/
#ifndef RSLC_DL_H
#define RSLC_DL_H

#include "rslc.h"

#include <dlfcn.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Every function of rslc.h, in its order. */
#define RSLC_DL_FUNCTIONS(X)                                                                       \
  X(abi_version) X(blueprint_name) X(real_size) X(create) X(destroy) X(last_error)                 \
  X(input_size) X(output_size) X(num_params) X(num_lifted_edges) X(num_copies) X(seed)             \
  X(forward) X(backward) X(loss_and_grad) X(jvp) X(describe) X(lifted_edges) X(get_params)                \
  X(set_params) X(get_grads)                                                                       \
  X(zero_grads) X(default_train_options) X(train) X(evaluate) X(sharpness) X(save) X(load)      \
  X(set_note) X(note)

typedef struct rslc_api {
  void *lib; /* the dlopen handle */
#define RSLC_DL_FIELD(name) __typeof__(&rslc_##name) name;
  RSLC_DL_FUNCTIONS(RSLC_DL_FIELD)
#undef RSLC_DL_FIELD
} rslc_api;

/* Loads `path`; returns 1, or 0 with a message in error[error_size]. */
static inline int rslc_dl_open(const char *path, rslc_api *out, char *error, size_t error_size) {
  static const struct {
    const char *symbol;
    size_t offset;
  } symbols[] = {
#define RSLC_DL_SYMBOL(name) {"rslc_" #name, offsetof(rslc_api, name)},
      RSLC_DL_FUNCTIONS(RSLC_DL_SYMBOL)
#undef RSLC_DL_SYMBOL
  };
  rslc_api api;
  /* dlopen searches the library path for names without a slash: a file
   * name given by the user means the file here. */
  char local[4096];
  size_t k;
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
  /* The version first: a library of another ABI may lack functions. */
  api.abi_version = (__typeof__(&rslc_abi_version))dlsym(api.lib, "rslc_abi_version");
  if (api.abi_version && api.abi_version() != RSLC_ABI_VERSION) {
    snprintf(error, error_size,
             "%s was built for ABI version %d; this program needs %d: rebuild it with this rslc",
             path, api.abi_version(), RSLC_ABI_VERSION);
    dlclose(api.lib);
    return 0;
  }
  for (k = 0; k < sizeof symbols / sizeof symbols[0]; ++k) {
    void *address = dlsym(api.lib, symbols[k].symbol);
    if (!address) {
      snprintf(error, error_size, "%s is not an rslc model library (no %s)", path,
               symbols[k].symbol);
      dlclose(api.lib);
      return 0;
    }
    memcpy((char *)&api + symbols[k].offset, &address, sizeof address);
  }
  *out = api;
  return 1;
}

/* rslc_dl_open, or exit(2) with the message: for tools and tests. */
static inline rslc_api rslc_dl_open_or_exit(const char *path) {
  rslc_api api;
  char error[512];
  if (!rslc_dl_open(path, &api, error, sizeof error)) {
    fprintf(stderr, "%s\n", error);
    exit(2);
  }
  return api;
}

#undef RSLC_DL_FUNCTIONS

#ifdef __cplusplus
}
#endif

#endif /* RSLC_DL_H */
