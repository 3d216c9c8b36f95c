//===- Parser.cpp - run the ANTLR parser, report errors, build the AST ----===//
#include "Parse/Parser.h"

#include "BlueprintLexer.h"
#include "BlueprintParser.h"
#include "antlr4-runtime.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/ConvertUTF.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>

using namespace llvm;
using namespace rslc::ast;
using G = rslc::grammar::BlueprintParser;
using rslc::grammar::BlueprintLexer;

namespace rslc {
namespace {

/// One source buffer as ANTLR sees it (UTF-32 code points) with the map
/// back to byte positions for SMLoc.
class SourceText {
public:
  SourceText(const MemoryBuffer &buf) : start(buf.getBufferStart()) {
    StringRef text = buf.getBuffer();
    for (size_t i = 0; i < text.size();) {
      cpToByte.push_back(i);
      unsigned len = getNumBytesForUTF8(text[i]);
      i += len ? len : 1;
    }
    cpToByte.push_back(text.size());
  }
  SMLoc locOfIndex(size_t cpIndex) const {
    size_t i = std::min(cpIndex, cpToByte.size() - 1);
    return SMLoc::getFromPointer(start + cpToByte[i]);
  }
  SMLoc loc(const antlr4::Token *tok) const {
    if (tok->getType() == antlr4::Token::EOF)
      return SMLoc::getFromPointer(start + cpToByte.back());
    return locOfIndex(tok->getStartIndex());
  }

private:
  const char *start;
  std::vector<size_t> cpToByte;
};

/// Routes ANTLR syntax errors to the DiagEngine.
class ErrorListener : public antlr4::BaseErrorListener {
public:
  ErrorListener(DiagEngine &diags, const SourceText &text) : diags(diags), text(text) {}
  void syntaxError(antlr4::Recognizer *, antlr4::Token *tok, size_t, size_t,
                   const std::string &msg, std::exception_ptr) override {
    std::string m = msg;
    for (size_t p; (p = m.find("<EOF>")) != std::string::npos;)
      m.replace(p, 5, "end of file");
    SMLoc loc = tok ? text.loc(tok) : SMLoc();
    diags.error(loc, "syntax error: " + m);
  }

private:
  DiagEngine &diags;
  const SourceText &text;
};

/// Everything needed to lex one buffer.
struct Lexed {
  Lexed(const MemoryBuffer &buf)
      : text(buf), input(buf.getBuffer().str()), lexer(&input), tokens(&lexer) {}
  SourceText text;
  antlr4::ANTLRInputStream input;
  BlueprintLexer lexer;
  antlr4::CommonTokenStream tokens;
};

/// Rejects what ANTLR cannot or should not see: invalid UTF-8, stray
/// characters, nesting deep enough to threaten the stack.
bool precheck(const MemoryBuffer &buf, DiagEngine &diags) {
  StringRef text = buf.getBuffer();
  const UTF8 *p = reinterpret_cast<const UTF8 *>(text.begin());
  const UTF8 *end = reinterpret_cast<const UTF8 *>(text.end());
  if (!isLegalUTF8String(&p, end)) {
    diags.error(SMLoc::getFromPointer(reinterpret_cast<const char *>(p)),
                "the file is not valid UTF-8 text");
    return false;
  }
  return true;
}

bool scanTokens(Lexed &lx, DiagEngine &diags) {
  lx.lexer.removeErrorListeners();
  lx.tokens.fill();
  unsigned before = diags.numErrors();
  unsigned depth = 0, inStatement = 0;
  for (antlr4::Token *tok : lx.tokens.getTokens()) {
    if (tok->getChannel() != antlr4::Token::DEFAULT_CHANNEL)
      continue;
    std::string t = tok->getText();
    if (tok->getType() == BlueprintLexer::BAD_CHAR) {
      diags.error(lx.text.loc(tok), "invalid character '" + t + "' in blueprint");
      continue;
    }
    if (t == "(" || t == "[" || t == "{") {
      if (++depth > maxNestingDepth) {
        diags.error(lx.text.loc(tok), "nesting deeper than " + Twine(maxNestingDepth) +
                                          " levels");
        return false;
      }
    } else if ((t == ")" || t == "]" || t == "}") && depth) {
      --depth;
    }
    if (t == ";" || t == "{" || t == "}")
      inStatement = 0;
    else if (++inStatement > maxTokensPerStatement) {
      diags.error(lx.text.loc(tok), "statement longer than " +
                                        Twine(maxTokensPerStatement) + " tokens");
      return false;
    }
  }
  return diags.numErrors() == before;
}

/// Builds AST nodes from the ANTLR parse tree of one file.
class Builder {
public:
  Builder(const SourceText &text, DiagEngine &diags) : text(text), diags(diags) {}

