// fp16, the reference quantizers, the scalar reference kernels, run-time kernel choice and the
// optional row-splitting thread pool.
#include "quant.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "quant_kernels.h"

#if defined(__linux__) && (defined(__aarch64__) || defined(__arm__))
#include <sys/auxv.h>
#endif
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace earshot {

float fp16_to_fp32(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ff, bits;
  if (e == 0) {
    float f = float(m) * 5.9604644775390625e-8f;  // subnormal: m * 2^-24, exact
    return sign ? -f : f;
  }
  if (e == 31)
    bits = sign | 0x7f800000u | (m << 13);
  else
    bits = sign | ((e + 112) << 23) | (m << 13);
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

// Round to nearest, ties to even (what numpy, torch and F16C do).
uint16_t fp32_to_fp16(float f) {
  uint32_t x;
  memcpy(&x, &f, 4);
  uint16_t sign = uint16_t((x >> 16) & 0x8000);
  uint32_t ax = x & 0x7fffffffu;
  if (ax >= 0x7f800000u)  // inf, or nan kept quiet with its top payload bits
    return sign | 0x7c00 | (ax > 0x7f800000u ? 0x200 | ((ax >> 13) & 0x3ff) : 0);
  if (ax >= 0x477ff000u) return sign | 0x7c00;  // >= 65520 rounds to inf
  uint32_t e = ax >> 23, m = ax & 0x7fffff;
  if (e >= 113) {  // normal half
    uint32_t h = ((e - 112) << 10) | (m >> 13), rest = m & 0x1fff;
    h += rest > 0x1000 || (rest == 0x1000 && (h & 1));
    return sign | uint16_t(h);
  }
  if (e < 102) return sign;                       // below half the smallest subnormal
  uint32_t full = m | 0x800000, shift = 126 - e;  // 14..24
  uint32_t h = full >> shift, rest = full & ((1u << shift) - 1), half = 1u << (shift - 1);
  h += rest > half || (rest == half && (h & 1));
  return sign | uint16_t(h);
}

void quantize_row_q4_0(const float* x, BlockQ4_0* y, int64_t n) {
  for (int64_t b = 0; b < n / kBlock; ++b, x += kBlock) {
    float amax = 0.f, max = 0.f;
    for (int i = 0; i < kBlock; ++i)
      if (std::fabs(x[i]) > amax) {  // strict: the first of equal magnitudes wins
        amax = std::fabs(x[i]);
        max = x[i];
      }
    const float d = max / -8.f, id = d != 0.f ? 1.f / d : 0.f;
    y[b].d = fp32_to_fp16(d);
    for (int j = 0; j < kBlock / 2; ++j) {
      int lo = std::min(15, int(x[j] * id + 8.5f)), hi = std::min(15, int(x[j + 16] * id + 8.5f));
      y[b].qs[j] = uint8_t(lo | (hi << 4));
    }
  }
}

void quantize_row_q8_0(const float* x, BlockQ8_0* y, int64_t n) {
  for (int64_t b = 0; b < n / kBlock; ++b, x += kBlock) {
    float amax = 0.f;
    for (int i = 0; i < kBlock; ++i) amax = std::max(amax, std::fabs(x[i]));
    const float d = amax / 127.f, id = d != 0.f ? 1.f / d : 0.f;
    y[b].d = fp32_to_fp16(d);
    for (int i = 0; i < kBlock; ++i) y[b].qs[i] = int8_t(std::round(x[i] * id));
  }
}

void dequantize_row_q4_0(const BlockQ4_0* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kBlock; ++b, y += kBlock) {
    const float d = fp16_to_fp32(x[b].d);
    for (int j = 0; j < kBlock / 2; ++j) {
      y[j] = float((x[b].qs[j] & 0xF) - 8) * d;
      y[j + 16] = float((x[b].qs[j] >> 4) - 8) * d;
    }
  }
}

void dequantize_row_q8_0(const BlockQ8_0* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kBlock; ++b, y += kBlock) {
    const float d = fp16_to_fp32(x[b].d);
    for (int i = 0; i < kBlock; ++i) y[i] = float(x[b].qs[i]) * d;
  }
}

