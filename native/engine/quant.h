// Quantized products: Q4_0 / Q8_0 / F16 / F32 weights times activations quantized to Q8_0 on the fly.
// Kernels: scalar reference, AVX2+FMA, NEON (aarch64 with and without dot product, armv7),
// picked once at run time from the CPU's features.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>
#include "gguf.h"

namespace earshot {

constexpr int kBlock = 32;

struct BlockQ4_0 {
  uint16_t d;
  uint8_t qs[16];
};  // fp16 scale, nibbles as ggml
struct BlockQ8_0 {
  uint16_t d;
  int8_t qs[32];
};
static_assert(sizeof(BlockQ4_0) == 18, "Q4_0 block is 18 bytes");
static_assert(sizeof(BlockQ8_0) == 34, "Q8_0 block is 34 bytes");

float fp16_to_fp32(uint16_t h);
uint16_t fp32_to_fp16(float f);

// Reference quantizers, bit-exact with ggml's (docs/model-format.md).
void quantize_row_q4_0(const float* x, BlockQ4_0* y, int64_t n);
void quantize_row_q8_0(const float* x, BlockQ8_0* y, int64_t n);
void dequantize_row_q4_0(const BlockQ4_0* x, float* y, int64_t n);
void dequantize_row_q8_0(const BlockQ8_0* x, float* y, int64_t n);

// Which kernel family runs ("scalar", "avx2", "neon", "neon-dotprod", "neon-armv7"). "avx2" uses
// AVX-512 VNNI's dot product where the CPU has it (the same results; EARSHOT_VNNI=0 turns it off).
const char* kernel_name();
// For tests and benchmarks: force a family ("scalar" always works); returns false if unsupported.
bool force_kernel(const char* name);
// Families this CPU can run, best first (the default pick, unless EARSHOT_KERNEL names another).
std::vector<std::string> available_kernel_names();

// Threads for one product (rows are split between them; results are identical for any count).
// Default 1. The pool is process-wide; a product started while another holds it runs on its caller.
void set_threads(int n);
int threads();

// Within one kernel family results are deterministic and independent of n and of the thread count
// (a row of a matmul has the bits of the matvec of that row), so chunked streaming equals
// whole-utterance decoding. Families differ from the scalar reference by float rounding only
// (Q4_0/Q8_0 block sums are exact int32 everywhere).
// A weight rearranged once (at load) for the x86 SIMD families' Q4_0 product, which then decodes
// each weight block once for 8 rows. Products given it return the bits they return without it;
// families without a packed product ignore it. pack_weight returns null for other weight types and
// where no family this CPU runs has a packed product.
struct PackedWeight;
std::shared_ptr<const PackedWeight> pack_weight(const Tensor& W);

// y[r] = W[r,:] . x + bias[r] for r in [0, W.rows); bias may be null. x has W.cols floats.
void matvec(const Tensor& W, const float* x, float* y, const float* bias, const PackedWeight* packed = nullptr);
// Y[n, :] = W X[n, :] for n rows of X (row-major, W.cols each) into Y (W.rows each).
void matmul(const Tensor& W, const float* X, int64_t n, float* Y, const float* bias,
            const PackedWeight* packed = nullptr);

}  // namespace earshot
