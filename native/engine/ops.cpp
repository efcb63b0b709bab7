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

// ---- 4-lane float vectors (GCC / clang vector extensions: SSE2 on x86, NEON on ARM) --------------

namespace {

typedef float v4f __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));

inline v4f load4(const float* p) {
  v4f v;
  std::memcpy(&v, p, 16);
  return v;
}
inline void store4(float* p, v4f v) { std::memcpy(p, &v, 16); }
inline v4f splat(float f) { return v4f{f, f, f, f}; }

// Cephes' expf: 2^n * p(r), |r| <= ln2 / 2; about 1 ulp. Inputs are clamped to where exp is a
// finite normal float.
inline v4f exp4(v4f x) {
  x = x < splat(88.f) ? x : splat(88.f);
  x = x > splat(-87.33654f) ? x : splat(-87.33654f);
  v4f fx = x * splat(1.44269504088896341f) + splat(0.5f);
  v4f n = __builtin_convertvector(__builtin_convertvector(fx, v4i), v4f);  // truncation
  n = n > fx ? n - splat(1.f) : n;                                          // floor
  const v4f r = x - n * splat(0.693359375f) + n * splat(2.12194440e-4f);
  v4f p = splat(1.9875691500e-4f);
  p = p * r + splat(1.3981999507e-3f);
  p = p * r + splat(8.3334519073e-3f);
  p = p * r + splat(4.1665795894e-2f);
  p = p * r + splat(1.6666665459e-1f);
  p = p * r + splat(5.0000001201e-1f);
  p = p * (r * r) + r + splat(1.f);
  const v4i e = (__builtin_convertvector(n, v4i) + 127) << 23;  // 2^n, n in [-126, 127]
  v4f scale;
  std::memcpy(&scale, &e, 16);
  return p * scale;
}

// The scalar tail goes through the same lanes, so a value's result does not depend on its position.
template <typename F>
inline void map4(int64_t n, F f) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) f(i, 4);
  if (i < n) f(i, int(n - i));
}

inline v4f load_part(const float* p, int k) {
  float t[4] = {0.f, 0.f, 0.f, 0.f};
  std::memcpy(t, p, size_t(k) * 4);
  return load4(t);
}
inline void store_part(float* p, v4f v, int k) {
  float t[4];
  store4(t, v);
  std::memcpy(p, t, size_t(k) * 4);
}

}  // namespace

void swish_inplace(float* x, int64_t n) {
  map4(n, [&](int64_t i, int k) {
    const v4f v = k == 4 ? load4(x + i) : load_part(x + i, k);
    const v4f y = v / (splat(1.f) + exp4(-v));
    if (k == 4) store4(x + i, y);
    else store_part(x + i, y, k);
  });
}

void glu(const float* a, const float* b, int64_t n, float* out) {
  map4(n, [&](int64_t i, int k) {
    const v4f va = k == 4 ? load4(a + i) : load_part(a + i, k), vb = k == 4 ? load4(b + i) : load_part(b + i, k);
    const v4f y = va * (splat(1.f) / (splat(1.f) + exp4(-vb)));
    if (k == 4) store4(out + i, y);
    else store_part(out + i, y, k);
  });
}

float exp_shifted_sum(float* x, int64_t n, float shift) {
  v4f acc = splat(0.f);
  float tail = 0.f;
  map4(n, [&](int64_t i, int k) {
    const v4f y = exp4((k == 4 ? load4(x + i) : load_part(x + i, k)) - splat(shift));
    if (k == 4) {
      store4(x + i, y);
      acc += y;
    } else {
      store_part(x + i, y, k);
      for (int t = 0; t < k; ++t) tail += y[t];
    }
  });
  return (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail;
}

float dot(const float* a, const float* b, int64_t n) {
  v4f s0 = splat(0.f), s1 = splat(0.f);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    s0 += load4(a + i) * load4(b + i);
    s1 += load4(a + i + 4) * load4(b + i + 4);
  }
  const v4f s = s0 + s1;
  float r = (s[0] + s[1]) + (s[2] + s[3]);
  for (; i < n; ++i) r += a[i] * b[i];
  return r;
}

// Mean and variance with 8 float partial sums, finished in double.
void LayerNorm::forward(const float* x, int64_t n, float* y) const {
  for (int64_t r = 0; r < n; ++r, x += dim, y += dim) {
    v4f s0 = splat(0.f), s1 = splat(0.f);
    int64_t i = 0;
    for (; i + 8 <= dim; i += 8) {
      s0 += load4(x + i);
      s1 += load4(x + i + 4);
    }
    double mean = 0;
    for (int t = 0; t < 4; ++t) mean += double(s0[t]) + double(s1[t]);
    for (int64_t t = i; t < dim; ++t) mean += x[t];
    mean /= dim;
    const float m = static_cast<float>(mean);
    s0 = splat(0.f), s1 = splat(0.f);
    for (i = 0; i + 8 <= dim; i += 8) {
      const v4f a = load4(x + i) - splat(m), c = load4(x + i + 4) - splat(m);
      s0 += a * a;
      s1 += c * c;
    }
    double var = 0;
    for (int t = 0; t < 4; ++t) var += double(s0[t]) + double(s1[t]);
    for (int64_t t = i; t < dim; ++t) var += double(x[t] - m) * double(x[t] - m);
    var /= dim;
    const float inv = static_cast<float>(1.0 / std::sqrt(var + 1e-5));
    for (i = 0; i < dim; ++i) y[i] = (x[i] - m) * inv * w[i] + b[i];
  }
}

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
