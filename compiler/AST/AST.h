//===- AST.h - the blueprint syntax tree -----------------------------------===//
//
// A faithful, unevaluated image of the source: expressions are kept as trees,
// families and loops are not expanded. Every node carries the location of its
// first token. Sema (compiler/Sema) evaluates and flattens it into the checked
// base graph (compiler/IR/BaseGraph.h).
//
//===----------------------------------------------------------------------===//
#ifndef RSLC_AST_AST_H
#define RSLC_AST_AST_H

#include "llvm/Support/Casting.h"
#include "llvm/Support/SMLoc.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace rslc::ast {

//===--- Expressions ------------------------------------------------------===//

struct Expr {
  enum class Kind { Int, Float, Name, Unary, Binary, Func };
  Expr(Kind kind, llvm::SMLoc loc) : kind(kind), loc(loc) {}
  virtual ~Expr() = default;
  const Kind kind;
  llvm::SMLoc loc;
};
using ExprPtr = std::unique_ptr<Expr>;

struct IntExpr : Expr {
  IntExpr(llvm::SMLoc loc, int64_t value) : Expr(Kind::Int, loc), value(value) {}
  int64_t value;
  static bool classof(const Expr *e) { return e->kind == Kind::Int; }
};

struct FloatExpr : Expr {
  FloatExpr(llvm::SMLoc loc, double value) : Expr(Kind::Float, loc), value(value) {}
  double value;
  static bool classof(const Expr *e) { return e->kind == Kind::Float; }
};

/// A parameter or loop variable; in attribute position also a word such as
/// `relu` (Sema decides which).
struct NameExpr : Expr {
  NameExpr(llvm::SMLoc loc, std::string name) : Expr(Kind::Name, loc), name(std::move(name)) {}
  std::string name;
  static bool classof(const Expr *e) { return e->kind == Kind::Name; }
};

struct UnaryExpr : Expr {
  UnaryExpr(llvm::SMLoc loc, std::string op, ExprPtr operand)
      : Expr(Kind::Unary, loc), op(std::move(op)), operand(std::move(operand)) {}
  std::string op;
  ExprPtr operand;
  static bool classof(const Expr *e) { return e->kind == Kind::Unary; }
};

struct BinaryExpr : Expr {
  BinaryExpr(llvm::SMLoc loc, llvm::SMLoc opLoc, std::string op, ExprPtr lhs, ExprPtr rhs)
      : Expr(Kind::Binary, loc), opLoc(opLoc), op(std::move(op)), lhs(std::move(lhs)),
        rhs(std::move(rhs)) {}
  llvm::SMLoc opLoc;
  std::string op;
  ExprPtr lhs, rhs;
  static bool classof(const Expr *e) { return e->kind == Kind::Binary; }
};

/// A built-in function call: min, max, abs, sqrt, pow, floor, ceil, log2.
struct FuncExpr : Expr {
  FuncExpr(llvm::SMLoc loc, std::string name, std::vector<ExprPtr> args)
      : Expr(Kind::Func, loc), name(std::move(name)), args(std::move(args)) {}
  std::string name;
  std::vector<ExprPtr> args;
  static bool classof(const Expr *e) { return e->kind == Kind::Func; }
};

//===--- References to vertices, instances and shared weights -------------===//

/// `e` or `lo..hi` inside brackets.
struct Index {
  llvm::SMLoc loc;
  ExprPtr lo, hi; ///< hi is null for a single index
};

/// `name[i, j..k]`
struct RefPart {
  llvm::SMLoc loc;
  std::string name;
  std::vector<Index> indices;
};

/// `a[i].b[j]`: a vertex, possibly inside an instance, possibly a range.
struct Ref {
  llvm::SMLoc loc;
  std::vector<RefPart> parts;
};
using RefList = std::vector<Ref>;

/// `name(arg = value, ...)` as used for lift kinds, readouts and init laws.
struct Arg {
  llvm::SMLoc loc;
  std::string name; ///< empty for a positional argument
  ExprPtr value;    ///< null for a string argument
  std::string text; ///< a string argument, without its quotes (`explicit(file = "m.npy")`)
};
struct Call {
  llvm::SMLoc loc;
  std::string name;
  std::vector<Arg> args;
};

//===--- Statements -------------------------------------------------------===//

struct Stmt {
  enum class Kind { Vertex, Edge, Use, For, If, Size, Edges, Setting, Seed };
  Stmt(Kind kind, llvm::SMLoc loc) : kind(kind), loc(loc) {}
  virtual ~Stmt() = default;
  const Kind kind;
  llvm::SMLoc loc;
};
using StmtPtr = std::unique_ptr<Stmt>;
using Block = std::vector<StmtPtr>;

enum class VertexRole { Input, Hidden, Output };

/// One vertex attribute: a shape `[28, 28]`, or an expression (the
/// dimension, a word such as `relu`, or a word with arguments `softmax(1)`).
struct VertexAttr {
  llvm::SMLoc loc;
  ExprPtr expr;               ///< null for a shape
  std::vector<ExprPtr> shape; ///< the extents of a shape
};

/// `hidden h[1..L]: 16, relu;`
struct VertexDecl : Stmt {
  VertexDecl(llvm::SMLoc loc) : Stmt(Kind::Vertex, loc) {}
  VertexRole role = VertexRole::Hidden;
  RefList names;
  std::vector<VertexAttr> attrs;
  static bool classof(const Stmt *s) { return s->kind == Kind::Vertex; }
};

