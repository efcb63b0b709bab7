// aarch64 kernels with the dot product extension (vdotq_s32; Cortex-A76, Raspberry Pi 5). This
// file alone is compiled with -march=armv8.2-a+dotprod (cmake/earshot.cmake) and runs only when
// getauxval reports HWCAP_ASIMDDP; everything here has internal linkage except the kernel table.
#if defined(__aarch64__)
#if !defined(__ARM_FEATURE_DOTPROD)
#error "quant_neon_dotprod.cpp needs -march=armv8.2-a+dotprod (set for this file only in cmake/earshot.cmake)"
#endif
#include <arm_neon.h>

#include "quant_kernels.h"

namespace earshot {

namespace {

inline float half(uint16_t h) {
  __fp16 f;
  __builtin_memcpy(&f, &h, 2);
  return float(f);
}

template <int M>
void q4_row(const BlockQ4_0* w, int64_t nb, const BlockQ8x* x, float* y, int64_t ldy) {
  float32x4_t acc[M];
  for (int m = 0; m < M; ++m) acc[m] = vdupq_n_f32(0.f);
  const uint8x16_t mask = vdupq_n_u8(0x0F);
  const int8x16_t eight = vdupq_n_s8(8);
  for (int64_t b = 0; b < nb; ++b) {
    const uint8x16_t v = vld1q_u8(w[b].qs);
    const int8x16_t lo = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(v, mask)), eight);  // weights 0..15
    const int8x16_t hi = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(v, 4)), eight);   // weights 16..31
    const float dw = half(w[b].d);
    for (int m = 0; m < M; ++m) {
      const BlockQ8x& xb = x[m * nb + b];
      int32x4_t s = vdotq_s32(vdupq_n_s32(0), lo, vld1q_s8(xb.qs));
      s = vdotq_s32(s, hi, vld1q_s8(xb.qs + 16));
      acc[m] = vfmaq_f32(acc[m], vcvtq_f32_s32(s), vdupq_n_f32(dw * xb.d));
    }
  }
  for (int m = 0; m < M; ++m) y[m * ldy] = vaddvq_f32(acc[m]);
}

template <int M>
void q8_row(const BlockQ8_0* w, int64_t nb, const BlockQ8x* x, float* y, int64_t ldy) {
  float32x4_t acc[M];
  for (int m = 0; m < M; ++m) acc[m] = vdupq_n_f32(0.f);
  for (int64_t b = 0; b < nb; ++b) {
    const int8x16_t w0 = vld1q_s8(w[b].qs), w1 = vld1q_s8(w[b].qs + 16);
    const float dw = half(w[b].d);
    for (int m = 0; m < M; ++m) {
      const BlockQ8x& xb = x[m * nb + b];
      int32x4_t s = vdotq_s32(vdupq_n_s32(0), w0, vld1q_s8(xb.qs));
      s = vdotq_s32(s, w1, vld1q_s8(xb.qs + 16));
      acc[m] = vfmaq_f32(acc[m], vcvtq_f32_s32(s), vdupq_n_f32(dw * xb.d));
    }
  }
  for (int m = 0; m < M; ++m) y[m * ldy] = vaddvq_f32(acc[m]);
}

void q4_dotprod(const BlockQ4_0* w, int64_t nb, const BlockQ8x* x, int64_t n, float* y, int64_t ldy, int64_t r0,
                int64_t r1) {
  for (int64_t j = 0; j < n; j += 4) {
    const BlockQ8x* xj = x + j * nb;
    float* yj = y + j * ldy;
    const int64_t m = n - j < 4 ? n - j : 4;
    for (int64_t r = r0; r < r1; ++r) {
      const BlockQ4_0* wr = w + r * nb;
      switch (m) {
        case 1: q4_row<1>(wr, nb, xj, yj + r, ldy); break;
        case 2: q4_row<2>(wr, nb, xj, yj + r, ldy); break;
        case 3: q4_row<3>(wr, nb, xj, yj + r, ldy); break;
        default: q4_row<4>(wr, nb, xj, yj + r, ldy); break;
      }
    }
  }
}

void q8_dotprod(const BlockQ8_0* w, int64_t nb, const BlockQ8x* x, int64_t n, float* y, int64_t ldy, int64_t r0,
                int64_t r1) {
  for (int64_t j = 0; j < n; j += 4) {
    const BlockQ8x* xj = x + j * nb;
    float* yj = y + j * ldy;
    const int64_t m = n - j < 4 ? n - j : 4;
    for (int64_t r = r0; r < r1; ++r) {
      const BlockQ8_0* wr = w + r * nb;
      switch (m) {
        case 1: q8_row<1>(wr, nb, xj, yj + r, ldy); break;
        case 2: q8_row<2>(wr, nb, xj, yj + r, ldy); break;
        case 3: q8_row<3>(wr, nb, xj, yj + r, ldy); break;
        default: q8_row<4>(wr, nb, xj, yj + r, ldy); break;
      }
    }
  }
}

// Quantizing and float weights gain nothing from dotprod: forward to the plain NEON kernels.
void quantize_dotprod(const float* x, int64_t cols, int64_t n, BlockQ8x* out) {
  kNeonKernels.quantize(x, cols, n, out);
}
void f32_dotprod(const float* w, int64_t cols, const float* x, int64_t n, float* y, int64_t ldy, int64_t r0,
                 int64_t r1) {
  kNeonKernels.f32(w, cols, x, n, y, ldy, r0, r1);
}
void f16_dotprod(const uint16_t* w, int64_t cols, const float* x, int64_t n, float* y, int64_t ldy, int64_t r0,
                 int64_t r1) {
  kNeonKernels.f16(w, cols, x, n, y, ldy, r0, r1);
}

}  // namespace

const KernelSet kNeonDotprodKernels = {"neon-dotprod", quantize_dotprod, q4_dotprod, nullptr,
                                       q8_dotprod,     f32_dotprod,      f16_dotprod};

}  // namespace earshot
#endif
