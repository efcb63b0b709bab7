// NEON kernels for aarch64 without the dot product extension (Cortex-A72) and for armv7 (armhf,
// built with -mfpu=neon-vfpv4). NEON is baseline on both, so this file uses the engine's flags.
#if defined(__ARM_NEON)
#include <arm_neon.h>

#include "quant_kernels.h"
#include "quant_tile.h"

namespace earshot {
namespace {

#if defined(__aarch64__)
inline float hsum(float32x4_t v) { return vaddvq_f32(v); }
inline float32x4_t fma4(float32x4_t acc, float32x4_t a, float32x4_t b) { return vfmaq_f32(acc, a, b); }
inline float half(uint16_t h) {
  __fp16 f;
  __builtin_memcpy(&f, &h, 2);
  return float(f);
}
#else
inline float hsum(float32x4_t v) {
  float32x2_t s = vadd_f32(vget_low_f32(v), vget_high_f32(v));
  return vget_lane_f32(vpadd_f32(s, s), 0);
}
inline float32x4_t fma4(float32x4_t acc, float32x4_t a, float32x4_t b) { return vmlaq_f32(acc, a, b); }
inline float half(uint16_t h) { return vgetq_lane_f32(vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(h))), 0); }
#endif

inline float32x4_t half4(const uint16_t* p) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p))); }

// ---- activations: Q8_0, bit-exact with quantize_row_q8_0 ------------------------------------------

// round(x) half away from zero, as std::round.
inline int32x4_t round_away(float32x4_t x) {
#if defined(__aarch64__)
  return vcvtaq_s32_f32(x);
#else
  // trunc(|x|), +1 where the exact remainder >= 0.5, then x's sign
  const float32x4_t a = vabsq_f32(x);
  const int32x4_t t = vcvtq_s32_f32(a);
  const uint32x4_t up = vcgeq_f32(vsubq_f32(a, vcvtq_f32_s32(t)), vdupq_n_f32(0.5f));
  const int32x4_t r = vsubq_s32(t, vreinterpretq_s32_u32(up));  // true lanes are -1
  return vbslq_s32(vcltq_f32(x, vdupq_n_f32(0.f)), vnegq_s32(r), r);
#endif
}

void quantize_neon(const float* x, int64_t cols, int64_t n, BlockQ8x* out) {
  const int64_t nb = cols / kBlock;
  for (int64_t j = 0; j < n; ++j)
    for (int64_t b = 0; b < nb; ++b, ++out) {
      const float* p = x + j * cols + b * kBlock;
      float32x4_t v[8];
      for (int k = 0; k < 8; ++k) v[k] = vld1q_f32(p + 4 * k);
      float32x4_t m = vabsq_f32(v[0]);
      for (int k = 1; k < 8; ++k) m = vmaxq_f32(m, vabsq_f32(v[k]));
#if defined(__aarch64__)
      const float amax = vmaxvq_f32(m);
#else
      float32x2_t m2 = vpmax_f32(vget_low_f32(m), vget_high_f32(m));
      const float amax = vget_lane_f32(vpmax_f32(m2, m2), 0);
#endif
      const float d = amax / 127.f, id = d != 0.f ? 1.f / d : 0.f;
      out->d = fp16_to_fp32(fp32_to_fp16(d));
      int32x4_t sum = vdupq_n_s32(0);
      for (int k = 0; k < 8; k += 2) {
        const int32x4_t a = round_away(vmulq_n_f32(v[k], id)), c = round_away(vmulq_n_f32(v[k + 1], id));
        sum = vaddq_s32(sum, vaddq_s32(a, c));
        const int16x8_t h = vcombine_s16(vmovn_s32(a), vmovn_s32(c));
        vst1_s8(out->qs + 4 * k, vmovn_s16(h));
      }
      const int32x2_t s2 = vadd_s32(vget_low_s32(sum), vget_high_s32(sum));
      out->offset8 = -8 * vget_lane_s32(vpadd_s32(s2, s2), 0);
    }
}

// Signed weights q - 8 of a block: lo = weights 0..15 (low nibbles), hi = weights 16..31.
inline void unpack_q4(const uint8_t* qs, int8x16_t* lo, int8x16_t* hi) {
  const uint8x16_t v = vld1q_u8(qs);
  const int8x16_t eight = vdupq_n_s8(8);
  *lo = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(v, vdupq_n_u8(0x0F))), eight);
  *hi = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(v, 4)), eight);
}

// 32 int8 products summed into int32 lanes. Q4_0: |product| <= 8 * 127, so four fit in an int16
// lane; Q8_0: |product| <= 128 * 127, so only two do before widening.
inline int32x4_t dot_q4_block(int8x16_t lo, int8x16_t hi, const int8_t* xq) {
  const int8x16_t x0 = vld1q_s8(xq), x1 = vld1q_s8(xq + 16);
  int16x8_t p = vmull_s8(vget_low_s8(lo), vget_low_s8(x0));
  p = vmlal_s8(p, vget_high_s8(lo), vget_high_s8(x0));
  p = vmlal_s8(p, vget_low_s8(hi), vget_low_s8(x1));
  p = vmlal_s8(p, vget_high_s8(hi), vget_high_s8(x1));
  return vpaddlq_s16(p);
}

