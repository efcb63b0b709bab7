// One recognition stream: audio -> fbank -> CMVN -> stacked chunks -> encoder -> search.
// Not thread safe; the addon serializes calls on its worker.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "fbank.h"
#include "search.h"
#include "transducer.h"

namespace earshot {

struct StreamOptions {
  int chunk_frames = 0;  // 0: the model's default
  int beam = 1;          // 1: greedy
  // Silence appended at finalize(): a streaming model emits the last tokens some frames after their
  // audio, so a segment cut right after the speech would lose them.
  int tail_padding_ms = 500;
  std::vector<std::pair<std::string, float>> hot_phrases;  // phrase, boost per token
  // Sentences: a second search restricted to them runs beside the unrestricted one.
  std::shared_ptr<const Grammar> grammar;
  int grammar_beam = 8;
  float grammar_token_bonus = 0;  // Search::set_token_bonus of the restricted search
  // Shallow fusion of an n-gram model in the unrestricted search (Search::set_lm).
  std::shared_ptr<const NgramLm> lm;
  float lm_weight = 0;
};

struct TokenOut {
  std::string text;
  double start = 0;  // seconds from the stream's start
  float conf = 0;
};

struct DecodeResult {
  std::string text;
  std::vector<TokenOut> tokens;
  std::vector<double> boundaries;  // CIF token boundaries in seconds (models with a CIF head)
  // With a grammar: the best whole sentence (matched false when no hypothesis is one), and how its
  // path score compares with the unrestricted path's: exp(difference per sentence token), <= 1.
  bool has_grammar = false, matched = false;
  std::string sentence;
  std::vector<TokenOut> sentence_tokens;
  double sentence_score = 0;
  // With a grammar: the restricted search's best hypothesis is a sentence nothing can continue.
  bool sentence_complete = false;
  // With a grammar: the restricted search's top-ranked hypothesis, a sentence or a prefix of one
  // (has_prefix false when it is empty), and its score against the unrestricted path as
  // sentence_score. A good prefix that is no complete sentence: the speaker has more to say.
  bool has_prefix = false, prefix_wildcard = false;  // wildcard: inside free text, anything may follow
  std::string prefix;
  double prefix_score = 0;
  // With an end-of-utterance head: p(the utterance is over) at the last encoder frame of the audio
  // accepted so far (padding excluded); -1 without a head or before the first frame.
  float end_of_utterance = -1;
};

class TransducerStream {
 public:
  TransducerStream(std::shared_ptr<const TransducerModel> model, const StreamOptions& opt);
  void accept(const float* samples, size_t n);  // [-1, 1)
  void accept_int16(const int16_t* samples, size_t n);
  // Encodes and searches every complete chunk; returns the encoder frames decoded.
  int decode_ready();
  // Decodes what is left (a shorter last chunk); later audio needs reset() first.
  void finalize();
  DecodeResult result() const;
  // The result finalize() would give now with pad_ms of silence after the audio so far, decoded on
  // a copy: this stream goes on unchanged. A streaming model emits a word's last tokens some frames
  // after its audio; the padding brings them out without waiting for real audio.
  DecodeResult peek(int pad_ms) const;
  void reset();
  int64_t encoder_frames() const { return enc_.frames; }
  // Phrases that could not be tokenized with the model's vocabulary.
  const std::vector<std::string>& rejected_phrases() const { return rejected_; }

 private:
  int decode(int frames);
  TransducerStream(const TransducerStream& other);  // for peek()

  std::shared_ptr<const TransducerModel> model_;
  int chunk_;
  int tail_samples_;
  Fbank fbank_;
  std::vector<float> feats_;  // CMVN'd fbank frames not yet encoded
  TransducerModel::EncoderState enc_;
  std::vector<std::string> rejected_;  // filled while context_ is built: declared before it
  std::shared_ptr<const ContextGraph> context_;
  Search search_;
  std::unique_ptr<Search> grammar_search_;
  double cif_sum_ = 0;
  std::vector<double> boundaries_;
  int64_t samples_ = 0;     // accepted audio (finalize's padding not counted)
  std::vector<float> eou_;  // end-of-utterance probability per encoder frame
  std::vector<float> enc_out_;
};

// Joins token strings: "▁" becomes a space, the result trimmed.
std::string join_tokens(const std::vector<std::string>& pieces);

}  // namespace earshot
