//===- Distributed.cpp - MPI ranks for data-parallel rslc-train -----------===//
#include "Distributed.h"

#include <algorithm>
#include <cstdlib>
#include <string>

#include <unistd.h>

#ifdef RSLC_WITH_MPI
#define OMPI_SKIP_MPICXX 1 // the C API only
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#endif

namespace dist {
namespace {
bool joined = false;
uint64_t reduced = 0;
} // namespace

#ifdef RSLC_WITH_MPI
World init(int &argc, char **&argv) {
  // Started by mpirun (Open MPI, or a PMI launcher): join the job. A plain
  // start stays a single process and never touches MPI.
  if (!std::getenv("OMPI_COMM_WORLD_SIZE") && !std::getenv("PMI_SIZE") && !std::getenv("PMIX_RANK"))
    return {};
  // Ranks on one machine share its cores: unless told otherwise, each
  // rank's OpenMP team gets its share (set before the model is loaded).
  const char *local = std::getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
  if (local && !std::getenv("OMP_NUM_THREADS")) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN), ranks = std::max(1L, std::atol(local));
    setenv("OMP_NUM_THREADS", std::to_string(std::max(1L, cores / ranks)).c_str(), 1);
  }
  MPI_Init(&argc, &argv);
  joined = true;
  World w;
  MPI_Comm_rank(MPI_COMM_WORLD, &w.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &w.size);
  return w;
}

void finalize() {
  if (joined)
    MPI_Finalize();
}

void abortAll(int code) {
  if (joined)
    MPI_Abort(MPI_COMM_WORLD, code);
  std::exit(code);
}

int allreduceSum(double *values, int64_t count, void *) {
  reduced += uint64_t(count) * sizeof(double);
  // One call per chunk below MPI's int count limit; the sum's order is fixed
  // by Open MPI for a given rank count, so runs are reproducible.
  for (int64_t at = 0; at < count;) {
    int chunk = int(std::min<int64_t>(count - at, 1 << 30));
    if (MPI_Allreduce(MPI_IN_PLACE, values + at, chunk, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD) != MPI_SUCCESS)
      return 1;
    at += chunk;
  }
  return 0;
}

void broadcast(std::vector<double> &values) {
  if (joined)
    MPI_Bcast(values.data(), int(values.size()), MPI_DOUBLE, 0, MPI_COMM_WORLD);
}
#else
World init(int &, char **&) { return {}; }
void finalize() {}
void abortAll(int code) { std::exit(code); }
int allreduceSum(double *, int64_t, void *) { return 1; }
void broadcast(std::vector<double> &) {}
#endif

uint64_t bytesReduced() { return reduced; }

} // namespace dist
