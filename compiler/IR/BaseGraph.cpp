#include "IR/BaseGraph.h"
#include "IR/Topo.h"


#include <charconv>

using namespace llvm;

namespace rslc {

namespace {
template <typename E, size_t N>
std::optional<E> lookup(StringRef s, const StringRef (&names)[N]) {
  for (size_t i = 0; i < N; ++i)
    if (names[i] == s)
      return E(i);
  return std::nullopt;
}

const StringRef roleNames[] = {"input", "hidden", "output"};
const StringRef activationTable[] = {"identity", "relu",     "leaky_relu", "tanh",
                                     "sigmoid",  "gelu",     "softplus",   "silu"};
const StringRef aggregationTable[] = {"sum", "prod"};
const StringRef mapKindTable[] = {"linear", "diag", "skip"};
const StringRef liftKindTable[] = {"full", "sparse", "sparse", "diagonal"};
const StringRef readoutTable[] = {"mean", "sqrt", "sum"};
const StringRef initLawTable[] = {"normal", "uniform"};
} // namespace

StringRef roleName(Role r) { return roleNames[unsigned(r)]; }
StringRef activationName(Activation a) { return activationTable[unsigned(a)]; }
StringRef aggregationName(Aggregation a) { return aggregationTable[unsigned(a)]; }
StringRef mapKindName(MapKind m) { return mapKindTable[unsigned(m)]; }
StringRef liftKindName(LiftKind k) { return liftKindTable[unsigned(k)]; }
StringRef readoutName(Readout r) { return readoutTable[unsigned(r)]; }
StringRef initLawName(InitLaw l) { return initLawTable[unsigned(l)]; }

std::optional<Activation> parseActivation(StringRef s) {
  return lookup<Activation>(s, activationTable);
}
std::optional<MapKind> parseMapKind(StringRef s) { return lookup<MapKind>(s, mapKindTable); }
std::optional<Readout> parseReadout(StringRef s) { return lookup<Readout>(s, readoutTable); }
std::optional<InitLaw> parseInitLaw(StringRef s) { return lookup<InitLaw>(s, initLawTable); }

std::vector<StringRef> activationNames() {
  return {std::begin(activationTable), std::end(activationTable)};
}
std::vector<StringRef> mapKindNames() { return {std::begin(mapKindTable), std::end(mapKindTable)}; }
std::vector<StringRef> readoutNames() { return {std::begin(readoutTable), std::end(readoutTable)}; }
std::vector<StringRef> initLawNames() { return {std::begin(initLawTable), std::end(initLawTable)}; }

std::string Number::str() const {
  if (isInt)
    return std::to_string(i);
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, f);
  std::string s(buf, res.ptr);
  if (s.find_first_of(".eEn") == std::string::npos)
    s += ".0";
  return s;
}

bool BaseGraph::addVertex(BaseVertex v) {
  if (!index.try_emplace(v.name, vertices.size()).second)
    return false;
  vertices.push_back(std::move(v));
  return true;
}

bool BaseGraph::addEdge(BaseEdge e) {
  if (!edgeIndex.try_emplace({e.src, e.dst}, edges.size()).second)
    return false;
  edges.push_back(std::move(e));
  return true;
}

std::vector<unsigned> BaseGraph::topologicalOrder() const {
  return rslc::topologicalOrder(vertices.size(), edges);
}

} // namespace rslc