struct EdgeAttr {
  llvm::SMLoc loc;
  Call map;                   ///< the map and its arguments; empty name for `share`
  std::unique_ptr<Ref> share; ///< `share w[k]`
};

/// `a, b -> h -> y: linear, share w;` A chain of vertex lists.
struct EdgeStmt : Stmt {
  EdgeStmt(llvm::SMLoc loc) : Stmt(Kind::Edge, loc) {}
  std::vector<RefList> chain;
  std::vector<EdgeAttr> attrs;
  static bool classof(const Stmt *s) { return s->kind == Kind::Edge; }
};

/// `use block as b[1..L];`
struct UseStmt : Stmt {
  UseStmt(llvm::SMLoc loc) : Stmt(Kind::Use, loc) {}
  std::string module;
  llvm::SMLoc moduleLoc;
  Ref as;
  static bool classof(const Stmt *s) { return s->kind == Kind::Use; }
};

struct LoopVar {
  llvm::SMLoc loc;
  std::string name;
  ExprPtr lo, hi;
};

/// `for i in 1..L, j in 0..2 { ... }` (inclusive ranges, nested in order).
struct ForStmt : Stmt {
  ForStmt(llvm::SMLoc loc) : Stmt(Kind::For, loc) {}
  std::vector<LoopVar> vars;
  Block body;
  static bool classof(const Stmt *s) { return s->kind == Kind::For; }
};

struct IfStmt : Stmt {
  IfStmt(llvm::SMLoc loc) : Stmt(Kind::If, loc) {}
  ExprPtr cond;
  Block thenBody, elseBody;
  static bool classof(const Stmt *s) { return s->kind == Kind::If; }
};

/// Lift: `size h[1..L]: n;`
struct SizeStmt : Stmt {
  SizeStmt(llvm::SMLoc loc) : Stmt(Kind::Size, loc) {}
  RefList refs;
  ExprPtr size;
  static bool classof(const Stmt *s) { return s->kind == Kind::Size; }
};

/// Lift: `edges h[1] -> h[2]: sparse(degree = 8);` or, with an empty chain,
/// the default for every edge: `edges: full;`
struct EdgesStmt : Stmt {
  EdgesStmt(llvm::SMLoc loc) : Stmt(Kind::Edges, loc) {}
  std::vector<RefList> chain;
  Call kind;
  static bool classof(const Stmt *s) { return s->kind == Kind::Edges; }
};

/// Lift: `readout: mean;` or `init: normal(scale = 1);`, and the targeted
/// inits `init h -> y: uniform(scale = 2);` (a chain of edges, as in
/// EdgesStmt) and `init bias h: normal(scale = 0.1);` (one vertex list).
struct SettingStmt : Stmt {
  enum class Key { Readout, Init };
  SettingStmt(llvm::SMLoc loc) : Stmt(Kind::Setting, loc) {}
  Key key = Key::Readout;
  bool bias = false;           ///< Init: `chain` lists vertices whose biases it sets
  std::vector<RefList> chain;  ///< Init: empty for the default law
  Call value;
  static bool classof(const Stmt *s) { return s->kind == Kind::Setting; }
};

/// Lift: `seed: 42;`
struct SeedStmt : Stmt {
  SeedStmt(llvm::SMLoc loc) : Stmt(Kind::Seed, loc) {}
  ExprPtr value;
  static bool classof(const Stmt *s) { return s->kind == Kind::Seed; }
};

//===--- Top-level declarations -------------------------------------------===//

struct Decl {
  enum class Kind { Import, Param, Module, Lift };
  Decl(Kind kind, llvm::SMLoc loc) : kind(kind), loc(loc) {}
  virtual ~Decl() = default;
  const Kind kind;
  llvm::SMLoc loc;
};
using DeclPtr = std::unique_ptr<Decl>;

/// `import "file.rsl";` The imported declarations follow it in Program::decls.
struct ImportDecl : Decl {
  ImportDecl(llvm::SMLoc loc) : Decl(Kind::Import, loc) {}
  std::string path;
  static bool classof(const Decl *d) { return d->kind == Kind::Import; }
};

/// `param n = 64;` (overridable with `-D n=...`)
struct ParamDecl : Decl {
  ParamDecl(llvm::SMLoc loc) : Decl(Kind::Param, loc) {}
  std::string name;
  ExprPtr value;
  static bool classof(const Decl *d) { return d->kind == Kind::Param; }
};

struct ModuleDecl : Decl {
  ModuleDecl(llvm::SMLoc loc) : Decl(Kind::Module, loc) {}
  std::string name;
  Block body;
  static bool classof(const Decl *d) { return d->kind == Kind::Module; }
};

/// `lift wide of mlp { ... }`
struct LiftDecl : Decl {
  LiftDecl(llvm::SMLoc loc) : Decl(Kind::Lift, loc) {}
  std::string name, module;
  llvm::SMLoc moduleLoc;
  Block body;
  static bool classof(const Decl *d) { return d->kind == Kind::Lift; }
};

/// A whole blueprint, imports spliced in after their `import` declarations.
struct Program {
  std::vector<DeclPtr> decls;
};

} // namespace rslc::ast

#endif
