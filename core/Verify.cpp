//===- Verify.cpp - check every invariant of a LiftedGraph ----------------===//
#include "LiftKinds.h"
#include "LiftedGraph.h"
#include "Topo.h"

#include <algorithm>
#include <string>

namespace rslc::lift {

namespace {

class Verifier {
public:
  explicit Verifier(const LiftedGraph &g) : g(g), p(g.plan) {}

  std::vector<std::string> run() {
    fibers();
    acyclic();
    for (size_t e = 0; e < g.edges.size() && e < p.edges.size(); ++e)
      edge(e);
    if (g.edges.size() != p.edges.size())
      fail("lifted graph has " + std::to_string(g.edges.size()) + " edges lists for " +
           std::to_string(p.edges.size()) + " base edges");
    else
      tiedEdges();
    layout();
    return errors;
  }

private:
  void fail(const std::string &msg) {
    if (errors.size() < 20)
      errors.push_back(msg);
  }
  std::string name(size_t e) const {
    return "edge '" + p.vertices[p.edges[e].src].name + " -> " +
           p.vertices[p.edges[e].dst].name + "'";
  }

  void fibers() {
    if (g.copyOffset.size() != p.vertices.size() + 1 || g.copyOffset[0] != 0) {
      fail("copy offsets do not cover the base vertices");
      return;
    }
    for (size_t v = 0; v < p.vertices.size(); ++v)
      if (g.copyOffset[v + 1] - g.copyOffset[v] != uint64_t(p.vertices[v].copies))
        fail("fiber of '" + p.vertices[v].name + "' has " +
             std::to_string(g.copyOffset[v + 1] - g.copyOffset[v]) + " copies, the lift says " +
             std::to_string(p.vertices[v].copies));
  }

  /// pi maps every lifted edge onto a base edge, so G is acyclic iff B is.
  void acyclic() {
    if (topologicalOrder(p.vertices.size(), p.edges).size() != p.vertices.size())
      fail("the base graph has a cycle (or an edge out of range), so the lifted graph is not "
           "a DAG");
  }

  void edge(size_t e) {
    const LiftedEdge &le = g.edges[e];
    const PlanEdge &pe = p.edges[e];
    const EdgeFibers f = edgeFibers(p, pe);
    const int64_t nu = f.nu, nv = f.nv;
    if (le.kind != pe.lift.kind || le.nu != nu || le.nv != nv) {
      fail(name(e) + ": lifted between fibers of the wrong size or kind (pi is not a "
                     "homomorphism onto this edge)");
      return;
    }
    const LiftKindRules &rules = liftKindRules(pe.lift.kind);
    std::string why = rules.check(nu, nv, pe.lift, "'" + p.vertices[pe.src].name + " -> " +
                                                       p.vertices[pe.dst].name + "'",
                                  p.vertices[pe.src].name);
    if (!why.empty()) {
      fail(why);
      return;
    }
    RowLayout want = rules.layout(nu, nv, pe.lift);
    if (!(le.layout == want)) {
      fail(name(e) + ": rows of length " + std::to_string(le.layout.rowLength) + ", " +
           (le.layout.explicitRows ? "explicit" : "implicit") + ", stride " +
           std::to_string(le.layout.stride) + "; the lift kind gives length " +
           std::to_string(want.rowLength) + ", " + (want.explicitRows ? "explicit" : "implicit") +
           ", stride " + std::to_string(want.stride));
      return;
    }
    if (le.layout.rowLength) {
      if (le.count != uint64_t(nv) * uint64_t(le.layout.rowLength)) {
        fail(name(e) + ": " + std::to_string(le.count) + " lifted edges in " + std::to_string(nv) +
             " rows of " + std::to_string(le.layout.rowLength));
        return;
      }
    } else {
      if (le.rowPtr.size() != uint64_t(nv) + 1 || le.rowPtr[0] != 0 || le.rowPtr.back() != le.count) {
        fail(name(e) + ": row pointers do not match the stored sources");
        return;
      }
      for (int64_t j = 0; j < nv; ++j)
        if (le.rowPtr[j] > le.rowPtr[j + 1]) {
          fail(name(e) + ": row pointers decrease at copy " + std::to_string(j));
          return;
        }
    }
    if (!le.layout.explicitRows) {
      // Implicit rows read j*stride .. j*stride + rowLength - 1 of the source fiber.
      int64_t last = (nv - 1) * le.layout.stride + le.layout.rowLength;
      if ((le.layout.stride != 0 && le.layout.stride != le.layout.rowLength) || (nv > 0 && last > nu))
        fail(name(e) + ": implicit rows read past the source fiber of " + std::to_string(nu));
      return;
    }
    if (le.col.size() != le.count) {
      fail(name(e) + ": " + std::to_string(le.col.size()) + " sources stored for " +
           std::to_string(le.count) + " lifted edges");
      return;
    }
    rows(e);
    transposed(e);
  }