// ---- scalar reference kernels: the definition every SIMD kernel is tested against ----------------

namespace {

void q4_scalar(const BlockQ4_0* w, int64_t nb, const BlockQ8x* x, int64_t n, float* y, int64_t ldy, int64_t r0,
               int64_t r1) {
  for (int64_t r = r0; r < r1; ++r) {
    const BlockQ4_0* wr = w + r * nb;
    for (int64_t j = 0; j < n; ++j) {
      const BlockQ8x* xj = x + j * nb;
      float acc = 0.f;
      for (int64_t b = 0; b < nb; ++b) {
        int32_t sumi = 0;
        for (int i = 0; i < 16; ++i) {
          sumi += ((wr[b].qs[i] & 0xF) - 8) * xj[b].qs[i];
          sumi += ((wr[b].qs[i] >> 4) - 8) * xj[b].qs[i + 16];
        }
        acc += fp16_to_fp32(wr[b].d) * xj[b].d * float(sumi);
      }
      y[j * ldy + r] = acc;
    }
  }
}

void q8_scalar(const BlockQ8_0* w, int64_t nb, const BlockQ8x* x, int64_t n, float* y, int64_t ldy, int64_t r0,
               int64_t r1) {
  for (int64_t r = r0; r < r1; ++r) {
    const BlockQ8_0* wr = w + r * nb;
    for (int64_t j = 0; j < n; ++j) {
      const BlockQ8x* xj = x + j * nb;
      float acc = 0.f;
      for (int64_t b = 0; b < nb; ++b) {
        int32_t sumi = 0;
        for (int i = 0; i < kBlock; ++i) sumi += wr[b].qs[i] * xj[b].qs[i];
        acc += fp16_to_fp32(wr[b].d) * xj[b].d * float(sumi);
      }
      y[j * ldy + r] = acc;
    }
  }
}

void f32_scalar(const float* w, int64_t cols, const float* x, int64_t n, float* y, int64_t ldy, int64_t r0,
                int64_t r1) {
  for (int64_t r = r0; r < r1; ++r)
    for (int64_t j = 0; j < n; ++j) {
      float acc = 0.f;
      for (int64_t i = 0; i < cols; ++i) acc += w[r * cols + i] * x[j * cols + i];
      y[j * ldy + r] = acc;
    }
}

void f16_scalar(const uint16_t* w, int64_t cols, const float* x, int64_t n, float* y, int64_t ldy, int64_t r0,
                int64_t r1) {
  for (int64_t r = r0; r < r1; ++r)
    for (int64_t j = 0; j < n; ++j) {
      float acc = 0.f;
      for (int64_t i = 0; i < cols; ++i) acc += fp16_to_fp32(w[r * cols + i]) * x[j * cols + i];
      y[j * ldy + r] = acc;
    }
}

}  // namespace

void quantize_q8x_ref(const float* x, int64_t cols, int64_t n, BlockQ8x* out) {
  const int64_t nb = cols / kBlock;
  BlockQ8_0 tmp;
  for (int64_t j = 0; j < n; ++j)
    for (int64_t b = 0; b < nb; ++b) {
      quantize_row_q8_0(x + j * cols + b * kBlock, &tmp, kBlock);
      BlockQ8x& o = out[j * nb + b];
      o.d = fp16_to_fp32(tmp.d);
      int32_t sum = 0;
      for (int i = 0; i < kBlock; ++i) sum += tmp.qs[i];
      o.offset8 = -8 * sum;
      memcpy(o.qs, tmp.qs, kBlock);
    }
}

const KernelSet kScalarKernels = {"scalar", quantize_q8x_ref, q4_scalar, nullptr, q8_scalar, f32_scalar, f16_scalar};

