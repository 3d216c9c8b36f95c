//===- Diagnostics.h - clang-style diagnostics over llvm::SourceMgr -------===//
//
// Three kinds of failure are kept apart (as TACO does):
//  - user errors: `file:line:col: error: ...` with the source line and a caret;
//  - "not supported yet": a valid input this version cannot handle;
//  - internal errors: a bug in rslc, reported as such, never a user's fault.
//
//===----------------------------------------------------------------------===//
#ifndef RSLC_BASIC_DIAGNOSTICS_H
#define RSLC_BASIC_DIAGNOSTICS_H

#include "llvm/ADT/Twine.h"
#include "llvm/Support/SMLoc.h"
#include "llvm/Support/SourceMgr.h"

#include <string>
#include <string_view>
#include <vector>

namespace rslc {

/// Process exit codes of the rslc tools.
enum ExitCode : int {
  ExitOk = 0,
  ExitUserError = 1,   ///< the input is wrong; diagnostics say where
  ExitUsage = 2,       ///< bad command line
  ExitUnsupported = 3, ///< valid input that this version cannot handle yet
  ExitInternal = 70,   ///< a bug in rslc
};

class DiagEngine {
public:
  explicit DiagEngine(llvm::SourceMgr &sm) : sm(sm) {}

  void error(llvm::SMLoc loc, const llvm::Twine &msg);
  void warning(llvm::SMLoc loc, const llvm::Twine &msg);
  void note(llvm::SMLoc loc, const llvm::Twine &msg);
  /// A valid construct that this version of rslc does not implement.
  void unsupported(llvm::SMLoc loc, const llvm::Twine &msg);

  unsigned numErrors() const { return errors; }
  unsigned numUnsupported() const { return unsupportedCount; }
  bool failed() const { return errors + unsupportedCount > 0; }
  /// The exit code matching what was reported so far.
  int exitCode() const;

  llvm::SourceMgr &sourceMgr() { return sm; }

private:
  void print(llvm::SMLoc loc, llvm::SourceMgr::DiagKind kind,
             const llvm::Twine &msg);
  /// `file:line:col: kind: msg`, the source line and a caret.
  void show(llvm::SMLoc loc, llvm::SourceMgr::DiagKind kind, const std::string &msg);
  llvm::SourceMgr &sm;
  unsigned errors = 0, unsupportedCount = 0, printed = 0;
  static constexpr unsigned errorLimit = 50;
};

/// Reports a bug in rslc and exits with ExitInternal. Never for user input.
[[noreturn]] void internalError(const llvm::Twine &msg);

/// Closest candidate to `word` by edit distance, or "" if none is close.
std::string closestMatch(llvm::StringRef word,
                         llvm::ArrayRef<llvm::StringRef> candidates);
/// The same over keywords (core/Kinds.h's keywords<E>()).
std::string closestMatch(llvm::StringRef word, const std::vector<std::string_view> &candidates);

} // namespace rslc

#endif
