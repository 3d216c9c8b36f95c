//===- CacheAligned.h - vectors whose data starts on a cache line ---------===//
//
// The kernels gather whole rows of activations ([copy][component][batch]):
// a row that starts on a cache line is read in whole lines. malloc aligns
// large blocks to 16 bytes only, which split every 64-byte load of a
// gathered row across two lines (the reference network trained 1.4x slower).
//
//===----------------------------------------------------------------------===//
#ifndef RSLC_RUNTIME_CACHEALIGNED_H
#define RSLC_RUNTIME_CACHEALIGNED_H

#include <cstddef>
#include <new>
#include <vector>

namespace rslc::rt {

constexpr std::size_t cacheLine = 64;

template <class T> struct CacheAlignedAllocator {
  using value_type = T;
  CacheAlignedAllocator() = default;
  template <class U> CacheAlignedAllocator(const CacheAlignedAllocator<U> &) {}
  T *allocate(std::size_t n) {
    return static_cast<T *>(::operator new(n * sizeof(T), std::align_val_t(cacheLine)));
  }
  void deallocate(T *p, std::size_t) { ::operator delete(p, std::align_val_t(cacheLine)); }
  template <class U> bool operator==(const CacheAlignedAllocator<U> &) const { return true; }
  template <class U> bool operator!=(const CacheAlignedAllocator<U> &) const { return false; }
};

/// A std::vector whose data() is a multiple of 64 bytes.
template <class T> using CacheAlignedVector = std::vector<T, CacheAlignedAllocator<T>>;

} // namespace rslc::rt

#endif
