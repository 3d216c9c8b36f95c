//===- CheckOptimum.cpp - LU certificates in consecutive sparse layers ----===//
//
// At a hidden vertex v, rows are the target copies of v's out-edges, columns
// the source copies of its in-edges, and the paths of cell (i, j) are the
// copies h of v with i reading h and h reading j. A certificate: a copy k,
// rows i1 != i2 reading k and columns j1 != j2 read by k, where k is the only
// path of (i1, j1), (i1, j2) and (i2, j1), and (i2, j2) has another path.
// On those four cells every product W_out * W_in is then a rank-one block
// (through k) plus a free corner (i2, j2), so it never equals the swap
// [[0, 1], [1, 0]] (the block would need 0 * c = 1 * 1), yet comes as near as
// wanted: (e, 1) x (1, 1/e) through k, and -1/e through the other path. So the
// set of products is not closed.
//
//===----------------------------------------------------------------------===//
#include "Lift/CheckOptimum.h"

#include "core/EdgeMaps.h"
#include "core/LiftKinds.h"

#include <algorithm>
#include <unordered_map>

namespace rslc::lift {

namespace {

/// Compressed lists: items of list x are at [begin[x], begin[x + 1]).
struct Lists {
  std::vector<uint64_t> begin{0};
  std::vector<uint64_t> items;
  void close() { begin.push_back(items.size()); }
  uint64_t size(uint64_t x) const { return begin[x + 1] - begin[x]; }
  const uint64_t *of(uint64_t x) const { return items.data() + begin[x]; }
};

/// Appends the targets of source copy i of lifted edge e, offset by `base`.
void appendTargets(const LiftedEdge &le, int64_t i, uint64_t base, std::vector<uint64_t> &out) {
  if (le.layout.explicitRows) {
    for (uint64_t q = le.tPtr[i]; q < le.tPtr[i + 1]; ++q)
      out.push_back(base + le.tRow[q]);
  } else if (le.layout.stride == 0) {
    for (int64_t j = 0; j < le.nv; ++j)
      out.push_back(base + j);
  } else {
    out.push_back(base + uint64_t(i / le.layout.stride));
  }
}

void appendSources(const LiftedEdge &le, int64_t j, uint64_t base, std::vector<uint64_t> &out) {
  for (uint64_t q = le.rowBegin(j); q < le.rowEnd(j); ++q)
    out.push_back(base + le.sourceAt(j, q));
}

bool fullLayout(const LiftedEdge &le) { return !le.layout.explicitRows && le.layout.stride == 0; }

/// A bit matrix, rows of `words` 64-bit words.
struct Bits {
  size_t words = 0;
  std::vector<uint64_t> data;
  void reset(size_t rows, size_t columns) {
    words = (columns + 63) / 64;
    data.assign(rows * words, 0);
  }
  void set(size_t r, size_t c) { data[r * words + c / 64] |= uint64_t(1) << (c % 64); }
  const uint64_t *row(size_t r) const { return data.data() + r * words; }
};

/// The adjacency lists of one layer hold at most this many entries (8 bytes
/// each): larger layers are reported as not examined.
constexpr double maxListItems = 2e7;

/// Per base vertex: its in-edges and out-edges.
struct Adjacency {
  std::vector<std::vector<uint32_t>> in, out;
  explicit Adjacency(const LiftPlan &p) : in(p.vertices.size()), out(p.vertices.size()) {
    for (uint32_t e = 0; e < p.edges.size(); ++e) {
      in[p.edges[e].dst].push_back(e);
      out[p.edges[e].src].push_back(e);
    }
  }
};

/// Whether hidden vertex v may be an inner index of a checked layer (see
/// CheckOptimum.h).
bool inner(const LiftedGraph &g, const Adjacency &adj, uint32_t v,
           const std::vector<unsigned> &groupUses) {
  const LiftPlan &p = g.plan;
  const PlanVertex &pv = p.vertices[v];
  if (pv.role != Role::Hidden || pv.dim != 1 || pv.agg != Aggregation::Sum ||
      (pv.act != Activation::Relu && pv.act != Activation::Identity) || adj.in[v].empty() ||
      adj.out[v].empty())
    return false;
  for (const std::vector<uint32_t> *side : {&adj.in[v], &adj.out[v]})
    for (uint32_t e : *side) {
      const PlanEdge &pe = p.edges[e];
      if (pe.map != MapKind::Linear || pe.group == noGroup || groupUses[pe.group] != 1 ||
          p.vertices[pe.src].shape.size() != 1 || p.vertices[pe.dst].shape.size() != 1)
        return false;
    }
  return true;
}

/// Rows or columns: consecutive ranges, one per base vertex, in order.
struct Ranges {
  std::unordered_map<uint32_t, uint64_t> base, count; ///< per vertex
  std::vector<std::pair<uint64_t, uint32_t>> starts;  ///< (first index, vertex), ascending
  uint64_t total = 0;
  void add(uint32_t v, uint64_t n) {
    if (base.count(v))
      return;
    base[v] = total, count[v] = n;
    starts.push_back({total, v});
    total += n;
  }
  bool has(uint32_t v) const { return base.count(v) != 0; }
  LayerIndex at(uint64_t x) const {
    auto it = std::upper_bound(starts.begin(), starts.end(), std::make_pair(x, ~0u)) - 1;
    return {it->second, x - it->first};
  }
};

/// One layer: inner vertices joined by a shared source or target vertex.
/// Columns are the copies of the sources of their in-edges, rows the copies
/// of the targets of their out-edges; the inner index runs over their copies.
/// Work and memory are in the layer's own edges (a chain of 10^5 layers
/// costs 10^5 small checks).
class LayerCheck {
public:
  LayerCheck(const LiftedGraph &g, const Adjacency &adj, std::vector<uint32_t> members)
      : g(g), adj(adj), members(std::move(members)) {
    for (size_t a = 0; a < this->members.size(); ++a)
      memberOf[this->members[a]] = int64_t(a);
    for (uint32_t m : this->members) {
      for (uint32_t e : adj.in[m])
        cols.add(g.plan.edges[e].src, uint64_t(g.edges[e].nu));
      for (uint32_t e : adj.out[m])
        rows.add(g.plan.edges[e].dst, uint64_t(g.edges[e].nv));
    }
  }