// ---- run-time choice ------------------------------------------------------------------------------

namespace {

bool cpu_has_avx2() {
#if defined(__x86_64__) || defined(__i386__)
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
  const bool fma = c & (1u << 12), osxsave = c & (1u << 27), avx = c & (1u << 28), f16c = c & (1u << 29);
  if (!(fma && osxsave && avx && f16c)) return false;
  unsigned xcr0_lo, xcr0_hi;
  __asm__("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
  if ((xcr0_lo & 6) != 6) return false;  // the OS saves the YMM registers
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  return b & (1u << 5);  // AVX2
#else
  return false;
#endif
}

// AVX-512 VNNI with VL and BW (Zen 4 and later, Ice Lake and later), with the OS saving the
// AVX-512 state.
bool cpu_has_avx512vnni() {
#if defined(__x86_64__) || defined(__i386__)
  if (!cpu_has_avx2()) return false;
  unsigned a, b, c, d;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  const bool f = b & (1u << 16), bw = b & (1u << 30), vl = b & (1u << 31), vnni = c & (1u << 11);
  if (!(f && bw && vl && vnni)) return false;
  unsigned xcr0_lo, xcr0_hi;
  __asm__("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
  return (xcr0_lo & 0xe6) == 0xe6;  // YMM, opmask, ZMM upper halves, ZMM16-31
#else
  return false;
#endif
}

}  // namespace

bool cpu_runs_avx2_vnni() {
  static const bool yes = [] {
    const char* env = std::getenv("EARSHOT_VNNI");  // "0": the plain AVX2 build, for comparisons
    return cpu_has_avx512vnni() && !(env && std::strcmp(env, "0") == 0);
  }();
  return yes;
}

namespace {

bool cpu_has_dotprod() {
#if defined(__linux__) && defined(__aarch64__)
  return (getauxval(AT_HWCAP) & (1ul << 20)) != 0;  // HWCAP_ASIMDDP
#else
  return false;
#endif
}

// Best first.
std::vector<const KernelSet*> available_kernels() {
  std::vector<const KernelSet*> out;
#if defined(__x86_64__) || defined(__i386__)
  if (cpu_runs_avx2_vnni())
    out.push_back(&kAvx2VnniKernels);
  else if (cpu_has_avx2())
    out.push_back(&kAvx2Kernels);
#endif
#if defined(__aarch64__)
  if (cpu_has_dotprod()) out.push_back(&kNeonDotprodKernels);
#endif
#if defined(__ARM_NEON)
  out.push_back(&kNeonKernels);
#endif
  out.push_back(&kScalarKernels);
  return out;
}

std::atomic<const KernelSet*> g_active{nullptr};

const KernelSet& active() {
  const KernelSet* k = g_active.load(std::memory_order_acquire);
  if (k) return *k;
  auto all = available_kernels();
  k = all.front();
  // EARSHOT_KERNEL lets a deployment or a test pin a family without rebuilding.
  if (const char* want = std::getenv("EARSHOT_KERNEL"))
    for (const KernelSet* c : all)
      if (std::strcmp(c->name, want) == 0) k = c;
  g_active.store(k, std::memory_order_release);
  return *k;
}

}  // namespace

const char* kernel_name() { return active().name; }

const KernelSet* find_kernels(const char* name) {
  for (const KernelSet* k : available_kernels())
    if (std::strcmp(k->name, name) == 0) return k;
  return nullptr;
}

bool force_kernel(const char* name) {
  for (const KernelSet* k : available_kernels())
    if (std::strcmp(k->name, name) == 0) {
      g_active.store(k, std::memory_order_release);
      return true;
    }
  return false;
}

std::vector<std::string> available_kernel_names() {
  std::vector<std::string> out;
  for (const KernelSet* k : available_kernels()) out.push_back(k->name);
  return out;
}

// ---- thread pool ----------------------------------------------------------------------------------

namespace {

// A fixed set of workers that each run one slice of a job; the calling thread runs slice 0.
class Pool {
 public:
  explicit Pool(int n) {
    for (int i = 1; i < n; ++i) workers_.emplace_back([this, i] { loop(i); });
  }
  ~Pool() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
  }
  int size() const { return int(workers_.size()) + 1; }

  void run(const std::function<void(int)>& job) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      job_ = &job;
      pending_ = int(workers_.size());
      ++generation_;
    }
    wake_.notify_all();
    job(0);
    std::unique_lock<std::mutex> lock(mu_);
    done_.wait(lock, [this] { return pending_ == 0; });
    job_ = nullptr;
  }

