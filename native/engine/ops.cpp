#include "ops.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "quant.h"

namespace earshot {

const float* f32_data(const TensorLookup& get, const std::string& name, int64_t rows, int64_t cols) {
  const Tensor& t = get(name, rows, cols);
  if (t.type != DType::F32) throw Error("tensor " + name + " must be F32 (it is a float parameter)");
  return static_cast<const float*>(t.data);
}

void Linear::load(const TensorLookup& get, const std::string& prefix, int64_t out, int64_t in) {
  w = &get(prefix + ".weight", out, in);
  b = f32_data(get, prefix + ".bias", 1, out);
  packed = pack_weight(*w);
}

void Linear::forward(const float* x, int64_t n, float* y) const { matmul(*w, x, n, y, b, packed.get()); }

void LayerNorm::load(const TensorLookup& get, const std::string& prefix, int64_t d) {
  dim = d;
  w = f32_data(get, prefix + ".weight", 1, d);
  b = f32_data(get, prefix + ".bias", 1, d);
}

// ---- float vectors (GCC / clang vector extensions) ------------------------------------------------
// 8 lanes: two SSE2 or NEON registers, one AVX register in the AVX2 clones that x86-64 builds pick at
// load time (ifunc). No FMA and no reassociation (-ffp-contract=off), so every clone and every ISA
// computes the same bits.

#if defined(__x86_64__) && defined(__linux__)
#define EARSHOT_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define EARSHOT_CLONES
#endif
#define EARSHOT_INLINE inline __attribute__((always_inline))

namespace {

// Vectors are never passed by value (clang refuses 32-byte vector arguments in the non-AVX clone):
// loads and stores are expressions, helpers take references.
typedef float v8f __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));
typedef float v8u __attribute__((vector_size(32), aligned(4), may_alias));  // unaligned access
typedef float v4f __attribute__((vector_size(16)));
typedef float v2f __attribute__((vector_size(8)));
#define V8(f) (v8f{(f), (f), (f), (f), (f), (f), (f), (f)})
#define LD8(p) (*reinterpret_cast<const v8u*>(p))
#define ST8(p, v) (*reinterpret_cast<v8u*>(p) = (v))

EARSHOT_INLINE void load_part(v8f& v, const float* p, int64_t k) {
  float t[8] = {0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f};
  std::memcpy(t, p, size_t(k) * 4);
  v = LD8(t);
}
EARSHOT_INLINE void store_part(float* p, const v8f& v, int64_t k) {
  float t[8];
  ST8(t, v);
  std::memcpy(p, t, size_t(k) * 4);
}
// Halves, then halves again: ((s0 + s4) + (s2 + s6)) + ((s1 + s5) + (s3 + s7)).
EARSHOT_INLINE float hsum8(const v8f& s) {
  const v4f h = __builtin_shufflevector(s, s, 0, 1, 2, 3) + __builtin_shufflevector(s, s, 4, 5, 6, 7);
  const v2f q = __builtin_shufflevector(h, h, 0, 1) + __builtin_shufflevector(h, h, 2, 3);
  return q[0] + q[1];
}

// x = exp(x), Cephes' expf: 2^n * p(r), |r| <= ln2 / 2; about 1 ulp. Inputs are clamped to where
// exp is a finite normal float.
EARSHOT_INLINE void exp8(v8f& x) {
  x = x < V8(88.f) ? x : V8(88.f);
  x = x > V8(-87.33654f) ? x : V8(-87.33654f);
  const v8f fx = x * V8(1.44269504088896341f) + V8(0.5f);
  v8f n = __builtin_convertvector(__builtin_convertvector(fx, v8i), v8f);  // truncation
  n = n > fx ? n - V8(1.f) : n;                                            // floor
  const v8f r = x - n * V8(0.693359375f) + n * V8(2.12194440e-4f);
  v8f p = V8(1.9875691500e-4f);
  p = p * r + V8(1.3981999507e-3f);
  p = p * r + V8(8.3334519073e-3f);
  p = p * r + V8(4.1665795894e-2f);
  p = p * r + V8(1.6666665459e-1f);
  p = p * r + V8(5.0000001201e-1f);
  p = p * (r * r) + r + V8(1.f);
  const v8i e = (__builtin_convertvector(n, v8i) + 127) << 23;  // 2^n, n in [-126, 127]
  v8f scale;
  std::memcpy(&scale, &e, 32);
  x = p * scale;
}

EARSHOT_INLINE void swish8(v8f& v) {
  v8f e = -v;
  exp8(e);
  v = v / (V8(1.f) + e);
}
EARSHOT_INLINE void glu8(v8f& a, const v8f& b) {
  v8f e = -b;
  exp8(e);
  a = a * (V8(1.f) / (V8(1.f) + e));
}

EARSHOT_INLINE float dot8(const float* a, const float* b, int64_t n) {
  v8f s = V8(0.f);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) s += LD8(a + i) * LD8(b + i);
  float r = hsum8(s);
  for (; i < n; ++i) r += a[i] * b[i];
  return r;
}

// Loops below run 8 at a time, then once more over a zero-padded tail through the same lanes, so a
// value's result does not depend on its position. (Plain loops: a lambda would not be cloned.)
EARSHOT_INLINE float exp_sum8(float* x, int64_t n, float shift) {
  v8f acc = V8(0.f);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    v8f y = LD8(x + i) - V8(shift);
    exp8(y);
    ST8(x + i, y);
    acc += y;
  }
  float tail = 0.f;
  if (i < n) {
    v8f y;
    load_part(y, x + i, n - i);
    y -= V8(shift);
    exp8(y);
    store_part(x + i, y, n - i);
    for (int64_t t = 0; t < n - i; ++t) tail += y[t];
  }
  return hsum8(acc) + tail;
}

