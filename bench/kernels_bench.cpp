// Kernel benchmark (`npm run bench:kernels`): Q4_0 x Q8_0 products against the engine's own F32 and
// Q8_0 products on the same shapes, single thread, with memcpy bandwidth measured as the roof. Q4_0
// weights are packed as the engine packs them (pack_weight). EARSHOT_VNNI=0 measures x86's plain AVX2
// build where the CPU has AVX-512 VNNI.
// Shapes: the encoder's linears (from a shipped earshot-transducer model given as an argument, else
// the defaults D=192, F=768, S*80=320, 8 layers, chunk 8), 1024x1024, 4096x4096 and 16384x8192 (larger
// than the caches); then a whole encoder pass (every layer's weights in turn) per frame and per chunk.
// The last line is one JSON object.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "gguf.h"
#include "quant.h"
#include "quant_kernels.h"  // cpu_runs_avx2_vnni: which x86 build the "avx2" family runs

using namespace earshot;
using Clock = std::chrono::steady_clock;

namespace {

struct Shape {
  std::string name;
  int64_t rows, cols, n;
};

struct Owned {
  std::vector<uint8_t> bytes;
  Tensor t;
  std::shared_ptr<const PackedWeight> packed;  // Q4_0: as the engine's Linear packs it at load
  void product(const float* x, int64_t n, float* y) const { matmul(t, x, n, y, nullptr, packed.get()); }
};

Owned make(DType type, const std::vector<float>& w, int64_t rows, int64_t cols) {
  Owned o;
  const int64_t count = rows * cols;
  switch (type) {
    case DType::F32:
      o.bytes.resize(size_t(count) * 4);
      memcpy(o.bytes.data(), w.data(), o.bytes.size());
      break;
    case DType::F16: {
      o.bytes.resize(size_t(count) * 2);
      auto* h = reinterpret_cast<uint16_t*>(o.bytes.data());
      for (int64_t i = 0; i < count; ++i) h[i] = fp32_to_fp16(w[size_t(i)]);
      break;
    }
    case DType::Q4_0:
      o.bytes.resize(size_t(count / 32) * sizeof(BlockQ4_0));
      quantize_row_q4_0(w.data(), reinterpret_cast<BlockQ4_0*>(o.bytes.data()), count);
      break;
    case DType::Q8_0:
      o.bytes.resize(size_t(count / 32) * sizeof(BlockQ8_0));
      quantize_row_q8_0(w.data(), reinterpret_cast<BlockQ8_0*>(o.bytes.data()), count);
      break;
  }
  o.t.name = "bench";
  o.t.type = type;
  o.t.rows = rows;
  o.t.cols = cols;
  o.t.data = o.bytes.data();
  o.t.bytes = o.bytes.size();
  o.packed = pack_weight(o.t);
  return o;
}

// Seconds per call of each function: the best of 5 rounds, each call repeated for at least 40 ms
// per round. Rounds interleave the functions so that load from other processes hits all of them
// alike and their ratios stay meaningful on a busy machine.
std::vector<double> time_calls(const std::vector<std::function<void()>>& fs) {
  std::vector<double> best(fs.size(), 1e30);
  for (auto& f : fs) f();  // warm the caches and the page tables
  for (int round = 0; round < 5; ++round)
    for (size_t k = 0; k < fs.size(); ++k) {
      int reps = 0;
      auto t0 = Clock::now();
      double dt;
      do {
        fs[k]();
        ++reps;
        dt = std::chrono::duration<double>(Clock::now() - t0).count();
      } while (dt < 0.04);
      best[k] = std::min(best[k], dt / reps);
    }
  return best;
}

template <typename F>
double time_call(F&& f) {
  return time_calls({std::function<void()>(f)})[0];
}

// memcpy over buffers far larger than the caches: the roof. Counted as bytes copied per second (the
// usual memcpy figure; the memory traffic is at least twice that).
struct CopyRoof {
  static constexpr size_t kBytes = size_t(256) << 20;
  std::vector<uint8_t> a = std::vector<uint8_t>(kBytes, 1), b = std::vector<uint8_t>(kBytes, 2);
  void operator()() { memcpy(b.data(), a.data(), kBytes); }
};

struct EncoderDims {
  int64_t D = 192, F = 768, S = 4, N = 8, C = 8;  // d_model, ff_dim, stack, n_layers, chunk_frames
};

std::vector<Shape> encoder_shapes(int argc, char** argv, EncoderDims* dims) {
  int64_t D = 192, F = 768, S = 4;
  std::string source = "defaults";
  for (int i = 1; i < argc; ++i) {
    try {
      GgufFile f(argv[i]);
      if (f.str("general.architecture") != "earshot-transducer") continue;
      D = f.u32("earshot.d_model");
      F = f.u32("earshot.ff_dim");
      S = f.u32("earshot.stack");
      dims->N = f.u32("earshot.n_layers");
      dims->C = f.u32("earshot.chunk_frames", uint32_t(dims->C));
      source = argv[i];
      break;
    } catch (const Error& e) {
      std::fprintf(stderr, "skipping %s: %s\n", argv[i], e.what());
    }
  }
  dims->D = D;
  dims->F = F;
  dims->S = S;
  std::printf("encoder shapes from %s: D=%lld F=%lld S*80=%lld, %lld layers, chunk %lld\n", source.c_str(),
              (long long)D, (long long)F, (long long)(S * 80), (long long)dims->N, (long long)dims->C);
  return {{"enc.in", D, S * 80, 1}, {"ff.up", F, D, 1},        {"ff.down", D, F, 1},  {"attn.qkv", 3 * D, D, 1},
          {"attn.out", D, D, 1},    {"conv.pw1", 2 * D, D, 1}, {"ff.up n=4", F, D, 4}};
}

// Every linear of the whole encoder, each with its own weights, run in order for one chunk of n
// frames: what the engine does, caches included (a single shape alone stays in L1/L2). Returns
// GFLOP/s for F32, Q8_0 and Q4_0 weights, timed interleaved.
std::vector<double> encoder_pass_gflops(const EncoderDims& e, int64_t n, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.f, 1.f);
  std::vector<std::pair<int64_t, int64_t>> shapes = {{e.D, e.S * 80}};
  for (int64_t l = 0; l < e.N; ++l)
    for (auto rc : std::vector<std::pair<int64_t, int64_t>>{
             {e.F, e.D}, {e.D, e.F}, {3 * e.D, e.D}, {e.D, e.D}, {2 * e.D, e.D}, {e.D, e.D}, {e.F, e.D}, {e.D, e.F}})
      shapes.push_back(rc);
  const DType types[3] = {DType::F32, DType::Q8_0, DType::Q4_0};
  std::vector<std::vector<Owned>> weights(3);
  double flops = 0;
  int64_t widest = 0;
  for (auto& rc : shapes) {
    std::vector<float> w(size_t(rc.first * rc.second));
    for (auto& v : w) v = normal(rng);
    for (int k = 0; k < 3; ++k) weights[size_t(k)].push_back(make(types[k], w, rc.first, rc.second));
    flops += 2.0 * rc.first * rc.second * n;
    widest = std::max(widest, std::max(rc.first, rc.second));
  }
  std::vector<float> x(size_t(n * widest)), y(size_t(n * widest));
  for (auto& v : x) v = normal(rng);
  std::vector<std::function<void()>> calls;
  for (int k = 0; k < 3; ++k)
    calls.push_back([&, k] {
      for (const Owned& o : weights[size_t(k)]) o.product(x.data(), n, y.data());
    });
  std::vector<double> t = time_calls(calls), g;
  for (double tk : t) g.push_back(flops / tk / 1e9);
  return g;
}

}  // namespace

