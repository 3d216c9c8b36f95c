//===- ReadEdgeList.cpp - the lifted edges of an explicit lift, from a file -===//
#include "Sema/ReadEdgeList.h"

#include "core/Files.h"
#include "core/Npy.h"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace rslc {

namespace {

using EdgeList = std::vector<std::pair<uint32_t, uint32_t>>;

/// A copy index: a whole number below 2^32.
bool copyIndex(double v, uint32_t &out) {
  if (!(v >= 0) || v >= 4294967296.0 || v != std::floor(v))
    return false;
  out = uint32_t(v);
  return true;
}

std::string fromNpy(const std::string &bytes, const std::string &name, EdgeList &edges) {
  npy::Array a;
  try {
    a = npy::parse(bytes, name);
  } catch (const npy::Error &e) {
    return e.what();
  }
  if (a.kind == 'f')
    return name + ": an edge list holds integers (source copy, target copy), not floats";
  if (a.shape.size() != 2 || a.shape[1] != 2)
    return name + ": an edge list has shape (E, 2): rows (source copy, target copy)";
  edges.resize(a.values.size() / 2);
  for (size_t k = 0; k < edges.size(); ++k)
    if (!copyIndex(a.values[2 * k], edges[k].first) ||
        !copyIndex(a.values[2 * k + 1], edges[k].second))
      return name + ": row " + std::to_string(k) + " is not a pair of copy indices";
  return "";
}

std::string fromMatrixMarket(const std::string &bytes, const std::string &name, EdgeList &edges,
                             int64_t &rows, int64_t &cols) {
  std::istringstream in(bytes);
  std::string line;
  if (!std::getline(in, line) || line.rfind("%%MatrixMarket", 0) != 0)
    return name + ": not a Matrix Market file (no %%MatrixMarket header)";
  std::istringstream header(line);
  std::string banner, object, format, field, symmetry;
  header >> banner >> object >> format >> field >> symmetry;
  for (std::string *w : {&object, &format, &field, &symmetry})
    std::transform(w->begin(), w->end(), w->begin(), ::tolower);
  if (object != "matrix" || format != "coordinate" || symmetry != "general" ||
      (field != "pattern" && field != "real" && field != "integer" && field != "double"))
    return name + ": only 'matrix coordinate' files of pattern, real or integer entries and "
                  "general symmetry are read, not '" +
           npy::printable(line) + "'";
  while (std::getline(in, line) && (line.empty() || line[0] == '%'))
    ;
  int64_t nnz = -1;
  std::istringstream size(line);
  if (!(size >> rows >> cols >> nnz) || rows < 1 || cols < 1 || nnz < 0 ||
      rows > 4294967295LL || cols > 4294967295LL)
    return name + ": bad size line '" + npy::printable(line) + "'";
  if (uint64_t(nnz) > bytes.size()) // every entry takes a line
    return name + ": the size line promises " + std::to_string(nnz) + " entries";
  edges.resize(size_t(nnz));
  for (int64_t k = 0; k < nnz; ++k) {
    do {
      if (!std::getline(in, line))
        return name + ": " + std::to_string(nnz) + " entries promised, " + std::to_string(k) +
               " found";
    } while (line.empty() || line[0] == '%');
    std::istringstream entry(line);
    int64_t i, j;
    if (!(entry >> i >> j) || i < 1 || i > rows || j < 1 || j > cols)
      return name + ": entry " + std::to_string(k + 1) + " '" + npy::printable(line) +
             "' is not a position in the " + std::to_string(rows) + " x " +
             std::to_string(cols) + " matrix";
    edges[size_t(k)] = {uint32_t(j - 1), uint32_t(i - 1)}; // (source, target)
  }
  return "";
}

} // namespace

std::string readEdgeList(const std::string &path, lift::LiftSetting &s) {
  if (s.file.find_first_of("\"\\\n\r") != std::string::npos)
    return "file names with quotes, backslashes or line breaks are not supported";
  auto endsWith = [&](const char *ext) {
    std::string e(ext);
    return path.size() >= e.size() && path.compare(path.size() - e.size(), e.size(), e) == 0;
  };
  const bool isNpy = endsWith(".npy");
  if (!isNpy && !endsWith(".mtx"))
    return "'" + s.file + "': an explicit lift reads a .npy edge list or a Matrix Market .mtx file";
  std::string bytes;
  if (std::string why = files::readRegular(path, uint64_t(1) << 32, bytes); !why.empty())
    return "cannot read '" + s.file + "': " + why;
  auto list = std::make_shared<EdgeList>();
  std::string why = isNpy ? fromNpy(bytes, s.file, *list)
                          : fromMatrixMarket(bytes, s.file, *list, s.declaredTargets,
                                             s.declaredSources);
  if (!why.empty())
    return why;
  std::sort(list->begin(), list->end(), [](const auto &a, const auto &b) {
    return std::tie(a.second, a.first) < std::tie(b.second, b.first);
  });
  s.edges = std::move(list);
  return "";
}

} // namespace rslc