inline int32x4_t dot_q8_block(int8x16_t w0, int8x16_t w1, const int8_t* xq) {
  const int8x16_t x0 = vld1q_s8(xq), x1 = vld1q_s8(xq + 16);
  int16x8_t a = vmull_s8(vget_low_s8(w0), vget_low_s8(x0));
  a = vmlal_s8(a, vget_high_s8(w0), vget_high_s8(x0));
  int16x8_t b = vmull_s8(vget_low_s8(w1), vget_low_s8(x1));
  b = vmlal_s8(b, vget_high_s8(w1), vget_high_s8(x1));
  return vpadalq_s16(vpaddlq_s16(a), b);
}

struct Q4Row {
  template <int M>
  static void row(const BlockQ4_0* w, int64_t nb, const BlockQ8x* x, float* y, int64_t ldy) {
    float32x4_t acc[M];
    for (int m = 0; m < M; ++m) acc[m] = vdupq_n_f32(0.f);
    for (int64_t b = 0; b < nb; ++b) {
      int8x16_t lo, hi;
      unpack_q4(w[b].qs, &lo, &hi);
      const float dw = half(w[b].d);
      for (int m = 0; m < M; ++m) {
        const BlockQ8x& xb = x[m * nb + b];
        acc[m] = fma4(acc[m], vcvtq_f32_s32(dot_q4_block(lo, hi, xb.qs)), vdupq_n_f32(dw * xb.d));
      }
    }
    for (int m = 0; m < M; ++m) y[m * ldy] = hsum(acc[m]);
  }
};

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
        acc[m] = fma4(acc[m], vcvtq_f32_s32(dot_q8_block(w0, w1, xb.qs)), vdupq_n_f32(dw * xb.d));
      }
    }
    for (int m = 0; m < M; ++m) y[m * ldy] = hsum(acc[m]);
  }
};

inline float32x4_t load4(const float* p) { return vld1q_f32(p); }
inline float32x4_t load4(const uint16_t* p) { return half4(p); }
inline float load1(const float* p) { return *p; }
inline float load1(const uint16_t* p) { return half(*p); }

// Pairs of activation rows with four accumulators each: every row gets the same summation order
// whatever n is, so a product over n rows equals n single-row products bit for bit.
template <typename WT>
struct FloatRow {
  template <int M, int U = 4>
  static void row(const WT* w, int64_t cols, const float* x, float* y, int64_t ldy) {
    float32x4_t acc[M][U];
    for (int m = 0; m < M; ++m)
      for (int u = 0; u < U; ++u) acc[m][u] = vdupq_n_f32(0.f);
    int64_t i = 0;
    for (; i + 4 * U <= cols; i += 4 * U)
      for (int u = 0; u < U; ++u) {
        const float32x4_t wv = load4(w + i + 4 * u);
        for (int m = 0; m < M; ++m) acc[m][u] = fma4(acc[m][u], wv, vld1q_f32(x + m * cols + i + 4 * u));
      }
    for (; i + 4 <= cols; i += 4) {
      const float32x4_t wv = load4(w + i);
      for (int m = 0; m < M; ++m) acc[m][0] = fma4(acc[m][0], wv, vld1q_f32(x + m * cols + i));
    }
    for (int m = 0; m < M; ++m) {
      for (int u = 1; u < U; ++u) acc[m][0] = vaddq_f32(acc[m][0], acc[m][u]);
      float s = hsum(acc[m][0]);
      for (int64_t t = i; t < cols; ++t) s += load1(w + t) * x[m * cols + t];
      y[m * ldy] = s;
    }
  }
};

void q4_neon(const BlockQ4_0* w, int64_t nb, const BlockQ8x* x, int64_t n, float* y, int64_t ldy, int64_t r0,
             int64_t r1) {
  tile::for_rows<4, Q4Row>(w, nb, x, n, y, ldy, r0, r1);
}

void q8_neon(const BlockQ8_0* w, int64_t nb, const BlockQ8x* x, int64_t n, float* y, int64_t ldy, int64_t r0,
             int64_t r1) {
  tile::for_rows<4, Q8Row>(w, nb, x, n, y, ldy, r0, r1);
}

void f32_neon(const float* w, int64_t cols, const float* x, int64_t n, float* y, int64_t ldy, int64_t r0, int64_t r1) {
  tile::for_rows<2, FloatRow<float>>(w, cols, x, n, y, ldy, r0, r1);
}

void f16_neon(const uint16_t* w, int64_t cols, const float* x, int64_t n, float* y, int64_t ldy, int64_t r0,
              int64_t r1) {
  tile::for_rows<2, FloatRow<uint16_t>>(w, cols, x, n, y, ldy, r0, r1);
}

}  // namespace

#if defined(__aarch64__)
const KernelSet kNeonKernels = {"neon", quantize_neon, q4_neon, nullptr, q8_neon, f32_neon, f16_neon};
#else
const KernelSet kNeonKernels = {"neon-armv7", quantize_neon, q4_neon, nullptr, q8_neon, f32_neon, f16_neon};
#endif

}  // namespace earshot
#endif
