//===- Files.h - bounded reads and atomic writes of regular files -------===//
//
// What every tool and the runtime do with files they did not create: read
// only regular files (a device never ends, a FIFO may block forever), at
// most a given size; and what they do with files they write: check the
// path before any work, write a temporary file beside the target, flush it
// to disk and rename it over the target, so a failed write (full disk, file
// size limit) never leaves a truncated output or destroys an old one.
// Each function returns "" on success, else the reason, for a message.
//
//===----------------------------------------------------------------------===//
#ifndef RSLC_CORE_FILES_H
#define RSLC_CORE_FILES_H

#include <cstdint>
#include <string>

namespace rslc::files {

/// `out` = the whole of regular file `path`, refused if it holds more than
/// `maxBytes` (the reason names the limit as `what`, e.g. "a data file").
std::string readRegular(const std::string &path, uint64_t maxBytes, std::string &out);
/// Like readRegular, but a longer file gives its first `maxBytes` bytes
/// and `*whole` = false (else true).
std::string readRegularPrefix(const std::string &path, uint64_t maxBytes, std::string &out,
                              bool *whole);

/// Whether `path` can be written: its directory exists and is writable,
/// and `path` is absent or a writable regular file.
std::string checkWritable(const std::string &path);

/// Whether two paths name the same existing file (symlinks followed).
bool sameFile(const std::string &a, const std::string &b);

/// Writes `bytes` to `path` through a temporary file and a rename; a
/// failure (including the file size limit, SIGXFSZ held back for the
/// write) leaves any old `path` unchanged and no temporary file behind.
std::string writeAtomically(const std::string &path, const std::string &bytes);

} // namespace rslc::files

#endif
