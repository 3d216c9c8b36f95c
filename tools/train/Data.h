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
/// Only regular files are read (devices and FIFOs are refused), and
/// compressed streams no further than their headers promise.
Matrix load(const std::string &path, const std::string &npzKey = "x");

enum class Format { CSV, Npy, Npz, Idx, Unknown };
/// The format a path's name says.
Format formatOf(const std::string &path);
/// A file's bytes in `format` (`name` for messages): the parsers behind
/// load, also fed directly by the data fuzzer (fuzz/DataFuzzer.cpp).
Matrix parse(Format format, const std::string &bytes, const std::string &name,
             const std::string &npzKey = "x");

Matrix loadCSV(const std::string &bytes, const std::string &name);
Matrix loadNpy(const std::string &bytes, const std::string &name);
Matrix loadNpz(const std::string &bytes, const std::string &name, const std::string &key);
Matrix loadIdx(const std::string &bytes, const std::string &name);

/// Writes a little-endian .npy of doubles or floats with shape (rows, cols),
/// atomically (core/Files.h: a failed write leaves no partial file).
void saveNpy(const std::string &path, const std::vector<double> &values, int64_t rows, int64_t cols,
             bool asFloat);
/// Writes rows as CSV, atomically.
void saveCSV(const std::string &path, const Matrix &m);

} // namespace rslc::data

#endif