  SMLoc loc(antlr4::ParserRuleContext *ctx) const { return text.loc(ctx->getStart()); }
  SMLoc loc(antlr4::tree::TerminalNode *node) const { return text.loc(node->getSymbol()); }

  ExprPtr expr(G::ExprContext *ctx) {
    if (auto *c = dynamic_cast<G::ParenExprContext *>(ctx))
      return expr(c->expr());
    if (auto *c = dynamic_cast<G::IntExprContext *>(ctx)) {
      std::string s = c->INT()->getText();
      errno = 0;
      char *endp = nullptr;
      unsigned long long v = std::strtoull(s.c_str(), &endp, 10);
      if (errno == ERANGE || v > uint64_t(INT64_MAX)) {
        diags.error(loc(c), "integer literal '" + s + "' is too large (the limit is 2^63-1)");
        v = 0;
      }
      return std::make_unique<IntExpr>(loc(c), int64_t(v));
    }
    if (auto *c = dynamic_cast<G::FloatExprContext *>(ctx)) {
      std::string s = c->FLOAT()->getText();
      double v = std::strtod(s.c_str(), nullptr);
      if (!std::isfinite(v)) {
        diags.error(loc(c), "number '" + s + "' is out of range");
        v = 0;
      }
      return std::make_unique<FloatExpr>(loc(c), v);
    }
    if (auto *c = dynamic_cast<G::NameExprContext *>(ctx))
      return std::make_unique<NameExpr>(loc(c), c->ID()->getText());
    if (auto *c = dynamic_cast<G::UnaryExprContext *>(ctx))
      return std::make_unique<UnaryExpr>(loc(c), c->op->getText(), expr(c->expr()));
    if (auto *c = dynamic_cast<G::BinaryExprContext *>(ctx))
      return std::make_unique<BinaryExpr>(loc(c), text.loc(c->op), c->op->getText(),
                                          expr(c->lhs), expr(c->rhs));
    if (auto *c = dynamic_cast<G::FuncExprContext *>(ctx)) {
      std::vector<ExprPtr> args;
      for (auto *a : c->expr())
        args.push_back(expr(a));
      return std::make_unique<FuncExpr>(loc(c), c->ID()->getText(), std::move(args));
    }
    internalError("unhandled expression form in the parse tree");
  }

  ast::Ref ref(G::RefContext *ctx) {
    ast::Ref r;
    r.loc = loc(ctx);
    for (auto *p : ctx->part()) {
      RefPart part;
      part.loc = loc(p);
      part.name = p->ID()->getText();
      for (auto *i : p->index()) {
        Index idx;
        idx.loc = loc(i);
        idx.lo = expr(i->expr(0));
        if (i->expr().size() > 1)
          idx.hi = expr(i->expr(1));
        part.indices.push_back(std::move(idx));
      }
      r.parts.push_back(std::move(part));
    }
    return r;
  }

  RefList refList(G::RefListContext *ctx) {
    RefList list;
    for (auto *r : ctx->ref())
      list.push_back(ref(r));
    return list;
  }

  Call call(G::CallContext *ctx) {
    Call c;
    c.loc = loc(ctx);
    c.name = ctx->ID()->getText();
    for (auto *a : ctx->arg()) {
      Arg arg;
      arg.loc = loc(a);
      if (a->ID())
        arg.name = a->ID()->getText();
      arg.value = expr(a->expr());
      c.args.push_back(std::move(arg));
    }
    return c;
  }

  Block block(G::BlockContext *ctx) {
    Block b;
    for (auto *s : ctx->stmt())
      b.push_back(stmt(s));
    return b;
  }

