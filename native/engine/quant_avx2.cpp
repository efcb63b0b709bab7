// AVX2 + FMA + F16C kernels. This file alone is compiled with -mavx2 -mfma -mf16c (cmake/earshot.cmake)
// and runs only after quant.cpp has checked the CPU, so it must not define anything the rest of the
// program could share (everything here has internal linkage except the kernel table).
// quant_avx512vnni.cpp compiles it again with EARSHOT_VNNI: the same family and bits, the int8 dot
// products done by vpdpbusd instead of vpmaddubsw + vpmaddwd.
#if defined(__x86_64__) || defined(__i386__)
#if !defined(__AVX2__) || !defined(__FMA__) || !defined(__F16C__)
#error "quant_avx2.cpp needs -mavx2 -mfma -mf16c (set for this file only in cmake/earshot.cmake)"
#endif
#if defined(EARSHOT_VNNI) && (!defined(__AVX512VNNI__) || !defined(__AVX512VL__))
#error "quant_avx512vnni.cpp needs -mavx512vnni -mavx512vl (cmake/earshot.cmake)"
#endif
#include <immintrin.h>

#include <cstring>

#include "quant_kernels.h"
#include "quant_tile.h"

namespace earshot {
namespace {

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline __m256i load32(const int8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }

inline __m256i bcast4(const int8_t* p) {  // 4 bytes into every 32-bit lane
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

// ---- activations: Q8_0, bit-exact with quantize_row_q8_0 ------------------------------------------

// round(x) half away from zero, as std::round: trunc(|x|), +1 where the exact remainder >= 0.5.
inline __m256i round_away(__m256 x) {
  const __m256 sign = _mm256_set1_ps(-0.f);
  const __m256 a = _mm256_andnot_ps(sign, x);
  __m256 t = _mm256_round_ps(a, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  t = _mm256_add_ps(
      t, _mm256_and_ps(_mm256_cmp_ps(_mm256_sub_ps(a, t), _mm256_set1_ps(0.5f), _CMP_GE_OQ), _mm256_set1_ps(1.f)));
  return _mm256_cvttps_epi32(_mm256_or_ps(t, _mm256_and_ps(x, sign)));
}

void quantize_avx2(const float* x, int64_t cols, int64_t n, BlockQ8x* out) {
  const int64_t nb = cols / kBlock;
  const __m256 sign = _mm256_set1_ps(-0.f);
  for (int64_t j = 0; j < n; ++j)
    for (int64_t b = 0; b < nb; ++b, ++out) {
      const float* p = x + j * cols + b * kBlock;
      __m256 v[4];
      for (int k = 0; k < 4; ++k) v[k] = _mm256_loadu_ps(p + 8 * k);
      const __m256 m = _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(sign, v[0]), _mm256_andnot_ps(sign, v[1])),
                                     _mm256_max_ps(_mm256_andnot_ps(sign, v[2]), _mm256_andnot_ps(sign, v[3])));
      __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
      h = _mm_max_ps(h, _mm_movehl_ps(h, h));
      h = _mm_max_ss(h, _mm_movehdup_ps(h));
      const float d = _mm_cvtss_f32(h) / 127.f, id = d != 0.f ? 1.f / d : 0.f;
      out->d = _cvtsh_ss(_cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT));  // F16C rounds to nearest even, as fp32_to_fp16
      const __m256 idv = _mm256_set1_ps(id);
      __m256i q[4];
      for (int k = 0; k < 4; ++k) q[k] = round_away(_mm256_mul_ps(v[k], idv));
      __m256i s = _mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3]));
      __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
      s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4e));
      s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xb1));
      out->offset8 = -8 * _mm_cvtsi128_si32(s4);
      // packs interleave 128-bit lanes; the permute puts the 8 groups of 4 back in order
      const __m256i q16 = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out->qs),
                          _mm256_permutevar8x32_epi32(q16, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
    }
}

// ---- Q4_0 ------------------------------------------------------------------------------------------
// Every output, whichever kernel or tile computes it, gets the same arithmetic, so results do not
// depend on n, on the row split or on packing:
//   isum = the exact int32 sum over the block of nibble * x, plus offset8 (= -8 * sum(x))
//   acc  = fma(float(isum), dw * dx, acc)   over the blocks in order;   y = acc

