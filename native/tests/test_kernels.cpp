// Kernels against the scalar reference, quantizers against hand-computed ggml results, fp16.
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "check.h"
#include "quant.h"
#include "quant_kernels.h"

using namespace earshot;

namespace {

std::mt19937 rng(1234);

float uniform(float lo, float hi) { return std::uniform_real_distribution<float>(lo, hi)(rng); }

float bits_to_float(uint32_t b) {
  float f;
  memcpy(&f, &b, 4);
  return f;
}

// ---- fp16 -----------------------------------------------------------------------------------------

void test_fp16() {
  int roundtrip_bad = 0;
  for (uint32_t h = 0; h < 65536; ++h) {
    float f = fp16_to_fp32(uint16_t(h));
    uint16_t back = fp32_to_fp16(f);
    bool is_nan = (h & 0x7c00) == 0x7c00 && (h & 0x3ff);
    if (is_nan ? !std::isnan(f) || (back & 0x7c00) != 0x7c00 || !(back & 0x3ff) : back != h) ++roundtrip_bad;
  }
  CHECK_MSG(roundtrip_bad == 0, std::to_string(roundtrip_bad) + " of 65536 halves do not round-trip");

  CHECK(fp32_to_fp16(1.f) == 0x3c00);
  CHECK(fp32_to_fp16(-2.f) == 0xc000);
  CHECK(fp32_to_fp16(0.1f) == 0x2e66);
  CHECK(fp32_to_fp16(65504.f) == 0x7bff);
  CHECK(fp32_to_fp16(65519.f) == 0x7bff);
  CHECK(fp32_to_fp16(65520.f) == 0x7c00);  // the tie between 65504 and 65536 goes to even: inf
  CHECK(fp32_to_fp16(-INFINITY) == 0xfc00);
  CHECK(fp32_to_fp16(-0.f) == 0x8000);
  CHECK(fp32_to_fp16(std::ldexp(1.f, -24)) == 0x0001);  // smallest subnormal
  CHECK(fp32_to_fp16(std::ldexp(1.f, -25)) == 0x0000);  // tie to even: 0
  CHECK(fp32_to_fp16(std::ldexp(1.5f, -25)) == 0x0001);
  CHECK(fp32_to_fp16(std::ldexp(3.f, -25)) == 0x0002);        // 1.5 ulp: tie to even 2
  CHECK(fp32_to_fp16(1.f + std::ldexp(1.f, -11)) == 0x3c00);  // tie between 1 and 1+2^-10: even
  CHECK(fp32_to_fp16(1.f + std::ldexp(3.f, -11)) == 0x3c02);
  CHECK(fp16_to_fp32(0x0001) == std::ldexp(1.f, -24));
  CHECK(fp16_to_fp32(0x3555) == 0.333251953125f);

  // Random floats: the result is the nearest half, ties to the even one.
  int not_nearest = 0;
  for (int i = 0; i < 200000; ++i) {
    float f = bits_to_float(uint32_t(rng()) & 0x477fffffu | (uint32_t(rng()) & 0x80000000u));
    if (std::fabs(f) >= 65504.f) continue;
    uint16_t h = fp32_to_fp16(f);
    double e = std::fabs(double(fp16_to_fp32(h)) - f);
    for (int step : {-1, 1}) {
      uint16_t o = uint16_t(h + step);
      if ((o & 0x7fff) >= 0x7c00 || ((h & 0x7fff) == 0 && step == -1)) continue;
      double eo = std::fabs(double(fp16_to_fp32(o)) - f);
      if (eo < e || (eo == e && (o & 1) == 0 && (h & 1))) ++not_nearest;
    }
  }
  CHECK_MSG(not_nearest == 0, std::to_string(not_nearest) + " random floats not rounded to nearest-even");
}

// ---- quantizers: hand-computed ggml results --------------------------------------------------------

void test_quantizers() {
  float x[32];
  BlockQ4_0 q4;
  BlockQ8_0 q8;

  // Negative max: x_i = i - 16, m = -16 -> d = 2, id = 0.5, q_i = min(15, int(i/2 + 0.5)).
  for (int i = 0; i < 32; ++i) x[i] = float(i - 16);
  quantize_row_q4_0(x, &q4, 32);
  CHECK(q4.d == 0x4000);
  CHECK(q4.qs[0] == 0x80 && q4.qs[1] == 0x91 && q4.qs[2] == 0x91 && q4.qs[3] == 0xa2 && q4.qs[15] == 0xf8);
  float back[32];
  dequantize_row_q4_0(&q4, back, 32);
  CHECK(back[0] == -16.f && back[1] == -14.f && back[2] == -14.f && back[16] == 0.f && back[31] == 14.f);

  // Equal magnitudes: the first one sets the sign of d.
  std::memset(x, 0, sizeof x);
  x[3] = -2.f;
  x[7] = 2.f;
  quantize_row_q4_0(x, &q4, 32);
  CHECK(q4.d == 0x3400);  // d = -2 / -8 = 0.25
  bool rest_ok = true;
  for (int j = 0; j < 16; ++j)
    if (j != 3 && j != 7 && q4.qs[j] != 0x88) rest_ok = false;
  CHECK(rest_ok && q4.qs[3] == 0x80 && q4.qs[7] == 0x8f);  // -2 -> 0; 2 -> 16.5 -> clamped 15
  x[3] = 2.f;
  x[7] = -2.f;
  quantize_row_q4_0(x, &q4, 32);
  CHECK(q4.d == 0xb400);  // d = -0.25
  CHECK(q4.qs[3] == 0x80 && q4.qs[7] == 0x8f);

  // All zeros: d = 0 / -8 = -0 (ggml stores 0x8000), every nibble 8.
  std::memset(x, 0, sizeof x);
  quantize_row_q4_0(x, &q4, 32);
  CHECK(q4.d == 0x8000);
  bool all88 = true;
  for (int j = 0; j < 16; ++j) all88 = all88 && q4.qs[j] == 0x88;
  CHECK(all88);

  // Truncation after +8.5: max 8 -> d = -1, id = -1.
  x[0] = 8.f;
  x[1] = 0.5f;    // 8.0 -> 8
  x[2] = -0.5f;   // 9.0 -> 9
  x[3] = 0.49f;   // 8.01 -> 8
  x[4] = 1.5f;    // 7.0 -> 7
  x[5] = -7.5f;   // 16.0 -> 15
  x[6] = 7.9f;    // 0.6 -> 0
  x[16] = -3.2f;  // 11.7 -> 11
  quantize_row_q4_0(x, &q4, 32);
  CHECK(q4.d == 0xbc00);
  CHECK(q4.qs[0] == (0 | 11 << 4) && q4.qs[1] == 0x88 && q4.qs[2] == 0x89 && q4.qs[3] == 0x88 && q4.qs[4] == 0x87 &&
        q4.qs[5] == 0x8f && q4.qs[6] == 0x80);

  // Q8_0: round half away from zero.
  std::memset(x, 0, sizeof x);
  x[0] = 127.f;
  x[1] = 2.5f;
  x[2] = -2.5f;
  x[3] = 0.5f;
  x[4] = -0.5f;
  x[5] = 1.49f;
  x[31] = -126.5f;
  quantize_row_q8_0(x, &q8, 32);
  CHECK(q8.d == 0x3c00);
  CHECK(q8.qs[0] == 127 && q8.qs[1] == 3 && q8.qs[2] == -3 && q8.qs[3] == 1 && q8.qs[4] == -1 && q8.qs[5] == 1 &&
        q8.qs[6] == 0 && q8.qs[31] == -127);
  x[0] = -254.f;  // negative max: d = 2, id = 0.5
  x[1] = 3.f;     // 1.5 -> 2
  x[2] = -1.f;    // -0.5 -> -1
  quantize_row_q8_0(x, &q8, 32);
  CHECK(q8.d == 0x4000 && q8.qs[0] == -127 && q8.qs[1] == 2 && q8.qs[2] == -1);
  std::memset(x, 0, sizeof x);
  quantize_row_q8_0(x, &q8, 32);
  bool zero = q8.d == 0;
  for (int i = 0; i < 32; ++i) zero = zero && q8.qs[i] == 0;
  CHECK(zero);

  // The stored scale is fp16(amax / 127) and the quants use the unrounded 127 / amax.
  for (int i = 0; i < 32; ++i) x[i] = uniform(-3.f, 3.f);
  x[9] = -3.7f;
  quantize_row_q8_0(x, &q8, 32);
  CHECK(q8.d == fp32_to_fp16(3.7f / 127.f));
  CHECK(q8.qs[9] == -127 && q8.qs[4] == int8_t(std::round(x[4] * (1.f / (3.7f / 127.f)))));
}

// ---- kernels against the scalar reference ----------------------------------------------------------

struct Weight {
  std::vector<uint8_t> bytes;
  Tensor t;
  std::vector<float> dequant;  // the values the product must use
};

Weight make_weight(DType type, int64_t rows, int64_t cols) {
  Weight w;
  std::vector<float> f(size_t(rows * cols));
  for (auto& v : f) v = uniform(-1.f, 1.f) * (uniform(0.f, 1.f) < 0.05f ? 8.f : 1.f);
  w.dequant.resize(f.size());
  switch (type) {
    case DType::F32:
      w.bytes.resize(f.size() * 4);
      memcpy(w.bytes.data(), f.data(), w.bytes.size());
      w.dequant = f;
      break;
    case DType::F16: {
      w.bytes.resize(f.size() * 2);
      auto* h = reinterpret_cast<uint16_t*>(w.bytes.data());
      for (size_t i = 0; i < f.size(); ++i) w.dequant[i] = fp16_to_fp32(h[i] = fp32_to_fp16(f[i]));
      break;
    }
    case DType::Q4_0:
      w.bytes.resize(f.size() / 32 * sizeof(BlockQ4_0));
      quantize_row_q4_0(f.data(), reinterpret_cast<BlockQ4_0*>(w.bytes.data()), int64_t(f.size()));
      dequantize_row_q4_0(reinterpret_cast<BlockQ4_0*>(w.bytes.data()), w.dequant.data(), int64_t(f.size()));
      break;
    case DType::Q8_0:
      w.bytes.resize(f.size() / 32 * sizeof(BlockQ8_0));
      quantize_row_q8_0(f.data(), reinterpret_cast<BlockQ8_0*>(w.bytes.data()), int64_t(f.size()));
      dequantize_row_q8_0(reinterpret_cast<BlockQ8_0*>(w.bytes.data()), w.dequant.data(), int64_t(f.size()));
      break;
  }
  w.t.name = "test.weight";
  w.t.type = type;
  w.t.rows = rows;
  w.t.cols = cols;
  w.t.data = w.bytes.data();
  w.t.bytes = w.bytes.size();
  return w;
}

const char* type_name(DType t) {
  return t == DType::F32 ? "F32" : t == DType::F16 ? "F16" : t == DType::Q4_0 ? "Q4_0" : "Q8_0";
}

// Scale of the rounding error: sum of |terms| (with Q4_0's 8 * sum(x) split counted, which some
// kernels compute separately).
std::vector<double> error_scale(const Weight& w, const std::vector<float>& X, int64_t n) {
  const bool quant = w.t.type == DType::Q4_0 || w.t.type == DType::Q8_0;
  std::vector<float> xd(X.size());
  if (quant)
    for (int64_t j = 0; j < n; ++j) {
      std::vector<BlockQ8_0> q(size_t(w.t.cols / 32));
      quantize_row_q8_0(&X[size_t(j * w.t.cols)], q.data(), w.t.cols);
      dequantize_row_q8_0(q.data(), &xd[size_t(j * w.t.cols)], w.t.cols);
    }
  else
    xd = X;
  std::vector<double> s(size_t(n * w.t.rows));
  for (int64_t j = 0; j < n; ++j)
    for (int64_t r = 0; r < w.t.rows; ++r) {
      double a = 0;
      for (int64_t i = 0; i < w.t.cols; ++i) {
        double wi = std::fabs(w.dequant[size_t(r * w.t.cols + i)]);
        if (w.t.type == DType::Q4_0)
          wi += 8 * std::fabs(fp16_to_fp32(reinterpret_cast<const BlockQ4_0*>(w.t.data)[(r * w.t.cols + i) / 32].d));
        a += wi * std::fabs(xd[size_t(j * w.t.cols + i)]);
      }
      s[size_t(j * w.t.rows + r)] = a;
    }
  return s;
}

double g_worst_ratio = 0;  // worst |kernel - reference| / scale seen, for the summary

void compare_kernel(const std::string& kernel, DType type, int64_t rows, int64_t cols, int64_t n) {
  Weight w = make_weight(type, rows, cols);
  std::vector<float> X(size_t(n * cols)), bias(static_cast<size_t>(rows));
  for (auto& v : X) v = uniform(-2.f, 2.f);
  for (auto& v : bias) v = uniform(-1.f, 1.f);
  std::vector<float> ref(size_t(n * rows)), got(size_t(n * rows), NAN);
  force_kernel("scalar");
  matmul(w.t, X.data(), n, ref.data(), bias.data());
  force_kernel(kernel.c_str());
  matmul(w.t, X.data(), n, got.data(), bias.data());
  auto scale = error_scale(w, X, n);
  int bad = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    double err = std::fabs(double(got[i]) - ref[i]), tol = 2e-6 * scale[i] + 1e-6;
    g_worst_ratio = std::max(g_worst_ratio, err / (scale[i] + 1e-30));
    if (!(err <= tol)) ++bad;
  }
  CHECK_MSG(bad == 0, kernel + " " + type_name(type) + " " + std::to_string(rows) + "x" + std::to_string(cols) +
                          " n=" + std::to_string(n) + ": " + std::to_string(bad) + " outputs differ");
  auto packed = pack_weight(w.t);  // null where no family here has a packed product
  if (packed) {                    // packed weights give the same bits
    std::vector<float> p(size_t(n * rows), NAN);
    matmul(w.t, X.data(), n, p.data(), bias.data(), packed.get());
    CHECK_MSG(std::memcmp(p.data(), got.data(), p.size() * 4) == 0,
              kernel + " Q4_0 " + std::to_string(rows) + "x" + std::to_string(cols) + " n=" + std::to_string(n) +
                  ": packed product differs from the plain one");
  }
  if (n == 1) {  // matvec is matmul with one row
    std::vector<float> y(static_cast<size_t>(rows));
    matvec(w.t, X.data(), y.data(), bias.data());
    CHECK_MSG(std::memcmp(y.data(), got.data(), y.size() * 4) == 0, kernel + " matvec != matmul n=1");
  }
}

