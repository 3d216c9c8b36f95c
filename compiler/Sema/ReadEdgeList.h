//===- ReadEdgeList.h - the lifted edges of an explicit lift, from a file -===//
#ifndef RSLC_SEMA_READEDGELIST_H
#define RSLC_SEMA_READEDGELIST_H

#include "core/LiftPlan.h"

#include <string>

namespace rslc {

/// Fills the explicit lift `s` (s.file already set, resolved to `path`)
/// with the edges the file lists: a .npy of integers shaped (E, 2), rows
/// (source copy, target copy); or a Matrix Market coordinate matrix (.mtx),
/// entry (row, column) = (target copy + 1, source copy + 1), every listed
/// entry an edge whatever its value, its size the fibers it declares. The
/// edges are sorted by target copy then source copy (range and duplicates
/// are checked with the fibers, core/LiftKinds.cpp). Returns "" or why not.
std::string readEdgeList(const std::string &path, lift::LiftSetting &s);

} // namespace rslc

#endif