 private:
  void loop(int slice) {
    uint64_t seen = 0;
    for (;;) {
      const std::function<void(int)>* job;
      {
        std::unique_lock<std::mutex> lock(mu_);
        wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
        if (stop_) return;
        seen = generation_;
        job = job_;
      }
      (*job)(slice);
      std::lock_guard<std::mutex> lock(mu_);
      if (--pending_ == 0) done_.notify_one();
    }
  }

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable wake_, done_;
  const std::function<void(int)>* job_ = nullptr;
  int pending_ = 0;
  uint64_t generation_ = 0;
  bool stop_ = false;
};

std::mutex g_pool_mu;  // one product at a time may use the pool
std::unique_ptr<Pool> g_pool;
std::atomic<int> g_threads{1};

// Below this many multiply-adds a product is not worth waking other threads for.
constexpr int64_t kMinParallelWork = int64_t(1) << 17;

}  // namespace

void set_threads(int n) {
  n = std::max(1, std::min(n, 64));
  std::lock_guard<std::mutex> lock(g_pool_mu);
  g_pool.reset(n > 1 ? new Pool(n) : nullptr);
  g_threads.store(n);
}

int threads() { return g_threads.load(); }

// ---- packed weights -------------------------------------------------------------------------------

struct PackedWeight {
  std::vector<uint8_t> bytes;  // BlockQ4x8 groups, from the first 64-byte boundary in bytes
  const BlockQ4x8* blocks = nullptr;
  int64_t rows = 0, cols = 0;
  const void* source = nullptr;  // the weight it was made from
};

std::shared_ptr<const PackedWeight> pack_weight(const Tensor& W) {
  if (W.type != DType::Q4_0 || W.rows <= 0 || W.cols <= 0 || W.cols % kBlock || !W.data) return nullptr;
  // Only where a family this CPU runs has a packed product (else it would be memory for nothing).
  static const bool useful = [] {
    for (const KernelSet* k : available_kernels())
      if (k->q4x8) return true;
    return false;
  }();
  if (!useful) return nullptr;
  auto p = std::make_shared<PackedWeight>();
  const int64_t nb = W.cols / kBlock, groups = (W.rows + 7) / 8;
  p->bytes.assign(size_t(groups * nb) * sizeof(BlockQ4x8) + 64, 0);
  uint8_t* at = p->bytes.data();
  at += (64 - reinterpret_cast<uintptr_t>(at) % 64) % 64;
  BlockQ4x8* out = reinterpret_cast<BlockQ4x8*>(at);
  const BlockQ4_0* w = static_cast<const BlockQ4_0*>(W.data);
  for (int64_t g = 0; g < groups; ++g)
    for (int64_t b = 0; b < nb; ++b) {
      BlockQ4x8& o = out[g * nb + b];
      for (int i = 0; i < 8; ++i) {
        const int64_t r = g * 8 + i;
        if (r >= W.rows) continue;  // padding rows: scale 0, nibbles 0
        const BlockQ4_0& src = w[r * nb + b];
        o.d[i] = fp16_to_fp32(src.d);
        // src.qs[j] holds weights j (low) and j + 16 (high): the same split as the packed vectors.
        for (int k = 0; k < 4; ++k)
          for (int t = 0; t < 4; ++t) o.qs[32 * k + 4 * i + t] = src.qs[4 * k + t];
      }
    }
  p->blocks = out;
  p->rows = W.rows;
  p->cols = W.cols;
  p->source = W.data;
  return p;
}

