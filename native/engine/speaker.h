// Speaker encoder (docs/model-format.md, "earshot-spkenc"): LSTM stack over CMVN'd fbank, one
// embedding per window, their mean L2-normalized.
#pragma once
#include <memory>
#include <vector>

#include "gguf.h"
#include "ops.h"

namespace earshot {

struct SpeakerConfig {
  std::string name;
  int hidden = 0, n_layers = 0, embed_dim = 0, window_frames = 160, window_hop = 80;
};

class SpeakerEncoder {
 public:
  explicit SpeakerEncoder(std::shared_ptr<GgufFile> file);
  SpeakerEncoder(const SpeakerConfig& cfg, const TensorLookup& get);
  const SpeakerConfig& config() const { return cfg_; }
  const GgufFile* file() const { return file_.get(); }
  // Raw fbank frames [T, 80] (CMVN applied here) -> unit embedding [E]. Throws Error if T == 0.
  std::vector<float> embed_fbank(const float* fbank, int64_t T) const;
  // 16 kHz samples in [-1, 1).
  std::vector<float> embed(const float* samples, size_t n) const;

 private:
  void load(const TensorLookup& get);
  std::vector<float> embed_window(const float* feats, int64_t T) const;

  std::shared_ptr<GgufFile> file_;
  SpeakerConfig cfg_;
  const float* mean_ = nullptr;
  const float* istd_ = nullptr;
  std::vector<LstmLayer> lstm_;
  Linear proj_;
};

}  // namespace earshot
