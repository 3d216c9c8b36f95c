//===- rslc.cpp - the rslc command-line driver ----------------------------===//
//
// Reads the pipeline top to bottom:
//   parse -> (tokens | ast) -> check -> checked -> lift -> (lifted | dot)
//   -> kernels -> (llvm) -> optimise -> (asm | obj) -> link -> shared + header
// Each `--emit=` value stops after its stage and prints it.
//
//===----------------------------------------------------------------------===//
#include "AST/ASTDump.h"
#include "CodeGen/Backend.h"
#include "Basic/Diagnostics.h"
#include "IR/Printer.h"
#include "Lift/CheckOptimum.h"
#include "Lift/MakePlan.h"
#include "Lift/Print.h"
#include "Parse/Parser.h"
#include "Sema/Sema.h"

#include "core/Build.h"

#include "llvm/Config/llvm-config.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/IR/Verifier.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/ErrorHandling.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Program.h"

#include <pthread.h>
#include <unistd.h>

#include <cstring>
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/thread.h"

#include <cmath>
#include <cstdio>

using namespace llvm;
using namespace rslc;

namespace {

cl::OptionCategory rslcCategory("rslc options");

cl::opt<std::string> inputFile(cl::Positional, cl::desc("<blueprint.rsl>"),
                               cl::cat(rslcCategory));
cl::opt<bool> listKinds("list-kinds",
                        cl::desc("Print every keyword (activations, maps, lift kinds, ...) "
                                 "as Markdown tables and exit"),
                        cl::cat(rslcCategory));
cl::opt<std::string> outputName("o", cl::desc("Output name (default: standard output)"),
                                cl::value_desc("name"), cl::cat(rslcCategory));

/// Pipeline stages, in order; `--emit=` stops after one and prints it.
enum class Emit { Tokens, AST, Checked, Lifted, Dot, LLVM, Asm, Obj, Header, Shared };
cl::opt<Emit> emit(
    "emit", cl::desc("Stop after a stage and print it:"), cl::init(Emit::Shared),
    cl::values(clEnumValN(Emit::Tokens, "tokens", "the token stream"),
               clEnumValN(Emit::AST, "ast", "the syntax tree"),
               clEnumValN(Emit::Checked, "checked",
                          "the checked blueprint (flattened, itself valid source)"),
               clEnumValN(Emit::Lifted, "lifted", "a summary of the lifted sparse graph"),
               clEnumValN(Emit::Dot, "dot", "Graphviz of the base graph (and of small lifts)"),
               clEnumValN(Emit::LLVM, "llvm", "the kernels as optimised LLVM IR"),
               clEnumValN(Emit::Asm, "asm", "the kernels as assembly"),
               clEnumValN(Emit::Obj, "obj", "the kernels as an object file"),
               clEnumValN(Emit::Header, "header", "the model's C header"),
               clEnumValN(Emit::Shared, "shared",
                          "a shared library NAME.so and its header NAME.h (default)")),
    cl::cat(rslcCategory));

cl::list<std::string> defines("D", cl::Prefix, cl::desc("Override a parameter"),
                              cl::value_desc("name=value"), cl::cat(rslcCategory));
cl::list<std::string> importDirs("I", cl::Prefix, cl::desc("Add a directory to search for imports"),
                                 cl::value_desc("dir"), cl::cat(rslcCategory));

cl::opt<std::string> liftName("lift", cl::desc("The lift to build (default: the last one "
                                              "declared; without lifts, the identity lift)"),
                              cl::value_desc("name"), cl::cat(rslcCategory));
cl::opt<std::string> moduleName("module", cl::desc("Without --lift: build the identity lift (the "
                                                  "base network) of this module"),
                                cl::value_desc("name"), cl::cat(rslcCategory));
cl::opt<bool> printEdges("print-edges", cl::desc("With --emit=lifted, list every lifted edge"),
                         cl::cat(rslcCategory));
cl::opt<bool> checkOptimumFlag(
    "check-optimum",
    cl::desc("Expand the lift and look for LU patterns between consecutive sparse layers: "
             "weight supports with training problems that have no optimum (seed 003)"),
    cl::cat(rslcCategory));
cl::opt<double> memoryLimitGiB("memory-limit",
                               cl::desc("Refuse lifts needing more memory than this, in GiB "
                                        "(default: the memory available now)"),
                               cl::value_desc("GiB"), cl::init(0), cl::cat(rslcCategory));

cl::opt<unsigned> optLevel("O", cl::Prefix, cl::desc("Optimisation level 0-3 (default 3)"),
                           cl::init(3), cl::cat(rslcCategory));
cl::opt<std::string> targetCpu(
    "target-cpu",
    cl::desc("Target CPUs, best first, one kernel variant each (default: this machine's, with "
             "an x86-64-v2 variant the library falls back to on other machines)"),
    cl::cat(rslcCategory));
cl::opt<std::string> targetFeatures("target-features",
                                    cl::desc("Target features of the first --target-cpu, e.g. +avx2,-avx512f "
                                             "(default: this machine's)"),
                                    cl::cat(rslcCategory));
cl::opt<codegen::Precision> precision(
    "precision", cl::desc("Floating-point type of the model:"), cl::init(codegen::Precision::F32),
    cl::values(clEnumValN(codegen::Precision::F32, "f32", "float (default)"),
               clEnumValN(codegen::Precision::F64, "f64", "double (for gradient checks)")),
    cl::cat(rslcCategory));
cl::opt<std::string> runtimeDir("runtime-dir",
                                cl::desc("Directory of librslc_runtime.a and librslc_core.a "
                                         "(default: beside rslc: ../lib/rslc, or ../lib in a "
                                         "build tree)"),
                                cl::cat(rslcCategory));
cl::opt<std::string> linker("linker",
                            cl::desc("C++ compiler driver used to link (default: the one rslc "
                                     "was built with, else c++, g++ or clang++ on the PATH)"),
                            cl::cat(rslcCategory));

const char *programName = "rslc";

/// The runtime archives beside this rslc: PREFIX/lib/rslc when installed,
/// BUILD/lib in a build tree, so an installation may be moved anywhere.
std::string defaultRuntimeDir(const char *argv0) {
  static int anchor;
  std::string exe = sys::fs::getMainExecutable(argv0, &anchor);
  SmallString<256> bin(sys::path::parent_path(exe));
  for (const char *rel : {"../lib/rslc", "../lib"}) {
    SmallString<256> dir(bin);
    sys::path::append(dir, rel);
    SmallString<256> archive(dir);
    sys::path::append(archive, "librslc_runtime.a");
    if (sys::fs::exists(archive)) {
      sys::path::remove_dots(dir, /*remove_dot_dot=*/true);
      return std::string(dir);
    }
  }
  return RSLC_DEFAULT_RUNTIME_DIR;
}

/// A C++ compiler driver to link with: the build's, else one on the PATH.
std::string defaultLinker() {
  for (const char *candidate : {RSLC_DEFAULT_LINKER, "c++", "g++", "clang++", "clang++-19"})
    if (sys::findProgramByName(candidate))
      return candidate;
  return RSLC_DEFAULT_LINKER; // reported as not found when linking
}

/// MemAvailable from /proc/meminfo, in bytes (0 if unknown).
uint64_t availableMemory() {
  auto buf = MemoryBuffer::getFileAsStream("/proc/meminfo");
  if (!buf)
    return 0;
  StringRef rest = (*buf)->getBuffer();
  while (!rest.empty()) {
    auto [line, tail] = rest.split('\n');
    rest = tail;
    if (!line.consume_front("MemAvailable:"))
      continue;
    uint64_t kib = 0;
    line.trim().split(' ').first.getAsInteger(10, kib);
    return kib * 1024;
  }
  return 0;
}

/// The lift to expand: --lift, else the last declared, else the identity.
std::optional<LiftSpec> selectLift(const CheckedProgram &program) {
  if (!liftName.empty()) {
    std::string names;
    for (const LiftSpec &l : program.lifts) {
      if (l.name == liftName)
        return l;
      names += (names.empty() ? "" : ", ") + l.name;
    }
    WithColor::error(errs(), "rslc") << "no lift named '" << liftName << "'"
                                     << (names.empty() ? " (the blueprint declares none)"
                                                       : " (lifts: " + names + ")")
                                     << "\n";
    return std::nullopt;
  }
  if (!moduleName.empty()) {
    for (unsigned m = 0; m < program.modules.size(); ++m)
      if (program.modules[m]->name == moduleName)
        return lift::identityLift(*program.modules[m], m);
    WithColor::error(errs(), "rslc") << "no module named '" << moduleName << "'\n";
    return std::nullopt;
  }
  if (!program.lifts.empty())
    return program.lifts.back();
  if (program.modules.empty()) {
    WithColor::error(errs(), "rslc") << "the blueprint declares no module\n";
    return std::nullopt;
  }
  return lift::identityLift(*program.modules.back(), program.modules.size() - 1);
}

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

/// Reports an LLVM error as rslc's; returns true if there was one.
bool failed(Error err) {
  if (!err)
    return false;
  WithColor::error(errs(), "rslc") << toString(std::move(err)) << "\n";
  return true;
}

/// Reports why a lift was not built, at its declaration.
int reportBuildError(const lift::BuildError &e, const LiftSpec &spec,
                     const lift::BuildLimits &limits, DiagEngine &diags) {
  const lift::SizeEstimate &size = e.size;
  auto gib = [](double b) {
    double g = b / double(1ull << 30);
    return (g < 1e9 ? formatv("{0:F1}", g).str() : lift::countText(g)) + " GiB";
  };
  switch (e.kind) {
  case lift::BuildError::Kind::OverMemory:
    diags.error(spec.loc, "lift '" + spec.name + "' needs about " + gib(size.bytes()) + " (" +
                              lift::countText(size.liftedEdges) + " lifted edges: structure " +
                              gib(size.structureBytes) + ", parameters " +
                              gib(4 * size.parameters) + "), more than the " +
                              gib(limits.maxBytes) +
                              (memoryLimitGiB > 0 ? " allowed by --memory-limit"
                                                  : " of memory available") +
                              "; reduce the fiber sizes or degrees");
    break;
  case lift::BuildError::Kind::Unsupported:
    diags.unsupported(spec.loc, "lift '" + spec.name + "': " + e.what());
    break;
  case lift::BuildError::Kind::OverEdgeLimit:
    diags.error(spec.loc, "--print-edges lists at most " + Twine(lift::maxListedEdges) +
                              " lifted edges; lift '" + spec.name + "' has about " +
                              lift::countText(size.liftedEdges));
    break;
  case lift::BuildError::Kind::Invalid:
    internalError("the lifted graph of '" + spec.name + "': " + e.what());
  }
  return diags.exitCode();
}

/// `--check-optimum`: a warning per vertex whose layers carry an LU
/// certificate, at the lift statement of its first in-edge; notes for the
/// rest.
void reportOptimum(const lift::LiftedGraph &g, const BaseGraph &base, const LiftSpec &spec,
                   DiagEngine &diags) {
  const lift::LiftPlan &p = g.plan;
  auto name = [&](const lift::LayerIndex &i) {
    return p.vertices[i.vertex].name + "#" + std::to_string(i.copy);
  };
  auto edgeBetween = [&](uint32_t u, uint32_t v) {
    for (uint32_t e = 0; e < p.edges.size(); ++e)
      if (p.edges[e].src == u && p.edges[e].dst == v)
        return e;
    internalError("--check-optimum: a certificate names a missing edge");
  };
  constexpr unsigned maxListed = 10; // a deep lift has a pattern per layer
  unsigned examined = 0, found = 0;
  for (const lift::OptimumReport &r : lift::checkOptimum(g)) {
    std::string layer;
    for (uint32_t v : r.layer)
      layer += (layer.empty() ? "'" : ", '") + p.vertices[v].name + "'";
    switch (r.kind) {
    case lift::OptimumReport::Kind::TooLarge:
      diags.note(spec.loc, "--check-optimum: the layer of " + layer +
                               " is too large to examine (about " + lift::countText(r.work) +
                               " list entries or search steps; the budget is 2e7 entries and "
                               "4e9 steps)");
      continue;
    case lift::OptimumReport::Kind::None:
      ++examined;
      continue;
    case lift::OptimumReport::Kind::Pattern:
      ++examined, ++found;
      break;
    }
    if (found > maxListed)
      continue; // counted in the summary below
    uint32_t first = edgeBetween(r.j1.vertex, r.k.vertex);
    // At the lift statement that set the edge's kind, else at the edge.
    SMLoc at = spec.edges[first].loc == spec.loc ? base.edges[first].loc : spec.edges[first].loc;
    std::string edges = "'" + p.vertices[r.j1.vertex].name + " -> " +
                        p.vertices[r.k.vertex].name + " -> " + p.vertices[r.i1.vertex].name + "'";
    diags.warning(at, "an LU pattern in the layer of " + layer + " (" + edges +
                          "): the products of these weight supports do not form a closed set, "
                          "so as a two-layer network they have training problems without an "
                          "optimum, on which gradient flow drives |theta| to infinity");
    diags.note(at,
               name(r.k) + " is the only path from " + name(r.j1) + " and " + name(r.j2) +
                   " to " + name(r.i1) + " and from " + name(r.j1) + " to " + name(r.i2) + ", and " +
                   name(r.i2) + " also reads " + name(r.j2) +
                   (r.other.vertex == ~0u ? std::string(" directly") : " through " + name(r.other)) +
                   "; " + std::to_string(r.copiesWithPattern) + " of the layer's " +
                   std::to_string(r.innerCopies) +
                   (r.copiesWithPattern == 1 ? " copies carries" : " copies carry") +
                   " such a pattern");
  }
  if (found > maxListed)
    diags.note(spec.loc, "--check-optimum: " + Twine(found - maxListed) +
                             " more layers carry LU patterns (the first " + Twine(maxListed) +
                             " are listed)");
  if (lift::shallowScalarOutput(p))
    diags.note(spec.loc, "--check-optimum: one hidden layer of relu or identity vertices and a "
                         "scalar output: every training problem of this network has an optimum "
                         "(Le, Riccietti and Gribonval, 2023)");
  else if (found == 0)
    diags.note(spec.loc, "--check-optimum: no LU pattern in the " + Twine(examined) +
                             (examined == 1 ? " layer" : " layers") +
                             " examined; the test finds certificates, so this does not prove "
                             "that an optimum exists");
}

/// Kernels -> optimised module -> object -> shared library, and the header.
int generate(const lift::LiftPlan &plan, SourceMgr &sm, DiagEngine &diags) {
  if (emit == Emit::Shared && outputName == "-") {
    WithColor::error(errs(), "rslc") << "-o - writes to standard output, but a shared library "
                                        "is two files (NAME.so, NAME.h): give -o NAME\n";
    return ExitUsage;
  }
  if (optLevel > 3) {
    WithColor::error(errs(), "rslc") << "-O" << optLevel << ": the levels are -O0 to -O3\n";
    return ExitUsage;
  }
  // --target-cpu may list several CPUs, best first: one kernel variant each
  // (--target-features applies to the first).
  SmallVector<StringRef> cpus;
  StringRef(targetCpu).split(cpus, ',', -1, /*KeepEmpty=*/false);
  auto tm = codegen::createTargetMachine(cpus.empty() ? "" : cpus[0].str(), targetFeatures,
                                         optLevel);
  if (!tm) {
    failed(tm.takeError());
    return ExitUsage;
  }
  // The kernels for this machine, and by default a portable variant too
  // (x86-64-v2: SSE4.2, POPCNT) that the runtime falls back to elsewhere;
  // an explicit --target-cpu or --target-features gives just that one.
  std::vector<codegen::KernelTarget> variants = {codegen::describeTarget(**tm)};
  for (size_t c = 1; c < cpus.size(); ++c) {
    auto other = codegen::createTargetMachine(cpus[c].str(), "", optLevel);
    if (!other) {
      failed(other.takeError());
      return ExitUsage;
    }
    variants.push_back(codegen::describeTarget(**other));
  }
  if (targetCpu.empty() && targetFeatures.empty() && (*tm)->getTargetTriple().isX86()) {
    auto portable = codegen::createTargetMachine("x86-64-v2", "", optLevel);
    if (!portable)
      consumeError(portable.takeError());
    else if (codegen::KernelTarget p = codegen::describeTarget(**portable);
             p.features != variants[0].features)
      variants.push_back(p);
  }
  std::string base = outputName.empty() ? sys::path::stem(inputFile).str() : outputName;
  StringRef library = sys::path::filename(base);
  if (!library.consume_back(".so"))
    library.consume_back(".h");
  std::string header = codegen::emitHeader(plan, lift::countParameters(plan), precision,
                                           inputFile, library.str(), variants);
  if (emit == Emit::Header)
    return writeOutput([&](raw_ostream &os) { os << header; });
  LLVMContext ctx;
  std::unique_ptr<Module> module = codegen::emitKernels(plan, precision, variants, ctx);
  module->setDataLayout((*tm)->createDataLayout());
  module->setTargetTriple((*tm)->getTargetTriple().str());
  if (verifyModule(*module, &errs()))
    internalError("the generated kernels are not valid LLVM IR");
  codegen::optimize(*module, **tm, optLevel);
  if (emit == Emit::LLVM)
    return writeOutput([&](raw_ostream &os) { module->print(os, nullptr); });

  if (emit == Emit::Asm || emit == Emit::Obj) {
    std::string path = outputName.empty() ? base + (emit == Emit::Asm ? ".s" : ".o") : base;
    return failed(codegen::emitObject(*module, **tm, path, emit == Emit::Asm)) ? ExitUserError
                                                                                : ExitOk;
  }
  StringRef stem = StringRef(base).consume_back(".so") ? StringRef(base).drop_back(3) : StringRef(base);
  std::string so = (stem + ".so").str(), h = (stem + ".h").str();
  SmallString<128> object;
  if (auto ec = sys::fs::createTemporaryFile("rslc-kernels", "o", object)) {
    WithColor::error(errs(), "rslc") << "cannot create a temporary file: " << ec.message() << "\n";
    return ExitUserError;
  }
  FileRemover removeObject(object);
  if (failed(codegen::emitObject(*module, **tm, object.str().str(), false)) ||
      failed(codegen::linkShared(object.str().str(),
                                 runtimeDir.empty() ? defaultRuntimeDir(programName) : runtimeDir,
                                 linker.empty() ? defaultLinker() : linker, so)))
    return ExitUserError;
  std::error_code ec;
  ToolOutputFile headerFile(h, ec, sys::fs::OF_Text);
  if (ec) {
    WithColor::error(errs(), "rslc") << "cannot write '" << h << "': " << ec.message() << "\n";
    return ExitUserError;
  }
  headerFile.os() << header;
  headerFile.keep();
  return ExitOk;
}

int run(SourceMgr &sm, DiagEngine &diags) {
  auto file = readSourceFile(inputFile);
  if (!file) {
    WithColor::error(errs(), "rslc") << "cannot open '" << inputFile
                                     << "': " << toString(file.takeError()) << "\n";
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

  if (liftName.empty() && moduleName.empty() && checked->modules.empty()) {
    // Nothing to build is a mistake in the input (an empty file, say).
    diags.error(SMLoc::getFromPointer(sm.getMemoryBuffer(mainID)->getBufferStart()),
                "the blueprint declares no module: there is nothing to build");
    return diags.exitCode();
  }
  std::optional<LiftSpec> spec = selectLift(*checked);
  if (!spec)
    return ExitUsage;
  lift::LiftPlan plan = lift::makePlan(*checked->modules[spec->module], *spec);
  // Compared as doubles: neither the estimate nor the limit may wrap around.
  lift::BuildLimits limits;
  limits.maxBytes = memoryLimitGiB > 0 ? memoryLimitGiB * double(1ull << 30)
                                       : double(availableMemory());
  if (printEdges)
    limits.maxLiftedEdges = double(lift::maxListedEdges);
  try {
    if (checkOptimumFlag) {
      lift::LiftedGraph lifted = lift::buildLifted(plan, limits);
      reportOptimum(lifted, *checked->modules[spec->module], *spec, diags);
    }
    if (emit != Emit::Lifted && emit != Emit::Dot) {
      // The kernels depend on the plan, not on the lifted edges, which each
      // library rebuilds from its seed: check the plan, do not expand it.
      lift::checkPlan(plan, limits);
      return generate(plan, sm, diags);
    }
    lift::LiftedGraph lifted = lift::buildLifted(plan, limits);
    if (emit == Emit::Lifted)
      return writeOutput([&](raw_ostream &os) { lift::printSummary(lifted, printEdges, os); });
    return writeOutput([&](raw_ostream &os) { lift::printDot(lifted, os); });
  } catch (const lift::BuildError &e) {
    return reportBuildError(e, *spec, limits, diags);
  }
}

} // namespace

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  programName = argv[0];
  setBugReportMsg("rslc crashed. This is a bug: please report it with the blueprint and "
                  "command line.\n");
  cl::SetVersionPrinter([](raw_ostream &os) {
    os << "rslc " RSLC_VERSION " (LLVM " LLVM_VERSION_STRING ")\n";
  });
  // Running out of memory in any stage (LLVM's or the parser's allocations)
  // is reported as an error, not an abort: the input is too large here.
  install_bad_alloc_error_handler([](void *, const char *, bool) {
    static const char msg[] = "rslc: error: out of memory: the blueprint or its lift is too "
                              "large for the memory available (see --memory-limit)\n";
    ssize_t ignored = ::write(2, msg, sizeof msg - 1);
    (void)ignored;
    ::_exit(ExitUserError);
  });
  cl::HideUnrelatedOptions(rslcCategory);
  if (!cl::ParseCommandLineOptions(argc, argv,
                                   "rslc: compiler for random sparse lift blueprints\n\n"
                                   "  rslc model.rsl -o model   compile a blueprint\n",
                                   &errs()))
    return ExitUsage;
  if (listKinds) {
    printKindTables(outs());
    return ExitOk;
  }
  if (inputFile.empty()) {
    WithColor::error(errs(), "rslc") << "no blueprint given (rslc model.rsl -o model; see --help)\n";
    return ExitUsage;
  }
  if (!(memoryLimitGiB >= 0) || std::isinf(memoryLimitGiB)) { // NaN fails the first test
    char given[32];
    std::snprintf(given, sizeof given, "%g", double(memoryLimitGiB));
    WithColor::error(errs(), "rslc")
        << "--memory-limit must be a number of GiB (0: the memory available), not " << given
        << "\n";
    return ExitUsage;
  }
  // Deeply nested input recurses deeply: run the compiler on a large stack
  // (refused with a message, not an abort, where it cannot be reserved).
  struct Job {
    int rc = ExitInternal;
    static void *start(void *self) {
      SourceMgr sm;
      DiagEngine diags(sm);
      static_cast<Job *>(self)->rc = run(sm, diags);
      if (unsigned n = diags.numErrors() + diags.numUnsupported())
        errs() << n << (n == 1 ? " error" : " errors") << " generated.\n";
      return nullptr;
    }
  } job;
  constexpr size_t stackBytes = size_t(256) << 20;
  pthread_attr_t attr;
  pthread_t worker;
  pthread_attr_init(&attr);
  int err = pthread_attr_setstacksize(&attr, stackBytes);
  if (!err)
    err = pthread_create(&worker, &attr, &Job::start, &job);
  pthread_attr_destroy(&attr);
  if (err) {
    WithColor::error(errs(), "rslc") << "out of memory: cannot reserve the compiler's "
                                     << (stackBytes >> 20) << " MiB stack (" << strerror(err)
                                     << ")\n";
    return ExitUserError;
  }
  pthread_join(worker, nullptr);
  return job.rc;
}
