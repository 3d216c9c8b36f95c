//===- Distributed.h - data-parallel training over MPI ---------------------===//
//
// rslc-train started by `mpirun -np N` runs N processes (ranks); each trains
// the same model on its shard of the data, and the runtime sums gradients
// and metrics through allreduceSum (MPI_Allreduce). Without MPI at build
// time, or outside mpirun, there is one rank and nothing here talks to MPI.
//
//===----------------------------------------------------------------------===//
#ifndef RSLC_TRAIN_DISTRIBUTED_H
#define RSLC_TRAIN_DISTRIBUTED_H

#include <cstdint>
#include <vector>

namespace dist {

struct World {
  int rank = 0, size = 1;
};

/// Joins the MPI job if this process was started by mpirun (else one rank).
World init(int &argc, char **&argv);
void finalize();
/// Ends every rank of the job with `code` (MPI_Abort), or just this process.
[[noreturn]] void abortAll(int code);

/// rslc_train_options.allreduce: sums `count` doubles over all ranks, in place.
int allreduceSum(double *values, int64_t count, void *user);
/// Rank 0's values on every rank.
void broadcast(std::vector<double> &values);

/// Bytes sent through allreduceSum by this rank so far (for the figures).
uint64_t bytesReduced();

} // namespace dist

#endif
