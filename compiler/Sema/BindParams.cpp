//===- BindParams.cpp - evaluate parameters, apply -D overrides -----------===//
#include "Sema/Sema.h"

#include "llvm/ADT/StringSet.h"

#include <cmath>

using namespace llvm;
using namespace rslc::ast;

namespace rslc {

namespace {
struct ParsedOverride {
  std::string name;
  Number value;
  SMLoc loc, valueLoc;
  bool used = false;
};

/// Parses "name=value"; reports and returns nullopt if malformed.
std::optional<ParsedOverride> parseOverride(const Override &o, DiagEngine &diags) {
  StringRef text(o.text);
  size_t eq = text.find('=');
  if (eq == StringRef::npos || eq == 0) {
    diags.error(o.loc, "expected -D NAME=VALUE");
    return std::nullopt;
  }
  ParsedOverride p;
  p.name = text.take_front(eq).trim().str();
  p.loc = o.loc;
  StringRef value = text.drop_front(eq + 1);
  p.valueLoc = SMLoc::getFromPointer(o.loc.getPointer() + eq + 1);
  int64_t i;
  double f;
  if (!value.getAsInteger(10, i))
    p.value = Number::integer(i);
  else if (!value.empty() && !value.getAsDouble(f) && std::isfinite(f))
    p.value = Number::real(f);
  else {
    diags.error(p.valueLoc, "invalid value '" + value + "' for -D " + p.name +
                                ": expected an integer or a finite number");
    return std::nullopt;
  }
  return p;
}
} // namespace

void bindParams(const Program &program, const std::vector<Override> &overrides,
                Scope &globals, CheckedProgram &out, DiagEngine &diags) {
  Evaluator ev(diags);
  StringMap<ParsedOverride> byName;
  std::vector<std::string> order;
  for (const Override &o : overrides) {
    auto p = parseOverride(o, diags);
    if (!p)
      continue;
    auto [it, fresh] = byName.try_emplace(p->name, *p);
    if (fresh)
      order.push_back(p->name);
    if (!fresh) {
      diags.error(p->loc, "parameter '" + p->name + "' is overridden twice");
      diags.note(it->second.loc, "first override is here");
    }
  }

  StringMap<SMLoc> declared;
  std::vector<StringRef> names;
  for (const DeclPtr &d : program.decls) {
    const auto *p = dyn_cast<ParamDecl>(d.get());
    if (!p)
      continue;
    if (isReservedWord(p->name)) {
      diags.error(p->loc, "'" + p->name + "' is reserved and cannot name a parameter");
      continue;
    }
    auto [it, fresh] = declared.try_emplace(p->name, p->loc);
    if (!fresh) {
      diags.error(p->loc, "duplicate parameter '" + p->name + "'");
      diags.note(it->second, "previous declaration is here");
      continue;
    }
    names.push_back(it->getKey());
    auto value = ev.eval(*p->value, globals);
    if (!value) {
      globals.poison(p->name);
      continue;
    }
    ParamValue pv{p->name, *value, false};
    auto o = byName.find(p->name);
    if (o != byName.end()) {
      o->second.used = true;
      if (value->isInt && !o->second.value.isInt) {
        diags.error(o->second.valueLoc, "parameter '" + p->name +
                                            "' is an integer; -D cannot make it " +
                                            o->second.value.str());
        diags.note(p->loc, "'" + p->name + "' is declared here");
        globals.poison(p->name);
        continue;
      }
      pv.value = o->second.value;
      if (!value->isInt && pv.value.isInt) // a float parameter stays a float
        pv.value = Number::real(double(pv.value.i));
      pv.overridden = true;
    }
    globals.define(p->name, pv.value);
    out.params.push_back(pv);
  }

  for (const std::string &name : order) {
    const ParsedOverride &o = byName.find(name)->second;
    if (o.used)
      continue;
    std::string hint = closestMatch(name, names);
    diags.error(o.loc, "-D names no parameter '" + name + "'" +
                                   (hint.empty() ? "" : "; did you mean '" + hint + "'?"));
  }
}

} // namespace rslc
