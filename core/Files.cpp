//===- Files.cpp - bounded reads and atomic writes of regular files -----===//
#include "core/Files.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace rslc::files {

namespace {

std::string why() { return std::strerror(errno); }

std::string kindOf(mode_t mode) {
  if (S_ISDIR(mode))
    return "a directory";
  if (S_ISFIFO(mode))
    return "a FIFO";
  if (S_ISSOCK(mode))
    return "a socket";
  return "a device";
}

std::string directoryOf(const std::string &path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos)
    return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

/// Holds SIGXFSZ back in this thread for its lifetime, so that a write over
/// the file size limit fails with EFBIG instead of ending the process; a
/// signal raised meanwhile is consumed.
class HoldFileSizeSignal {
public:
  HoldFileSizeSignal() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGXFSZ);
    pthread_sigmask(SIG_BLOCK, &set, &old);
  }
  ~HoldFileSizeSignal() {
    sigset_t set, pending;
    sigemptyset(&set);
    sigaddset(&set, SIGXFSZ);
    sigpending(&pending);
    if (sigismember(&pending, SIGXFSZ) && !sigismember(&old, SIGXFSZ)) {
      timespec zero{0, 0};
      sigtimedwait(&set, nullptr, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
  }

private:
  sigset_t old;
};

} // namespace

std::string readRegular(const std::string &path, uint64_t maxBytes, std::string &out) {
  bool whole = true;
  std::string why = readRegularPrefix(path, maxBytes, out, &whole);
  if (why.empty() && !whole)
    return "it is larger than the " + std::to_string(maxBytes) + " bytes allowed";
  return why;
}

std::string readRegularPrefix(const std::string &path, uint64_t maxBytes, std::string &out,
                              bool *whole) {
  // O_NONBLOCK: opening a FIFO without a writer must not block; it is
  // refused below, as is everything but a regular file.
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0)
    return why();
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    std::string reason = why();
    ::close(fd);
    return reason;
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return "it is " + kindOf(st.st_mode) + ", not a regular file";
  }
  *whole = uint64_t(st.st_size) <= maxBytes;
  out.assign(size_t(std::min<uint64_t>(uint64_t(st.st_size), maxBytes)), '\0');
  size_t got = 0;
  while (got < out.size()) {
    ssize_t r = ::read(fd, out.data() + got, out.size() - got);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0) {
      std::string reason = r < 0 ? why() : "it shrank while being read";
      ::close(fd);
      return reason;
    }
    got += size_t(r);
  }
  ::close(fd);
  return "";
}

std::string checkWritable(const std::string &path) {
  if (path.empty())
    return "the path is empty";
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) {
    if (!S_ISREG(st.st_mode))
      return "it is " + kindOf(st.st_mode) + ", not a regular file";
    if (::access(path.c_str(), W_OK) != 0)
      return why();
  }
  std::string dir = directoryOf(path);
  if (::stat(dir.c_str(), &st) != 0)
    return "its directory '" + dir + "': " + why();
  if (!S_ISDIR(st.st_mode))
    return "'" + dir + "' is not a directory";
  if (::access(dir.c_str(), W_OK | X_OK) != 0)
    return "its directory '" + dir + "': " + why();
  return "";
}

bool sameFile(const std::string &a, const std::string &b) {
  struct stat sa, sb;
  return ::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev &&
         sa.st_ino == sb.st_ino;
}

std::string writeAtomically(const std::string &path, const std::string &bytes) {
  HoldFileSizeSignal hold;
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return why();
  size_t written = 0;
  std::string failure;
  while (written < bytes.size() && failure.empty()) {
    ssize_t w = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0)
      failure = why();
    else
      written += size_t(w);
  }
  if (failure.empty() && ::fsync(fd) != 0)
    failure = why();
  if (::close(fd) != 0 && failure.empty())
    failure = why();
  if (failure.empty() && std::rename(tmp.c_str(), path.c_str()) != 0)
    failure = why();
  if (!failure.empty()) {
    ::unlink(tmp.c_str());
    return failure;
  }
  // Make the rename itself durable (a power cut keeps old or new, whole).
  int dirFd = ::open(directoryOf(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirFd >= 0) {
    ::fsync(dirFd);
    ::close(dirFd);
  }
  return "";
}

} // namespace rslc::files
