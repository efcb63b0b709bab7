#include "pvad.h"

#include <algorithm>

namespace earshot {

PvadModel::PvadModel(std::shared_ptr<GgufFile> file) : file_(std::move(file)) {
  const GgufFile& f = *file_;
  if (f.str("general.architecture") != "earshot-pvad")
    throw Error(f.path() + ": not a personal VAD model (general.architecture is " + f.str("general.architecture") +
                ")");
  if (f.u32("earshot.format_version") != 1)
    throw Error(f.path() + ": unsupported earshot.format_version " + std::to_string(f.u32("earshot.format_version")));
  cfg_.name = f.has("general.name") ? f.str("general.name") : "pvad";
  cfg_.spkenc_name = f.has("earshot.spkenc_name") ? f.str("earshot.spkenc_name") : "";
  cfg_.hidden = f.u32("earshot.hidden");
  cfg_.embed_dim = f.u32("earshot.embed_dim");
  const GgufFile* fp = file_.get();
  load([fp](const std::string& n, int64_t r, int64_t c) -> const Tensor& { return fp->tensor(n, r, c); });
}

PvadModel::PvadModel(const PvadConfig& cfg, const TensorLookup& get) : cfg_(cfg) { load(get); }

void PvadModel::load(const TensorLookup& get) {
  const std::string where = file_ ? file_->path() : std::string("pvad");
  if (cfg_.hidden <= 0 || cfg_.embed_dim <= 0) throw Error(where + ": bad hidden / embed_dim");
  const int H = cfg_.hidden, E = cfg_.embed_dim;
  mean_ = f32_data(get, "feat.mean", 1, 80);
  istd_ = f32_data(get, "feat.istd", 1, 80);
  in_.load(get, "pvad.in", H, 80);
  lstm0_.load(get, "pvad.lstm.0", H, H);
  gamma_.load(get, "pvad.film.gamma", H, E);
  beta_.load(get, "pvad.film.beta", H, E);
  lstm1_.load(get, "pvad.lstm.1", H, H);
  out_.load(get, "pvad.out", 3, H);
}

PvadStream::PvadStream(std::shared_ptr<const PvadModel> model, const float* embedding) : model_(std::move(model)) {
  const int H = model_->cfg_.hidden, E = model_->cfg_.embed_dim;
  std::vector<float> e(E, 0.f);
  if (embedding) std::copy(embedding, embedding + E, e.begin());
  scale_.resize(H);
  shift_.resize(H);
  model_->gamma_.forward(e.data(), 1, scale_.data());
  for (float& v : scale_) v += 1.f;
  model_->beta_.forward(e.data(), 1, shift_.data());
  x_.resize(80);
  a_.resize(H);
  g_.resize(4 * H);
  scratch_.resize(4 * H);
  reset();
}

void PvadStream::reset() {
  const int H = model_->cfg_.hidden;
  fbank_.reset();
  h0_.assign(H, 0.f);
  c0_.assign(H, 0.f);
  h1_.assign(H, 0.f);
  c1_.assign(H, 0.f);
}

void PvadStream::accept(const float* samples, size_t n, std::vector<float>& out) {
  fbank_.accept(samples, n);
  run_ready(out);
}

void PvadStream::accept_int16(const int16_t* samples, size_t n, std::vector<float>& out) {
  fbank_.accept_int16(samples, n);
  run_ready(out);
}

void PvadStream::run_ready(std::vector<float>& out) {
  feats_.clear();
  size_t T = fbank_.take(feats_);
  accept_fbank(feats_.data(), int64_t(T), out);
}

void PvadStream::accept_fbank(const float* fbank, int64_t T, std::vector<float>& out) {
  const PvadModel& m = *model_;
  const int H = m.cfg_.hidden;
  for (int64_t t = 0; t < T; ++t) {
    for (int i = 0; i < 80; ++i) x_[i] = (fbank[t * 80 + i] - m.mean_[i]) * m.istd_[i];
    m.in_.forward(x_.data(), 1, a_.data());
    for (float& v : a_) v = std::max(v, 0.f);
    m.lstm0_.ih.forward(a_.data(), 1, g_.data());
    m.lstm0_.step(g_.data(), h0_.data(), c0_.data(), scratch_.data());
    for (int k = 0; k < H; ++k) a_[k] = h0_[k] * scale_[k] + shift_[k];
    m.lstm1_.ih.forward(a_.data(), 1, g_.data());
    m.lstm1_.step(g_.data(), h1_.data(), c1_.data(), scratch_.data());
    float p[3];
    m.out_.forward(h1_.data(), 1, p);
    softmax_inplace(p, 3);
    out.insert(out.end(), p, p + 3);
  }
}

}  // namespace earshot