// Every family's activation quantizer gives the reference blocks, byte for byte (ties and zeros too).
void test_quantizer(const std::string& kernel) {
  const KernelSet* k = find_kernels(kernel.c_str());
  CHECK(k != nullptr);
  if (!k) return;
  const int64_t cols = 256, n = 9;
  std::vector<float> X(size_t(n * cols));
  for (auto& v : X) v = uniform(-3.f, 3.f);
  for (int64_t i = 0; i < cols; ++i) X[size_t(i)] = float(int(rng() % 253) - 126) + 0.5f;  // ties: d = 1
  for (int64_t i = 0; i < cols; i += 32) X[size_t(i)] = 127.f;
  for (int64_t i = 0; i < 32; ++i) X[size_t(cols + i)] = 0.f;                         // all zero
  for (int64_t i = 0; i < 32; ++i) X[size_t(2 * cols + i)] = uniform(-1e-6f, 1e-6f);  // fp16 subnormal d
  std::vector<BlockQ8x> ref(size_t(n * cols / 32)), got(ref.size());
  std::memset(got.data(), 0x55, got.size() * sizeof(BlockQ8x));
  quantize_q8x_ref(X.data(), cols, n, ref.data());
  k->quantize(X.data(), cols, n, got.data());
  int bad = 0;
  for (size_t b = 0; b < ref.size(); ++b) bad += std::memcmp(&ref[b], &got[b], sizeof(BlockQ8x)) != 0;
  CHECK_MSG(bad == 0, kernel + " quantizer: " + std::to_string(bad) + " blocks differ from the reference");
}

