//===- Parser.h - source text to AST (ANTLR front end) --------------------===//
#ifndef RSLC_PARSE_PARSER_H
#define RSLC_PARSE_PARSER_H

#include "AST/AST.h"
#include "Basic/Diagnostics.h"

#include "llvm/Support/raw_ostream.h"

#include <memory>
#include <string>
#include <vector>

namespace rslc {

/// Limits that keep adversarial input from exhausting the stack.
constexpr unsigned maxNestingDepth = 256;     ///< brackets and braces
constexpr unsigned maxTokensPerStatement = 20000;

/// Parses buffer `bufferID` of the diagnostics' SourceMgr and every file it
/// imports (searched next to the importing file, then in `importDirs`).
/// Returns null if any syntax error was reported.
std::unique_ptr<ast::Program>
parseProgram(unsigned bufferID, DiagEngine &diags,
             const std::vector<std::string> &importDirs);

/// `--emit=tokens`: one line per token, `line:col kind 'text'`.
/// Returns false (after reporting) if the buffer cannot be tokenized.
bool dumpTokens(unsigned bufferID, DiagEngine &diags, llvm::raw_ostream &os);

} // namespace rslc

#endif
