//===- Parser.h - source text to AST (ANTLR front end) --------------------===//
#ifndef RSLC_PARSE_PARSER_H
#define RSLC_PARSE_PARSER_H

#include "AST/AST.h"
#include "Basic/Diagnostics.h"

#include "llvm/Support/Error.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace rslc {

/// Limits that keep adversarial input from exhausting the stack.
constexpr unsigned maxNestingDepth = 256;     ///< brackets, braces and `else if`s
constexpr unsigned maxTokensPerStatement = 20000;
/// Tokens per file: each costs a few hundred bytes through parsing, so this
/// bounds the front end's memory (well under 1 GB) whatever the file.
constexpr size_t maxTokensPerFile = 500'000;
/// Names longer than this are refused, which keeps expanded names and
/// messages bounded.
constexpr unsigned maxNameLength = 256;

/// Blueprint files are small: larger ones are refused before reading.
constexpr uint64_t maxSourceBytes = uint64_t(16) << 20;

/// Reads a blueprint (`-`: standard input). Refuses directories, devices
/// and files over maxSourceBytes; the error is the reason, for a message.
llvm::Expected<std::unique_ptr<llvm::MemoryBuffer>> readSourceFile(llvm::StringRef path);

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