// The 32 unsigned 4-bit weights of a block in order: low nibbles are weights 0..15, high 16..31.
inline __m256i unpack_nibbles(const uint8_t* qs) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m256i both = _mm256_set_m128i(_mm_srli_epi16(v, 4), v);
  return _mm256_and_si256(both, _mm256_set1_epi8(0x0F));
}

// int32 lanes summing to nibbles . x (no offset) for one block.
inline __m256i q4_block_products(const __m256i& qw, const int8_t* xq) {
#if defined(EARSHOT_VNNI)
  return _mm256_dpbusd_epi32(_mm256_setzero_si256(), qw, load32(xq));
#else
  return _mm256_madd_epi16(_mm256_maddubs_epi16(qw, load32(xq)), _mm256_set1_epi16(1));
#endif
}

// Four vectors of 8 int32 lanes -> their four totals.
inline __m128i total4(__m256i p0, __m256i p1, __m256i p2, __m256i p3) {
  const __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(p0, p1), _mm256_hadd_epi32(p2, p3));
  return _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
}

// One weight row, one activation row (the leftover rows).
float q4_dot1(const BlockQ4_0* w, int64_t nb, const BlockQ8x* x) {
  __m128 acc = _mm_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const __m256i p = q4_block_products(unpack_nibbles(w[b].qs), x[b].qs);
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(p), _mm256_extracti128_si256(p, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    s = _mm_add_epi32(s, _mm_cvtsi32_si128(x[b].offset8));
    const __m128 scale = _mm_mul_ss(_mm_set_ss(_cvtsh_ss(w[b].d)), _mm_set_ss(x[b].d));
    acc = _mm_fmadd_ss(_mm_cvtepi32_ps(s), scale, acc);
  }
  return _mm_cvtss_f32(acc);
}

// Four weight rows (w, w + nb, ...), one activation row.
void q4_rows4_x1(const BlockQ4_0* w, int64_t nb, const BlockQ8x* x, float* y) {
  const BlockQ4_0 *w0 = w, *w1 = w + nb, *w2 = w + 2 * nb, *w3 = w + 3 * nb;
  __m128 acc = _mm_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    const int8_t* xq = x[b].qs;
    __m128i sums =
        total4(q4_block_products(unpack_nibbles(w0[b].qs), xq), q4_block_products(unpack_nibbles(w1[b].qs), xq),
               q4_block_products(unpack_nibbles(w2[b].qs), xq), q4_block_products(unpack_nibbles(w3[b].qs), xq));
    sums = _mm_add_epi32(sums, _mm_set1_epi32(x[b].offset8));
    const __m128 dw =
        _mm_cvtph_ps(_mm_setr_epi16(short(w0[b].d), short(w1[b].d), short(w2[b].d), short(w3[b].d), 0, 0, 0, 0));
    acc = _mm_fmadd_ps(_mm_cvtepi32_ps(sums), _mm_mul_ps(dw, _mm_set1_ps(x[b].d)), acc);
  }
  _mm_storeu_ps(y, acc);
}

// Unpacked weights (tests, callers without pack_weight): 4 rows at a time, each activation row alone.
void q4_avx2(const BlockQ4_0* w, int64_t nb, const BlockQ8x* x, int64_t n, float* y, int64_t ldy, int64_t r0,
             int64_t r1) {
  for (int64_t j = 0; j < n; ++j) {
    const BlockQ8x* xj = x + j * nb;
    float* yj = y + j * ldy;
    int64_t r = r0;
    for (; r + 4 <= r1; r += 4) q4_rows4_x1(w + r * nb, nb, xj, yj + r);
    for (; r < r1; ++r) yj[r] = q4_dot1(w + r * nb, nb, xj);
  }
}