  OptimumReport run(double budget) {
    const LiftPlan &p = g.plan;
    OptimumReport r;
    r.layer = members;
    for (uint32_t m : members)
      r.innerCopies += uint64_t(p.vertices[m].copies);
    // A lone vertex whose in-edges (or out-edges) are all full has as many
    // paths in every cell of a row (or column): no certificate. A source
    // read as one copy by an edge and by components by another has no one
    // set of columns: not examined.
    bool allInFull = true, allOutFull = true, consistent = true;
    double items = 0;
    for (uint32_t m : members) {
      for (uint32_t e : adj.in[m]) {
        allInFull &= fullLayout(g.edges[e]);
        consistent &= uint64_t(g.edges[e].nu) == cols.count.at(p.edges[e].src);
        items += 2 * double(g.edges[e].count);
      }
      for (uint32_t e : adj.out[m]) {
        allOutFull &= fullLayout(g.edges[e]);
        items += 2 * double(g.edges[e].count);
      }
    }
    if (!consistent || (members.size() == 1 && (allInFull || allOutFull))) {
      r.kind = OptimumReport::Kind::None;
      return r;
    }
    if (items > maxListItems) {
      r.kind = OptimumReport::Kind::TooLarge;
      r.work = items;
      return r;
    }
    for (uint32_t m : members) { // columns each copy reads, rows reading it
      copyBase.push_back(numInner);
      numInner += uint64_t(p.vertices[m].copies);
      for (int64_t h = 0; h < p.vertices[m].copies; ++h) {
        for (uint32_t e : adj.in[m])
          appendSources(g.edges[e], h, cols.base.at(p.edges[e].src), srcs.items);
        srcs.close();
        for (uint32_t e : adj.out[m])
          appendTargets(g.edges[e], h, rows.base.at(p.edges[e].dst), tgts.items);
        tgts.close();
      }
    }
    // Per row: the inner copies it reads, and the columns it reads directly
    // (an edge that skips the layer is one more path of its cells).
    for (auto [first, w] : rows.starts) {
      for (int64_t t = 0; t < p.vertices[w].copies; ++t) {
        for (uint32_t e : adj.in[w]) {
          const uint32_t u = p.edges[e].src;
          if (auto it = memberOf.find(u); it != memberOf.end())
            appendSources(g.edges[e], t, copyBase[size_t(it->second)], reads.items);
          else if (cols.has(u) && uint64_t(g.edges[e].nu) == cols.count.at(u))
            appendSources(g.edges[e], t, cols.base.at(u), direct.items);
        }
        reads.close();
        direct.close();
      }
    }
    // The search visits, per copy k, row i reading k and copy h read by i,
    // the sources of h.
    for (uint64_t k = 0; k < numInner; ++k)
      for (uint64_t a = 0; a < tgts.size(k); ++a) {
        uint64_t i = tgts.of(k)[a];
        r.work += double(direct.size(i));
        for (uint64_t b = 0; b < reads.size(i); ++b)
          r.work += double(srcs.size(reads.of(i)[b]));
      }
    if (r.work > budget) {
      r.kind = OptimumReport::Kind::TooLarge;
      return r;
    }
    colPos.assign(cols.total, -1);
    for (uint64_t k = 0; k < numInner; ++k)
      if (search(k, r) && r.copiesWithPattern++ == 0)
        r.kind = OptimumReport::Kind::Pattern;
    return r;
  }

private:
  LayerIndex innerIndex(uint64_t k) const {
    size_t a = std::upper_bound(copyBase.begin(), copyBase.end(), k) - copyBase.begin() - 1;
    return {members[a], k - copyBase[a]};
  }

