/* Shared by the C test harnesses. */
#ifndef RSLC_TESTS_HARNESS_H
#define RSLC_TESTS_HARNESS_H

#include "rslc_dl.h"

/* Deterministic uniform numbers in [-1, 1). */
static inline double test_uniform(uint64_t *state) {
  *state = *state * 6364136223846793005ull + 1442695040888963407ull;
  return (double)(*state >> 11) * 0x1.0p-52 - 1.0;
}

#endif