// Packed weights: one group of 8 rows against M activation rows; lane i of acc[m] is row i's output.
struct Q4x8Tile : tile::PackedTile {
  template <int M>
  void run(int64_t g, int64_t j) const {
    const BlockQ4x8* wg = w + g * nb;
    const BlockQ8x* xm[M];
    for (int m = 0; m < M; ++m) xm[m] = x + (j + m) * nb;
    const __m256i mask = _mm256_set1_epi8(0x0F);
    __m256 acc[M];
    for (int m = 0; m < M; ++m) acc[m] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
      const BlockQ4x8& wb = wg[b];
      __m256i s[M];
#if defined(EARSHOT_VNNI)
      // Few rows: a second chain per row, or vpdpbusd's latency binds (many rows interleave enough).
      constexpr bool two = M <= 4;
      __m256i s2[M];
      for (int m = 0; m < M; ++m) s[m] = _mm256_set1_epi32(xm[m][b].offset8), s2[m] = _mm256_setzero_si256();
#else
      // int16 partial sums: 8 products of a nibble (<= 15) and an int8 stay within +-30720
      for (int m = 0; m < M; ++m) s[m] = _mm256_setzero_si256();
#endif
      for (int k = 0; k < 4; ++k) {
        const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wb.qs + 32 * k));
        const __m256i lo = _mm256_and_si256(v, mask), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), mask);
        for (int m = 0; m < M; ++m) {
          const __m256i xl = bcast4(xm[m][b].qs + 4 * k), xh = bcast4(xm[m][b].qs + 16 + 4 * k);
#if defined(EARSHOT_VNNI)
          s[m] = _mm256_dpbusd_epi32(s[m], lo, xl);
          if (two)
            s2[m] = _mm256_dpbusd_epi32(s2[m], hi, xh);
          else
            s[m] = _mm256_dpbusd_epi32(s[m], hi, xh);
#else
          s[m] = _mm256_add_epi16(s[m], _mm256_add_epi16(_mm256_maddubs_epi16(lo, xl), _mm256_maddubs_epi16(hi, xh)));
#endif
        }
      }
      const __m256 dw = _mm256_loadu_ps(wb.d);
      for (int m = 0; m < M; ++m) {
#if defined(EARSHOT_VNNI)
        const __m256i isum = two ? _mm256_add_epi32(s[m], s2[m]) : s[m];
#else
        const __m256i isum =
            _mm256_add_epi32(_mm256_madd_epi16(s[m], _mm256_set1_epi16(1)), _mm256_set1_epi32(xm[m][b].offset8));
#endif
        acc[m] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_mul_ps(dw, _mm256_set1_ps(xm[m][b].d)), acc[m]);
      }
    }
    for (int m = 0; m < M; ++m) {
      if (whole(g, 8)) {
        _mm256_storeu_ps(y + (j + m) * ldy + g * 8, acc[m]);
      } else {
        alignas(32) float t[8];
        _mm256_store_ps(t, acc[m]);
        store_part(t, g, 8, j + m);
      }
    }
  }
};

#if defined(EARSHOT_VNNI)
constexpr int kTileRows = 8;  // 32 vector registers
#else
constexpr int kTileRows = 4;  // 16 vector registers
#endif

#if defined(EARSHOT_VNNI)
// Two groups (16 rows) in the two halves of 512-bit vectors: half the dot product and scale
// instructions per weight. Lane arithmetic is Q4x8Tile's, so the bits are too.
struct Q4x16Tile : tile::PackedTile {
  int64_t g0;  // pair p holds groups g0 + 2p and g0 + 2p + 1

  template <int M>
  void run(int64_t p, int64_t j) const {
    const int64_t g = g0 + 2 * p;
    const BlockQ4x8* wa = w + g * nb;
    const BlockQ4x8* wz = wa + nb;
    const BlockQ8x* xm[M];
    for (int m = 0; m < M; ++m) xm[m] = x + (j + m) * nb;
    const __m512i mask = _mm512_set1_epi8(0x0F);
    __m512 acc[M];
    for (int m = 0; m < M; ++m) acc[m] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; ++b) {
      constexpr bool two = M <= 4;  // as in Q4x8Tile
      __m512i s[M], s2[M];
      for (int m = 0; m < M; ++m) s[m] = _mm512_set1_epi32(xm[m][b].offset8), s2[m] = _mm512_setzero_si512();
      for (int k = 0; k < 4; ++k) {
        const __m512i v = _mm512_inserti64x4(
            _mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(wa[b].qs + 32 * k))),
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wz[b].qs + 32 * k)), 1);
        const __m512i lo = _mm512_and_si512(v, mask), hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), mask);
        for (int m = 0; m < M; ++m) {
          int32_t xl, xh;
          std::memcpy(&xl, xm[m][b].qs + 4 * k, 4);
          std::memcpy(&xh, xm[m][b].qs + 16 + 4 * k, 4);
          s[m] = _mm512_dpbusd_epi32(s[m], lo, _mm512_set1_epi32(xl));
          if (two)
            s2[m] = _mm512_dpbusd_epi32(s2[m], hi, _mm512_set1_epi32(xh));
          else
            s[m] = _mm512_dpbusd_epi32(s[m], hi, _mm512_set1_epi32(xh));
        }
      }
      const __m512 dw =
          _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castpd256_pd512(_mm256_castps_pd(_mm256_loadu_ps(wa[b].d))),
                                              _mm256_castps_pd(_mm256_loadu_ps(wz[b].d)), 1));
      for (int m = 0; m < M; ++m) {
        const __m512i isum = two ? _mm512_add_epi32(s[m], s2[m]) : s[m];
        acc[m] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(dw, _mm512_set1_ps(xm[m][b].d)), acc[m]);
      }
    }
    for (int m = 0; m < M; ++m) {
      if (whole(g, 16)) {
        _mm512_storeu_ps(y + (j + m) * ldy + g * 8, acc[m]);
      } else {
        alignas(64) float t[16];
        _mm512_store_ps(t, acc[m]);
        store_part(t, g, 16, j + m);
      }
    }
  }
};
#endif