int main(int argc, char** argv) {
  set_threads(1);
  const std::string kernel = kernel_name();
#if defined(__x86_64__) || defined(__i386__)
  const bool vnni = kernel == "avx2" && cpu_runs_avx2_vnni();
#else
  const bool vnni = false;
#endif
  EncoderDims dims;
  std::vector<Shape> shapes = encoder_shapes(argc, argv, &dims);
  shapes.push_back({"1024x1024", 1024, 1024, 1});
  shapes.push_back({"4096x4096", 4096, 4096, 1});
  shapes.push_back({"16384x8192", 16384, 8192, 1});  // Q4_0 weights 75 MB: out of every cache

  CopyRoof roof;
  const double copy = double(CopyRoof::kBytes) / time_call([&] { roof(); });
  std::printf("kernel %s%s, 1 thread, memcpy %.2f GB/s (each shape's Q4/cpy uses a memcpy timed in its rounds)\n",
              kernel.c_str(), vnni ? " (AVX-512 VNNI build)" : "", copy / 1e9);
  std::printf("%-12s %6s %6s %2s | %8s %8s %8s | %8s %8s | %6s %6s %6s\n", "shape", "rows", "cols", "n", "F32", "Q8_0",
              "Q4_0", "Q8 GB/s", "Q4 GB/s", "Q4/F32", "Q4/Q8", "Q4/cpy");
  std::printf("%-12s %6s %6s %2s | %26s | %17s |\n", "", "", "", "", "GFLOP/s", "weight bytes / s");

  std::mt19937 rng(42);
  std::normal_distribution<float> normal(0.f, 1.f);
  std::string json_shapes;
  double q4_vs_f32_4096 = 0, q4_pct_copy_large = 0;
  for (const Shape& s : shapes) {
    std::vector<float> w(size_t(s.rows * s.cols)), x(size_t(s.n * s.cols)), y(size_t(s.n * s.rows));
    for (auto& v : w) v = normal(rng);
    for (auto& v : x) v = normal(rng);
    double gflops[3], gbps[3];
    const DType types[3] = {DType::F32, DType::Q8_0, DType::Q4_0};
    std::vector<Owned> o;
    std::vector<std::function<void()>> calls;
    for (int k = 0; k < 3; ++k) o.push_back(make(types[k], w, s.rows, s.cols));
    for (int k = 0; k < 3; ++k) calls.push_back([&, k] { o[size_t(k)].product(x.data(), s.n, y.data()); });
    calls.push_back([&] { roof(); });
    std::vector<double> t = time_calls(calls);
    const double copy_here = double(CopyRoof::kBytes) / t[3];
    for (int k = 0; k < 3; ++k) {
      gflops[k] = 2.0 * s.rows * s.cols * s.n / t[size_t(k)] / 1e9;
      gbps[k] = double(o[size_t(k)].bytes.size()) / t[size_t(k)] / 1e9;
    }
    const double q4_f32 = gflops[2] / gflops[0], q4_q8 = gflops[2] / gflops[1], q4_copy = gbps[2] * 1e9 / copy_here;
    std::printf("%-12s %6lld %6lld %2lld | %8.2f %8.2f %8.2f | %8.2f %8.2f | %6.2f %6.2f %5.0f%%\n", s.name.c_str(),
                (long long)s.rows, (long long)s.cols, (long long)s.n, gflops[0], gflops[1], gflops[2], gbps[1], gbps[2],
                q4_f32, q4_q8, 100 * q4_copy);
    if (s.name == "4096x4096") q4_vs_f32_4096 = q4_f32;
    if (s.name == "16384x8192") q4_pct_copy_large = q4_copy;
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  "%s{\"shape\":\"%s\",\"rows\":%lld,\"cols\":%lld,\"n\":%lld,\"gflops\":{\"f32\":%.3f,\"q8_0\":%.3f,"
                  "\"q4_0\":%.3f},\"weight_GBps\":{\"f32\":%.3f,\"q8_0\":%.3f,\"q4_0\":%.3f},\"q4_vs_f32\":%.3f,"
                  "\"q4_vs_q8\":%.3f,\"q4_fraction_of_copy\":%.3f}",
                  json_shapes.empty() ? "" : ",", s.name.c_str(), (long long)s.rows, (long long)s.cols, (long long)s.n,
                  gflops[0], gflops[1], gflops[2], gbps[0], gbps[1], gbps[2], q4_f32, q4_q8, q4_copy);
    json_shapes += buf;
  }
  // The whole encoder, frame by frame (n = 1) and chunk by chunk (n = chunk_frames).
  std::string json_pass;
  for (int64_t n : {int64_t(1), dims.C}) {
    std::vector<double> g = encoder_pass_gflops(dims, n, rng);
    std::printf("%-12s %6s %6s %2lld | %8.2f %8.2f %8.2f | %17s | %6.2f %6.2f\n", "encoder pass", "", "", (long long)n,
                g[0], g[1], g[2], "", g[2] / g[0], g[2] / g[1]);
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  "%s{\"n\":%lld,\"gflops\":{\"f32\":%.3f,\"q8_0\":%.3f,\"q4_0\":%.3f},\"q4_vs_f32\":%.3f,"
                  "\"q4_vs_q8\":%.3f}",
                  json_pass.empty() ? "" : ",", (long long)n, g[0], g[1], g[2], g[2] / g[0], g[2] / g[1]);
    json_pass += buf;
  }
  std::printf(
      "{\"bench\":\"kernels\",\"kernel\":\"%s\",\"vnni\":%s,\"threads\":1,\"copy_GBps\":%.3f,\"q4_vs_f32_4096\":%.3f,"
      "\"q4_fraction_of_copy_large\":%.3f,\"encoder_layers\":%lld,\"encoder_pass\":[%s],\"shapes\":[%s]}\n",
      kernel.c_str(), vnni ? "true" : "false", copy / 1e9, q4_vs_f32_4096, q4_pct_copy_large, (long long)dims.N,
      json_pass.c_str(), json_shapes.c_str());
  return 0;
}