// Mean and variance with 8 float partial sums, finished in double.
EARSHOT_CLONES void layer_norm_rows(const float* x, int64_t n, int64_t dim, const float* w, const float* b, float* y) {
  for (int64_t r = 0; r < n; ++r, x += dim, y += dim) {
    v8f s = V8(0.f);
    int64_t i = 0;
    for (; i + 8 <= dim; i += 8) s += LD8(x + i);
    double mean = 0;
    for (int t = 0; t < 8; ++t) mean += double(s[t]);
    for (int64_t t = i; t < dim; ++t) mean += x[t];
    mean /= dim;
    const float m = static_cast<float>(mean);
    s = V8(0.f);
    for (i = 0; i + 8 <= dim; i += 8) {
      const v8f a = LD8(x + i) - V8(m);
      s += a * a;
    }
    double var = 0;
    for (int t = 0; t < 8; ++t) var += double(s[t]);
    for (int64_t t = i; t < dim; ++t) var += double(x[t] - m) * double(x[t] - m);
    var /= dim;
    const float inv = static_cast<float>(1.0 / std::sqrt(var + 1e-5));
    for (i = 0; i < dim; ++i) y[i] = (x[i] - m) * inv * w[i] + b[i];
  }
}

}  // namespace

EARSHOT_CLONES void swish_inplace(float* x, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    v8f v = LD8(x + i);
    swish8(v);
    ST8(x + i, v);
  }
  if (i < n) {
    v8f v;
    load_part(v, x + i, n - i);
    swish8(v);
    store_part(x + i, v, n - i);
  }
}

EARSHOT_CLONES void glu(const float* a, const float* b, int64_t n, float* out) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    v8f va = LD8(a + i);
    const v8f vb = LD8(b + i);
    glu8(va, vb);
    ST8(out + i, va);
  }
  if (i < n) {
    v8f va, vb;
    load_part(va, a + i, n - i);
    load_part(vb, b + i, n - i);
    glu8(va, vb);
    store_part(out + i, va, n - i);
  }
}

EARSHOT_CLONES float exp_shifted_sum(float* x, int64_t n, float shift) { return exp_sum8(x, n, shift); }

EARSHOT_CLONES float dot(const float* a, const float* b, int64_t n) { return dot8(a, b, n); }

EARSHOT_CLONES void attend(const float* q, const float* k, const float* v, int64_t ld, int64_t m, int64_t dh,
                           float scale, float* scores, float* out) {
  float mx = -INFINITY;
  for (int64_t j = 0; j < m; ++j) {
    scores[j] = dot8(q, k + j * ld, dh) * scale;
    mx = std::max(mx, scores[j]);
  }
  const float sum = exp_sum8(scores, m, mx);
  for (int64_t j = 0; j < m; ++j) scores[j] /= sum;
  // out = sum over j in order of p_j v_j, 32 columns at a time in registers
  int64_t e = 0;
  for (; e + 32 <= dh; e += 32) {
    v8f acc[4] = {V8(0.f), V8(0.f), V8(0.f), V8(0.f)};
    for (int64_t j = 0; j < m; ++j) {
      const v8f p = V8(scores[j]);
      for (int u = 0; u < 4; ++u) acc[u] += p * LD8(v + j * ld + e + 8 * u);
    }
    for (int u = 0; u < 4; ++u) ST8(out + e + 8 * u, acc[u]);
  }
  for (; e + 8 <= dh; e += 8) {
    v8f acc = V8(0.f);
    for (int64_t j = 0; j < m; ++j) acc += V8(scores[j]) * LD8(v + j * ld + e);
    ST8(out + e, acc);
  }
  for (; e < dh; ++e) {
    float acc = 0.f;
    for (int64_t j = 0; j < m; ++j) acc += scores[j] * v[j * ld + e];
    out[e] = acc;
  }
}

void LayerNorm::forward(const float* x, int64_t n, float* y) const { layer_norm_rows(x, n, dim, w, b, y); }

void LstmLayer::load(const TensorLookup& get, const std::string& prefix, int64_t in, int64_t h) {
  hidden = h;
  ih.w = &get(prefix + ".w_ih", 4 * h, in);
  ih.b = f32_data(get, prefix + ".bias", 1, 4 * h);
  hh = &get(prefix + ".w_hh", 4 * h, h);
}

void LstmLayer::step(const float* gates_in, float* h, float* c, float* g) const {
  const int64_t H = hidden;
  matvec(*hh, h, g, nullptr);
  for (int64_t k = 0; k < H; ++k) {
    float i = sigmoid(gates_in[k] + g[k]);
    float f = sigmoid(gates_in[H + k] + g[H + k]);
    float u = std::tanh(gates_in[2 * H + k] + g[2 * H + k]);
    float o = sigmoid(gates_in[3 * H + k] + g[3 * H + k]);
    c[k] = f * c[k] + i * u;
    h[k] = o * std::tanh(c[k]);
  }
}

float log_softmax_inplace(float* x, int64_t n) {
  float mx = *std::max_element(x, x + n);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += std::exp(x[i] - mx);
  float lse = mx + static_cast<float>(std::log(sum));
  for (int64_t i = 0; i < n; ++i) x[i] -= lse;
  return lse;
}

void softmax_inplace(float* x, int64_t n) {
  log_softmax_inplace(x, n);
  for (int64_t i = 0; i < n; ++i) x[i] = std::exp(x[i]);
}

}  // namespace earshot
