#include "Basic/Diagnostics.h"

#include "llvm/Support/raw_ostream.h"

#include <cstdlib>

using namespace llvm;

namespace rslc {

void DiagEngine::print(SMLoc loc, SourceMgr::DiagKind kind, const Twine &msg) {
  if (printed >= errorLimit)
    return;
  if (!loc.isValid()) { // not about a place in the input
    StringRef label = kind == SourceMgr::DK_Error     ? "error: "
                      : kind == SourceMgr::DK_Warning ? "warning: "
                                                      : "note: ";
    errs() << "rslc: " << label << msg << "\n";
    printed += kind == SourceMgr::DK_Error;
    return;
  }
  if (kind == SourceMgr::DK_Error && ++printed == errorLimit) {
    sm.PrintMessage(loc, kind, msg);
    errs() << "rslc: fatal error: too many errors emitted, stopping now\n";
    return;
  }
  sm.PrintMessage(loc, kind, msg);
}

void DiagEngine::error(SMLoc loc, const Twine &msg) {
  ++errors;
  print(loc, SourceMgr::DK_Error, msg);
}
void DiagEngine::warning(SMLoc loc, const Twine &msg) {
  print(loc, SourceMgr::DK_Warning, msg);
}
void DiagEngine::note(SMLoc loc, const Twine &msg) {
  print(loc, SourceMgr::DK_Note, msg);
}
void DiagEngine::unsupported(SMLoc loc, const Twine &msg) {
  ++unsupportedCount;
  print(loc, SourceMgr::DK_Error, "not supported yet: " + msg);
}

int DiagEngine::exitCode() const {
  if (errors)
    return ExitUserError;
  if (unsupportedCount)
    return ExitUnsupported;
  return ExitOk;
}

void internalError(const Twine &msg) {
  errs() << "rslc: internal error: " << msg
         << "\nThis is a bug in rslc; please report it with the input file.\n";
  std::exit(ExitInternal);
}

std::string closestMatch(StringRef word, ArrayRef<StringRef> candidates) {
  std::string best;
  unsigned bestDist = ~0u;
  for (StringRef c : candidates) {
    unsigned d = word.edit_distance(c, /*AllowReplacements=*/true,
                                    /*MaxEditDistance=*/3);
    if (d < bestDist && d <= std::max<size_t>(1, (c.size() + 2) / 3)) {
      bestDist = d;
      best = c.str();
    }
  }
  return best;
}

} // namespace rslc
