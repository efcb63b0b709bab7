// aarch64 kernels with the dot product extension (vdotq_s32; Cortex-A76, Raspberry Pi 5), with the
// packed Q4_0 product (8 rows per weight decode, as on x86). This file alone is compiled with
// -march=armv8.2-a+dotprod (cmake/earshot.cmake) and runs only when getauxval reports HWCAP_ASIMDDP;
// everything here has internal linkage except the kernel table.
#if defined(__aarch64__)
#if !defined(__ARM_FEATURE_DOTPROD)
#error "quant_neon_dotprod.cpp needs -march=armv8.2-a+dotprod (set for this file only in cmake/earshot.cmake)"
#endif
#include <arm_neon.h>

#include "quant_kernels.h"
#include "quant_tile.h"

namespace earshot {

namespace {

inline float half(uint16_t h) {
  __fp16 f;
  __builtin_memcpy(&f, &h, 2);
  return float(f);
}

// Q4_0, the same arithmetic for plain and packed weights (so results do not depend on n, on the row
// split or on packing):
//   isum = the exact int32 sum over the block of nibble * x, plus offset8 (= -8 * sum(x))
//   acc  = fma(float(isum), dw * dx, acc)   over the blocks in order;   y = acc
// The nibbles go into sdot unsigned (0..15 are also valid int8s).

struct Q4Row {
  template <int M>
  static void row(const BlockQ4_0* w, int64_t nb, const BlockQ8x* x, float* y, int64_t ldy) {
    float acc[M];
    for (int m = 0; m < M; ++m) acc[m] = 0.f;
    const uint8x16_t mask = vdupq_n_u8(0x0F);
    for (int64_t b = 0; b < nb; ++b) {
      const uint8x16_t v = vld1q_u8(w[b].qs);
      const int8x16_t lo = vreinterpretq_s8_u8(vandq_u8(v, mask));  // weights 0..15
      const int8x16_t hi = vreinterpretq_s8_u8(vshrq_n_u8(v, 4));   // weights 16..31
      const float dw = half(w[b].d);
      for (int m = 0; m < M; ++m) {
        const BlockQ8x& xb = x[m * nb + b];
        int32x4_t s = vdotq_s32(vdupq_n_s32(0), lo, vld1q_s8(xb.qs));
        s = vdotq_s32(s, hi, vld1q_s8(xb.qs + 16));
        acc[m] = __builtin_fmaf(float(vaddvq_s32(s) + xb.offset8), dw * xb.d, acc[m]);
      }
    }
    for (int m = 0; m < M; ++m) y[m * ldy] = acc[m];
  }
};

inline int8x16_t dup4(const int8_t* p) {  // 4 bytes into every 32-bit lane
  return vreinterpretq_s8_s32(vld1q_dup_s32(reinterpret_cast<const int32_t*>(p)));
}

// Packed weights: one group of 8 rows (lanes of two vectors) against M activation rows.
struct Q4x8Tile : tile::PackedTile {
  template <int M>
  void run(int64_t g, int64_t j) const {
    const BlockQ4x8* wg = w + g * nb;
    const BlockQ8x* xm[M];
    for (int m = 0; m < M; ++m) xm[m] = x + (j + m) * nb;
    const uint8x16_t mask = vdupq_n_u8(0x0F);
    float32x4_t acc[M][2];
    for (int m = 0; m < M; ++m) acc[m][0] = acc[m][1] = vdupq_n_f32(0.f);
    for (int64_t b = 0; b < nb; ++b) {
      const BlockQ4x8& wb = wg[b];
      int32x4_t s[M][2];
      for (int m = 0; m < M; ++m) s[m][0] = s[m][1] = vdupq_n_s32(xm[m][b].offset8);
      for (int k = 0; k < 4; ++k) {
        const uint8x16_t v0 = vld1q_u8(wb.qs + 32 * k), v1 = vld1q_u8(wb.qs + 32 * k + 16);  // rows 0-3, 4-7
        const int8x16_t lo0 = vreinterpretq_s8_u8(vandq_u8(v0, mask)), hi0 = vreinterpretq_s8_u8(vshrq_n_u8(v0, 4));
        const int8x16_t lo1 = vreinterpretq_s8_u8(vandq_u8(v1, mask)), hi1 = vreinterpretq_s8_u8(vshrq_n_u8(v1, 4));
        for (int m = 0; m < M; ++m) {
          const int8x16_t xl = dup4(xm[m][b].qs + 4 * k), xh = dup4(xm[m][b].qs + 16 + 4 * k);
          s[m][0] = vdotq_s32(vdotq_s32(s[m][0], lo0, xl), hi0, xh);
          s[m][1] = vdotq_s32(vdotq_s32(s[m][1], lo1, xl), hi1, xh);
        }
      }
      const float32x4_t dw0 = vld1q_f32(wb.d), dw1 = vld1q_f32(wb.d + 4);
      for (int m = 0; m < M; ++m) {
        const float32x4_t dx = vdupq_n_f32(xm[m][b].d);
        acc[m][0] = vfmaq_f32(acc[m][0], vcvtq_f32_s32(s[m][0]), vmulq_f32(dw0, dx));
        acc[m][1] = vfmaq_f32(acc[m][1], vcvtq_f32_s32(s[m][1]), vmulq_f32(dw1, dx));
      }
    }
    for (int m = 0; m < M; ++m) {
      float t[8];
      vst1q_f32(t, acc[m][0]);
      vst1q_f32(t + 4, acc[m][1]);
      store_part(t, g, 8, j + m);
    }
  }
};

void q4x8_dotprod(const BlockQ4x8* w, int64_t nb, const BlockQ8x* x, int64_t n, float* y, int64_t ldy, int64_t r0,
                  int64_t r1) {
  if (r0 >= r1) return;
  tile::for_tiles<4>(Q4x8Tile{{w, nb, x, y, ldy, r0, r1}}, r0 / 8, (r1 + 7) / 8, n);
}

struct Q8Row {
  template <int M>
  static void row(const BlockQ8_0* w, int64_t nb, const BlockQ8x* x, float* y, int64_t ldy) {
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
};

void q4_dotprod(const BlockQ4_0* w, int64_t nb, const BlockQ8x* x, int64_t n, float* y, int64_t ldy, int64_t r0,
                int64_t r1) {
  tile::for_rows<4, Q4Row>(w, nb, x, n, y, ldy, r0, r1);
}

void q8_dotprod(const BlockQ8_0* w, int64_t nb, const BlockQ8x* x, int64_t n, float* y, int64_t ldy, int64_t r0,
                int64_t r1) {
  tile::for_rows<4, Q8Row>(w, nb, x, n, y, ldy, r0, r1);
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

const KernelSet kNeonDotprodKernels = {"neon-dotprod", quantize_dotprod, q4_dotprod, q4x8_dotprod,
                                       q8_dotprod,     f32_dotprod,      f16_dotprod};

}  // namespace earshot
#endif