  /// Looks for a certificate through inner copy k; fills `r` with the first found.
  bool search(uint64_t k, OptimumReport &r) {
    const uint64_t *C = srcs.of(k), *R = tgts.of(k);
    const size_t nc = srcs.size(k), nr = tgts.size(k);
    if (nc < 2 || nr < 2)
      return false;
    for (size_t c = 0; c < nc; ++c)
      colPos[C[c]] = int64_t(c);
    // ones: cells whose only path is k; more: cells with another path.
    ones.reset(nr, nc);
    more.reset(nr, nc);
    onesByColumn.reset(nc, nr);
    count.assign(nc, 0);
    for (size_t a = 0; a < nr; ++a) {
      std::fill(count.begin(), count.end(), 0);
      const uint64_t i = R[a];
      for (uint64_t b = 0; b < reads.size(i); ++b) {
        uint64_t h = reads.of(i)[b];
        if (h == k)
          continue;
        for (uint64_t q = 0; q < srcs.size(h); ++q)
          if (int64_t c = colPos[srcs.of(h)[q]]; c >= 0)
            ++count[c];
      }
      for (uint64_t q = 0; q < direct.size(i); ++q)
        if (int64_t c = colPos[direct.of(i)[q]]; c >= 0)
          ++count[c];
      for (size_t c = 0; c < nc; ++c) {
        if (count[c] == 0) {
          ones.set(a, c);
          onesByColumn.set(c, a);
        } else {
          more.set(a, c);
        }
      }
    }
    bool found = false;
    for (size_t a2 = 0; a2 < nr && !found; ++a2)
      for (size_t c2 = 0; c2 < nc && !found; ++c2) {
        if (!(more.row(a2)[c2 / 64] >> (c2 % 64) & 1))
          continue;
        for (size_t c1 = 0; c1 < nc && !found; ++c1) {
          if (!(ones.row(a2)[c1 / 64] >> (c1 % 64) & 1))
            continue;
          const uint64_t *x = onesByColumn.row(c1), *y = onesByColumn.row(c2);
          for (size_t w = 0; w < onesByColumn.words && !found; ++w)
            if (uint64_t both = x[w] & y[w]) {
              found = true;
              if (r.copiesWithPattern == 0)
                record(k, R[w * 64 + size_t(__builtin_ctzll(both))], R[a2], C[c1], C[c2], r);
            }
        }
      }
    for (size_t c = 0; c < nc; ++c)
      colPos[C[c]] = -1;
    return found;
  }

