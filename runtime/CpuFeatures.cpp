//===- CpuFeatures.cpp - CPUID against the kernels' target features ------===//
#include "CpuFeatures.h"

#include <cstdint>
#include <sstream>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace rslc::rt {

#if defined(__x86_64__) || defined(__i386__)
namespace {

struct Registers {
  uint32_t a = 0, b = 0, c = 0, d = 0;
};

Registers cpuid(uint32_t leaf, uint32_t subleaf) {
  Registers r;
  if (!__get_cpuid_count(leaf, subleaf, &r.a, &r.b, &r.c, &r.d))
    r = Registers{};
  return r;
}

/// Where CPUID reports a feature: leaf, subleaf, register, bit; and the
/// register state the operating system must save for it.
enum class Reg { A, B, C, D };
enum class State { None, Avx, Avx512, Apx };
struct Feature {
  const char *name;
  uint32_t leaf, subleaf;
  Reg reg;
  int bit;
  State state;
};

// LLVM's x86 feature names (X86.td); the APX features share one bit.
constexpr Feature table[] = {
    {"sse3", 1, 0, Reg::C, 0, State::None},        {"ssse3", 1, 0, Reg::C, 9, State::None},
    {"fma", 1, 0, Reg::C, 12, State::Avx},         {"cx16", 1, 0, Reg::C, 13, State::None},
    {"sse4.1", 1, 0, Reg::C, 19, State::None},     {"sse4.2", 1, 0, Reg::C, 20, State::None},
    {"movbe", 1, 0, Reg::C, 22, State::None},      {"popcnt", 1, 0, Reg::C, 23, State::None},
    {"avx", 1, 0, Reg::C, 28, State::Avx},         {"f16c", 1, 0, Reg::C, 29, State::Avx},
    {"sse", 1, 0, Reg::D, 25, State::None},        {"sse2", 1, 0, Reg::D, 26, State::None},
    {"bmi", 7, 0, Reg::B, 3, State::None},         {"avx2", 7, 0, Reg::B, 5, State::Avx},
    {"bmi2", 7, 0, Reg::B, 8, State::None},        {"avx512f", 7, 0, Reg::B, 16, State::Avx512},
    {"avx512dq", 7, 0, Reg::B, 17, State::Avx512}, {"adx", 7, 0, Reg::B, 19, State::None},
    {"avx512ifma", 7, 0, Reg::B, 21, State::Avx512}, {"avx512cd", 7, 0, Reg::B, 28, State::Avx512},
    {"avx512bw", 7, 0, Reg::B, 30, State::Avx512}, {"avx512vl", 7, 0, Reg::B, 31, State::Avx512},
    {"avx512vbmi", 7, 0, Reg::C, 1, State::Avx512}, {"avx512vbmi2", 7, 0, Reg::C, 6, State::Avx512},
    {"gfni", 7, 0, Reg::C, 8, State::None},        {"vaes", 7, 0, Reg::C, 9, State::Avx},
    {"vpclmulqdq", 7, 0, Reg::C, 10, State::Avx},  {"avx512vnni", 7, 0, Reg::C, 11, State::Avx512},
    {"avx512bitalg", 7, 0, Reg::C, 12, State::Avx512},
    {"avx512vpopcntdq", 7, 0, Reg::C, 14, State::Avx512},
    {"avx512vp2intersect", 7, 0, Reg::D, 8, State::Avx512},
    {"avx512fp16", 7, 0, Reg::D, 23, State::Avx512},
    {"avxvnni", 7, 1, Reg::A, 4, State::Avx},      {"avx512bf16", 7, 1, Reg::A, 5, State::Avx512},
    {"avxifma", 7, 1, Reg::A, 23, State::Avx},     {"egpr", 7, 1, Reg::D, 21, State::Apx},
    {"ndd", 7, 1, Reg::D, 21, State::Apx},         {"ppx", 7, 1, Reg::D, 21, State::Apx},
    {"push2pop2", 7, 1, Reg::D, 21, State::Apx},   {"ccmp", 7, 1, Reg::D, 21, State::Apx},
    {"nf", 7, 1, Reg::D, 21, State::Apx},          {"cf", 7, 1, Reg::D, 21, State::Apx},
    {"zu", 7, 1, Reg::D, 21, State::Apx},          {"lzcnt", 0x80000001, 0, Reg::C, 5, State::None},
    {"sse4a", 0x80000001, 0, Reg::C, 6, State::None},
};

/// The register state the operating system saves (XCR0), 0 without XSAVE.
uint64_t savedState() {
  if (!(cpuid(1, 0).c & (1u << 27))) // OSXSAVE
    return 0;
  uint32_t lo, hi;
  __asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (uint64_t(hi) << 32) | lo;
}

bool stateSaved(State s, uint64_t xcr0) {
  switch (s) {
  case State::None: return true;
  case State::Avx: return (xcr0 & 0x6) == 0x6;         // SSE and AVX registers
  case State::Avx512: return (xcr0 & 0xe6) == 0xe6;    // and opmask, ZMM
  case State::Apx: return (xcr0 & (1ull << 19)) != 0;  // extended GPRs
  }
  return false;
}

bool has(const Feature &f, uint64_t xcr0) {
  uint32_t maxLeaf = cpuid(f.leaf & 0x80000000u, 0).a;
  if (maxLeaf < f.leaf)
    return false;
  if (f.leaf == 7 && f.subleaf > 0 && cpuid(7, 0).a < f.subleaf)
    return false;
  Registers r = cpuid(f.leaf, f.subleaf);
  uint32_t word = f.reg == Reg::A ? r.a : f.reg == Reg::B ? r.b : f.reg == Reg::C ? r.c : r.d;
  return (word >> f.bit & 1u) && stateSaved(f.state, xcr0);
}

} // namespace

std::vector<std::string> missingCpuFeatures(const std::string &required) {
  const uint64_t xcr0 = savedState();
  std::vector<std::string> missing;
  std::stringstream list(required);
  std::string name;
  while (std::getline(list, name, ','))
    for (const Feature &f : table)
      if (name == f.name && !has(f, xcr0))
        missing.push_back(name);
  return missing;
}

#else

std::vector<std::string> missingCpuFeatures(const std::string &) { return {}; }

#endif

} // namespace rslc::rt
