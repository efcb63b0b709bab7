#include "transducer.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace earshot {

namespace {
std::string blk(int i, const char* rest) { return "enc.blk." + std::to_string(i) + "." + rest; }

void require(bool ok, const std::string& path, const std::string& what) {
  if (!ok) throw Error(path + ": " + what);
}
}  // namespace

TransducerConfig read_transducer_config(const GgufFile& f) {
  const std::string& p = f.path();
  require(f.str("general.architecture") == "earshot-transducer", p,
          "not a transducer model (general.architecture is " + f.str("general.architecture") + ")");
  require(f.u32("earshot.format_version") == 1, p,
          "unsupported earshot.format_version " + std::to_string(f.u32("earshot.format_version")));
  require(f.u32("earshot.feat.sample_rate") == 16000 && f.u32("earshot.feat.num_mel_bins") == 80, p,
          "features must be 16 kHz, 80 mel bins");
  TransducerConfig c;
  c.name = f.has("general.name") ? f.str("general.name") : "earshot";
  c.vocab = f.u32("earshot.vocab_size");
  c.blank = f.u32("earshot.blank_id");
  c.d_model = f.u32("earshot.d_model");
  c.n_layers = f.u32("earshot.n_layers");
  c.n_heads = f.u32("earshot.n_heads");
  c.ff_dim = f.u32("earshot.ff_dim");
  c.conv_kernel = f.u32("earshot.conv_kernel");
  c.stack = f.u32("earshot.stack");
  c.pred_dim = f.u32("earshot.pred_dim");
  c.pred_context = f.u32("earshot.pred_context");
  c.joiner_dim = f.u32("earshot.joiner_dim");
  c.chunk_frames = f.u32("earshot.chunk_frames");
  c.left_context = f.u32("earshot.left_context_frames");
  c.has_cif = f.boolean("earshot.has_cif", false);
  c.eou_hidden = f.has("earshot.eou_hidden") ? int(f.u32("earshot.eou_hidden")) : 0;
  c.tokens = f.strings("earshot.tokens");
  return c;
}

TransducerModel::TransducerModel(std::shared_ptr<GgufFile> file)
    : file_(std::move(file)), cfg_(read_transducer_config(*file_)) {
  const GgufFile* f = file_.get();
  load([f](const std::string& n, int64_t r, int64_t c) -> const Tensor& { return f->tensor(n, r, c); });
  // Packed weights are what the products read; the file's copy would only add to the RSS.
  auto release = [f](const Linear& l) {
    if (l.packed) f->release_pages(l.w->data, l.w->bytes);
  };
  release(enc_in_);
  for (const Block& b : blocks_)
    for (const Linear* l : {&b.ff1_up, &b.ff1_down, &b.qkv, &b.attn_out, &b.pw1, &b.pw2, &b.ff2_up, &b.ff2_down})
      release(*l);
  for (const Linear* l : {&pred_ctx_, &join_enc_, &join_pred_, &join_out_}) release(*l);
}

TransducerModel::TransducerModel(const TransducerConfig& cfg, const TensorLookup& get) : cfg_(cfg) { load(get); }