  StmtPtr stmt(G::StmtContext *ctx) {
    if (auto *c = ctx->vertexDecl()) {
      auto s = std::make_unique<VertexDecl>(loc(c));
      std::string k = c->kind->getText();
      s->role = k == "input" ? VertexRole::Input
                : k == "output" ? VertexRole::Output
                                : VertexRole::Hidden;
      for (auto *r : c->ref())
        s->names.push_back(ref(r));
      for (auto *e : c->expr())
        s->attrs.push_back(expr(e));
      return s;
    }
    if (auto *c = ctx->edgeStmt()) {
      auto s = std::make_unique<EdgeStmt>(loc(c));
      for (auto *l : c->refList())
        s->chain.push_back(refList(l));
      for (auto *a : c->edgeAttr()) {
        EdgeAttr attr;
        attr.loc = loc(a);
        if (auto *m = dynamic_cast<G::MapAttrContext *>(a))
          attr.word = m->ID()->getText();
        else if (auto *sh = dynamic_cast<G::ShareAttrContext *>(a))
          attr.share = std::make_unique<ast::Ref>(ref(sh->ref()));
        s->attrs.push_back(std::move(attr));
      }
      return s;
    }
    if (auto *c = ctx->useStmt()) {
      auto s = std::make_unique<UseStmt>(loc(c));
      s->module = c->ID()->getText();
      s->moduleLoc = loc(c->ID());
      s->as = ref(c->ref());
      return s;
    }
    if (auto *c = ctx->forStmt())
      return forStmt(c);
    if (auto *c = ctx->ifStmt())
      return ifStmt(c);
    if (auto *c = ctx->sizeStmt()) {
      auto s = std::make_unique<SizeStmt>(loc(c));
      s->refs = refList(c->refList());
      s->size = expr(c->expr());
      return s;
    }
    if (auto *c = ctx->edgesStmt()) {
      auto s = std::make_unique<EdgesStmt>(loc(c));
      for (auto *l : c->refList())
        s->chain.push_back(refList(l));
      s->kind = call(c->call());
      return s;
    }
    if (auto *c = ctx->settingStmt()) {
      if (c->key->getText() == "seed") {
        auto s = std::make_unique<SeedStmt>(loc(c));
        s->value = expr(c->expr());
        return s;
      }
      auto s = std::make_unique<SettingStmt>(loc(c));
      s->key = c->key->getText() == "init" ? SettingStmt::Key::Init
                                           : SettingStmt::Key::Readout;
      s->value = call(c->call());
      return s;
    }
    internalError("unhandled statement form in the parse tree");
  }

  StmtPtr forStmt(G::ForStmtContext *c) {
    auto s = std::make_unique<ForStmt>(loc(c));
    for (auto *v : c->loopVar()) {
      LoopVar lv;
      lv.loc = loc(v);
      lv.name = v->ID()->getText();
      lv.lo = expr(v->expr(0));
      lv.hi = expr(v->expr(1));
      s->vars.push_back(std::move(lv));
    }
    s->body = block(c->block());
    return s;
  }

  StmtPtr ifStmt(G::IfStmtContext *c) {
    auto s = std::make_unique<IfStmt>(loc(c));
    s->cond = expr(c->expr());
    s->thenBody = block(c->block(0));
    if (c->block().size() > 1)
      s->elseBody = block(c->block(1));
    else if (c->ifStmt())
      s->elseBody.push_back(ifStmt(c->ifStmt()));
    return s;
  }

private:
  const SourceText &text;
  DiagEngine &diags;
};

/// Parses files and splices imports, each file once.
class ProgramParser {
public:
  ProgramParser(DiagEngine &diags, const std::vector<std::string> &importDirs)
      : diags(diags), sm(diags.sourceMgr()), importDirs(importDirs) {}

