//===- Dataset.h - rslc-train's data: load, split, standardise, shard -----===//
//
// Everything rslc-train does to data before the library sees it. Samples
// are rows of doubles; `toModel` converts them once to the model's
// precision. Bad data throws data::DataError with the file (and row).
//
//===----------------------------------------------------------------------===//
#ifndef RSLC_TRAIN_DATASET_H
#define RSLC_TRAIN_DATASET_H

#include "Data.h"

#include "rslc_dl.h"

#include <cstdint>
#include <string>
#include <vector>

namespace rslc::train {

/// Inputs x[rows][inputs] and targets y: the outputs per row (MSE), one
/// class index per row (cross-entropy), or none (inputs only, to predict).
struct DataSet {
  data::Matrix x, y;
  int64_t rows() const { return x.rows; }
};

/// What a model takes: values per sample in and out, and the loss's targets.
struct Shape {
  int64_t inputs = 0, outputs = 0;
  bool classes = false; ///< cross-entropy: one class index per sample
  int64_t targetWidth() const { return classes ? 1 : outputs; }
};

/// `samples` standard normal inputs (stream `seed`) labelled by the
/// teacher library: its outputs, or their argmax as classes.
DataSet teacherData(const rslc_api &teacher, const std::string &teacherPath, const Shape &shape,
                    int64_t samples, uint64_t seed);

/// Reads inputs from `dataPath` and targets from `targetPath`, or from the
/// same file: the last columns of a CSV, array `npzY` of a .npz. With
/// `inputsOnly`, a file with just the inputs is accepted (no targets).
DataSet readData(const std::string &dataPath, const std::string &targetPath,
                 const std::string &npzX, const std::string &npzY, const Shape &shape,
                 bool inputsOnly);

/// Rows `rows` of a data set, in that order.
DataSet takeRows(const DataSet &d, const std::vector<int64_t> &rows);

/// A seeded shuffle, then the last floor(fraction * rows) rows held out:
/// {training set, test set}.
std::pair<DataSet, DataSet> split(const DataSet &d, double testFraction, uint64_t seed);

/// Per-column mean and standard deviation (1 for constant columns).
struct Standardizer {
  std::vector<double> mean, sd;
  static Standardizer fit(const data::Matrix &x);
  void apply(data::Matrix &x) const;
};

/// Rows rank, rank + size, rank + 2 size, ...: one MPI rank's shard.
DataSet shard(const DataSet &d, int rank, int size);

/// Values converted once to a library's precision (rslc_real_size()).
class ModelReals {
public:
  ModelReals(int realBytes, const std::vector<double> &values);
  /// For the ABI: a float or double array, as the library reads it.
  const rslc_real *data() const;
  rslc_real *data();
  /// Back to doubles.
  std::vector<double> toDouble() const;

private:
  int bytes;
  std::vector<float> f;
  std::vector<double> d;
};

} // namespace rslc::train

#endif