void TransducerModel::load(const TensorLookup& get) {
  const TransducerConfig& c = cfg_;
  const std::string where = file_ ? file_->path() : std::string("model");
  require(c.vocab > 1 && c.blank >= 0 && c.blank < c.vocab, where, "bad vocab_size / blank_id");
  require(
      int(c.tokens.size()) == c.vocab, where,
      "earshot.tokens has " + std::to_string(c.tokens.size()) + " entries, vocab_size is " + std::to_string(c.vocab));
  require(c.d_model > 0 && c.n_heads > 0 && c.d_model % c.n_heads == 0, where,
          "d_model must be a positive multiple of n_heads");
  require(c.n_layers > 0 && c.n_layers <= 64 && c.ff_dim > 0 && c.conv_kernel > 0 && c.conv_kernel <= 64, where,
          "bad n_layers / ff_dim / conv_kernel");
  require(c.stack > 0 && c.stack <= 16 && c.pred_dim > 0 && c.pred_context > 0 && c.pred_context <= 8 &&
              c.joiner_dim > 0 && c.chunk_frames > 0 && c.chunk_frames <= 1000,
          where, "bad stack / pred_dim / pred_context / joiner_dim / chunk_frames");
  // The attention cache holds L frames per layer for the whole stream: keep it bounded.
  require(c.left_context >= 0 && c.left_context <= 10000, where,
          "left_context_frames " + std::to_string(c.left_context) + " is out of range (0..10000)");

  const int D = c.d_model, F = c.ff_dim, K = c.conv_kernel;
  mean_ = f32_data(get, "feat.mean", 1, 80);
  istd_ = f32_data(get, "feat.istd", 1, 80);
  enc_in_.load(get, "enc.in", D, int64_t(c.stack) * 80);
  blocks_.resize(c.n_layers);
  for (int i = 0; i < c.n_layers; ++i) {
    Block& b = blocks_[i];
    b.ff1_norm.load(get, blk(i, "ff1.norm"), D);
    b.ff1_up.load(get, blk(i, "ff1.up"), F, D);
    b.ff1_down.load(get, blk(i, "ff1.down"), D, F);
    b.attn_norm.load(get, blk(i, "attn.norm"), D);
    b.qkv.load(get, blk(i, "attn.qkv"), 3 * D, D);
    b.attn_out.load(get, blk(i, "attn.out"), D, D);
    b.conv_norm.load(get, blk(i, "conv.norm"), D);
    b.pw1.load(get, blk(i, "conv.pw1"), 2 * D, D);
    b.dw_w = f32_data(get, blk(i, "conv.dw.weight"), D, K);
    b.dw_b = f32_data(get, blk(i, "conv.dw.bias"), 1, D);
    b.dw_t.resize(size_t(K) * D);
    for (int d = 0; d < D; ++d)
      for (int k = 0; k < K; ++k) b.dw_t[size_t(k) * D + d] = b.dw_w[size_t(d) * K + k];
    b.dw_norm.load(get, blk(i, "conv.dwnorm"), D);
    b.pw2.load(get, blk(i, "conv.pw2"), D, D);
    b.ff2_norm.load(get, blk(i, "ff2.norm"), D);
    b.ff2_up.load(get, blk(i, "ff2.up"), F, D);
    b.ff2_down.load(get, blk(i, "ff2.down"), D, F);
    b.out_norm.load(get, blk(i, "out_norm"), D);
  }
  const int P = c.pred_dim, J = c.joiner_dim;
  embed_ = f32_data(get, "pred.embed.weight", c.vocab, P);
  pred_ctx_.load(get, "pred.ctx", P, int64_t(c.pred_context) * P);
  join_enc_.load(get, "join.enc", J, D);
  join_pred_.load(get, "join.pred", J, P);
  join_out_.load(get, "join.out", c.vocab, J);
  if (c.has_cif) {
    cif_w_ = f32_data(get, "cif.weight", 1, D);
    cif_b_ = f32_data(get, "cif.bias", 1, 1);
  }
  require(c.eou_hidden >= 0 && c.eou_hidden <= 4096, where, "bad eou_hidden");
  if (c.eou_hidden) {
    eou_w1_ = f32_data(get, "eou.fc1.weight", c.eou_hidden, D);
    eou_b1_ = f32_data(get, "eou.fc1.bias", 1, c.eou_hidden);
    eou_w2_ = f32_data(get, "eou.fc2.weight", 1, c.eou_hidden);
    eou_b2_ = f32_data(get, "eou.fc2.bias", 1, 1);
  }
}

TransducerModel::EncoderState TransducerModel::new_encoder_state() const {
  EncoderState st;
  const size_t D = cfg_.d_model;
  st.k.resize(cfg_.n_layers);
  st.v.resize(cfg_.n_layers);
  st.conv.assign(cfg_.n_layers, std::vector<float>((cfg_.conv_kernel - 1) * D, 0.f));
  return st;
}

void TransducerModel::cmvn(float* x, int64_t frames) const {
  for (int64_t t = 0; t < frames; ++t, x += 80)
    for (int i = 0; i < 80; ++i) x[i] = (x[i] - mean_[i]) * istd_[i];
}

