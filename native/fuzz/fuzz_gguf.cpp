// libFuzzer target: the GGUF validator must either accept a buffer or throw earshot::Error, and never
// read outside it (built with AddressSanitizer + UBSan by native/fuzz/run.sh).
#include <cstddef>
#include <cstdint>
#include <vector>

#include "gguf.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // A copy of exactly `size` bytes, so any read past the end is a heap overflow ASan reports.
  std::vector<uint8_t> copy(data, data + size);
  try {
    earshot::validate_gguf_buffer(copy.data(), copy.size());
  } catch (const earshot::Error&) {
  }
  return 0;
}