const BlockQ4x8* packed_blocks(const PackedWeight& p) { return p.blocks; }

// ---- public products ------------------------------------------------------------------------------

namespace {

void check_weight(const Tensor& W) {
  if (W.rows <= 0 || W.cols <= 0 || !W.data) throw Error("tensor '" + W.name + "': empty weight in a product");
  if ((W.type == DType::Q4_0 || W.type == DType::Q8_0) && W.cols % kBlock)
    throw Error("tensor '" + W.name + "': quantized weight with " + std::to_string(W.cols) +
                " columns, not a multiple of 32");
  if (W.type != DType::F32 && W.type != DType::F16 && W.type != DType::Q4_0 && W.type != DType::Q8_0)
    throw Error("tensor '" + W.name + "': unsupported weight type in a product");
}

}  // namespace

void matmul(const Tensor& W, const float* X, int64_t n, float* Y, const float* bias, const PackedWeight* packed) {
  check_weight(W);
  if (n <= 0) return;
  const KernelSet& k = active();
  const int64_t rows = W.rows, cols = W.cols, nb = cols / kBlock;
  if (packed && (packed->source != W.data || packed->rows != rows || packed->cols != cols))
    throw Error("tensor '" + W.name + "': packed weight made from another tensor");
  const bool use_packed = packed && W.type == DType::Q4_0 && k.q4x8;
  thread_local std::vector<BlockQ8x> xq;
  if (W.type == DType::Q4_0 || W.type == DType::Q8_0) {
    if (xq.size() < size_t(nb * n)) xq.resize(size_t(nb * n));
    k.quantize(X, cols, n, xq.data());
  }
  const BlockQ8x* xqp = xq.data();  // workers must not name the thread_local (each has its own)

  auto slice = [&](int64_t r0, int64_t r1) {
    switch (W.type) {
      case DType::Q4_0:
        if (use_packed)
          k.q4x8(packed->blocks, nb, xqp, n, Y, rows, r0, r1);
        else
          k.q4(static_cast<const BlockQ4_0*>(W.data), nb, xqp, n, Y, rows, r0, r1);
        break;
      case DType::Q8_0:
        k.q8(static_cast<const BlockQ8_0*>(W.data), nb, xqp, n, Y, rows, r0, r1);
        break;
      case DType::F32:
        k.f32(static_cast<const float*>(W.data), cols, X, n, Y, rows, r0, r1);
        break;
      case DType::F16:
        k.f16(static_cast<const uint16_t*>(W.data), cols, X, n, Y, rows, r0, r1);
        break;
    }
  };

  const int nt = g_threads.load(std::memory_order_relaxed);
  std::unique_lock<std::mutex> pool_lock(g_pool_mu, std::defer_lock);
  if (nt > 1 && rows >= 2 * nt && rows * cols * n >= kMinParallelWork && pool_lock.try_lock() && g_pool) {
    const int parts = g_pool->size();
    // Packed groups of 8 rows stay whole (a split inside one would decode it twice).
    const int64_t unit = use_packed ? 8 : 1, units = (rows + unit - 1) / unit;
    std::function<void(int)> job = [&](int s) {
      // Slices of whole rows, so every thread count gives bit-identical output.
      slice(std::min(rows, units * s / parts * unit), std::min(rows, units * (s + 1) / parts * unit));
    };
    g_pool->run(job);
  } else {
    slice(0, rows);
  }
  if (bias)
    for (int64_t j = 0; j < n; ++j)
      for (int64_t r = 0; r < rows; ++r) Y[j * rows + r] += bias[r];
}

void matvec(const Tensor& W, const float* x, float* y, const float* bias, const PackedWeight* packed) {
  matmul(W, x, 1, y, bias, packed);
}

}  // namespace earshot