std::vector<float> TransducerModel::encode_audio(const float* samples, size_t n, int chunk_frames) const {
  if (chunk_frames < 1) throw Error("encode_audio: chunk_frames must be at least 1");
  Fbank fb;
  fb.accept(samples, n);
  std::vector<float> f;
  const size_t frames = fb.take(f);
  cmvn(f.data(), int64_t(frames));
  const int S = cfg_.stack, D = cfg_.d_model;
  const int T = int(frames / size_t(S));
  std::vector<float> out(size_t(T) * D);
  EncoderState st = new_encoder_state();
  for (int t = 0; t < T; t += chunk_frames)
    encode_chunk(st, &f[size_t(t) * S * 80], std::min(chunk_frames, T - t), out.data() + size_t(t) * D);
  return out;
}

void TransducerModel::run_blocks(EncoderState& st, float* x, int T, const std::vector<int>& lo,
                                 const std::vector<int>& hi, int keep) const {
  const int D = cfg_.d_model, F = cfg_.ff_dim, K = cfg_.conv_kernel, H = cfg_.n_heads, dh = D / H;
  const int M = st.cached + T;  // keys: cache, then the new frames
  const float scale = 1.f / std::sqrt(float(dh));
  // Scratch kept per thread: a stream decodes chunk after chunk without allocating.
  thread_local std::vector<float> t, u, att, scores, seq;
  t.resize(size_t(T) * D);
  u.resize(size_t(T) * std::max(F, 3 * D));
  att.resize(size_t(T) * D);
  scores.resize(M);
  seq.resize(size_t(K - 1 + T) * D);

  auto feed_forward = [&](const LayerNorm& norm, const Linear& up, const Linear& down) {
    norm.forward(x, T, t.data());
    up.forward(t.data(), T, u.data());
    swish_inplace(u.data(), int64_t(T) * F);
    down.forward(u.data(), T, att.data());
    for (size_t i = 0; i < size_t(T) * D; ++i) x[i] += 0.5f * att[i];
  };

  for (int l = 0; l < cfg_.n_layers; ++l) {
    const Block& b = blocks_[l];
    feed_forward(b.ff1_norm, b.ff1_up, b.ff1_down);

    // Self-attention over the cached left context and the chunk.
    b.attn_norm.forward(x, T, t.data());
    b.qkv.forward(t.data(), T, u.data());
    // The cache grows by the chunk's keys and values in place, then keeps its last `keep` frames.
    std::vector<float>& keys = st.k[l];
    std::vector<float>& vals = st.v[l];
    keys.resize(size_t(M) * D);
    vals.resize(size_t(M) * D);
    for (int i = 0; i < T; ++i) {
      std::memcpy(&keys[size_t(st.cached + i) * D], &u[size_t(i) * 3 * D + D], D * sizeof(float));
      std::memcpy(&vals[size_t(st.cached + i) * D], &u[size_t(i) * 3 * D + 2 * D], D * sizeof(float));
    }
    for (int i = 0; i < T; ++i) {
      const float* q = &u[size_t(i) * 3 * D];
      float* o = &t[size_t(i) * D];
      for (int h = 0; h < H; ++h)
        attend(q + h * dh, &keys[size_t(lo[i]) * D + h * dh], &vals[size_t(lo[i]) * D + h * dh], D, hi[i] - lo[i], dh,
               scale, scores.data(), o + h * dh);
    }
    b.attn_out.forward(t.data(), T, att.data());
    for (size_t i = 0; i < size_t(T) * D; ++i) x[i] += att[i];
    const int kept = std::min(keep, M);
    keys.erase(keys.begin(), keys.begin() + size_t(M - kept) * D);
    vals.erase(vals.begin(), vals.begin() + size_t(M - kept) * D);

    // Convolution module; the depthwise convolution is causal, its history cached.
    b.conv_norm.forward(x, T, t.data());
    b.pw1.forward(t.data(), T, u.data());
    std::copy(st.conv[l].begin(), st.conv[l].end(), seq.begin());
    for (int i = 0; i < T; ++i) {
      const float* g = &u[size_t(i) * 2 * D];
      glu(g, g + D, D, &seq[size_t(K - 1 + i) * D]);
    }
    // acc = bias, then + w[k] * input t-K+1+k for k in order: along D, so it vectorizes
    for (int i = 0; i < T; ++i) {
      float* o = &t[size_t(i) * D];
      std::copy(b.dw_b, b.dw_b + D, o);
      for (int k = 0; k < K; ++k) {
        const float* w = &b.dw_t[size_t(k) * D];
        const float* in = &seq[size_t(i + k) * D];
        for (int d = 0; d < D; ++d) o[d] += w[d] * in[d];
      }
    }
    st.conv[l].assign(seq.begin() + size_t(T) * D, seq.end());
    b.dw_norm.forward(t.data(), T, t.data());
    swish_inplace(t.data(), int64_t(T) * D);
    b.pw2.forward(t.data(), T, att.data());
    for (size_t i = 0; i < size_t(T) * D; ++i) x[i] += att[i];

    feed_forward(b.ff2_norm, b.ff2_up, b.ff2_down);
    b.out_norm.forward(x, T, x);
  }
  st.cached = std::min(keep, M);
  st.frames += T;
}

