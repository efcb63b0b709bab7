// Personal VAD (docs/model-format.md, "earshot-pvad"): per 10 ms frame, causal, conditioned on the
// enrolled speaker's embedding by FiLM.
#pragma once
#include <memory>
#include <vector>

#include "fbank.h"
#include "gguf.h"
#include "ops.h"

namespace earshot {

struct PvadConfig {
  std::string name, spkenc_name;
  int hidden = 0, embed_dim = 0;
};

class PvadModel {
 public:
  explicit PvadModel(std::shared_ptr<GgufFile> file);
  PvadModel(const PvadConfig& cfg, const TensorLookup& get);
  const PvadConfig& config() const { return cfg_; }
  const GgufFile* file() const { return file_.get(); }

 private:
  friend class PvadStream;
  void load(const TensorLookup& get);
  std::shared_ptr<GgufFile> file_;
  PvadConfig cfg_;
  const float* mean_ = nullptr;
  const float* istd_ = nullptr;
  Linear in_, gamma_, beta_, out_;
  LstmLayer lstm0_, lstm1_;
};

class PvadStream {
 public:
  // embedding: embed_dim floats, or null for nobody enrolled (the zero vector).
  PvadStream(std::shared_ptr<const PvadModel> model, const float* embedding);
  // Appends [non-speech, target, other] posteriors of each completed frame to out.
  void accept(const float* samples, size_t n, std::vector<float>& out);
  void accept_int16(const int16_t* samples, size_t n, std::vector<float>& out);
  // Raw fbank frames [T, 80] (for tests against PyTorch); appends 3 posteriors a frame.
  void accept_fbank(const float* fbank, int64_t T, std::vector<float>& out);
  void reset();

 private:
  void run_ready(std::vector<float>& out);
  std::shared_ptr<const PvadModel> model_;
  Fbank fbank_;
  std::vector<float> scale_, shift_;  // FiLM: 1 + gamma(e), beta(e)
  std::vector<float> h0_, c0_, h1_, c1_, x_, a_, g_, scratch_, feats_;
};

}  // namespace earshot