// Where the "avx2" family runs its VNNI build, the plain AVX2 build (what CPUs without VNNI run)
// must give the same bits: both are called directly here.
void test_avx2_builds() {
#if defined(__x86_64__) || defined(__i386__)
  if (!cpu_runs_avx2_vnni()) return;
  for (int64_t n : {1, 3, 8, 9})
    for (auto rc : {std::pair<int64_t, int64_t>{29, 256}, {192, 768}, {768, 192}, {5, 32}}) {
      const int64_t rows = rc.first, cols = rc.second, nb = cols / 32;
      Weight w = make_weight(DType::Q4_0, rows, cols);
      auto packed = pack_weight(w.t);
      std::vector<float> X(size_t(n * cols));
      for (auto& v : X) v = uniform(-2.f, 2.f);
      std::vector<BlockQ8x> xq(size_t(n * nb));
      quantize_q8x_ref(X.data(), cols, n, xq.data());
      std::vector<float> y[4];
      for (auto& v : y) v.assign(size_t(n * rows), NAN);
      const auto* wq = static_cast<const BlockQ4_0*>(w.t.data);
      kAvx2Kernels.q4(wq, nb, xq.data(), n, y[0].data(), rows, 0, rows);
      kAvx2VnniKernels.q4(wq, nb, xq.data(), n, y[1].data(), rows, 0, rows);
      kAvx2Kernels.q4x8(packed_blocks(*packed), nb, xq.data(), n, y[2].data(), rows, 0, rows);
      kAvx2VnniKernels.q4x8(packed_blocks(*packed), nb, xq.data(), n, y[3].data(), rows, 0, rows);
      for (int k = 1; k < 4; ++k)
        CHECKF(std::memcmp(y[0].data(), y[k].data(), y[0].size() * 4) == 0, "avx2 builds differ (%d) %lldx%lld n=%lld",
               k, (long long)rows, (long long)cols, (long long)n);
    }
#endif
}

