//===- Kinds.h - the enums of Kinds.def and their keyword tables ----------===//
//
// Free of LLVM: shared by the compiler, the lift expansion, the runtime and
// the tools. Every enum is numbered 0..N-1 in the order of its rows (checked
// below), so a value read from a file or a caller is valid iff
// isValidKind<E>(value).
//
//===----------------------------------------------------------------------===//
#ifndef RSLC_CORE_KINDS_H
#define RSLC_CORE_KINDS_H

#include "rslc.h"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rslc {

enum class Role {
#define RSLC_ROLE(Name, keyword, doc) Name,
#include "Kinds.def"
};
enum class Activation {
#define RSLC_ACTIVATION(Name, keyword, doc) Name,
#include "Kinds.def"
};
/// How a vertex combines its incoming pre-activations.
enum class Aggregation {
#define RSLC_AGGREGATION(Name, keyword, doc) Name,
#include "Kinds.def"
};
/// The edge map M_e : W_e x Y_u -> Z_e.
enum class MapKind {
#define RSLC_EDGE_MAP(Name, keyword, doc) Name,
#include "Kinds.def"
};
/// Does the activation act on each component alone (not softmax or
/// layernorm)? Its backward then may write dZ over dY.
constexpr bool actsElementwise(Activation a) {
  return a != Activation::Softmax && a != Activation::LayerNorm;
}
/// Is act'(z) an exact function of y = act(z), the same bits as from z?
/// Then the forward activates in place (Z and Y are one buffer) and the
/// backward takes Y (KernelContract.h).
constexpr bool derivativeFromOutput(Activation a) {
  switch (a) {
  case Activation::Identity:
  case Activation::Relu:
  case Activation::LeakyRelu:
  case Activation::Relu32:
  case Activation::Tanh:
  case Activation::Sigmoid:
    return true;
  default:
    return false;
  }
}
/// How a base edge is lifted between the fibers of its ends.
enum class LiftKind {
#define RSLC_LIFT_KIND(Name, keyword, param, meta, doc) Name,
#include "Kinds.def"
};
enum class Readout {
#define RSLC_READOUT(Name, keyword, doc) Name,
#include "Kinds.def"
};
enum class InitLaw {
#define RSLC_INIT_LAW(Name, keyword, doc) Name,
#include "Kinds.def"
};
/// Losses and integrators carry their C ABI values (include/rslc.h).
enum class Loss {
#define RSLC_LOSS(Name, keyword, abi, doc) Name = abi,
#include "Kinds.def"
};
enum class Integrator {
#define RSLC_INTEGRATOR(Name, keyword, abi, doc) Name = abi,
#include "Kinds.def"
};

/// One row of Kinds.def.
struct KindRow {
  int value;
  std::string_view keyword;
  std::string_view param; ///< lift kinds: the argument's name ("" if none)
  std::string_view meta;  ///< lift kinds: how docs write the argument's value
  std::string_view doc;
};

struct KindRows {
  const KindRow *first;
  size_t count;
  const KindRow *begin() const { return first; }
  const KindRow *end() const { return first + count; }
  size_t size() const { return count; }
  const KindRow &operator[](size_t i) const { return first[i]; }
};

