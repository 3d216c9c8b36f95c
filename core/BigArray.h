//===- BigArray.h - vectors for large index arrays -------------------------===//
//
// An allocator for the lifted graph's index arrays: elements are not
// zero-filled on resize (the expansion writes every one, in parallel, so
// pages are first touched by the threads that use them), and blocks of
// 2 MiB or more ask the kernel for transparent huge pages, which cuts the
// TLB misses of the transpose's scattered writes several-fold.
//
//===----------------------------------------------------------------------===//
#ifndef RSLC_CORE_BIGARRAY_H
#define RSLC_CORE_BIGARRAY_H

#include <sys/mman.h>

#include <cstdlib>
#include <new>
#include <vector>

namespace rslc::lift {

template <typename T> struct BigAllocator {
  using value_type = T;
  static constexpr size_t hugePage = size_t(2) << 20;

  BigAllocator() = default;
  template <typename U> BigAllocator(const BigAllocator<U> &) {}

  T *allocate(size_t n) {
    size_t bytes = n * sizeof(T);
    if (bytes < hugePage) {
      if (void *p = std::malloc(bytes ? bytes : 1))
        return static_cast<T *>(p);
      throw std::bad_alloc();
    }
    size_t rounded = (bytes + hugePage - 1) / hugePage * hugePage;
    void *p = std::aligned_alloc(hugePage, rounded);
    if (!p)
      throw std::bad_alloc();
    madvise(p, rounded, MADV_HUGEPAGE); // advice only: failure is harmless
    return static_cast<T *>(p);
  }
  void deallocate(T *p, size_t) { std::free(p); }

  /// Default-initialise: no zero fill for the integer arrays.
  template <typename U> void construct(U *p) noexcept { ::new (static_cast<void *>(p)) U; }
  template <typename U, typename... A> void construct(U *p, A &&...a) {
    ::new (static_cast<void *>(p)) U(std::forward<A>(a)...);
  }

  template <typename U> bool operator==(const BigAllocator<U> &) const { return true; }
  template <typename U> bool operator!=(const BigAllocator<U> &) const { return false; }
};

template <typename T> using BigArray = std::vector<T, BigAllocator<T>>;

} // namespace rslc::lift

#endif
