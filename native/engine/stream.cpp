#include "stream.h"

#include <algorithm>
#include <cmath>

namespace earshot {

namespace {
const std::string kSpace = "\xe2\x96\x81";  // U+2581, the word boundary of the token list

std::string piece_text(const std::string& piece) {
  std::string out;
  for (size_t i = 0; i < piece.size();) {
    if (piece.compare(i, kSpace.size(), kSpace) == 0) {
      out += ' ';
      i += kSpace.size();
    } else {
      out += piece[i++];
    }
  }
  return out;
}

std::shared_ptr<const ContextGraph> build_context(const TransducerModel& m, const StreamOptions& opt,
                                                  std::vector<std::string>& rejected) {
  if (opt.hot_phrases.empty()) return nullptr;
  std::vector<ContextGraph::Phrase> phrases;
  for (const auto& hp : opt.hot_phrases) {
    std::vector<int> ids = tokenize_phrase(hp.first, m.config().tokens);
    if (ids.empty())
      rejected.push_back(hp.first);
    else
      phrases.push_back({ids, hp.second});
  }
  return std::make_shared<ContextGraph>(phrases);
}
}  // namespace

std::string join_tokens(const std::vector<std::string>& pieces) {
  std::string s;
  for (const auto& p : pieces) s += piece_text(p);
  size_t a = s.find_first_not_of(' '), z = s.find_last_not_of(' ');
  return a == std::string::npos ? std::string() : s.substr(a, z - a + 1);
}

TransducerStream::TransducerStream(std::shared_ptr<const TransducerModel> model, const StreamOptions& opt)
    : model_(std::move(model)),
      chunk_(opt.chunk_frames > 0 ? opt.chunk_frames : model_->config().chunk_frames),
      tail_samples_(std::max(0, opt.tail_padding_ms) * 16),
      enc_(model_->new_encoder_state()),
      context_(build_context(*model_, opt, rejected_)),
      search_(*model_, opt.beam, context_),
      grammar_search_(
          opt.grammar ? std::make_unique<Search>(*model_, std::max(1, opt.grammar_beam), nullptr, false, opt.grammar)
                      : nullptr) {
  if (grammar_search_) grammar_search_->set_token_bonus(opt.grammar_token_bonus);
  if (opt.lm) search_.set_lm(opt.lm, opt.lm_weight);
}

TransducerStream::TransducerStream(const TransducerStream& o)
    : model_(o.model_),
      chunk_(o.chunk_),
      tail_samples_(o.tail_samples_),
      fbank_(o.fbank_),
      feats_(o.feats_),
      enc_(o.enc_),
      context_(o.context_),
      search_(o.search_),
      grammar_search_(o.grammar_search_ ? std::make_unique<Search>(*o.grammar_search_) : nullptr),
      cif_sum_(o.cif_sum_),
      boundaries_(o.boundaries_),
      samples_(o.samples_),
      eou_(o.eou_) {}

DecodeResult TransducerStream::peek(int pad_ms) const {
  TransducerStream copy(*this);
  copy.tail_samples_ = std::max(0, pad_ms) * 16;
  copy.finalize();
  return copy.result();
}

void TransducerStream::accept(const float* samples, size_t n) {
  fbank_.accept(samples, n);
  samples_ += int64_t(n);
}
void TransducerStream::accept_int16(const int16_t* samples, size_t n) {
  fbank_.accept_int16(samples, n);
  samples_ += int64_t(n);
}

int TransducerStream::decode_ready() {
  size_t old = feats_.size();
  fbank_.take(feats_);
  model_->cmvn(feats_.data() + old, int64_t(feats_.size() - old) / 80);
  const size_t per_chunk = size_t(chunk_) * model_->config().stack * 80;
  int done = 0;
  while (feats_.size() >= per_chunk) done += decode(chunk_);
  return done;
}

void TransducerStream::finalize() {
  if (tail_samples_) {
    std::vector<float> silence(tail_samples_, 0.f);
    fbank_.accept(silence.data(), silence.size());
  }
  decode_ready();
  // Leftover fbank frames short of a whole encoder frame are dropped, as in training.
  int frames = int(feats_.size() / (size_t(model_->config().stack) * 80));
  if (frames) decode(frames);
  feats_.clear();
}

int TransducerStream::decode(int frames) {
  const TransducerConfig& c = model_->config();
  const size_t per_frame = size_t(c.stack) * 80;
  enc_out_.resize(size_t(frames) * c.d_model);
  int64_t first = enc_.frames;
  model_->encode_chunk(enc_, feats_.data(), frames, enc_out_.data());
  feats_.erase(feats_.begin(), feats_.begin() + frames * per_frame);
  search_.decode(enc_out_.data(), frames, first);
  if (grammar_search_) grammar_search_->decode(enc_out_.data(), frames, first);
  if (c.has_cif) {
    for (int t = 0; t < frames; ++t) {
      double before = cif_sum_;
      cif_sum_ += model_->cif_alpha(&enc_out_[size_t(t) * c.d_model]);
      if (std::floor(cif_sum_) > std::floor(before)) boundaries_.push_back((first + t + 1) * model_->frame_seconds());
    }
  }
  if (model_->has_eou())
    for (int t = 0; t < frames; ++t) eou_.push_back(model_->eou_prob(&enc_out_[size_t(t) * c.d_model]));
  return frames;
}

DecodeResult TransducerStream::result() const {
  DecodeResult r;
  const auto& vocab = model_->config().tokens;
  auto spell = [&](const std::vector<Token>& best, std::vector<TokenOut>& out) {
    std::vector<std::string> pieces;
    for (const Token& t : best) {
      pieces.push_back(vocab[t.id]);
      out.push_back(TokenOut{piece_text(vocab[t.id]), t.frame * model_->frame_seconds(), std::exp(t.logp)});
    }
    return join_tokens(pieces);
  };
  double free_score = 0;
  r.text = spell(search_.best(&free_score), r.tokens);
  r.boundaries = boundaries_;
  // the last encoder frame made of accepted audio alone (25 ms fbank window, 10 ms shift)
  const int64_t fbank_frames = samples_ < 400 ? 0 : 1 + (samples_ - 400) / 160;
  const int64_t last = std::min<int64_t>(fbank_frames / model_->config().stack, int64_t(eou_.size())) - 1;
  if (last >= 0) r.end_of_utterance = eou_[size_t(last)];
  if (grammar_search_) {
    r.has_grammar = true;
    double score = -INFINITY;
    std::vector<Token> best = grammar_search_->best(&score);
    r.matched = std::isfinite(score);
    r.sentence_complete = r.matched && grammar_search_->best_complete();
    double top_score = -INFINITY;
    std::vector<Token> top = grammar_search_->top(&top_score, &r.prefix_wildcard);
    if (!top.empty()) {
      std::vector<TokenOut> unused;
      r.has_prefix = true;
      r.prefix = spell(top, unused);
      r.prefix_score = std::min(1.0, std::exp((top_score - free_score) / double(top.size())));
    }
    if (r.matched) {
      r.sentence = spell(best, r.sentence_tokens);
      r.sentence_score = std::min(1.0, std::exp((score - free_score) / std::max<size_t>(1, best.size())));
    }
  }
  return r;
}

void TransducerStream::reset() {
  fbank_.reset();
  feats_.clear();
  enc_ = model_->new_encoder_state();
  search_.reset();
  if (grammar_search_) grammar_search_->reset();
  cif_sum_ = 0;
  boundaries_.clear();
  samples_ = 0;
  eou_.clear();
}

}  // namespace earshot
