//===- Data.h - training data from CSV, NumPy and IDX files ---------------===//
#ifndef RSLC_TOOLS_TRAIN_DATA_H
#define RSLC_TOOLS_TRAIN_DATA_H

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace rslc::data {

/// A bad data file: the message names the file and, where known, the place.
struct DataError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// Samples in rows, row-major, as doubles.
struct Matrix {
  std::vector<double> values;
  int64_t rows = 0, cols = 0;
  double at(int64_t r, int64_t c) const { return values[r * cols + c]; }
};

/// Reads a matrix by extension: .csv (numbers, optional header row), .npy,
/// .npz (entry `key`), IDX (`*-idx?-ubyte`, optionally gzip-compressed).
/// Arrays of rank > 2 are flattened to one row per first index.
Matrix load(const std::string &path, const std::string &npzKey = "x");

Matrix loadCSV(const std::string &path);
Matrix loadNpy(const std::string &bytes, const std::string &name);
Matrix loadNpz(const std::string &path, const std::string &key);
Matrix loadIdx(const std::string &path);

/// Writes a little-endian .npy of doubles or floats with shape (rows, cols).
void saveNpy(const std::string &path, const std::vector<double> &values, int64_t rows, int64_t cols,
             bool asFloat);
/// Writes rows as CSV.
void saveCSV(const std::string &path, const Matrix &m);

} // namespace rslc::data

#endif