  /// The first index in [0, n) for which bad(index) holds, or n; checked
  /// in parallel, reported deterministically.
  template <typename Bad> static int64_t firstBad(int64_t n, Bad bad) {
    int64_t first = n;
#pragma omp parallel for schedule(static) reduction(min : first)
    for (int64_t k = 0; k < n; ++k)
      if (k < first && bad(k))
        first = k;
    return first;
  }

  void rows(size_t e) {
    const LiftedEdge &le = g.edges[e];
    auto badSource = [&](uint64_t q) { return le.col[q] >= uint64_t(le.nu); };
    auto badOrder = [&](int64_t j, uint64_t q) {
      return q > le.rowBegin(j) && le.col[q] <= le.col[q - 1];
    };
    int64_t j = firstBad(le.nv, [&](int64_t j) {
      for (uint64_t q = le.rowBegin(j); q < le.rowEnd(j); ++q)
        if (badSource(q) || badOrder(j, q))
          return true;
      return false;
    });
    if (j == le.nv)
      return;
    for (uint64_t q = le.rowBegin(j); q < le.rowEnd(j); ++q) {
      if (badSource(q)) {
        fail(name(e) + ": copy " + std::to_string(j) + " reads source copy " +
             std::to_string(le.col[q]) + ", outside the fiber of " + std::to_string(le.nu));
        return;
      }
      if (badOrder(j, q)) {
        fail(name(e) + ": copy " + std::to_string(j) +
             (le.col[q] == le.col[q - 1] ? " has a duplicate lifted edge from source copy "
                                         : " has unsorted sources at source copy ") +
             std::to_string(le.col[q]));
        return;
      }
    }
  }

  void transposed(size_t e) {
    const LiftedEdge &le = g.edges[e];
    if (le.tPtr.size() != uint64_t(le.nu) + 1 || le.tPtr[0] != 0 || le.tPtr.back() != le.count ||
        le.tRow.size() != le.count || le.tPos.size() != le.count) {
      fail(name(e) + ": the transposed structure does not cover the lifted edges");
      return;
    }
    int64_t i = firstBad(le.nu, [&](int64_t i) { return le.tPtr[i] > le.tPtr[i + 1]; });
    if (i != le.nu) {
      fail(name(e) + ": transposed pointers decrease at source copy " + std::to_string(i));
      return;
    }
    // Each entry names a forward position holding source i in row tRow,
    // with rows ascending: every lifted edge appears exactly once.
    i = firstBad(le.nu, [&](int64_t i) {
      for (uint64_t q = le.tPtr[i]; q < le.tPtr[i + 1]; ++q) {
        uint64_t pos = le.tPos[q];
        uint32_t j = le.tRow[q];
        bool ok = pos < le.count && j < uint64_t(le.nv) && le.col[pos] == uint64_t(i) &&
                  le.rowBegin(j) <= pos && pos < le.rowEnd(j) &&
                  (q == le.tPtr[i] || le.tRow[q - 1] < j);
        if (!ok)
          return true;
      }
      return false;
    });
    if (i != le.nu)
      fail(name(e) + ": transposed entries of source copy " + std::to_string(i) +
           " do not match the forward structure");
  }

  void tiedEdges() {
    std::vector<int64_t> first(p.groupNames.size(), -1);
    for (size_t e = 0; e < p.edges.size(); ++e) {
      uint32_t grp = p.edges[e].group;
      if (grp == noGroup)
        continue;
      if (grp >= p.groupNames.size()) {
        fail(name(e) + ": weight group out of range");
        continue;
      }
      if (first[grp] < 0) {
        first[grp] = int64_t(e);
        continue;
      }
      const LiftedEdge &a = g.edges[first[grp]], &b = g.edges[e];
      if (a.kind != b.kind || !(a.layout == b.layout) || a.nu != b.nu || a.nv != b.nv || a.count != b.count ||
          a.col != b.col || a.rowPtr != b.rowPtr || g.weightsPerEdge(e) != g.weightsPerEdge(first[grp]))
        fail(name(e) + " shares weights '" + p.groupNames[grp] + "' with " + name(first[grp]) +
             " but is lifted differently");
    }
  }

  void layout() {
    uint64_t next = 0;
    for (const ParamTensor &t : g.tensors) {
      if (t.offset != next) {
        fail("parameter tensor '" + t.name + "' starts at " + std::to_string(t.offset) +
             ", expected " + std::to_string(next) + " (tensors must tile the parameters)");
        return;
      }
      next += t.size;
    }
    if (next != g.numParams)
      fail("parameter tensors hold " + std::to_string(next) + " values, numParams is " +
           std::to_string(g.numParams));
  }

  const LiftedGraph &g;
  const LiftPlan &p;
  std::vector<std::string> errors;
};

} // namespace

std::vector<std::string> verify(const LiftedGraph &graph) { return Verifier(graph).run(); }

} // namespace rslc::lift