// Integer-valued case: weight scales 1 and activations whose Q8_0 scale is exactly 1, so every
// kernel must give the exact integer sum (catches nibble order and sign mistakes outright).
void exact_integer_case(const std::string& kernel, DType type) {
  const int64_t rows = 37, cols = 256, n = 5;
  std::vector<uint8_t> bytes;
  std::vector<int> wq(size_t(rows * cols));
  if (type == DType::Q4_0) {
    std::vector<BlockQ4_0> b(size_t(rows * cols / 32));
    for (size_t k = 0; k < b.size(); ++k) {
      b[k].d = 0x3c00;
      for (int j = 0; j < 16; ++j) {
        b[k].qs[j] = uint8_t(rng());
        wq[k * 32 + j] = (b[k].qs[j] & 15) - 8;
        wq[k * 32 + j + 16] = (b[k].qs[j] >> 4) - 8;
      }
    }
    bytes.assign(reinterpret_cast<uint8_t*>(b.data()), reinterpret_cast<uint8_t*>(b.data() + b.size()));
  } else {
    std::vector<BlockQ8_0> b(size_t(rows * cols / 32));
    for (size_t k = 0; k < b.size(); ++k) {
      b[k].d = 0x3c00;
      for (int j = 0; j < 32; ++j) wq[k * 32 + j] = b[k].qs[j] = int8_t(rng() % 256 - 128);  // -128 too
    }
    bytes.assign(reinterpret_cast<uint8_t*>(b.data()), reinterpret_cast<uint8_t*>(b.data() + b.size()));
  }
  Tensor t;
  t.name = "exact";
  t.type = type;
  t.rows = rows;
  t.cols = cols;
  t.data = bytes.data();
  t.bytes = bytes.size();
  std::vector<float> X(size_t(n * cols));
  for (size_t i = 0; i < X.size(); ++i) X[i] = float(int(rng() % 255) - 127);
  for (size_t i = 0; i < X.size(); i += 32) X[i + rng() % 32] = (rng() & 1) ? 127.f : -127.f;  // scale 1
  std::vector<float> Y(size_t(n * rows));
  force_kernel(kernel.c_str());
  matmul(t, X.data(), n, Y.data(), nullptr);
  int bad = 0;
  for (int64_t j = 0; j < n; ++j)
    for (int64_t r = 0; r < rows; ++r) {
      long want = 0;
      for (int64_t i = 0; i < cols; ++i) want += long(wq[size_t(r * cols + i)]) * long(X[size_t(j * cols + i)]);
      if (Y[size_t(j * rows + r)] != float(want)) ++bad;
    }
  CHECK_MSG(bad == 0, kernel + " " + type_name(type) + " exact integer sums: " + std::to_string(bad) + " wrong");
}

