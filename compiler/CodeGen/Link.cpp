//===- Link.cpp - the kernels' object + the runtime -> a shared library ---===//
#include "CodeGen/Backend.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/raw_ostream.h"

using namespace llvm;

namespace rslc::codegen {

Error linkShared(const std::string &object, const std::string &runtimeDir,
                 const std::string &linker, const std::string &output) {
  auto program = sys::findProgramByName(linker);
  if (!program)
    return createStringError(program.getError(), "linker '" + linker + "' not found");
  SmallString<256> runtime(runtimeDir), core(runtimeDir);
  sys::path::append(runtime, "librslc_runtime.a");
  sys::path::append(core, "librslc_core.a");
  for (StringRef lib : {runtime.str(), core.str()})
    if (!sys::fs::exists(lib))
      return createStringError(inconvertibleErrorCode(),
                               "runtime library '" + lib + "' not found (see --runtime-dir)");
  // Export only the C ABI.
  SmallString<128> script, log;
  if (auto ec = sys::fs::createTemporaryFile("rslc-exports", "map", script))
    return createStringError(ec, "cannot create a temporary file");
  if (auto ec = sys::fs::createTemporaryFile("rslc-link", "log", log))
    return createStringError(ec, "cannot create a temporary file");
  {
    std::error_code ec;
    raw_fd_ostream os(script, ec);
    os << "{ global: rslc_*; local: *; };\n";
  }
  std::string versionScript = "-Wl,--version-script=" + script.str().str();
  std::vector<StringRef> args = {*program, "-shared", "-o", output, object,
                                 "-Wl,--whole-archive", runtime, "-Wl,--no-whole-archive", core,
                                 "-fopenmp", versionScript,
                                 "-Wl,-z,defs", "-lm"};
  // A sanitizer build's runtime needs the sanitizers' shared runtime.
  SmallVector<StringRef> sanitizerFlags;
  StringRef(RSLC_SANITIZER_LINK_FLAGS).split(sanitizerFlags, ' ', -1, false);
  args.insert(args.end(), sanitizerFlags.begin(), sanitizerFlags.end());
  std::optional<StringRef> redirects[] = {std::nullopt, StringRef(log), StringRef(log)};
  std::string error;
  int rc = sys::ExecuteAndWait(*program, args, std::nullopt, redirects, 0, 0, &error);
  std::string output_text;
  if (auto buf = MemoryBuffer::getFile(log))
    output_text = (*buf)->getBuffer().str();
  sys::fs::remove(script);
  sys::fs::remove(log);
  if (rc != 0)
    return createStringError(inconvertibleErrorCode(),
                             "linking '" + output + "' failed (" + linker + " exited with " +
                                 std::to_string(rc) + ")" + (error.empty() ? "" : ": " + error) +
                                 "\n" + output_text);
  return Error::success();
}

} // namespace rslc::codegen
