//===- EdgeMaps.cpp - the rules of each edge map ---------------------------===//
#include "EdgeMaps.h"

namespace rslc {

namespace {
bool isWindow(MapKind m) {
  return m == MapKind::Conv || m == MapKind::MaxPool || m == MapKind::AvgPool;
}
bool isRole(MapKind m) { return m == MapKind::Query || m == MapKind::Key || m == MapKind::Value; }
double product(const Shape &s) {
  double n = 1;
  for (int64_t e : s)
    n *= double(e);
  return n;
}
} // namespace

std::string shapeText(const Shape &s) {
  std::string t = "[";
  for (size_t i = 0; i < s.size(); ++i)
    t += (i ? ", " : "") + std::to_string(s[i]);
  return t + "]";
}

std::vector<std::string_view> mapArgNames(MapKind map) {
  switch (map) {
  case MapKind::Conv: return {"kernel", "stride", "padding", "dilation"};
  case MapKind::MaxPool:
  case MapKind::AvgPool: return {"kernel", "stride", "padding"};
  default: return {};
  }
}

std::string setMapParams(MapKind map, const std::vector<std::pair<std::string, int64_t>> &args,
                         MapParams &p) {
  if (!isWindow(map))
    return "";
  bool haveKernel = false, haveStride = false;
  for (const auto &[name, value] : args) {
    if (name == "kernel")
      p.kernel = value, haveKernel = true;
    else if (name == "stride")
      p.stride = value, haveStride = true;
    else if (name == "padding")
      p.padding = value;
    else if (name == "dilation")
      p.dilation = value;
  }
  std::string m(keyword(map));
  if (!haveKernel)
    return m + " needs its kernel size: " + m + "(kernel = K, ...)";
  if (!haveStride && map != MapKind::Conv)
    p.stride = p.kernel; // pooling windows tile the map by default
  if (p.kernel < 1 || p.kernel > 64)
    return m + " kernel must be between 1 and 64, got " + std::to_string(p.kernel);
  if (p.stride < 1 || p.stride > 64)
    return m + " stride must be between 1 and 64, got " + std::to_string(p.stride);
  if (p.dilation < 1 || p.dilation > 64)
    return m + " dilation must be between 1 and 64, got " + std::to_string(p.dilation);
  // Every window must hold a pixel of the map: a pooling window made of
  // padding only has no maximum.
  int64_t maxPadding = map == MapKind::Conv ? p.kernel * p.dilation - 1 : p.kernel / 2;
  if (p.padding < 0 || p.padding > maxPadding)
    return m + " padding must be between 0 and " +
           (map == MapKind::Conv ? "kernel x dilation - 1" : "kernel / 2") + " (" +
           std::to_string(maxPadding) + "), got " + std::to_string(p.padding);
  return "";
}

std::string mapText(MapKind map, const MapParams &p) {
  std::string t(keyword(map));
  if (map == MapKind::Conv)
    t += "(kernel = " + std::to_string(p.kernel) + ", stride = " + std::to_string(p.stride) +
         ", padding = " + std::to_string(p.padding) + ", dilation = " +
         std::to_string(p.dilation) + ")";
  else if (isWindow(map))
    t += "(kernel = " + std::to_string(p.kernel) + ", stride = " + std::to_string(p.stride) +
         ", padding = " + std::to_string(p.padding) + ")";
  return t;
}

Shape windowOutput(const MapParams &p, const Shape &u) {
  Shape out;
  for (int64_t extent : u) {
    int64_t span = p.dilation * (p.kernel - 1) + 1;
    int64_t room = extent + 2 * p.padding - span;
    out.push_back(room < 0 ? 0 : room / p.stride + 1);
  }
  return out;
}

bool linearAlongLastAxis(const Shape &u, const Shape &v) {
  if (u.size() < 2 || u.size() != v.size())
    return false;
  for (size_t i = 0; i + 1 < u.size(); ++i)
    if (u[i] != v[i])
      return false;
  return true;
}

std::string checkMapShape(MapKind map, const MapParams &p, const Shape &u, const Shape &v) {
  switch (map) {
  case MapKind::Linear: return "";
  case MapKind::Diag:
    return u == v ? "" : "diag edges need equal shapes";
  case MapKind::Skip:
    return product(u) == product(v) ? "" : "skip edges need equal dimensions";
  case MapKind::Query:
  case MapKind::Key:
  case MapKind::Value:
    if (u.size() != 2 || v.size() != 2)
      return "attention edges join [T, d] shapes";
    return "";
  case MapKind::Conv:
  case MapKind::MaxPool:
  case MapKind::AvgPool: {
    if (u.size() != 2 || v.size() != 2)
      return std::string(keyword(map)) + " edges join [H, W] shapes";
    Shape out = windowOutput(p, u);
    if (out[0] < 1 || out[1] < 1)
      return "the " + std::string(keyword(map)) + " window does not fit in " + shapeText(u);
    if (out != v)
      return std::string(keyword(map)) + " of " + shapeText(u) + " with " + mapText(map, p) +
             " makes " + shapeText(out);
    return "";
  }
  }
  return "";
}

bool hasWeights(MapKind map) {
  return map == MapKind::Linear || map == MapKind::Diag || map == MapKind::Conv;
}

int64_t edgeOutputDim(MapKind map, const Shape &u, const Shape &v) {
  return int64_t(isRole(map) ? product(u) : product(v));
}

double weightsPerLiftedEdge(MapKind map, const MapParams &p, const Shape &u, const Shape &v) {
  switch (map) {
  case MapKind::Linear:
    return linearAlongLastAxis(u, v) ? double(u.back()) * double(v.back()) : product(u) * product(v);
  case MapKind::Diag: return product(v);
  case MapKind::Conv: return double(p.kernel) * double(p.kernel);
  default: return 0;
  }
}

double fanInPerLiftedEdge(MapKind map, const MapParams &p, const Shape &u, const Shape &v) {
  switch (map) {
  case MapKind::Linear: return linearAlongLastAxis(u, v) ? double(u.back()) : product(u);
  case MapKind::Diag: return 1;
  case MapKind::Conv: return double(p.kernel) * double(p.kernel);
  default: return 0;
  }
}

} // namespace rslc