namespace kinds_detail {
// clang-format off
inline constexpr KindRow roles[] = {
#define RSLC_ROLE(Name, keyword, doc) {int(Role::Name), keyword, "", "", doc},
#include "Kinds.def"
};
inline constexpr KindRow activations[] = {
#define RSLC_ACTIVATION(Name, keyword, doc) {int(Activation::Name), keyword, "", "", doc},
#include "Kinds.def"
};
inline constexpr KindRow aggregations[] = {
#define RSLC_AGGREGATION(Name, keyword, doc) {int(Aggregation::Name), keyword, "", "", doc},
#include "Kinds.def"
};
inline constexpr KindRow edgeMaps[] = {
#define RSLC_EDGE_MAP(Name, keyword, doc) {int(MapKind::Name), keyword, "", "", doc},
#include "Kinds.def"
};
inline constexpr KindRow liftKinds[] = {
#define RSLC_LIFT_KIND(Name, keyword, param, meta, doc) {int(LiftKind::Name), keyword, param, meta, doc},
#include "Kinds.def"
};
inline constexpr KindRow readouts[] = {
#define RSLC_READOUT(Name, keyword, doc) {int(Readout::Name), keyword, "", "", doc},
#include "Kinds.def"
};
inline constexpr KindRow initLaws[] = {
#define RSLC_INIT_LAW(Name, keyword, doc) {int(InitLaw::Name), keyword, "", "", doc},
#include "Kinds.def"
};
inline constexpr KindRow losses[] = {
#define RSLC_LOSS(Name, keyword, abi, doc) {int(Loss::Name), keyword, "", "", doc},
#include "Kinds.def"
};
inline constexpr KindRow integrators[] = {
#define RSLC_INTEGRATOR(Name, keyword, abi, doc) {int(Integrator::Name), keyword, "", "", doc},
#include "Kinds.def"
};
// clang-format on

/// Rows are numbered 0..N-1 in order: a value indexes its row.
template <size_t N> constexpr bool numberedInOrder(const KindRow (&rows)[N]) {
  for (size_t i = 0; i < N; ++i)
    if (rows[i].value != int(i))
      return false;
  return true;
}
static_assert(numberedInOrder(roles) && numberedInOrder(activations) &&
                  numberedInOrder(aggregations) && numberedInOrder(edgeMaps) &&
                  numberedInOrder(liftKinds) && numberedInOrder(readouts) &&
                  numberedInOrder(initLaws) && numberedInOrder(losses) &&
                  numberedInOrder(integrators),
              "Kinds.def: the C ABI's values must follow the rows' order");

template <typename E> struct Table;
#define RSLC_KIND_TABLE(E, rowsName, whatText)                                                     \
  template <> struct Table<E> {                                                                    \
    static constexpr const KindRow *rows = rowsName;                                               \
    static constexpr size_t count = sizeof(rowsName) / sizeof(KindRow);                            \
    static constexpr std::string_view what = whatText;                                             \
  };
RSLC_KIND_TABLE(Role, roles, "role")
RSLC_KIND_TABLE(Activation, activations, "activation")
RSLC_KIND_TABLE(Aggregation, aggregations, "aggregation")
RSLC_KIND_TABLE(MapKind, edgeMaps, "edge map")
RSLC_KIND_TABLE(LiftKind, liftKinds, "lift kind")
RSLC_KIND_TABLE(Readout, readouts, "readout")
RSLC_KIND_TABLE(InitLaw, initLaws, "initialisation law")
RSLC_KIND_TABLE(Loss, losses, "loss")
RSLC_KIND_TABLE(Integrator, integrators, "integrator")
#undef RSLC_KIND_TABLE
} // namespace kinds_detail

/// The rows of E's list in Kinds.def.
template <typename E> constexpr KindRows kindRows() {
  return {kinds_detail::Table<E>::rows, kinds_detail::Table<E>::count};
}
/// What E is called in messages ("activation", "lift kind", ...).
template <typename E> constexpr std::string_view kindWhat() { return kinds_detail::Table<E>::what; }

/// True iff `value` numbers a row of E (for values read from files and callers).
template <typename E> constexpr bool isValidKind(int64_t value) {
  return value >= 0 && uint64_t(value) < kinds_detail::Table<E>::count;
}

template <typename E> constexpr std::string_view keyword(E e) {
  return kindRows<E>()[size_t(e)].keyword;
}
template <typename E> constexpr const KindRow &kindRow(E e) { return kindRows<E>()[size_t(e)]; }

/// The first kind spelled `word`, if any (lift kinds sharing a keyword are
/// told apart by their parameter: see liftKindFor).
template <typename E> std::optional<E> parseKind(std::string_view word) {
  for (const KindRow &r : kindRows<E>())
    if (r.keyword == word)
      return E(r.value);
  return std::nullopt;
}

/// The distinct keywords of E, in row order.
template <typename E> std::vector<std::string_view> keywords() {
  std::vector<std::string_view> out;
  for (const KindRow &r : kindRows<E>()) {
    bool seen = false;
    for (std::string_view k : out)
      seen |= k == r.keyword;
    if (!seen)
      out.push_back(r.keyword);
  }
  return out;
}

/// "a, b or c": E's keywords for messages.
template <typename E> std::string keywordList(std::string_view lastJoin = " or ") {
  std::vector<std::string_view> words = keywords<E>();
  std::string s;
  for (size_t i = 0; i < words.size(); ++i) {
    if (i)
      s += i + 1 == words.size() ? lastJoin : std::string_view(", ");
    s += words[i];
  }
  return s;
}

/// The lift kind spelled `keyword` whose parameter is `param` ("" for none).
inline std::optional<LiftKind> liftKindFor(std::string_view keyword, std::string_view param) {
  for (const KindRow &r : kindRows<LiftKind>())
    if (r.keyword == keyword && r.param == param)
      return LiftKind(r.value);
  return std::nullopt;
}

/// Shortest decimal text that reads back to the same double (keeps a '.').
std::string shortestReal(double x);

} // namespace rslc

#endif