void TransducerModel::encode_chunk(EncoderState& st, const float* stacked, int T, float* out) const {
  if (T <= 0) return;
  enc_in_.forward(stacked, T, out);
  thread_local std::vector<int> lo, hi;  // no allocation per chunk
  lo.assign(T, 0);
  hi.assign(T, st.cached + T);
  run_blocks(st, out, T, lo, hi, cfg_.left_context);
}

void TransducerModel::encode_masked(const float* stacked, int T, int C, int L, float* out) const {
  if (T <= 0) return;
  EncoderState st = new_encoder_state();
  enc_in_.forward(stacked, T, out);
  std::vector<int> lo(T), hi(T);
  for (int i = 0; i < T; ++i) {
    lo[i] = std::max(0, (i / C) * C - L);
    hi[i] = std::min(T, (i / C + 1) * C);
  }
  run_blocks(st, out, T, lo, hi, 0);
}

void TransducerModel::predict(const int* history, float* join_pred) const {
  const int P = cfg_.pred_dim, n = cfg_.pred_context;
  std::vector<float> e(size_t(n) * P), p(P);
  for (int i = 0; i < n; ++i) std::memcpy(&e[size_t(i) * P], embed_ + size_t(history[i]) * P, P * sizeof(float));
  pred_ctx_.forward(e.data(), 1, p.data());
  for (float& v : p) v = std::max(v, 0.f);
  join_pred_.forward(p.data(), 1, join_pred);
}

void TransducerModel::join_encoder(const float* enc, int T, float* join_enc) const {
  join_enc_.forward(enc, T, join_enc);
}

void TransducerModel::joint(const float* join_enc, const float* join_pred, float* logp) const {
  const int J = cfg_.joiner_dim;
  float h[1024];
  std::vector<float> big;
  float* hp = h;
  if (J > 1024) {
    big.resize(J);
    hp = big.data();
  }
  for (int j = 0; j < J; ++j) hp[j] = std::tanh(join_enc[j] + join_pred[j]);
  join_out_.forward(hp, 1, logp);
  log_softmax_inplace(logp, cfg_.vocab);
}

float TransducerModel::cif_alpha(const float* enc) const {
  if (!cif_w_) return 0.f;
  float s = cif_b_[0];
  for (int d = 0; d < cfg_.d_model; ++d) s += cif_w_[d] * enc[d];
  return sigmoid(s);
}

float TransducerModel::eou_prob(const float* enc) const {
  if (!eou_w1_) return 0.f;
  const int D = cfg_.d_model;
  float s = eou_b2_[0];
  for (int h = 0; h < cfg_.eou_hidden; ++h) {
    const float* w = eou_w1_ + size_t(h) * D;
    float a = eou_b1_[h];
    for (int d = 0; d < D; ++d) a += w[d] * enc[d];
    s += eou_w2_[h] * std::max(a, 0.f);
  }
  return sigmoid(s);
}

}  // namespace earshot
