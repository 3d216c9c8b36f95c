//===- ASTDump.cpp - `--emit=ast`: the syntax tree with locations ---------===//
#include "AST/ASTDump.h"

#include "IR/BaseGraph.h"

#include "llvm/Support/Path.h"

using namespace llvm;
using namespace rslc::ast;

namespace rslc {

namespace {
class Dumper {
public:
  Dumper(const SourceMgr &sm, raw_ostream &os) : sm(sm), os(os) {}

  void program(const Program &p) {
    os << "Program\n";
    for (const DeclPtr &d : p.decls)
      decl(*d, 1);
  }

private:
  raw_ostream &line(unsigned depth, SMLoc loc, StringRef what) {
    os.indent(2 * depth) << what;
    if (loc.isValid()) {
      unsigned id = sm.FindBufferContainingLoc(loc);
      auto lc = sm.getLineAndColumn(loc, id);
      os << " <";
      if (id != sm.getMainFileID())
        os << sys::path::filename(sm.getMemoryBuffer(id)->getBufferIdentifier()) << ":";
      os << lc.first << ":" << lc.second << ">";
    }
    return os;
  }

  void decl(const Decl &d, unsigned depth) {
    switch (d.kind) {
    case Decl::Kind::Import:
      line(depth, d.loc, "Import") << " \"" << cast<ImportDecl>(d).path << "\"\n";
      return;
    case Decl::Kind::Param: {
      const auto &p = cast<ParamDecl>(d);
      line(depth, d.loc, "Param") << " '" << p.name << "'\n";
      expr(*p.value, depth + 1);
      return;
    }
    case Decl::Kind::Module: {
      const auto &m = cast<ModuleDecl>(d);
      line(depth, d.loc, "Module") << " '" << m.name << "'\n";
      block(m.body, depth + 1);
      return;
    }
    case Decl::Kind::Lift: {
      const auto &l = cast<LiftDecl>(d);
      line(depth, d.loc, "Lift") << " '" << l.name << "' of '" << l.module << "'\n";
      block(l.body, depth + 1);
      return;
    }
    }
  }

  void block(const Block &b, unsigned depth) {
    for (const StmtPtr &s : b)
      stmt(*s, depth);
  }

  void refs(const RefList &list, unsigned depth) {
    for (const Ref &r : list)
      ref(r, depth);
  }

  void ref(const Ref &r, unsigned depth) {
    line(depth, r.loc, "Ref") << " ";
    for (size_t i = 0; i < r.parts.size(); ++i)
      os << (i ? "." : "") << r.parts[i].name << (r.parts[i].indices.empty() ? "" : "[]");
    os << "\n";
    for (const RefPart &p : r.parts)
      for (const Index &idx : p.indices) {
        line(depth + 1, idx.loc, idx.hi ? "Range" : "Index") << "\n";
        expr(*idx.lo, depth + 2);
        if (idx.hi)
          expr(*idx.hi, depth + 2);
      }
  }

  void call(const Call &c, unsigned depth) {
    line(depth, c.loc, "Call") << " '" << c.name << "'\n";
    for (const Arg &a : c.args) {
      line(depth + 1, a.loc, "Arg") << (a.name.empty() ? "" : " '" + a.name + "'")
                                    << (a.value ? "" : " \"" + a.text + "\"") << "\n";
      if (a.value)
        expr(*a.value, depth + 2);
    }
  }

