//===- EdgeMaps.cpp - the rules of each edge map ---------------------------===//
#include "EdgeMaps.h"

namespace rslc {

std::string checkMapShape(MapKind map, int64_t du, int64_t dv) {
  switch (map) {
  case MapKind::Linear: return "";
  case MapKind::Diag:
  case MapKind::Skip:
    if (du == dv)
      return "";
    return std::string(keyword(map)) + " edges need equal dimensions";
  }
  return "";
}

double weightsPerLiftedEdge(MapKind map, double du, double dv) {
  switch (map) {
  case MapKind::Linear: return du * dv;
  case MapKind::Diag: return dv;
  case MapKind::Skip: return 0;
  }
  return 0;
}

double fanInPerLiftedEdge(MapKind map, double du) {
  switch (map) {
  case MapKind::Linear: return du;
  case MapKind::Diag: return 1;
  case MapKind::Skip: return 0;
  }
  return 0;
}

} // namespace rslc
