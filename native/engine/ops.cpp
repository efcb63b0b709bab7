#include "ops.h"

#include <algorithm>
#include <cmath>

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
}

void Linear::forward(const float* x, int64_t n, float* y) const {
  if (n == 1) matvec(*w, x, y, b);
  else matmul(*w, x, n, y, b);
}

void LayerNorm::load(const TensorLookup& get, const std::string& prefix, int64_t d) {
  dim = d;
  w = f32_data(get, prefix + ".weight", 1, d);
  b = f32_data(get, prefix + ".bias", 1, d);
}

void LayerNorm::forward(const float* x, int64_t n, float* y) const {
  for (int64_t r = 0; r < n; ++r, x += dim, y += dim) {
    double mean = 0, var = 0;
    for (int64_t i = 0; i < dim; ++i) mean += x[i];
    mean /= dim;
    for (int64_t i = 0; i < dim; ++i) var += (x[i] - mean) * (x[i] - mean);
    var /= dim;
    float inv = static_cast<float>(1.0 / std::sqrt(var + 1e-5));
    float m = static_cast<float>(mean);
    for (int64_t i = 0; i < dim; ++i) y[i] = (x[i] - m) * inv * w[i] + b[i];
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

void swish_inplace(float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] = x[i] * sigmoid(x[i]);
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
