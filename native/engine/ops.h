// Small float operations shared by the models: the layers around the quantized products.
#pragma once
#include <cmath>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "gguf.h"
#include "quant.h"

namespace earshot {

// Looks a tensor up by name and checks its shape (GgufFile::tensor, or an in-memory table in tests).
using TensorLookup = std::function<const Tensor&(const std::string& name, int64_t rows, int64_t cols)>;

// A float vector parameter (norm weight, bias, embedding table): must be stored as F32.
const float* f32_data(const TensorLookup& get, const std::string& name, int64_t rows, int64_t cols);

// y = W x + b over n rows, through quant.h's products (every weight type the contract allows).
struct Linear {
  const Tensor* w = nullptr;
  const float* b = nullptr;
  std::shared_ptr<const PackedWeight> packed;  // Q4_0: rearranged once for the SIMD products
  void load(const TensorLookup& get, const std::string& prefix, int64_t out, int64_t in);
  int64_t out() const { return w->rows; }
  int64_t in() const { return w->cols; }
  void forward(const float* x, int64_t n, float* y) const;
};

struct LayerNorm {
  const float* w = nullptr;
  const float* b = nullptr;
  int64_t dim = 0;
  void load(const TensorLookup& get, const std::string& prefix, int64_t d);
  // n rows of dim floats; in == out allowed.
  void forward(const float* x, int64_t n, float* y) const;
};

// One LSTM layer, PyTorch gate order i, f, g, o; bias = b_ih + b_hh. Tensors <prefix>.w_ih [4H, in],
// <prefix>.w_hh [4H, H], <prefix>.bias [4H].
struct LstmLayer {
  Linear ih;  // w_ih with the summed bias
  const Tensor* hh = nullptr;
  int64_t hidden = 0;
  void load(const TensorLookup& get, const std::string& prefix, int64_t in, int64_t h);
  // gates_in: w_ih x + bias for this step (4H). Updates h and c (H each); scratch holds 4H.
  void step(const float* gates_in, float* h, float* c, float* scratch) const;
};

inline float sigmoid(float x) { return 1.f / (1.f + std::exp(-x)); }
// Vectorized (8 lanes, any ISA) with an exp accurate to about 1 ulp: within float rounding of the
// scalar forms above, and the same bits on every architecture.
void swish_inplace(float* x, int64_t n);
// out[i] = a[i] * sigmoid(b[i]) (the GLU); out may be a.
void glu(const float* a, const float* b, int64_t n, float* out);
// x[i] = exp(x[i] - shift); returns the sum (in lane order, then the tail).
float exp_shifted_sum(float* x, int64_t n, float shift);
// Dot product with 8 partial sums (the same order everywhere).
float dot(const float* a, const float* b, int64_t n);
// One attention head for one query: out[0, dh) = softmax_j(q . k_j * scale) v_j over the m rows k_j =
// k + j * ld and v_j = v + j * ld. scores: m floats of scratch.
void attend(const float* q, const float* k, const float* v, int64_t ld, int64_t m, int64_t dh, float scale,
            float* scores, float* out);
// In place; returns the log of the normalizer (log-sum-exp).
float log_softmax_inplace(float* x, int64_t n);
void softmax_inplace(float* x, int64_t n);

}  // namespace earshot
