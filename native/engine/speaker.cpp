#include "speaker.h"

#include <cmath>
#include <cstring>

#include "fbank.h"

namespace earshot {

namespace {
void l2_normalize(std::vector<float>& v) {
  double s = 0;
  for (float x : v) s += double(x) * x;
  // F.normalize's eps: a zero vector stays zero.
  float inv = float(1.0 / std::max(std::sqrt(s), 1e-12));
  for (float& x : v) x *= inv;
}
}  // namespace

SpeakerEncoder::SpeakerEncoder(std::shared_ptr<GgufFile> file) : file_(std::move(file)) {
  const GgufFile& f = *file_;
  if (f.str("general.architecture") != "earshot-spkenc")
    throw Error(f.path() + ": not a speaker encoder (general.architecture is " + f.str("general.architecture") + ")");
  if (f.u32("earshot.format_version") != 1)
    throw Error(f.path() + ": unsupported earshot.format_version " + std::to_string(f.u32("earshot.format_version")));
  cfg_.name = f.has("general.name") ? f.str("general.name") : "spkenc";
  cfg_.hidden = f.u32("earshot.hidden");
  cfg_.n_layers = f.u32("earshot.n_layers");
  cfg_.embed_dim = f.u32("earshot.embed_dim");
  cfg_.window_frames = f.u32("earshot.window_frames", 160);
  cfg_.window_hop = f.u32("earshot.window_hop", 80);
  const GgufFile* fp = file_.get();
  load([fp](const std::string& n, int64_t r, int64_t c) -> const Tensor& { return fp->tensor(n, r, c); });
}

SpeakerEncoder::SpeakerEncoder(const SpeakerConfig& cfg, const TensorLookup& get) : cfg_(cfg) { load(get); }

void SpeakerEncoder::load(const TensorLookup& get) {
  const std::string where = file_ ? file_->path() : std::string("speaker encoder");
  if (cfg_.hidden <= 0 || cfg_.n_layers <= 0 || cfg_.n_layers > 16 || cfg_.embed_dim <= 0 || cfg_.window_frames <= 0 ||
      cfg_.window_hop <= 0)
    throw Error(where + ": bad hidden / n_layers / embed_dim / window settings");
  mean_ = f32_data(get, "feat.mean", 1, 80);
  istd_ = f32_data(get, "feat.istd", 1, 80);
  lstm_.resize(cfg_.n_layers);
  for (int l = 0; l < cfg_.n_layers; ++l)
    lstm_[l].load(get, "spk.lstm." + std::to_string(l), l ? cfg_.hidden : 80, cfg_.hidden);
  proj_.load(get, "spk.proj", cfg_.embed_dim, cfg_.hidden);
}

std::vector<float> SpeakerEncoder::embed_window(const float* feats, int64_t T) const {
  const int64_t H = cfg_.hidden;
  std::vector<float> in(feats, feats + T * 80), gates(size_t(T) * 4 * H), out(size_t(T) * H);
  std::vector<float> h(H), c(H), scratch(4 * H);
  for (const LstmLayer& layer : lstm_) {
    // Input projections for all frames at once; the recurrence is a matvec per frame.
    layer.ih.forward(in.data(), T, gates.data());
    std::fill(h.begin(), h.end(), 0.f);
    std::fill(c.begin(), c.end(), 0.f);
    for (int64_t t = 0; t < T; ++t) {
      layer.step(&gates[size_t(t) * 4 * H], h.data(), c.data(), scratch.data());
      std::memcpy(&out[size_t(t) * H], h.data(), H * sizeof(float));
    }
    in.swap(out);
    out.resize(size_t(T) * H);
  }
  std::vector<float> e(cfg_.embed_dim);
  proj_.forward(h.data(), 1, e.data());
  l2_normalize(e);
  return e;
}

std::vector<float> SpeakerEncoder::embed_fbank(const float* fbank, int64_t T) const {
  if (T < 1) throw Error("speaker encoder: the audio is shorter than one 25 ms frame");
  std::vector<float> x(fbank, fbank + T * 80);
  for (int64_t t = 0; t < T; ++t)
    for (int i = 0; i < 80; ++i) x[t * 80 + i] = (x[t * 80 + i] - mean_[i]) * istd_[i];
  const int64_t W = cfg_.window_frames, hop = cfg_.window_hop;
  std::vector<int64_t> starts;
  if (T <= W)
    starts.push_back(0);
  else
    for (int64_t s = 0; s + W <= T; s += hop) starts.push_back(s);
  const int64_t len = std::min(W, T);
  std::vector<float> mean(cfg_.embed_dim, 0.f);
  for (int64_t s : starts) {
    std::vector<float> e = embed_window(&x[s * 80], len);
    for (int i = 0; i < cfg_.embed_dim; ++i) mean[i] += e[i];
  }
  for (float& v : mean) v /= float(starts.size());
  l2_normalize(mean);
  return mean;
}

std::vector<float> SpeakerEncoder::embed(const float* samples, size_t n) const {
  Fbank fb;
  fb.accept(samples, n);
  std::vector<float> f;
  size_t T = fb.take(f);
  return embed_fbank(f.data(), int64_t(T));
}

}  // namespace earshot
