// AVX2 + FMA + F16C kernels. This file alone is compiled with -mavx2 -mfma -mf16c (cmake/earshot.cmake)
// and runs only after quant.cpp has checked the CPU, so it must not define anything the rest of the
// program could share (everything here has internal linkage except the kernel table).
#if defined(__x86_64__) || defined(__i386__)
#if !defined(__AVX2__) || !defined(__FMA__) || !defined(__F16C__)
#error "quant_avx2.cpp needs -mavx2 -mfma -mf16c (set for this file only in cmake/earshot.cmake)"
#endif
#include <immintrin.h>

#include "quant_kernels.h"

namespace earshot {
namespace {

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// The 32 unsigned 4-bit weights of a block in order: low nibbles are weights 0..15, high 16..31.
inline __m256i unpack_nibbles(const uint8_t* qs) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m256i both = _mm256_set_m128i(_mm_srli_epi16(v, 4), v);
  return _mm256_and_si256(both, _mm256_set1_epi8(0x0F));
}

inline __m256i load32(const int8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }

// One weight row against M activation rows; the unpacked weights are reused M times.
// sum((q - 8) * x) = sum(q * x) - 8 * sum(x): maddubs takes the unsigned nibbles directly and
// BlockQ8x.offset8 carries the second term.
// Even and odd blocks go to separate accumulators so two FMA chains overlap.
template <int M>
void q4_row(const BlockQ4_0* w, int64_t nb, const BlockQ8x* x, float* y, int64_t ldy) {
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc[M][2];
  float corr[M][2];
  for (int m = 0; m < M; ++m)
    for (int u = 0; u < 2; ++u) {
      acc[m][u] = _mm256_setzero_ps();
      corr[m][u] = 0.f;
    }
  auto block = [&](int64_t b, int u) {
    const __m256i qw = unpack_nibbles(w[b].qs);
    const float dw = _cvtsh_ss(w[b].d);
    for (int m = 0; m < M; ++m) {
      const BlockQ8x& xb = x[m * nb + b];
      const __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(qw, load32(xb.qs)), ones);
      acc[m][u] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(dw * xb.d), acc[m][u]);
      corr[m][u] += dw * xb.offset8;
    }
  };
  int64_t b = 0;
  for (; b + 2 <= nb; b += 2) {
    block(b, 0);
    block(b + 1, 1);
  }
  if (b < nb) block(b, 0);
  for (int m = 0; m < M; ++m)
    y[m * ldy] = hsum(_mm256_add_ps(acc[m][0], acc[m][1])) + (corr[m][0] + corr[m][1]);
}

// maddubs needs one unsigned operand: |w| times x carrying w's sign.
template <int M>
void q8_row(const BlockQ8_0* w, int64_t nb, const BlockQ8x* x, float* y, int64_t ldy) {
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc[M];
  for (int m = 0; m < M; ++m) acc[m] = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const __m256i qw = load32(w[b].qs);
    const __m256i aw = _mm256_sign_epi8(qw, qw);
    const float dw = _cvtsh_ss(w[b].d);
    for (int m = 0; m < M; ++m) {
      const BlockQ8x& xb = x[m * nb + b];
      const __m256i sx = _mm256_sign_epi8(load32(xb.qs), qw);
      const __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(aw, sx), ones);
      acc[m] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(dw * xb.d), acc[m]);
    }
  }
  for (int m = 0; m < M; ++m) y[m * ldy] = hsum(acc[m]);
}

inline __m256 load8(const float* p) { return _mm256_loadu_ps(p); }
inline __m256 load8(const uint16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
inline float load1(const float* p) { return *p; }
inline float load1(const uint16_t* p) { return _cvtsh_ss(*p); }

// Float weights (F32 or F16) against M float rows; U independent accumulators hide FMA latency.
template <int M, int U, typename WT>
void float_row(const WT* w, int64_t cols, const float* x, float* y, int64_t ldy) {
  __m256 acc[M][U];
  for (int m = 0; m < M; ++m)
    for (int u = 0; u < U; ++u) acc[m][u] = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 * U <= cols; i += 8 * U)
    for (int u = 0; u < U; ++u) {
      const __m256 wv = load8(w + i + 8 * u);
      for (int m = 0; m < M; ++m) acc[m][u] = _mm256_fmadd_ps(wv, load8(x + m * cols + i + 8 * u), acc[m][u]);
    }
  for (; i + 8 <= cols; i += 8) {
    const __m256 wv = load8(w + i);
    for (int m = 0; m < M; ++m) acc[m][0] = _mm256_fmadd_ps(wv, load8(x + m * cols + i), acc[m][0]);
  }
  for (int m = 0; m < M; ++m) {
    for (int u = 1; u < U; ++u) acc[m][0] = _mm256_add_ps(acc[m][0], acc[m][u]);
    float s = hsum(acc[m][0]);
    for (int64_t t = i; t < cols; ++t) s += load1(w + t) * x[m * cols + t];
    y[m * ldy] = s;
  }
}

// Activation rows go in groups of up to 4 so each weight row is read once per group.
void q4_avx2(const BlockQ4_0* w, int64_t nb, const BlockQ8x* x, int64_t n, float* y, int64_t ldy, int64_t r0,
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

void q8_avx2(const BlockQ8_0* w, int64_t nb, const BlockQ8x* x, int64_t n, float* y, int64_t ldy, int64_t r0,
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

// Pairs of activation rows with four accumulators each: every row gets the same summation order
// whatever n is, so a product over n rows equals n single-row products bit for bit.
template <typename WT>
void float_product(const WT* w, int64_t cols, const float* x, int64_t n, float* y, int64_t ldy, int64_t r0,
                   int64_t r1) {
  for (int64_t j = 0; j < n; j += 2) {
    const float* xj = x + j * cols;
    float* yj = y + j * ldy;
    for (int64_t r = r0; r < r1; ++r) {
      const WT* wr = w + r * cols;
      if (n - j >= 2) float_row<2, 4>(wr, cols, xj, yj + r, ldy);
      else float_row<1, 4>(wr, cols, xj, yj + r, ldy);
    }
  }
}

void f32_avx2(const float* w, int64_t cols, const float* x, int64_t n, float* y, int64_t ldy, int64_t r0,
              int64_t r1) {
  float_product(w, cols, x, n, y, ldy, r0, r1);
}

void f16_avx2(const uint16_t* w, int64_t cols, const float* x, int64_t n, float* y, int64_t ldy, int64_t r0,
              int64_t r1) {
  float_product(w, cols, x, n, y, ldy, r0, r1);
}

}  // namespace

const KernelSet kAvx2Kernels = {"avx2", q4_avx2, q8_avx2, f32_avx2, f16_avx2};

}  // namespace earshot
#endif
