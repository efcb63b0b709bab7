// A random transducer held in memory (no file), for the engine's own tests.
#pragma once
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "quant.h"
#include "transducer.h"

struct RandomTransducer {
  earshot::TransducerConfig cfg;
  std::map<std::string, earshot::Tensor> table;
  std::vector<std::unique_ptr<std::vector<uint8_t>>> storage;
  std::shared_ptr<earshot::TransducerModel> model;

  // weights: "f32" or "q4_0" for the linear weights; everything else F32.
  // eou_hidden > 0: with an end-of-utterance head of that many hidden units.
  explicit RandomTransducer(const std::string& weights, int left_context = 8, uint32_t seed = 1, int eou_hidden = 0) {
    cfg.name = "random";
    cfg.vocab = 29;
    cfg.d_model = 64;
    cfg.n_layers = 2;
    cfg.n_heads = 4;
    cfg.ff_dim = 128;
    cfg.conv_kernel = 5;
    cfg.stack = 4;
    cfg.pred_dim = 32;
    cfg.pred_context = 2;
    cfg.joiner_dim = 64;
    cfg.chunk_frames = 4;
    cfg.left_context = left_context;
    cfg.has_cif = true;
    cfg.tokens = {"<blk>", "\xe2\x96\x81"};
    for (char c = 'a'; c <= 'z'; ++c) cfg.tokens.push_back(std::string(1, c));
    cfg.tokens.push_back("'");
    std::mt19937 rng(seed);
    const int D = cfg.d_model, F = cfg.ff_dim;
    auto vec = [&](const std::string& n, int64_t rows, int64_t cols, float mean, float scale) {
      add(n, rows, cols, "f32", rng, mean, scale);
    };
    auto lin = [&](const std::string& n, int64_t out, int64_t in) {
      add(n + ".weight", out, in, weights, rng, 0.f, 1.f / std::sqrt(float(in)));
      vec(n + ".bias", 1, out, 0.f, 0.1f);
    };
    auto norm = [&](const std::string& n) {
      vec(n + ".weight", 1, D, 1.f, 0.1f);
      vec(n + ".bias", 1, D, 0.f, 0.1f);
    };
    vec("feat.mean", 1, 80, 10.f, 1.f);
    vec("feat.istd", 1, 80, 0.25f, 0.02f);
    lin("enc.in", D, 4 * 80);
    for (int i = 0; i < cfg.n_layers; ++i) {
      std::string p = "enc.blk." + std::to_string(i) + ".";
      for (const char* ff : {"ff1", "ff2"}) {
        norm(p + ff + ".norm");
        lin(p + ff + ".up", F, D);
        lin(p + ff + ".down", D, F);
      }
      norm(p + "attn.norm");
      lin(p + "attn.qkv", 3 * D, D);
      lin(p + "attn.out", D, D);
      norm(p + "conv.norm");
      lin(p + "conv.pw1", 2 * D, D);
      vec(p + "conv.dw.weight", D, cfg.conv_kernel, 0.f, 0.4f);
      vec(p + "conv.dw.bias", 1, D, 0.f, 0.1f);
      norm(p + "conv.dwnorm");
      lin(p + "conv.pw2", D, D);
      norm(p + "out_norm");
    }
    vec("pred.embed.weight", cfg.vocab, cfg.pred_dim, 0.f, 1.f);
    lin("pred.ctx", cfg.pred_dim, 2 * cfg.pred_dim);
    lin("join.enc", cfg.joiner_dim, D);
    lin("join.pred", cfg.joiner_dim, cfg.pred_dim);
    lin("join.out", cfg.vocab, cfg.joiner_dim);
    vec("cif.weight", 1, D, 0.f, 0.2f);
    vec("cif.bias", 1, 1, -1.f, 0.f);
    cfg.eou_hidden = eou_hidden;
    if (eou_hidden) {
      vec("eou.fc1.weight", eou_hidden, D, 0.f, 1.f / std::sqrt(float(D)));
      vec("eou.fc1.bias", 1, eou_hidden, 0.f, 0.1f);
      vec("eou.fc2.weight", 1, eou_hidden, 0.f, 1.f / std::sqrt(float(eou_hidden)));
      vec("eou.fc2.bias", 1, 1, 0.f, 0.1f);
    }
    // Scale the joiner output so the random model emits tokens, not only blanks.
    scale_f32("join.out.bias", 3.f);
    model = std::make_shared<earshot::TransducerModel>(cfg, lookup());
  }

  earshot::TensorLookup lookup() const {
    return [this](const std::string& n, int64_t r, int64_t c) -> const earshot::Tensor& {
      auto it = table.find(n);
      if (it == table.end()) throw earshot::Error("missing tensor " + n);
      if (it->second.rows != r || it->second.cols != c) throw earshot::Error("bad shape for " + n);
      return it->second;
    };
  }

  void scale_f32(const std::string& n, float k) {
    earshot::Tensor& t = table.at(n);
    float* p = const_cast<float*>(static_cast<const float*>(t.data));
    for (int64_t i = 0; i < t.rows * t.cols; ++i) p[i] *= k;
  }

  void add(const std::string& n, int64_t rows, int64_t cols, const std::string& type, std::mt19937& rng, float mean,
           float scale) {
    std::normal_distribution<float> dist(mean, scale);
    std::vector<float> v(size_t(rows * cols));
    for (float& x : v) x = dist(rng);
    earshot::Tensor t;
    t.name = n;
    t.rows = rows;
    t.cols = cols;
    auto buf = std::make_unique<std::vector<uint8_t>>();
    if (type == "q4_0") {
      t.type = earshot::DType::Q4_0;
      buf->resize(size_t(rows * cols / 32) * sizeof(earshot::BlockQ4_0));
      for (int64_t r = 0; r < rows; ++r)
        earshot::quantize_row_q4_0(&v[size_t(r * cols)],
                                   reinterpret_cast<earshot::BlockQ4_0*>(buf->data()) + r * cols / 32, cols);
    } else {
      t.type = earshot::DType::F32;
      buf->resize(v.size() * 4);
      std::memcpy(buf->data(), v.data(), v.size() * 4);
    }
    t.data = buf->data();
    t.bytes = buf->size();
    storage.push_back(std::move(buf));
    table[n] = t;
  }
};
