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

#include <unistd.h>

#include <cerrno>
#include "llvm/Support/Path.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
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
    // ANTLRInputStream drops a leading UTF-8 byte order mark: its code
    // point 0 is the first character after it.
    size_t first = text.starts_with("\xEF\xBB\xBF") ? 3 : 0;
    for (size_t i = first; i < text.size();) {
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
  std::vector<uint32_t> cpToByte; // files are at most 16 MiB (maxSourceBytes)
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

/// Rejects what ANTLR cannot or should not see: binary files, invalid
/// UTF-8, stray characters, nesting deep enough to threaten the stack.
bool precheck(const MemoryBuffer &buf, DiagEngine &diags) {
  StringRef text = buf.getBuffer();
  if (size_t nul = text.find('\0'); nul != StringRef::npos) {
    diags.error(SMLoc::getFromPointer(text.data() + nul),
                "the file contains a NUL byte: it is binary, not blueprint text");
    return false;
  }
  const UTF8 *p = reinterpret_cast<const UTF8 *>(text.begin());
  const UTF8 *end = reinterpret_cast<const UTF8 *>(text.end());
  if (!isLegalUTF8String(&p, end)) {
    char byte[8];
    std::snprintf(byte, sizeof byte, "0x%02x", unsigned(*p));
    diags.error(SMLoc::getFromPointer(reinterpret_cast<const char *>(p)),
                "the file is not valid UTF-8 text (byte " + Twine(byte) + ")");
    return false;
  }
  return true;
}

/// A character the lexer does not accept, as the user should read it.
std::string badCharMessage(const std::string &t) {
  if (t == "\"")
    return "unterminated string: a string ends with '\"' on the same line";
  unsigned char c = t.empty() ? 0 : t[0];
  if (t.size() == 1 && (c < 0x20 || c == 0x7f)) {
    char code[16];
    std::snprintf(code, sizeof code, "U+%04X", unsigned(c));
    return "invalid control character " + std::string(code) + " in blueprint";
  }
  if (c >= 0x80)
    return "invalid character '" + t + "' in blueprint (outside strings and comments, " +
           "blueprints are ASCII: names use letters, digits and '_')";
  return "invalid character '" + t + "' in blueprint";
}

bool scanTokens(Lexed &lx, DiagEngine &diags) {
  lx.lexer.removeErrorListeners();
  // Count first, each token dropped at once: a file of millions of tokens
  // is refused before they are all held.
  size_t count = 0;
  for (auto tok = lx.lexer.nextToken(); tok->getType() != antlr4::Token::EOF;
       tok = lx.lexer.nextToken())
    if (++count > maxTokensPerFile) {
      diags.error(lx.text.loc(tok.get()),
                  "the file has more than " + Twine(maxTokensPerFile) +
                      " tokens; a blueprint should be small (loops and lifts give size)");
      return false;
    }
  lx.lexer.reset();
  lx.tokens.fill();
  std::vector<antlr4::Token *> toks;
  for (antlr4::Token *tok : lx.tokens.getTokens())
    if (tok->getChannel() == antlr4::Token::DEFAULT_CHANNEL)
      toks.push_back(tok);
  auto textAt = [&](size_t k) { return k < toks.size() ? toks[k]->getText() : std::string(); };
  unsigned before = diags.numErrors();
  // Brackets and braces nest the parse tree, and so does each `else if`
  // (ifStmt recurses into its else branch). `depth` counts both; chains[i]
  // is the number of `else if`s of the chain open at brace level i, which
  // close with it when no `else` follows its last block.
  unsigned depth = 0, inStatement = 0;
  std::vector<unsigned> chains{0};
  for (size_t k = 0; k < toks.size(); ++k) {
    antlr4::Token *tok = toks[k];
    std::string t = tok->getText();
    if (tok->getType() == BlueprintLexer::BAD_CHAR) {
      diags.error(lx.text.loc(tok), badCharMessage(t));
      continue;
    }
    if (tok->getType() == BlueprintLexer::ID && t.size() > maxNameLength) {
      diags.error(lx.text.loc(tok), "name longer than " + Twine(maxNameLength) + " characters");
      continue;
    }
    if (t == "/" && textAt(k + 1) == "*" &&
        toks[k + 1]->getStartIndex() == tok->getStartIndex() + 1) { // "/*" left by the lexer
      diags.error(lx.text.loc(tok), "unterminated comment: '/*' without a closing '*/'");
      return false;
    }
    bool elseIf = t == "if" && k > 0 && textAt(k - 1) == "else";
    if (t == "(" || t == "[" || t == "{" || elseIf) {
      if (t == "{")
        chains.push_back(0);
      if (elseIf)
        ++chains.back();
      if (++depth > maxNestingDepth) {
        bool chained = std::any_of(chains.begin(), chains.end(), [](unsigned c) { return c; });
        diags.error(lx.text.loc(tok), "nesting deeper than " + Twine(maxNestingDepth) +
                                          " levels" +
                                          (chained ? " (each 'else if' nests one level)" : ""));
        return false;
      }
    } else if ((t == ")" || t == "]" || t == "}") && depth) {
      --depth;
      if (t == "}" && chains.size() > 1) {
        depth -= std::min(depth, chains.back());
        chains.pop_back();
      }
      if (t == "}" && textAt(k + 1) != "else") { // the chain at this level ends
        depth -= std::min(depth, chains.back());
        chains.back() = 0;
      }
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
      if (a->STRING()) {
        std::string quoted = a->STRING()->getText();
        arg.text = quoted.substr(1, quoted.size() - 2);
      } else {
        arg.value = expr(a->expr());
      }
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
      for (auto *a : c->vertexAttr()) {
        VertexAttr attr;
        attr.loc = loc(a);
        if (auto *e = dynamic_cast<G::ExprAttrContext *>(a)) {
          attr.expr = expr(e->expr());
        } else {
          for (auto *extent : dynamic_cast<G::ShapeAttrContext *>(a)->expr())
            attr.shape.push_back(expr(extent));
        }
        s->attrs.push_back(std::move(attr));
      }
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
          attr.map = call(m->call());
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
      s->bias = c->target != nullptr;
      if (s->bias && c->target->getText() != "bias")
        diags.error(text.loc(c->target), "expected 'bias' or an edge ('A -> B') after 'init', got '" +
                                        c->target->getText() + "'");
      for (auto *l : c->refList())
        s->chain.push_back(refList(l));
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
    bool directory = false;
    for (const std::string &candidate : candidates) {
      SmallString<256> real;
      if (sys::fs::real_path(candidate, real))
        continue;
      if (sys::fs::is_directory(real)) { // keep looking in the other directories
        directory = true;
        continue;
      }
      if (!seen.insert(real).second)
        return true; // imported already: each file is read once
      auto buf = readSourceFile(candidate);
      if (!buf) {
        diags.error(at, "cannot read imported file '" + path + "': " + toString(buf.takeError()));
        return false;
      }
      unsigned id = sm.AddNewSourceBuffer(std::move(*buf), at);
      return parseFile(id, program);
    }
    diags.error(at, "imported file '" + path + "' " + (directory ? "is a directory" : "not found"));
    return false;
  }

  DiagEngine &diags;
  SourceMgr &sm;
  const std::vector<std::string> &importDirs;
  StringSet<> seen;
};

} // namespace

Expected<std::unique_ptr<MemoryBuffer>> readSourceFile(StringRef path) {
  auto tooLarge = [] {
    return createStringError(std::make_error_code(std::errc::file_too_large),
                             "larger than " + Twine(maxSourceBytes >> 20) +
                                 " MiB; a blueprint should be small");
  };
  if (path == "-") { // standard input, read no further than the limit
    std::string text;
    char chunk[1 << 16];
    while (true) {
      ssize_t got = ::read(0, chunk, sizeof chunk);
      if (got < 0 && errno == EINTR)
        continue;
      if (got < 0)
        return createStringError(std::error_code(errno, std::generic_category()),
                                 "cannot read standard input");
      if (got == 0)
        break;
      text.append(chunk, size_t(got));
      if (text.size() > maxSourceBytes)
        return tooLarge();
    }
    return MemoryBuffer::getMemBufferCopy(text, "<stdin>");
  }
  // Only regular files: a device never ends, a FIFO may block forever.
  sys::fs::file_status st;
  if (std::error_code ec = sys::fs::status(path, st))
    return createStringError(ec, ec.message());
  if (sys::fs::is_directory(st))
    return createStringError(std::make_error_code(std::errc::is_a_directory), "Is a directory");
  if (!sys::fs::is_regular_file(st))
    return createStringError(std::make_error_code(std::errc::invalid_argument),
                             st.type() == sys::fs::file_type::fifo_file
                                 ? "not a regular file (a FIFO; give '-' to read standard input)"
                                 : "not a regular file (a device or socket)");
  if (st.getSize() > maxSourceBytes)
    return tooLarge();
  auto buf = MemoryBuffer::getFile(path, /*IsText=*/true);
  if (!buf)
    return createStringError(buf.getError(), buf.getError().message());
  if ((*buf)->getBufferSize() > maxSourceBytes)
    return tooLarge();
  return std::move(*buf);
}

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