void q4x8_avx2(const BlockQ4x8* w, int64_t nb, const BlockQ8x* x, int64_t n, float* y, int64_t ldy, int64_t r0,
               int64_t r1) {
  if (r0 >= r1) return;
  int64_t g0 = r0 / 8;
  const int64_t g1 = (r1 + 7) / 8;
#if defined(EARSHOT_VNNI)
  const int64_t pairs = (g1 - g0) / 2;
  tile::for_tiles<kTileRows>(Q4x16Tile{{w, nb, x, y, ldy, r0, r1}, g0}, 0, pairs, n);
  g0 += 2 * pairs;
#endif
  tile::for_tiles<kTileRows>(Q4x8Tile{{w, nb, x, y, ldy, r0, r1}}, g0, g1, n);
}

// ---- Q8_0 weights ---------------------------------------------------------------------------------

// maddubs needs one unsigned operand: |w| times x carrying w's sign.
struct Q8Row {
  template <int M>
  static void row(const BlockQ8_0* w, int64_t nb, const BlockQ8x* x, float* y, int64_t ldy) {
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
};

void q8_avx2(const BlockQ8_0* w, int64_t nb, const BlockQ8x* x, int64_t n, float* y, int64_t ldy, int64_t r0,
             int64_t r1) {
  tile::for_rows<4, Q8Row>(w, nb, x, n, y, ldy, r0, r1);
}

// ---- float weights --------------------------------------------------------------------------------

inline __m256 load8(const float* p) { return _mm256_loadu_ps(p); }
inline __m256 load8(const uint16_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
inline float load1(const float* p) { return *p; }
inline float load1(const uint16_t* p) { return _cvtsh_ss(*p); }

// Float weights (F32 or F16) against M float rows; U independent accumulators hide FMA latency.
// Every row gets the same summation order whatever n is, so a product over n rows equals n
// single-row products bit for bit.
template <typename WT>
struct FloatRow {
  template <int M, int U = 4>
  static void row(const WT* w, int64_t cols, const float* x, float* y, int64_t ldy) {
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
};

void f32_avx2(const float* w, int64_t cols, const float* x, int64_t n, float* y, int64_t ldy, int64_t r0, int64_t r1) {
  tile::for_rows<2, FloatRow<float>>(w, cols, x, n, y, ldy, r0, r1);
}

void f16_avx2(const uint16_t* w, int64_t cols, const float* x, int64_t n, float* y, int64_t ldy, int64_t r0,
              int64_t r1) {
  tile::for_rows<2, FloatRow<uint16_t>>(w, cols, x, n, y, ldy, r0, r1);
}

}  // namespace

#if defined(EARSHOT_VNNI)
const KernelSet kAvx2VnniKernels = {"avx2", quantize_avx2, q4_avx2, q4x8_avx2, q8_avx2, f32_avx2, f16_avx2};
#else
const KernelSet kAvx2Kernels = {"avx2", quantize_avx2, q4_avx2, q4x8_avx2, q8_avx2, f32_avx2, f16_avx2};
#endif

}  // namespace earshot
#endif
