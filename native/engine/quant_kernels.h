// Internal to quant*.cpp: the per-ISA kernel table. Kernel files are compiled with their own ISA
// flags, so this header holds only plain declarations (no inline code that could leak AVX2 or
// dotprod instructions into shared functions).
#pragma once
#include <cstdint>
#include "quant.h"

namespace earshot {

// An activation block: Q8_0 with its scale already widened, and -8 * sum(qs), which lets a Q4_0
// kernel multiply the unsigned nibbles and correct for their offset of 8 in its int32 block sum.
struct BlockQ8x {
  float d;
  int32_t offset8;
  int8_t qs[32];
};

// Q4_0 weights rearranged for the SIMD products (PackedQ4::kind == "q4x8"): groups of 8 rows, each
// group block after block, a block being 8 float scales then 4 vectors of 32 bytes; vector k holds,
// for rows i = 0..7, 4 bytes at 4i: low nibbles = weights 4k..4k+3 of row i, high nibbles = its
// weights 16+4k..16+4k+3. One 4-byte group of an activation block then meets 8 rows at once.
struct BlockQ4x8 {
  float d[8];
  uint8_t qs[128];
};
static_assert(sizeof(BlockQ4x8) == 160, "packed Q4_0 block is 160 bytes");

// n rows of `cols` floats (cols % 32 == 0) -> n * cols / 32 blocks, bit-exact with
// quantize_row_q8_0 (every family gives the same blocks).
using QuantizeQ8x = void (*)(const float* x, int64_t cols, int64_t n, BlockQ8x* out);

// Each product writes y[j * ldy + r] = dot(weight row r, activation row j) for r in [r0, r1) and
// j in [0, n); the caller adds the bias. `nb` = blocks per row, `cols` = floats per row.
using ProductQ4 = void (*)(const BlockQ4_0* w, int64_t nb, const BlockQ8x* x, int64_t n, float* y, int64_t ldy,
                           int64_t r0, int64_t r1);
// The same over packed weights (groups of BlockQ4x8, nb blocks each); must give the bits of `q4`.
using ProductQ4x8 = void (*)(const BlockQ4x8* w, int64_t nb, const BlockQ8x* x, int64_t n, float* y, int64_t ldy,
                             int64_t r0, int64_t r1);
using ProductQ8 = void (*)(const BlockQ8_0* w, int64_t nb, const BlockQ8x* x, int64_t n, float* y, int64_t ldy,
                           int64_t r0, int64_t r1);
using ProductF32 = void (*)(const float* w, int64_t cols, const float* x, int64_t n, float* y, int64_t ldy, int64_t r0,
                            int64_t r1);
using ProductF16 = void (*)(const uint16_t* w, int64_t cols, const float* x, int64_t n, float* y, int64_t ldy,
                            int64_t r0, int64_t r1);

struct KernelSet {
  const char* name;
  QuantizeQ8x quantize;
  ProductQ4 q4;
  ProductQ4x8 q4x8;  // null: the family has no packed product (it uses q4)
  ProductQ8 q8;
  ProductF32 f32;
  ProductF16 f16;
};

extern const KernelSet kScalarKernels;
// Each defined only when building for its architecture (quant.cpp checks the CPU before use).
extern const KernelSet kAvx2Kernels;  // quant_avx2.cpp, x86
// The "avx2" family again, for CPUs with AVX-512 VNNI: quant_avx512vnni.cpp (quant_avx2.cpp built
// with vpdpbusd), the same bits, taken in its place unless EARSHOT_VNNI=0.
extern const KernelSet kAvx2VnniKernels;
extern const KernelSet kNeonKernels;         // quant_neon.cpp, aarch64 and armv7 with NEON
extern const KernelSet kNeonDotprodKernels;  // quant_neon_dotprod.cpp, aarch64

// The family of that name among those this CPU runs, else null (tests).
const KernelSet* find_kernels(const char* name);
// Whether this CPU runs kAvx2VnniKernels (tests).
bool cpu_runs_avx2_vnni();
// A packed weight's blocks (tests).
const BlockQ4x8* packed_blocks(const PackedWeight& p);

// The reference quantizer (scalar).
void quantize_q8x_ref(const float* x, int64_t cols, int64_t n, BlockQ8x* out);

}  // namespace earshot