  void record(uint64_t k, uint64_t i1, uint64_t i2, uint64_t j1, uint64_t j2, OptimumReport &r) {
    r.k = innerIndex(k);
    r.i1 = rows.at(i1), r.i2 = rows.at(i2), r.j1 = cols.at(j1), r.j2 = cols.at(j2);
    r.other = {~0u, 0}; // a direct edge, unless an inner copy carries the path
    for (uint64_t b = 0; b < reads.size(i2); ++b) {
      uint64_t h = reads.of(i2)[b];
      if (h != k && std::find(srcs.of(h), srcs.of(h) + srcs.size(h), j2) != srcs.of(h) + srcs.size(h)) {
        r.other = innerIndex(h);
        break;
      }
    }
  }

  const LiftedGraph &g;
  const Adjacency &adj;
  const std::vector<uint32_t> members;
  std::unordered_map<uint32_t, int64_t> memberOf; ///< vertex -> its index in members
  Ranges cols, rows;
  std::vector<uint64_t> copyBase; ///< per member: its first inner copy
  uint64_t numInner = 0;
  Lists srcs, tgts;    ///< per inner copy: the columns it reads, the rows reading it
  Lists reads, direct; ///< per row: the inner copies it reads, the columns it reads directly
  std::vector<int64_t> colPos; ///< column -> its position among k's, or -1
  std::vector<uint32_t> count;
  Bits ones, more, onesByColumn;
};

} // namespace

std::vector<OptimumReport> checkOptimum(const LiftedGraph &g, double budget) {
  const LiftPlan &p = g.plan;
  const size_t nv = p.vertices.size();
  std::vector<unsigned> groupUses(p.groupNames.size(), 0);
  for (const PlanEdge &pe : p.edges)
    if (pe.group != noGroup)
      ++groupUses[pe.group];
  // Inner vertices sharing a source or a target vertex form one layer.
  std::vector<uint32_t> parent(nv);
  for (uint32_t v = 0; v < nv; ++v)
    parent[v] = v;
  auto find = [&](uint32_t v) {
    while (parent[v] != v)
      v = parent[v] = parent[parent[v]];
    return v;
  };
  const Adjacency adj(p);
  std::vector<bool> isInner(nv);
  for (uint32_t v = 0; v < nv; ++v)
    isInner[v] = inner(g, adj, v, groupUses);
  std::vector<int64_t> firstBySource(nv, -1), firstByTarget(nv, -1);
  for (const PlanEdge &pe : p.edges) {
    if (isInner[pe.dst]) {
      if (firstBySource[pe.src] < 0)
        firstBySource[pe.src] = pe.dst;
      parent[find(pe.dst)] = find(uint32_t(firstBySource[pe.src]));
    }
    if (isInner[pe.src]) {
      if (firstByTarget[pe.dst] < 0)
        firstByTarget[pe.dst] = pe.src;
      parent[find(pe.src)] = find(uint32_t(firstByTarget[pe.dst]));
    }
  }
  std::vector<std::vector<uint32_t>> layers(nv);
  for (uint32_t v = 0; v < nv; ++v)
    if (isInner[v])
      layers[find(v)].push_back(v);
  std::vector<OptimumReport> reports;
  for (auto &members : layers)
    if (!members.empty())
      reports.push_back(LayerCheck(g, adj, std::move(members)).run(budget));
  return reports;
}

bool shallowScalarOutput(const LiftPlan &p) {
  int64_t outputs = 0;
  for (const PlanVertex &v : p.vertices) {
    if (v.role == Role::Output)
      outputs += v.dim;
    if (v.role == Role::Hidden && v.act != Activation::Relu && v.act != Activation::Identity)
      return false;
  }
  for (const PlanEdge &e : p.edges) {
    const Role src = p.vertices[e.src].role, dst = p.vertices[e.dst].role;
    if (e.map != MapKind::Linear || (src == Role::Hidden && dst != Role::Output) ||
        (dst == Role::Hidden && src != Role::Input))
      return false;
  }
  return outputs == 1;
}

} // namespace rslc::lift
