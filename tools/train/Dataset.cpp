//===- Dataset.cpp - rslc-train's data: load, split, standardise, shard ---===//
#include "Dataset.h"

#include "core/Random.h"
#include "core/Targets.h"

#include <algorithm>
#include <cmath>

namespace rslc::train {

namespace {
[[noreturn]] void fail(const std::string &msg) { throw data::DataError(msg); }

bool isNpz(const std::string &path) {
  return path.size() > 4 && path.compare(path.size() - 4, 4, ".npz") == 0;
}

/// Rows `rows` of a matrix.
data::Matrix take(const data::Matrix &m, const std::vector<int64_t> &rows) {
  data::Matrix out;
  out.rows = int64_t(rows.size()), out.cols = m.cols;
  out.values.reserve(size_t(out.rows * out.cols));
  for (int64_t r : rows)
    out.values.insert(out.values.end(), &m.values[r * m.cols], &m.values[(r + 1) * m.cols]);
  return out;
}
} // namespace

DataSet teacherData(const rslc_api &teacher, const std::string &teacherPath, const Shape &shape,
                    int64_t samples, uint64_t seed) {
  rslc_model *t;
  if (teacher.create(0, &t))
    fail("teacher: " + std::string(teacher.last_error(nullptr)));
  if (teacher.input_size(t) != shape.inputs || teacher.output_size(t) != shape.outputs) {
    std::string msg = "teacher " + teacherPath + " maps " + std::to_string(teacher.input_size(t)) +
                      " -> " + std::to_string(teacher.output_size(t)) +
                      " values; the model maps " + std::to_string(shape.inputs) + " -> " +
                      std::to_string(shape.outputs);
    teacher.destroy(t);
    fail(msg);
  }
  const int64_t nin = shape.inputs, nout = shape.outputs;
  DataSet ds;
  ds.x.rows = ds.y.rows = samples;
  ds.x.cols = nin;
  ds.x.values.resize(size_t(samples * nin));
  uint64_t key = lift::streamKey(seed, 0x7eac4e7);
  for (int64_t k = 0; k < samples * nin; ++k)
    ds.x.values[k] = lift::normal(lift::draw(key, 2 * k), lift::draw(key, 2 * k + 1));
  ModelReals x(teacher.real_size(), ds.x.values), y(teacher.real_size(),
                                                   std::vector<double>(samples * nout));
  if (teacher.forward(t, x.data(), samples, y.data())) {
    std::string msg = "teacher: " + std::string(teacher.last_error(t));
    teacher.destroy(t);
    fail(msg);
  }
  teacher.destroy(t);
  std::vector<double> out = y.toDouble();
  if (!shape.classes) {
    ds.y.cols = nout;
    ds.y.values = std::move(out);
    return ds;
  }
  ds.y.cols = 1; // classes: the teacher's argmax
  ds.y.values.resize(size_t(samples));
  for (int64_t r = 0; r < samples; ++r)
    ds.y.values[r] =
        double(std::max_element(&out[r * nout], &out[(r + 1) * nout]) - &out[r * nout]);
  return ds;
}

DataSet readData(const std::string &dataPath, const std::string &targetPath,
                 const std::string &npzX, const std::string &npzY, const Shape &shape,
                 bool inputsOnly) {
  const int64_t nin = shape.inputs, tw = shape.targetWidth();
  data::Matrix all = data::load(dataPath, npzX);
  DataSet ds;
  if (!targetPath.empty() || isNpz(dataPath)) {
    ds.x = std::move(all);
    ds.y = data::load(targetPath.empty() ? dataPath : targetPath, npzY);
    if (ds.y.rows != ds.x.rows)
      fail("the inputs have " + std::to_string(ds.x.rows) + " rows, the targets " +
           std::to_string(ds.y.rows));
  } else if (!inputsOnly || all.cols == nin + tw) { // CSV: inputs, then targets
    if (all.cols != nin + tw)
      fail(dataPath + " has " + std::to_string(all.cols) + " columns; the model takes " +
           std::to_string(nin) + " inputs and " + std::to_string(tw) +
           (shape.classes ? " class label" : " targets") + " (" + std::to_string(nin + tw) +
           " columns)" +
           (!shape.classes && all.cols == nin + 1
                ? ": is the last column a class label? then give --loss ce"
                : ""));
    ds.x.rows = ds.y.rows = all.rows;
    ds.x.cols = nin, ds.y.cols = tw;
    ds.x.values.reserve(size_t(all.rows * nin));
    ds.y.values.reserve(size_t(all.rows * tw));
    for (int64_t r = 0; r < all.rows; ++r) {
      const double *row = &all.values[r * all.cols];
      ds.x.values.insert(ds.x.values.end(), row, row + nin);
      ds.y.values.insert(ds.y.values.end(), row + nin, row + all.cols);
    }
  } else {
    ds.x = std::move(all); // inputs only, to predict
  }
  if (ds.x.cols != nin)
    fail(dataPath + ": " + std::to_string(ds.x.cols) + " values per sample; the model takes " +
         std::to_string(nin));
  if (!ds.y.values.empty() && ds.y.cols != tw)
    fail("targets: " + std::to_string(ds.y.cols) + " values per sample; the " +
         (shape.classes ? "cross-entropy" : "mse") + " loss needs " + std::to_string(tw) +
         (!shape.classes && ds.y.cols == 1 ? " (class labels? then give --loss ce)" : ""));
  // Class labels are checked here, where the file and row are known.
  for (int64_t r = 0; shape.classes && r < int64_t(ds.y.values.size()); ++r)
    if (std::string why = classIndexProblem(ds.y.values[r], shape.outputs); !why.empty())
      fail((targetPath.empty() ? dataPath : targetPath) + ": row " + std::to_string(r) + ": " +
           why);
  return ds;
}

DataSet takeRows(const DataSet &d, const std::vector<int64_t> &rows) {
  DataSet out;
  out.x = take(d.x, rows);
  if (!d.y.values.empty())
    out.y = take(d.y, rows);
  return out;
}

std::pair<DataSet, DataSet> split(const DataSet &d, double testFraction, uint64_t seed) {
  const int64_t n = d.rows();
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    order[i] = i;
  if (testFraction > 0)
    order = lift::permutation(n, lift::streamKey(seed, 0x5b117));
  int64_t nTest = int64_t(std::floor(testFraction * double(n)));
  std::vector<int64_t> train(order.begin(), order.end() - nTest), test(order.end() - nTest, order.end());
  return {takeRows(d, train), takeRows(d, test)};
}

Standardizer Standardizer::fit(const data::Matrix &x) {
  // Row by row (the matrix is row-major): the mean, then the mean squared
  // deviation, summed in doubles.
  const size_t cols = size_t(x.cols);
  std::vector<double> sum(cols, 0.0), sq(cols, 0.0);
  for (int64_t r = 0; r < x.rows; ++r)
    for (size_t c = 0; c < cols; ++c)
      sum[c] += x.values[size_t(r) * cols + c];
  Standardizer s;
  s.mean.assign(cols, 0.0);
  s.sd.assign(cols, 1.0);
  if (x.rows == 0)
    return s;
  for (size_t c = 0; c < cols; ++c)
    s.mean[c] = sum[c] / double(x.rows);
  for (int64_t r = 0; r < x.rows; ++r)
    for (size_t c = 0; c < cols; ++c) {
      double d = x.values[size_t(r) * cols + c] - s.mean[c];
      sq[c] += d * d;
    }
  for (size_t c = 0; c < cols; ++c) {
    double var = sq[c] / double(x.rows);
    s.sd[c] = var > 0 ? std::sqrt(var) : 1.0;
  }
  return s;
}

void Standardizer::apply(data::Matrix &x) const {
  for (int64_t r = 0; r < x.rows; ++r)
    for (int64_t c = 0; c < x.cols; ++c)
      x.values[r * x.cols + c] = (x.values[r * x.cols + c] - mean[c]) / sd[c];
}

DataSet shard(const DataSet &d, int rank, int size) {
  std::vector<int64_t> rows;
  for (int64_t r = rank; r < d.rows(); r += size)
    rows.push_back(r);
  return takeRows(d, rows);
}

ModelReals::ModelReals(int realBytes, const std::vector<double> &values) : bytes(realBytes) {
  if (bytes == 4)
    f.assign(values.begin(), values.end());
  else
    d = values;
}
const rslc_real *ModelReals::data() const {
  return reinterpret_cast<const rslc_real *>(bytes == 4 ? static_cast<const void *>(f.data())
                                                        : static_cast<const void *>(d.data()));
}
rslc_real *ModelReals::data() {
  return reinterpret_cast<rslc_real *>(bytes == 4 ? static_cast<void *>(f.data())
                                                  : static_cast<void *>(d.data()));
}
std::vector<double> ModelReals::toDouble() const {
  return bytes == 4 ? std::vector<double>(f.begin(), f.end()) : d;
}

} // namespace rslc::train