  void stmt(const Stmt &s, unsigned depth) {
    switch (s.kind) {
    case Stmt::Kind::Vertex: {
      const auto &v = cast<VertexDecl>(s);
      static const char *roles[] = {"input", "hidden", "output"};
      line(depth, s.loc, "Vertex") << " " << roles[unsigned(v.role)] << "\n";
      refs(v.names, depth + 1);
      for (const VertexAttr &a : v.attrs) {
        if (a.expr) {
          expr(*a.expr, depth + 1);
          continue;
        }
        line(depth + 1, a.loc, "Shape") << "\n";
        for (const ExprPtr &extent : a.shape)
          expr(*extent, depth + 2);
      }
      return;
    }
    case Stmt::Kind::Edge: {
      const auto &e = cast<EdgeStmt>(s);
      line(depth, s.loc, "Edge") << "\n";
      for (const RefList &l : e.chain) {
        line(depth + 1, l.front().loc, "Endpoints") << "\n";
        refs(l, depth + 2);
      }
      for (const EdgeAttr &a : e.attrs) {
        if (a.share) {
          line(depth + 1, a.loc, "Share") << "\n";
          ref(*a.share, depth + 2);
        } else {
          line(depth + 1, a.loc, "Map") << "\n";
          call(a.map, depth + 2);
        }
      }
      return;
    }
    case Stmt::Kind::Use: {
      const auto &u = cast<UseStmt>(s);
      line(depth, s.loc, "Use") << " '" << u.module << "'\n";
      ref(u.as, depth + 1);
      return;
    }
    case Stmt::Kind::For: {
      const auto &f = cast<ForStmt>(s);
      line(depth, s.loc, "For") << "\n";
      for (const LoopVar &v : f.vars) {
        line(depth + 1, v.loc, "LoopVar") << " '" << v.name << "'\n";
        expr(*v.lo, depth + 2);
        expr(*v.hi, depth + 2);
      }
      block(f.body, depth + 1);
      return;
    }
    case Stmt::Kind::If: {
      const auto &i = cast<IfStmt>(s);
      line(depth, s.loc, "If") << "\n";
      expr(*i.cond, depth + 1);
      line(depth + 1, SMLoc(), "Then") << "\n";
      block(i.thenBody, depth + 2);
      if (!i.elseBody.empty()) {
        line(depth + 1, SMLoc(), "Else") << "\n";
        block(i.elseBody, depth + 2);
      }
      return;
    }
    case Stmt::Kind::Size: {
      const auto &z = cast<SizeStmt>(s);
      line(depth, s.loc, "Size") << "\n";
      refs(z.refs, depth + 1);
      expr(*z.size, depth + 1);
      return;
    }
    case Stmt::Kind::Edges: {
      const auto &e = cast<EdgesStmt>(s);
      line(depth, s.loc, "Edges") << (e.chain.empty() ? " default" : "") << "\n";
      for (const RefList &l : e.chain) {
        line(depth + 1, l.front().loc, "Endpoints") << "\n";
        refs(l, depth + 2);
      }
      call(e.kind, depth + 1);
      return;
    }
    case Stmt::Kind::Setting: {
      const auto &st = cast<SettingStmt>(s);
      line(depth, s.loc, st.key == SettingStmt::Key::Init ? "Init" : "Readout")
          << (st.bias ? " bias" : "") << "\n";
      for (const RefList &l : st.chain) {
        line(depth + 1, l.front().loc, st.bias ? "Vertices" : "Endpoints") << "\n";
        refs(l, depth + 2);
      }
      call(st.value, depth + 1);
      return;
    }
    case Stmt::Kind::Seed:
      line(depth, s.loc, "Seed") << "\n";
      expr(*cast<SeedStmt>(s).value, depth + 1);
      return;
    }
  }

  void expr(const Expr &e, unsigned depth) {
    switch (e.kind) {
    case Expr::Kind::Int:
      line(depth, e.loc, "Int") << " " << cast<IntExpr>(e).value << "\n";
      return;
    case Expr::Kind::Float:
      line(depth, e.loc, "Float") << " " << Number::real(cast<FloatExpr>(e).value).str() << "\n";
      return;
    case Expr::Kind::Name:
      line(depth, e.loc, "Name") << " '" << cast<NameExpr>(e).name << "'\n";
      return;
    case Expr::Kind::Unary:
      line(depth, e.loc, "Unary") << " '" << cast<UnaryExpr>(e).op << "'\n";
      expr(*cast<UnaryExpr>(e).operand, depth + 1);
      return;
    case Expr::Kind::Binary: {
      const auto &b = cast<BinaryExpr>(e);
      line(depth, e.loc, "Binary") << " '" << b.op << "'\n";
      expr(*b.lhs, depth + 1);
      expr(*b.rhs, depth + 1);
      return;
    }
    case Expr::Kind::Func: {
      const auto &f = cast<FuncExpr>(e);
      line(depth, e.loc, "Func") << " '" << f.name << "'\n";
      for (const ExprPtr &a : f.args)
        expr(*a, depth + 1);
      return;
    }
    }
  }

  const SourceMgr &sm;
  raw_ostream &os;
};
} // namespace

void dumpAST(const Program &program, const SourceMgr &sm, raw_ostream &os) {
  Dumper(sm, os).program(program);
}

} // namespace rslc
