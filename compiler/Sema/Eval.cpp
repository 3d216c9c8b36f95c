//===- Eval.cpp - compile-time expressions, references and loops ----------===//
#include "Sema/Eval.h"

#include <cmath>

using namespace llvm;
using namespace rslc::ast;

namespace rslc {

const Number *Scope::lookup(StringRef name) const {
  for (const Scope *s = this; s; s = s->parent) {
    auto it = s->vars.find(name);
    if (it != s->vars.end())
      return &it->second;
  }
  return nullptr;
}

bool Scope::isPoisoned(StringRef name) const {
  for (const Scope *s = this; s; s = s->parent)
    if (s->poisoned.count(name))
      return true;
  return false;
}

std::vector<StringRef> Scope::names() const {
  std::vector<StringRef> out;
  for (const Scope *s = this; s; s = s->parent)
    for (auto &kv : s->vars)
      out.push_back(kv.getKey());
  return out;
}

bool isReservedWord(StringRef name) {
  std::string_view word(name.data(), name.size());
  return parseKind<Activation>(word) || parseKind<Aggregation>(word) || name == "bias" ||
         name == "nobias" || name == "causal";
}

static std::string didYouMean(StringRef word, ArrayRef<StringRef> candidates) {
  std::string best = closestMatch(word, candidates);
  return best.empty() ? "" : "; did you mean '" + best + "'?";
}

std::optional<Number> Evaluator::checkFinite(double v, SMLoc loc) {
  if (!std::isfinite(v)) {
    diags.error(loc, "the result of this expression is not a finite number");
    return std::nullopt;
  }
  return Number::real(v);
}

std::optional<Number> Evaluator::eval(const Expr &e, const Scope &scope) {
  switch (e.kind) {
  case Expr::Kind::Int:
    return Number::integer(cast<IntExpr>(e).value);
  case Expr::Kind::Float:
    return Number::real(cast<FloatExpr>(e).value);
  case Expr::Kind::Name: {
    const auto &n = cast<NameExpr>(e);
    if (const Number *v = scope.lookup(n.name))
      return *v;
    if (scope.isPoisoned(n.name))
      return std::nullopt;
    diags.error(e.loc, "unknown name '" + n.name + "'" + didYouMean(n.name, scope.names()));
    return std::nullopt;
  }
  case Expr::Kind::Unary: {
    const auto &u = cast<UnaryExpr>(e);
    auto v = eval(*u.operand, scope);
    if (!v)
      return std::nullopt;
    if (u.op == "!")
      return Number::integer(v->asDouble() == 0);
    if (u.op == "+")
      return v;
    if (!v->isInt)
      return Number::real(-v->f);
    if (v->i == INT64_MIN) {
      diags.error(e.loc, "integer overflow in negation");
      return std::nullopt;
    }
    return Number::integer(-v->i);
  }
  case Expr::Kind::Binary:
    return binary(cast<BinaryExpr>(e), scope);
  case Expr::Kind::Func:
    return func(cast<FuncExpr>(e), scope);
  }
  internalError("unknown expression kind");
}

std::optional<Number> Evaluator::binary(const BinaryExpr &e, const Scope &scope) {
  const std::string &op = e.op;
  auto l = eval(*e.lhs, scope);
  if (!l)
    return std::nullopt;
  if (op == "&&" || op == "||") { // short-circuit
    bool lv = l->asDouble() != 0;
    if ((op == "&&" && !lv) || (op == "||" && lv))
      return Number::integer(lv);
    auto r = eval(*e.rhs, scope);
    if (!r)
      return std::nullopt;
    return Number::integer(r->asDouble() != 0);
  }
  auto r = eval(*e.rhs, scope);
  if (!r)
    return std::nullopt;
  if (op == "<") return Number::integer(l->asDouble() < r->asDouble());
  if (op == "<=") return Number::integer(l->asDouble() <= r->asDouble());
  if (op == ">") return Number::integer(l->asDouble() > r->asDouble());
  if (op == ">=") return Number::integer(l->asDouble() >= r->asDouble());
  if (op == "==") return Number::integer(l->asDouble() == r->asDouble());
  if (op == "!=") return Number::integer(l->asDouble() != r->asDouble());

  if ((op == "/" || op == "%") && r->asDouble() == 0) {
    diags.error(e.opLoc, "division by zero");
    return std::nullopt;
  }
  if (l->isInt && r->isInt) {
    int64_t a = l->i, b = r->i, out = 0;
    bool overflow = false;
    if (op == "+") overflow = __builtin_add_overflow(a, b, &out);
    else if (op == "-") overflow = __builtin_sub_overflow(a, b, &out);
    else if (op == "*") overflow = __builtin_mul_overflow(a, b, &out);
    else if (op == "/" || op == "%") {
      overflow = a == INT64_MIN && b == -1;
      if (!overflow)
        out = op == "/" ? a / b : a % b; // rounds toward zero, as in C
    } else
      internalError("unknown operator " + op);
    if (overflow) {
      diags.error(e.opLoc, "integer overflow in '" + op + "'");
      return std::nullopt;
    }
    return Number::integer(out);
  }
  double a = l->asDouble(), b = r->asDouble();
  if (op == "+") return checkFinite(a + b, e.opLoc);
  if (op == "-") return checkFinite(a - b, e.opLoc);
  if (op == "*") return checkFinite(a * b, e.opLoc);
  if (op == "/") return checkFinite(a / b, e.opLoc);
  if (op == "%") return checkFinite(std::fmod(a, b), e.opLoc);
  internalError("unknown operator " + op);
}

std::optional<Number> Evaluator::func(const FuncExpr &e, const Scope &scope) {
  static const StringRef known[] = {"min", "max", "abs", "sqrt", "pow", "floor", "ceil", "log2"};
  auto isKnown = std::find(std::begin(known), std::end(known), e.name) != std::end(known);
  if (!isKnown) {
    diags.error(e.loc, "unknown function '" + e.name + "'" + didYouMean(e.name, known) +
                           " (functions: min, max, abs, sqrt, pow, floor, ceil, log2)");
    return std::nullopt;
  }
  std::vector<Number> args;
  for (const ExprPtr &a : e.args) {
    auto v = eval(*a, scope);
    if (!v)
      return std::nullopt;
    args.push_back(*v);
  }
  size_t want = (e.name == "min" || e.name == "max") ? 0 : e.name == "pow" ? 2 : 1;
  if ((want && args.size() != want) || (!want && args.empty())) {
    diags.error(e.loc, "'" + e.name + "' takes " +
                           (want ? Twine(want) + " argument" + (want > 1 ? "s" : "")
                                 : Twine("at least one argument")) +
                           ", got " + Twine(args.size()));
    return std::nullopt;
  }
  if (e.name == "min" || e.name == "max") {
    Number best = args[0];
    for (const Number &a : args) {
      bool better = e.name == "min" ? a.asDouble() < best.asDouble()
                                    : a.asDouble() > best.asDouble();
      if (better)
        best = a;
    }
    return best;
  }
  const Number &x = args[0];
  if (e.name == "abs") {
    if (!x.isInt)
      return Number::real(std::fabs(x.f));
    if (x.i == INT64_MIN) {
      diags.error(e.loc, "integer overflow in 'abs'");
      return std::nullopt;
    }
    return Number::integer(x.i < 0 ? -x.i : x.i);
  }
  if (e.name == "floor" || e.name == "ceil") {
    double v = e.name == "floor" ? std::floor(x.asDouble()) : std::ceil(x.asDouble());
    if (!(v >= -9.2e18 && v <= 9.2e18)) {
      diags.error(e.loc, "'" + e.name + "' result does not fit a 64-bit integer");
      return std::nullopt;
    }
    return Number::integer(int64_t(v));
  }
  if (e.name == "pow" && x.isInt && args[1].isInt && args[1].i >= 0) {
    // Square and multiply: O(log n) steps, so pow(1, 2^62) ends at once.
    // Once base*base overflows with exponent bits left, so would the result.
    int64_t out = 1, base = x.i;
    for (uint64_t n = uint64_t(args[1].i);;) {
      bool overflow = (n & 1) && __builtin_mul_overflow(out, base, &out);
      n >>= 1;
      if (!overflow && n)
        overflow = __builtin_mul_overflow(base, base, &base);
      if (overflow) {
        diags.error(e.loc, "integer overflow in 'pow'");
        return std::nullopt;
      }
      if (!n)
        return Number::integer(out);
    }
  }
  if ((e.name == "sqrt" || e.name == "log2") && x.asDouble() < 0) {
    diags.error(e.loc, "'" + e.name + "' of a negative number");
    return std::nullopt;
  }
  if (e.name == "sqrt") return checkFinite(std::sqrt(x.asDouble()), e.loc);
  if (e.name == "log2") return checkFinite(std::log2(x.asDouble()), e.loc);
  return checkFinite(std::pow(x.asDouble(), args[1].asDouble()), e.loc);
}

std::optional<int64_t> Evaluator::evalInt(const Expr &e, const Scope &scope, StringRef what) {
  auto v = eval(e, scope);
  if (!v)
    return std::nullopt;
  if (!v->isInt) {
    diags.error(e.loc, what + " must be an integer, got " + v->str());
    return std::nullopt;
  }
  return v->i;
}

std::optional<std::vector<ExpandedRef>> Evaluator::expand(const Ref &ref, const Scope &scope) {
  std::vector<ExpandedRef> out{{"", ref.loc}};
  for (const RefPart &part : ref.parts) {
    // All index tuples of this part, row-major.
    std::vector<std::string> suffixes{""};
    for (const Index &idx : part.indices) {
      auto lo = evalInt(*idx.lo, scope, "an index");
      if (!lo)
        return std::nullopt;
      int64_t hi = *lo;
      if (idx.hi) {
        auto h = evalInt(*idx.hi, scope, "an index");
        if (!h)
          return std::nullopt;
        hi = *h;
        if (hi < *lo) {
          diags.error(idx.loc, "empty index range " + Twine(*lo) + ".." + Twine(hi));
          return std::nullopt;
        }
      }
      // In doubles: (hi - lo + 1) * names so far must neither overflow nor wrap.
      double names = (double(hi) - double(*lo) + 1) * double(suffixes.size()) * double(out.size());
      if (names > double(maxInstances)) {
        diags.error(idx.loc, "index range too large: more than " + Twine(maxInstances) +
                                 " names; a base graph should be small (use a lift for width)");
        return std::nullopt;
      }
      std::vector<std::string> next;
      for (const std::string &s : suffixes)
        for (int64_t k = *lo; k <= hi; ++k)
          next.push_back(s + (s.empty() ? "" : ",") + std::to_string(k));
      suffixes = std::move(next);
    }
    std::vector<ExpandedRef> next;
    for (const ExpandedRef &prefix : out)
      for (const std::string &s : suffixes)
        next.push_back({prefix.name + (prefix.name.empty() ? "" : ".") + part.name +
                            (part.indices.empty() ? "" : "[" + s + "]"),
                        ref.loc});
    out = std::move(next);
  }
  return out;
}

std::optional<std::vector<unsigned>>
Evaluator::resolveVertices(const RefList &refs, const Scope &scope, const BaseGraph &g) {
  std::vector<unsigned> out;
  bool ok = true;
  for (const Ref &r : refs) {
    auto names = expand(r, scope);
    if (!names) {
      ok = false;
      continue;
    }
    for (const ExpandedRef &n : *names) {
      if (auto v = g.find(n.name)) {
        out.push_back(*v);
        continue;
      }
      ok = false;
      std::string hint;
      if (g.vertices.size() <= 10000) { // suggestions cost O(vertices)
        std::vector<StringRef> all;
        for (const BaseVertex &bv : g.vertices)
          all.push_back(bv.name);
        hint = closestMatch(n.name, all);
      }
      diags.error(n.loc, "undefined vertex '" + n.name + "' in module '" + g.name + "'" +
                             (hint.empty() ? "" : "; did you mean '" + hint + "'?"));
    }
  }
  if (!ok)
    return std::nullopt;
  return out;
}

std::optional<StringMap<Number>> Evaluator::namedArgs(const Call &c, const Scope &scope,
                                                   ArrayRef<StringRef> allowed) {
  StringMap<Number> out;
  bool ok = true;
  for (const Arg &a : c.args) {
    if (a.name.empty()) {
      diags.error(a.loc, "arguments of '" + c.name + "' are named: write " +
                             (allowed.empty() ? c.name : c.name + "(" + allowed[0] + " = ...)"));
      ok = false;
      continue;
    }
    if (!is_contained(allowed, a.name)) {
      std::string list;
      for (StringRef s : allowed)
        list += (list.empty() ? "" : ", ") + s.str();
      diags.error(a.loc, "'" + c.name + "' has no argument '" + a.name + "'" +
                             (list.empty() ? " (it takes none)" : " (arguments: " + list + ")"));
      ok = false;
      continue;
    }
    if (!a.value) {
      diags.error(a.loc, "argument '" + a.name + "' of " + c.name + " is a number, not a string");
      ok = false;
      continue;
    }
    auto v = eval(*a.value, scope);
    if (!v) {
      ok = false;
      continue;
    }
    if (!out.try_emplace(a.name, *v).second) {
      diags.error(a.loc, "argument '" + a.name + "' given twice");
      ok = false;
    }
  }
  if (!ok)
    return std::nullopt;
  return out;
}

namespace {
/// Whether `e` mentions one of `names`.
bool refersTo(const Expr &e, const StringSet<> &names) {
  if (const auto *n = dyn_cast<NameExpr>(&e))
    return names.count(n->name) > 0;
  if (const auto *u = dyn_cast<UnaryExpr>(&e))
    return refersTo(*u->operand, names);
  if (const auto *b = dyn_cast<BinaryExpr>(&e))
    return refersTo(*b->lhs, names) || refersTo(*b->rhs, names);
  if (const auto *f = dyn_cast<FuncExpr>(&e))
    return llvm::any_of(f->args, [&](const ExprPtr &a) { return refersTo(*a, names); });
  return false;
}
} // namespace

bool Evaluator::walk(const Block &block, const Scope &scope,
                     function_ref<void(const Stmt &, const Scope &)> leaf) {
  for (const StmtPtr &s : block) {
    if (++instances > maxInstances) {
      diags.error(s->loc, "loops expand to more than " + Twine(maxInstances) +
                              " statements; a base graph should be small (use a lift for width)");
      return false;
    }
    if (const auto *f = dyn_cast<ForStmt>(s.get())) {
      if (!walkFor(*f, 0, scope, leaf))
        return false;
    } else if (const auto *i = dyn_cast<IfStmt>(s.get())) {
      auto c = eval(*i->cond, scope);
      if (!c)
        continue;
      if (!walk(c->asDouble() != 0 ? i->thenBody : i->elseBody, scope, leaf))
        return false;
    } else {
      leaf(*s, scope);
    }
  }
  return true;
}

bool Evaluator::walkFor(const ForStmt &s, size_t var, const Scope &scope,
                        function_ref<void(const Stmt &, const Scope &)> leaf) {
  if (var == s.vars.size())
    return walk(s.body, scope, leaf);
  const LoopVar &lv = s.vars[var];
  if (scope.lookup(lv.name)) {
    diags.error(lv.loc, "loop variable '" + lv.name + "' shadows a name already in scope");
    return true;
  }
  if (isReservedWord(lv.name)) {
    diags.error(lv.loc, "'" + lv.name + "' is reserved and cannot name a loop variable");
    return true;
  }
  auto lo = evalInt(*lv.lo, scope, "a loop bound");
  auto hi = evalInt(*lv.hi, scope, "a loop bound");
  if (!lo || !hi)
    return true;
  // Refuse loops that cannot fit the budget before running any of them:
  // this variable's range, times the ranges of the next variables of the
  // statement whose bounds do not depend on it, times the iterations left
  // of the enclosing loops when its bounds depend on none of them.
  double projected = std::max(0.0, double(*hi) - double(*lo) + 1);
  StringSet<> bound{lv.name};
  for (size_t w = var + 1; w < s.vars.size() && projected > 0; ++w) {
    const LoopVar &next = s.vars[w];
    if (refersTo(*next.lo, bound) || refersTo(*next.hi, bound))
      break;
    auto nlo = evalInt(*next.lo, scope, "a loop bound");
    auto nhi = evalInt(*next.hi, scope, "a loop bound");
    if (!nlo || !nhi)
      return true; // reported; the loop is not run
    projected *= std::max(0.0, double(*nhi) - double(*nlo) + 1);
    bound.insert(next.name);
  }
  StringSet<> outer;
  for (const auto &[name, left] : enclosing)
    outer.insert(name);
  if (!refersTo(*lv.lo, outer) && !refersTo(*lv.hi, outer))
    for (const auto &[name, left] : enclosing)
      projected *= left;
  bool tooLong = projected + double(instances) > double(maxInstances);
  // One scope for every iteration (only the loop variable lives in it; the
  // body reads scopes): up to 10^7 iterations allocate nothing.
  Scope inner(&scope);
  for (int64_t k = *lo; k <= *hi; ++k) {
    if (tooLong || ++instances > maxInstances) {
      diags.error(lv.loc, "loops run more than " + Twine(maxInstances) +
                              " iterations; a base graph should be small (use a lift for width)");
      return false;
    }
    inner.define(lv.name, Number::integer(k));
    enclosing.push_back({lv.name, double(*hi) - double(k) + 1});
    bool ok = walkFor(s, var + 1, inner, leaf);
    enclosing.pop_back();
    if (!ok)
      return false;
    if (k == INT64_MAX)
      break;
  }
  return true;
}

} // namespace rslc
