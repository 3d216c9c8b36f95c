//===- Diagnostics.cpp - errors as clang prints them, with caret ----------===//
#include "Basic/Diagnostics.h"

#include "llvm/Support/ConvertUTF.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

using namespace llvm;

namespace rslc {

namespace {

/// Source lines up to this many bytes are shown whole; longer ones as a
/// window of `shownAround` characters on each side of the caret.
constexpr size_t maxPlainLine = 200, shownAround = 60;
/// Words (runs without spaces) longer than this are shortened in messages.
constexpr size_t maxWord = 80;
constexpr size_t maxPath = 4096;

/// A line that SourceMgr prints with an aligned caret: short, printable
/// ASCII (SourceMgr expands tabs; it drops the caret on other bytes).
bool plainLine(StringRef line) {
  if (line.size() > maxPlainLine)
    return false;
  for (unsigned char c : line)
    if ((c < 0x20 && c != '\t') || c >= 0x7f)
      return false;
  return true;
}

/// Moves a cut position back to the start of a UTF-8 character.
size_t charStart(StringRef s, size_t i) {
  while (i > 0 && i < s.size() && (static_cast<unsigned char>(s[i]) & 0xc0) == 0x80)
    --i;
  return i;
}

/// Shortens over-long words (a 100000-digit literal, a generated name) to
/// their two ends, so every message stays readable; paths are kept whole.
std::string abbreviate(StringRef msg) {
  std::string out;
  while (!msg.empty()) {
    size_t space = msg.find(' ');
    StringRef word = msg.substr(0, space);
    // A path is shown whole (up to PATH_MAX): the user needs all of it.
    size_t limit = word.contains('/') ? maxPath : maxWord;
    if (word.size() > limit) {
      size_t head = charStart(word, maxWord / 2), tail = charStart(word, word.size() - maxWord / 4);
      out += (word.substr(0, head) + "..." + word.substr(tail) + " (" + Twine(word.size()) +
              " characters)")
                 .str();
    } else {
      out += word.str();
    }
    if (space == StringRef::npos)
      break;
    out += ' ';
    msg = msg.substr(space + 1);
  }
  return out;
}

/// Prints `line` readably with a caret under byte `col`: one cell per
/// character, '?' for control characters and bytes that are not UTF-8,
/// and a window around the caret if the line is long.
void printExcerpt(StringRef line, size_t col, raw_ostream &os) {
  if (line.consume_front("\xEF\xBB\xBF")) // a byte order mark is not shown
    col = col >= 3 ? col - 3 : 0;
  std::vector<std::string> cells;
  size_t caret = 0;
  for (size_t i = 0; i < line.size();) {
    unsigned char c = line[i];
    unsigned len = getNumBytesForUTF8(c);
    const UTF8 *p = reinterpret_cast<const UTF8 *>(line.data() + i);
    bool valid = c >= 0x80 && len > 1 && i + len <= line.size() && isLegalUTF8Sequence(p, p + len);
    size_t n = valid ? len : 1;
    bool control = c < 0x20 || c == 0x7f || (!valid && c >= 0x80) ||
                   (c == 0xc2 && valid && static_cast<unsigned char>(line[i + 1]) < 0xa0); // C1
    if (i <= col)
      caret = cells.size();
    cells.push_back(c == '\t' ? " " : control ? "?" : line.substr(i, n).str());
    i += n;
  }
  if (col >= line.size())
    caret = cells.size();
  size_t begin = 0, end = cells.size();
  if (cells.size() > maxPlainLine) { // a window around the caret
    begin = caret > shownAround ? caret - shownAround : 0;
    end = std::min(cells.size(), caret + shownAround);
  }
  std::string text = begin ? "..." : "";
  size_t caretColumn = text.size() + (caret - begin);
  for (size_t k = begin; k < end; ++k)
    text += cells[k];
  if (end < cells.size())
    text += "...";
  os << text << "\n" << std::string(caretColumn, ' ') << "^\n";
}

} // namespace

void DiagEngine::show(SMLoc loc, SourceMgr::DiagKind kind, const std::string &msg) {
  SMDiagnostic d = sm.GetMessage(loc, kind, msg);
  if (sm.getDiagHandler() || plainLine(d.getLineContents())) {
    sm.PrintMessage(loc, kind, msg);
    return;
  }
  sm.PrintIncludeStack(sm.getBufferInfo(sm.FindBufferContainingLoc(loc)).IncludeLoc, errs());
  std::string where = (d.getFilename() + ":" + Twine(d.getLineNo()) + ":" +
                       Twine(d.getColumnNo() + 1)).str();
  SMDiagnostic(where, kind, msg).print(nullptr, errs());
  printExcerpt(d.getLineContents(), size_t(d.getColumnNo()), errs());
}

void DiagEngine::print(SMLoc loc, SourceMgr::DiagKind kind, const Twine &text) {
  if (printed >= errorLimit)
    return;
  std::string msg = abbreviate(text.str());
  if (!loc.isValid()) { // not about a place in the input
    StringRef label = kind == SourceMgr::DK_Error     ? "error: "
                      : kind == SourceMgr::DK_Warning ? "warning: "
                                                      : "note: ";
    errs() << "rslc: " << label << msg << "\n";
    printed += kind == SourceMgr::DK_Error;
    return;
  }
  show(loc, kind, msg);
  if (kind == SourceMgr::DK_Error && ++printed == errorLimit)
    errs() << "rslc: fatal error: too many errors emitted, stopping now\n";
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

std::string closestMatch(StringRef word, const std::vector<std::string_view> &candidates) {
  std::vector<StringRef> refs(candidates.begin(), candidates.end());
  return closestMatch(word, refs);
}

} // namespace rslc
