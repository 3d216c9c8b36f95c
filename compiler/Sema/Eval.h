//===- Eval.h - compile-time evaluation of expressions and references -----===//
#ifndef RSLC_SEMA_EVAL_H
#define RSLC_SEMA_EVAL_H

#include "AST/AST.h"
#include "Basic/Diagnostics.h"
#include "IR/BaseGraph.h"

#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"

#include <optional>

namespace rslc {

/// Names visible to expressions: parameters, then loop variables (innermost
/// last). Lookup walks outwards through parents.
class Scope {
public:
  explicit Scope(const Scope *parent = nullptr) : parent(parent) {}
  const Number *lookup(llvm::StringRef name) const;
  void define(llvm::StringRef name, Number value) { vars[name] = value; }
  /// Marks a name whose definition failed: using it fails silently, so one
  /// mistake is reported once, not at every use.
  void poison(llvm::StringRef name) { poisoned.insert(name); }
  bool isPoisoned(llvm::StringRef name) const;
  /// All names visible, for "did you mean" suggestions.
  std::vector<llvm::StringRef> names() const;

private:
  const Scope *parent;
  llvm::StringMap<Number> vars;
  llvm::StringSet<> poisoned;
};

/// A concrete name produced by expanding a reference such as `h[1..3]`.
struct ExpandedRef {
  std::string name;
  llvm::SMLoc loc;
};

/// Words that may not name a parameter or loop variable because attribute
/// positions would become ambiguous (activations, `bias`, `prod`, ...).
bool isReservedWord(llvm::StringRef name);

class Evaluator {
public:
  explicit Evaluator(DiagEngine &diags) : diags(diags) {}

  /// Reports and returns nullopt on any error (unknown name, overflow, ...).
  std::optional<Number> eval(const ast::Expr &e, const Scope &scope);
  /// Like eval, and the result must be an integer; `what` names it in errors.
  std::optional<int64_t> evalInt(const ast::Expr &e, const Scope &scope,
                                 llvm::StringRef what);

  /// Expands every index range of `ref` into concrete names, in row-major
  /// order. Returns nullopt after reporting an error.
  std::optional<std::vector<ExpandedRef>> expand(const ast::Ref &ref,
                                                 const Scope &scope);

  /// Expands references and looks the names up among `graph`'s vertices;
  /// reports undefined ones (with a suggestion) and returns nullopt then.
  std::optional<std::vector<unsigned>> resolveVertices(const ast::RefList &refs,
                                                       const Scope &scope, const BaseGraph &graph);

  /// The named arguments of a call (`sparse(degree = 8)`), evaluated;
  /// reports unknown, duplicate and positional ones, and returns nullopt then.
  std::optional<llvm::StringMap<Number>> namedArgs(const ast::Call &c, const Scope &scope,
                                                   llvm::ArrayRef<llvm::StringRef> allowed);

  /// Walks a block, expanding `for` and `if`; every other statement is
  /// passed to `leaf` with the scope of its iteration. Stops when the total
  /// number of statement instances exceeds `maxInstances` (reported).
  bool walk(const ast::Block &block, const Scope &scope,
            llvm::function_ref<void(const ast::Stmt &, const Scope &)> leaf);

  static constexpr uint64_t maxInstances = 10'000'000;

private:
  bool walkFor(const ast::ForStmt &s, size_t var, const Scope &scope,
               llvm::function_ref<void(const ast::Stmt &, const Scope &)> leaf);
  std::optional<Number> binary(const ast::BinaryExpr &e, const Scope &scope);
  std::optional<Number> func(const ast::FuncExpr &e, const Scope &scope);
  std::optional<Number> checkFinite(double v, llvm::SMLoc loc);

  DiagEngine &diags;
  uint64_t instances = 0;
  /// The loops being run, innermost last: their variables and iterations
  /// left (the current one included), to project a nested loop's total.
  std::vector<std::pair<std::string, double>> enclosing;
};

} // namespace rslc

#endif
