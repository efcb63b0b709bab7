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

// Q4_0: sum((q - 8) * x) = sum(q * x) - 8 * sum(x). maddubs takes the unsigned nibbles as they are
// and BlockQ8x.offset8 (= -8 * dx * sum(x)) carries the second term. Every output, whichever tile
// computes it, gets the same arithmetic, so results do not depend on n or on the row split:
//   acc  = fma(float(exact int32 block sum), dw * dx, acc)   over the blocks in order
//   corr = fma(dw, offset8, corr)                             y = acc + corr

// int32 lanes of one block's products, per 128-bit half: reduced later.
inline __m256i q4_block_products(const __m256i& qw, const int8_t* xq) {
  return _mm256_madd_epi16(_mm256_maddubs_epi16(qw, load32(xq)), _mm256_set1_epi16(1));
}

// Four vectors of 8 int32 lanes -> their four totals.
inline __m128i total4(__m256i p0, __m256i p1, __m256i p2, __m256i p3) {
  const __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(p0, p1), _mm256_hadd_epi32(p2, p3));
  return _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
}

// One weight row, one activation row (the leftover rows of a slice).
float q4_dot1(const BlockQ4_0* w, int64_t nb, const BlockQ8x* x) {
  __m128 acc = _mm_setzero_ps(), corr = _mm_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const __m256i p = q4_block_products(unpack_nibbles(w[b].qs), x[b].qs);
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(p), _mm256_extracti128_si256(p, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    const __m128 dw = _mm_set_ss(_cvtsh_ss(w[b].d));
    acc = _mm_fmadd_ss(_mm_cvtepi32_ps(s), _mm_mul_ss(dw, _mm_set_ss(x[b].d)), acc);
    corr = _mm_fmadd_ss(dw, _mm_set_ss(x[b].offset8), corr);
  }
  return _mm_cvtss_f32(_mm_add_ss(acc, corr));
}

// Four weight rows (w, w + nb, ...), one activation row: four independent chains.
void q4_rows4_x1(const BlockQ4_0* w, int64_t nb, const BlockQ8x* x, float* y) {
  const BlockQ4_0 *w0 = w, *w1 = w + nb, *w2 = w + 2 * nb, *w3 = w + 3 * nb;
  __m128 acc = _mm_setzero_ps(), corr = _mm_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const int8_t* xq = x[b].qs;
    const __m128i sums = total4(q4_block_products(unpack_nibbles(w0[b].qs), xq),
                                q4_block_products(unpack_nibbles(w1[b].qs), xq),
                                q4_block_products(unpack_nibbles(w2[b].qs), xq),
                                q4_block_products(unpack_nibbles(w3[b].qs), xq));
    const __m128 dw = _mm_cvtph_ps(_mm_setr_epi16(short(w0[b].d), short(w1[b].d), short(w2[b].d), short(w3[b].d),
                                                  0, 0, 0, 0));
    acc = _mm_fmadd_ps(_mm_cvtepi32_ps(sums), _mm_mul_ps(dw, _mm_set1_ps(x[b].d)), acc);
    corr = _mm_fmadd_ps(dw, _mm_set1_ps(x[b].offset8), corr);
  }
  _mm_storeu_ps(y, _mm_add_ps(acc, corr));
}

// One weight row, four activation rows (x[0..3]; padding rows repeat a real one and are dropped):
// the block is unpacked once. dx / off hold each block's four activation scales and offset terms.
void q4_row_x4(const BlockQ4_0* w, int64_t nb, const BlockQ8x* const x[4], const __m128* dx, const __m128* off,
               float* y, int64_t ldy, int64_t used) {
  __m128 acc = _mm_setzero_ps(), corr = _mm_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const __m256i qw = unpack_nibbles(w[b].qs);
    const __m128i sums = total4(q4_block_products(qw, x[0][b].qs), q4_block_products(qw, x[1][b].qs),
                                q4_block_products(qw, x[2][b].qs), q4_block_products(qw, x[3][b].qs));
    const __m128 dw = _mm_set1_ps(_cvtsh_ss(w[b].d));
    acc = _mm_fmadd_ps(_mm_cvtepi32_ps(sums), _mm_mul_ps(dw, dx[b]), acc);
    corr = _mm_fmadd_ps(dw, off[b], corr);
  }
  alignas(16) float out[4];
  _mm_store_ps(out, _mm_add_ps(acc, corr));
  for (int64_t m = 0; m < used; ++m) y[m * ldy] = out[m];
}

constexpr int64_t kMaxTileBlocks = 512;  // q4_row_x4's scale tables live on the stack (rows <= 16384)

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

void q4_avx2(const BlockQ4_0* w, int64_t nb, const BlockQ8x* x, int64_t n, float* y, int64_t ldy, int64_t r0,
             int64_t r1) {
  for (int64_t j = 0; j < n;) {
    const BlockQ8x* xj = x + j * nb;
    float* yj = y + j * ldy;
    const int64_t m = n - j < 4 ? n - j : 4;
    if (m == 1 || nb > kMaxTileBlocks) {  // one activation row: tiles of four weight rows
      int64_t r = r0;
      for (; r + 4 <= r1; r += 4) {
        alignas(16) float out[4];
        q4_rows4_x1(w + r * nb, nb, xj, out);
        for (int k = 0; k < 4; ++k) yj[r + k] = out[k];
      }
      for (; r < r1; ++r) yj[r] = q4_dot1(w + r * nb, nb, xj);
      j += 1;
      continue;
    }
    // Two to four activation rows: each weight row is read and unpacked once for all of them.
    const BlockQ8x* rows[4];
    for (int64_t k = 0; k < 4; ++k) rows[k] = xj + (k < m ? k : 0) * nb;
    __m128 dx[kMaxTileBlocks], off[kMaxTileBlocks];
    for (int64_t b = 0; b < nb; ++b) {
      alignas(16) float d4[4] = {0.f, 0.f, 0.f, 0.f}, o4[4] = {0.f, 0.f, 0.f, 0.f};
      for (int64_t k = 0; k < m; ++k) {
        d4[k] = rows[k][b].d;
        o4[k] = rows[k][b].offset8;
      }
      dx[b] = _mm_load_ps(d4);
      off[b] = _mm_load_ps(o4);
    }
    for (int64_t r = r0; r < r1; ++r) q4_row_x4(w + r * nb, nb, rows, dx, off, yj + r, ldy, m);
    j += m;
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