void test_kernels(const std::vector<std::string>& kernels) {
  const int64_t quant_shapes[][2] = {{1, 32},  {3, 64},    {17, 96},  {67, 192}, {131, 320},
                                     {5, 768}, {33, 1056}, {7, 2048}, {3, 4096}, {200, 128}};
  const int64_t float_shapes[][2] = {{1, 1}, {3, 7}, {19, 80}, {5, 83}, {64, 192}, {9, 333}, {2, 1029}};
  for (const auto& k : kernels) {
    for (int64_t n = 1; n <= 7; ++n) {
      for (auto& s : quant_shapes)
        for (DType t : {DType::Q4_0, DType::Q8_0, DType::F32, DType::F16}) compare_kernel(k, t, s[0], s[1], n);
      for (auto& s : float_shapes)
        for (DType t : {DType::F32, DType::F16}) compare_kernel(k, t, s[0], s[1], n);
    }
    exact_integer_case(k, DType::Q4_0);
    exact_integer_case(k, DType::Q8_0);
    test_quantizer(k);
  }
}

// A product over n rows gives each row the same bits as a product over that row alone, so a
// streaming engine's chunked decoding matches whole-utterance decoding exactly (the activations'
// Q8_0 rounding would otherwise turn last-bit differences into visible ones).
void test_batch_invariance(const std::string& kernel) {
  force_kernel(kernel.c_str());
  for (DType t : {DType::Q4_0, DType::Q8_0, DType::F32, DType::F16}) {
    Weight w = make_weight(t, 45, 320);
    for (int64_t n = 2; n <= 7; ++n) {
      std::vector<float> X(size_t(n * 320)), Y(size_t(n * 45)), y(45);
      for (auto& v : X) v = uniform(-1.f, 1.f);
      matmul(w.t, X.data(), n, Y.data(), nullptr);
      int differ = 0;
      for (int64_t j = 0; j < n; ++j) {
        matvec(w.t, &X[size_t(j * 320)], y.data(), nullptr);
        differ += std::memcmp(y.data(), &Y[size_t(j * 45)], 45 * 4) != 0;
      }
      CHECK_MSG(differ == 0, kernel + " " + type_name(t) + " n=" + std::to_string(n) + ": " + std::to_string(differ) +
                                 " rows differ from their matvec");
    }
  }
}

