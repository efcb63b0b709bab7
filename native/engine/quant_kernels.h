// Internal to quant*.cpp: the per-ISA kernel table. Kernel files are compiled with their own ISA
// flags, so this header holds only plain declarations (no inline code that could leak AVX2 or
// dotprod instructions into shared functions).
#pragma once
#include <cstdint>
#include "quant.h"

namespace earshot {

// An activation block: Q8_0 with its scale already widened, and -8 * d * sum(qs), which lets a Q4_0
// kernel multiply the unsigned nibbles and correct for their offset of 8 once per block.
struct BlockQ8x {
  float d;
  float offset8;
  int8_t qs[32];
};

// Each product writes y[j * ldy + r] = dot(weight row r, activation row j) for r in [r0, r1) and
// j in [0, n); the caller adds the bias. `nb` = blocks per row, `cols` = floats per row.
using ProductQ4 = void (*)(const BlockQ4_0* w, int64_t nb, const BlockQ8x* x, int64_t n, float* y, int64_t ldy,
                           int64_t r0, int64_t r1);
using ProductQ8 = void (*)(const BlockQ8_0* w, int64_t nb, const BlockQ8x* x, int64_t n, float* y, int64_t ldy,
                           int64_t r0, int64_t r1);
using ProductF32 = void (*)(const float* w, int64_t cols, const float* x, int64_t n, float* y, int64_t ldy,
                            int64_t r0, int64_t r1);
using ProductF16 = void (*)(const uint16_t* w, int64_t cols, const float* x, int64_t n, float* y, int64_t ldy,
                            int64_t r0, int64_t r1);

struct KernelSet {
  const char* name;
  ProductQ4 q4;
  ProductQ8 q8;
  ProductF32 f32;
  ProductF16 f16;
};

extern const KernelSet kScalarKernels;
// Each defined only when building for its architecture (quant.cpp checks the CPU before use).
extern const KernelSet kAvx2Kernels;          // quant_avx2.cpp, x86
extern const KernelSet kNeonKernels;          // quant_neon.cpp, aarch64 and armv7 with NEON
extern const KernelSet kNeonDotprodKernels;   // quant_neon_dotprod.cpp, aarch64

}  // namespace earshot
