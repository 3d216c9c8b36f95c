//===- rslc.cpp - the rslc command-line driver ----------------------------===//
//
// Reads the pipeline top to bottom:
//   parse -> (tokens | ast) -> check -> checked
// Each `--emit=` value stops after its stage and prints it.
//
//===----------------------------------------------------------------------===//
#include "AST/ASTDump.h"
#include "Basic/Diagnostics.h"
#include "IR/Printer.h"
#include "Parse/Parser.h"
#include "Sema/Sema.h"

#include "llvm/Config/llvm-config.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/thread.h"

using namespace llvm;
using namespace rslc;

namespace {

cl::OptionCategory rslcCategory("rslc options");

cl::opt<std::string> inputFile(cl::Positional, cl::desc("<blueprint.rsl>"), cl::Required,
                               cl::cat(rslcCategory));
cl::opt<std::string> outputName("o", cl::desc("Output name (default: standard output)"),
                                cl::value_desc("name"), cl::cat(rslcCategory));

/// Pipeline stages, in order; `--emit=` stops after one and prints it.
enum class Emit { Tokens, AST, Checked, Default };
cl::opt<Emit> emit(
    "emit", cl::desc("Stop after a stage and print it:"), cl::init(Emit::Default),
    cl::values(clEnumValN(Emit::Tokens, "tokens", "the token stream"),
               clEnumValN(Emit::AST, "ast", "the syntax tree"),
               clEnumValN(Emit::Checked, "checked",
                          "the checked blueprint (flattened, itself valid source)")),
    cl::cat(rslcCategory));

cl::list<std::string> defines("D", cl::Prefix, cl::desc("Override a parameter"),
                              cl::value_desc("name=value"), cl::cat(rslcCategory));
cl::list<std::string> importDirs("I", cl::Prefix, cl::desc("Add a directory to search for imports"),
                                 cl::value_desc("dir"), cl::cat(rslcCategory));

/// Writes stage output to -o, or to standard output.
int writeOutput(llvm::function_ref<void(raw_ostream &)> print) {
  if (outputName.empty() || outputName == "-") {
    print(outs());
    return ExitOk;
  }
  std::error_code ec;
  ToolOutputFile out(outputName, ec, sys::fs::OF_Text);
  if (ec) {
    WithColor::error(errs(), "rslc") << "cannot write '" << outputName << "': " << ec.message()
                                     << "\n";
    return ExitUserError;
  }
  print(out.os());
  out.keep();
  return ExitOk;
}

int run(SourceMgr &sm, DiagEngine &diags) {
  auto file = MemoryBuffer::getFileOrSTDIN(inputFile, /*IsText=*/true);
  if (!file) {
    WithColor::error(errs(), "rslc") << "cannot open '" << inputFile
                                     << "': " << file.getError().message() << "\n";
    return ExitUserError;
  }
  unsigned mainID = sm.AddNewSourceBuffer(std::move(*file), SMLoc());

  // -D overrides live in their own buffer so errors can point into them.
  std::string cmdline;
  std::vector<size_t> offsets;
  for (const std::string &d : defines) {
    cmdline += "-D ";
    offsets.push_back(cmdline.size());
    cmdline += d + " ";
  }
  std::vector<Override> overrides;
  if (!defines.empty()) {
    unsigned id = sm.AddNewSourceBuffer(MemoryBuffer::getMemBufferCopy(cmdline, "<command line>"),
                                        SMLoc());
    const char *base = sm.getMemoryBuffer(id)->getBufferStart();
    for (size_t i = 0; i < defines.size(); ++i)
      overrides.push_back({defines[i], SMLoc::getFromPointer(base + offsets[i])});
  }

  if (emit == Emit::Tokens) {
    int rc = ExitOk;
    std::string text;
    raw_string_ostream os(text);
    if (!dumpTokens(mainID, diags, os))
      return diags.exitCode();
    rc = writeOutput([&](raw_ostream &out) { out << text; });
    return rc;
  }

  auto program = parseProgram(mainID, diags, importDirs);
  if (!program)
    return diags.exitCode();
  if (emit == Emit::AST)
    return writeOutput([&](raw_ostream &os) { dumpAST(*program, sm, os); });

  auto checked = check(*program, overrides, diags);
  if (!checked)
    return diags.exitCode();
  if (emit == Emit::Checked)
    return writeOutput([&](raw_ostream &os) { printChecked(*checked, os); });

  diags.unsupported(SMLoc(), "code generation (a shared library) is not implemented in this "
                             "version; use --emit=tokens, --emit=ast or --emit=checked");
  return diags.exitCode();
}

} // namespace

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  setBugReportMsg("rslc crashed. This is a bug: please report it with the blueprint and "
                  "command line.\n");
  cl::SetVersionPrinter([](raw_ostream &os) {
    os << "rslc " RSLC_VERSION " (LLVM " LLVM_VERSION_STRING ")\n";
  });
  cl::HideUnrelatedOptions(rslcCategory);
  if (!cl::ParseCommandLineOptions(argc, argv,
                                   "rslc: compiler for random sparse lift blueprints\n\n"
                                   "  rslc model.rsl -o model   compile a blueprint\n",
                                   &errs()))
    return ExitUsage;
  // Deeply nested input recurses deeply: run the compiler on a large stack.
  int rc = ExitInternal;
  llvm::thread worker(std::optional<unsigned>(256u << 20), [&] {
    SourceMgr sm;
    DiagEngine diags(sm);
    rc = run(sm, diags);
    if (unsigned n = diags.numErrors() + diags.numUnsupported())
      errs() << n << (n == 1 ? " error" : " errors") << " generated.\n";
  });
  worker.join();
  return rc;
}
