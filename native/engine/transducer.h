// Streaming transducer (docs/model-format.md, "earshot-transducer"): chunked Conformer encoder with
// per-layer attention and convolution caches, stateless predictor, joiner, optional CIF head.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fbank.h"
#include "gguf.h"
#include "ops.h"

namespace earshot {

struct TransducerConfig {
  std::string name;
  int vocab = 0, blank = 0, d_model = 0, n_layers = 0, n_heads = 0, ff_dim = 0, conv_kernel = 0;
  int stack = 4, pred_dim = 0, pred_context = 2, joiner_dim = 0;
  int chunk_frames = 16, left_context = 64;
  bool has_cif = false;
  int eou_hidden = 0;  // end-of-utterance head's hidden units; 0: the file has none
  std::vector<std::string> tokens;
};

class TransducerModel {
 public:
  // From a validated model file (kept mapped by the model).
  explicit TransducerModel(std::shared_ptr<GgufFile> file);
  // From any tensor table (tests build random models in memory); get must outlive the model.
  TransducerModel(const TransducerConfig& cfg, const TensorLookup& get);

  const TransducerConfig& config() const { return cfg_; }
  const GgufFile* file() const { return file_.get(); }
  int feat_dim() const { return 80; }
  double frame_seconds() const { return 0.01 * cfg_.stack; }

  struct EncoderState {
    std::vector<std::vector<float>> k, v;  // per layer: the last <= L frames' keys / values, [n, D]
    std::vector<std::vector<float>> conv;  // per layer: the last K-1 GLU outputs, [K-1, D]
    int cached = 0;                        // frames in k / v
    int64_t frames = 0;                    // encoder frames produced so far
  };
  EncoderState new_encoder_state() const;

  // CMVN'd, stacked features [T, S*80] of one chunk -> encoder output [T, D]; every frame of the
  // chunk sees the whole chunk and the cached left context (the training mask, exactly).
  void encode_chunk(EncoderState& st, const float* stacked, int T, float* out) const;
  // Whole utterance at once with the explicit chunk mask (chunk C, left context L): the reference
  // that chunked decoding must reproduce.
  void encode_masked(const float* stacked, int T, int C, int L, float* out) const;

  // Encoder output [T, D] of whole audio (16 kHz, [-1, 1)): fbank, CMVN, stacks of `stack` frames
  // (T = fbank frames / stack, a partial stack dropped), then encode_chunk chunk_frames at a time from
  // a fresh state, as a stream decodes them. For tests and benchmarks (the addon's debugEncode).
  std::vector<float> encode_audio(const float* samples, size_t n, int chunk_frames) const;

  // Applies CMVN to fbank frames in place.
  void cmvn(float* fbank, int64_t frames) const;

  // Predictor + joiner's predictor projection for a history of pred_context tokens (oldest first).
  void predict(const int* history, float* join_pred) const;
  void join_encoder(const float* enc, int T, float* join_enc) const;  // [T, J]
  // log-probabilities [V] from one encoder projection and one predictor projection.
  void joint(const float* join_enc, const float* join_pred, float* logp) const;
  // CIF weight alpha_t for one encoder frame (has_cif only).
  float cif_alpha(const float* enc) const;
  bool has_eou() const { return cfg_.eou_hidden > 0; }
  // p(the utterance is over) at one encoder frame: the end-of-utterance head (has_eou only; 0 without).
  float eou_prob(const float* enc) const;

 private:
  struct Block {
    LayerNorm ff1_norm, attn_norm, conv_norm, dw_norm, ff2_norm, out_norm;
    Linear ff1_up, ff1_down, qkv, attn_out, pw1, pw2, ff2_up, ff2_down;
    const float* dw_w = nullptr;
    const float* dw_b = nullptr;
    std::vector<float> dw_t;  // dw_w transposed, [K, D]: the convolution runs along D
  };
  void load(const TensorLookup& get);
  // One pass through all blocks for T new frames; query i sees keys [lo[i], hi[i]) of the
  // key array formed by the cache followed by the new frames.
  void run_blocks(EncoderState& st, float* x, int T, const std::vector<int>& lo, const std::vector<int>& hi,
                  int keep) const;

  std::shared_ptr<GgufFile> file_;
  TransducerConfig cfg_;
  const float* mean_ = nullptr;
  const float* istd_ = nullptr;
  Linear enc_in_;
  std::vector<Block> blocks_;
  const float* embed_ = nullptr;
  Linear pred_ctx_, join_enc_, join_pred_, join_out_;
  const float* cif_w_ = nullptr;
  const float* cif_b_ = nullptr;
  const float* eou_w1_ = nullptr;  // [H, D]
  const float* eou_b1_ = nullptr;
  const float* eou_w2_ = nullptr;  // [1, H]
  const float* eou_b2_ = nullptr;
};

TransducerConfig read_transducer_config(const GgufFile& f);

}  // namespace earshot