// Threads split rows, so any thread count gives the same bits.
void test_threads(const std::string& kernel) {
  force_kernel(kernel.c_str());
  for (DType t : {DType::Q4_0, DType::F32}) {
    Weight w = make_weight(t, 301, 512);
    std::vector<float> X(3 * 512), y1(3 * 301), y3(3 * 301);
    for (auto& v : X) v = uniform(-1.f, 1.f);
    set_threads(1);
    matmul(w.t, X.data(), 3, y1.data(), nullptr);
    set_threads(3);
    CHECK(threads() == 3);
    matmul(w.t, X.data(), 3, y3.data(), nullptr);
    matmul(w.t, X.data(), 3, y3.data(), nullptr);  // the pool is reused
    std::vector<float> p3(y3.size(), NAN);
    auto packed = pack_weight(w.t);  // null for F32
    matmul(w.t, X.data(), 3, p3.data(), nullptr, packed.get());
    set_threads(1);
    CHECK_MSG(std::memcmp(y1.data(), y3.data(), y1.size() * 4) == 0, kernel + " 3 threads != 1 thread");
    CHECK_MSG(std::memcmp(y1.data(), p3.data(), y1.size() * 4) == 0, kernel + " 3 threads packed != 1 thread");
  }
}

void test_errors() {
  Tensor t;
  std::vector<uint8_t> bytes(18 * 4);
  t.name = "bad.weight";
  t.type = DType::Q4_0;
  t.rows = 2;
  t.cols = 48;
  t.data = bytes.data();
  float x[48] = {}, y[2];
  CHECK_THROWS(matvec(t, x, y, nullptr), "not a multiple of 32");
  CHECK(!force_kernel("no-such-kernel"));
  CHECK(force_kernel("scalar") && std::string(kernel_name()) == "scalar");
}

}  // namespace

int main() {
  std::vector<std::string> kernels = available_kernel_names();
  const std::string best = kernels.front();
  CHECK(best == kernel_name());
  // Machine-readable for run.sh: the kernel this CPU gets by default.
  std::printf("kernel: %s\n", kernel_name());
  std::printf("available:");
  for (auto& k : kernels) std::printf(" %s", k.c_str());
  std::printf("\n");

  test_fp16();
  test_quantizers();
  test_kernels(kernels);
  for (const auto& k : kernels) test_batch_invariance(k);
  test_threads(best);
  test_avx2_builds();
  test_errors();
  std::printf("worst |kernel - scalar| / sum|terms| = %.3g\n", g_worst_ratio);
  return check::summary("test_kernels");
}
