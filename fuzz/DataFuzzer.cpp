//===- DataFuzzer.cpp - libFuzzer target: data files and checkpoints -----===//
//
// The first byte picks a reader, the rest is the file: rslc-train's CSV,
// .npy, .npz and IDX (gzip or plain) parsers (tools/train/Data.h), or the
// checkpoint decoder (core/CheckpointFormat.h). Each must accept or refuse
// with its error, never crash, hang or allocate without bound. Invariants
// checked on what is accepted: a matrix holds rows x cols finite values
// within the float32 range; a checkpoint re-encodes to the same bytes, and
// the usability check answers without touching anything out of range.
//
//===----------------------------------------------------------------------===//
#include "../tools/train/Data.h"

#include "core/CheckpointFormat.h"

#include <cfloat>
#include <cmath>
#include <cstdlib>

using namespace rslc;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0)
    return 0;
  const std::string bytes(reinterpret_cast<const char *>(data) + 1, size - 1);
  const unsigned pick = data[0] % 5;
  if (pick < 4) {
    const data::Format formats[] = {data::Format::CSV, data::Format::Npy, data::Format::Npz,
                                    data::Format::Idx};
    try {
      data::Matrix m = data::parse(formats[pick], bytes, "fuzz", "x");
      if (m.rows <= 0 || m.cols <= 0 || size_t(m.rows) * size_t(m.cols) != m.values.size())
        std::abort();
      for (double v : m.values)
        if (!std::isfinite(v) || std::fabs(v) > FLT_MAX)
          std::abort();
    } catch (const data::DataError &) {
    }
    return 0;
  }
  try {
    ckpt::Contents c = ckpt::decode(bytes, "fuzz");
    // the current version re-encodes to the same bytes (version 1 files
    // are re-encoded as version 2, with an empty note)
    if (bytes[8] == 2 && ckpt::encode(c) != bytes)
      std::abort();
    (void)ckpt::unusable(c, c.theta.size());
    (void)ckpt::unusable(c, 3);
  } catch (const ckpt::FormatError &) {
  }
  return 0;
}