  bool parseFile(unsigned bufferID, Program &program) {
    const MemoryBuffer &buf = *sm.getMemoryBuffer(bufferID);
    if (!precheck(buf, diags))
      return false;
    Lexed lx(buf);
    if (!scanTokens(lx, diags))
      return false;
    G parser(&lx.tokens);
    ErrorListener listener(diags, lx.text);
    parser.removeErrorListeners();
    parser.addErrorListener(&listener);
    unsigned before = diags.numErrors();
    G::FileContext *tree = parser.file();
    if (diags.numErrors() != before)
      return false;

    Builder b(lx.text, diags);
    bool ok = true;
    for (auto *d : tree->decl()) {
      if (auto *c = d->importDecl()) {
        auto decl = std::make_unique<ImportDecl>(b.loc(c));
        std::string quoted = c->STRING()->getText();
        decl->path = quoted.substr(1, quoted.size() - 2);
        SMLoc at = decl->loc;
        std::string path = decl->path;
        program.decls.push_back(std::move(decl));
        ok &= importFile(path, at, program);
      } else if (auto *c = d->paramDecl()) {
        auto decl = std::make_unique<ParamDecl>(b.loc(c));
        decl->name = c->ID()->getText();
        decl->value = b.expr(c->expr());
        program.decls.push_back(std::move(decl));
      } else if (auto *c = d->moduleDecl()) {
        auto decl = std::make_unique<ModuleDecl>(b.loc(c));
        decl->name = c->ID()->getText();
        decl->body = b.block(c->block());
        program.decls.push_back(std::move(decl));
      } else if (auto *c = d->liftDecl()) {
        auto decl = std::make_unique<LiftDecl>(b.loc(c));
        decl->name = c->ID(0)->getText();
        decl->module = c->ID(1)->getText();
        decl->moduleLoc = b.loc(c->ID(1));
        decl->body = b.block(c->block());
        program.decls.push_back(std::move(decl));
      }
    }
    return ok && diags.numErrors() == before;
  }

  void markSeen(unsigned bufferID) {
    SmallString<256> real;
    StringRef id = sm.getMemoryBuffer(bufferID)->getBufferIdentifier();
    if (!sys::fs::real_path(id, real))
      seen.insert(real);
  }

private:
  bool importFile(const std::string &path, SMLoc at, Program &program) {
    std::vector<std::string> candidates;
    StringRef from = sm.getMemoryBuffer(sm.FindBufferContainingLoc(at))->getBufferIdentifier();
    SmallString<256> local(sys::path::parent_path(from));
    sys::path::append(local, path);
    candidates.push_back(sys::path::is_absolute(path) ? path : std::string(local));
    for (const std::string &dir : importDirs) {
      SmallString<256> p(dir);
      sys::path::append(p, path);
      candidates.push_back(std::string(p));
    }
    for (const std::string &candidate : candidates) {
      SmallString<256> real;
      if (sys::fs::real_path(candidate, real) || sys::fs::is_directory(real))
        continue;
      if (!seen.insert(real).second)
        return true; // imported already: each file is read once
      auto buf = MemoryBuffer::getFile(candidate, /*IsText=*/true);
      if (!buf) {
        diags.error(at, "cannot read imported file '" + path + "': " + buf.getError().message());
        return false;
      }
      unsigned id = sm.AddNewSourceBuffer(std::move(*buf), at);
      return parseFile(id, program);
    }
    diags.error(at, "imported file '" + path + "' not found");
    return false;
  }

  DiagEngine &diags;
  SourceMgr &sm;
  const std::vector<std::string> &importDirs;
  StringSet<> seen;
};

} // namespace

std::unique_ptr<Program> parseProgram(unsigned bufferID, DiagEngine &diags,
                                      const std::vector<std::string> &importDirs) {
  auto program = std::make_unique<Program>();
  ProgramParser parser(diags, importDirs);
  parser.markSeen(bufferID);
  if (!parser.parseFile(bufferID, *program))
    return nullptr;
  return program;
}

bool dumpTokens(unsigned bufferID, DiagEngine &diags, raw_ostream &os) {
  SourceMgr &sm = diags.sourceMgr();
  const MemoryBuffer &buf = *sm.getMemoryBuffer(bufferID);
  if (!precheck(buf, diags))
    return false;
  Lexed lx(buf);
  if (!scanTokens(lx, diags))
    return false;
  const antlr4::dfa::Vocabulary &vocab = lx.lexer.getVocabulary();
  for (antlr4::Token *tok : lx.tokens.getTokens()) {
    if (tok->getChannel() != antlr4::Token::DEFAULT_CHANNEL)
      continue;
    auto lc = sm.getLineAndColumn(lx.text.loc(tok), bufferID);
    os << lc.first << ":" << lc.second << " ";
    if (tok->getType() == antlr4::Token::EOF) {
      os << "EOF\n";
      continue;
    }
    std::string name = vocab.getSymbolicName(tok->getType());
    os << (name.empty() ? "KEYWORD" : name) << " '" << tok->getText() << "'\n";
  }
  return true;
}

} // namespace rslc
