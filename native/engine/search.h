// Transducer searches over encoder outputs: greedy and modified beam search (equal prefixes merged),
// both at most 3 symbols a frame, the beam with contextual biasing of hot phrases.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "grammar.h"
#include "ngram.h"
#include "transducer.h"

namespace earshot {

struct Token {
  int id = 0;
  int64_t frame = 0;  // encoder frame that emitted it
  float logp = 0;     // its log-posterior there
};

// Hot phrases as a token trie with failure links (Aho-Corasick). A path earns `boost` per matched
// token while it follows a phrase; if the match breaks, the unfinished part is taken back.
class ContextGraph {
 public:
  struct Phrase {
    std::vector<int> tokens;
    float boost;
  };
  explicit ContextGraph(const std::vector<Phrase>& phrases);
  // Next state after `token` from `state`; *delta gets the score change (may be negative).
  int step(int state, int token, float* delta) const;
  // Provisional boost held in `state`, taken back when a hypothesis ends there.
  float pending(int state) const { return nodes_[state].acc - nodes_[state].banked; }
  size_t size() const { return nodes_.size(); }

 private:
  struct Node {
    std::map<int, int> next;
    int fail = 0;
    float acc = 0;     // boost earned along the path from the root
    float banked = 0;  // part of acc from phrases completed on this path (kept on a break)
    bool end = false;
  };
  std::vector<Node> nodes_;
};

// Splits a phrase into token ids by greedy longest match: lower case, words joined by "▁" (and a
// leading "▁" when the vocabulary has word-initial pieces). Empty when a character has no token.
std::vector<int> tokenize_phrase(const std::string& phrase, const std::vector<std::string>& vocab);

class Search {
 public:
  static constexpr int kMaxSymbols = 3;  // per encoder frame
  // beam 1 runs greedy search unless greedy_when_one is false (tests: the beam code with one path
  // must find the greedy result).
  // With a grammar, every hypothesis stays a prefix of a sentence it accepts (beam code even at 1).
  Search(const TransducerModel& model, int beam, std::shared_ptr<const ContextGraph> context,
         bool greedy_when_one = true, std::shared_ptr<const Grammar> grammar = nullptr);
  // A copy that goes on from this search's hypotheses (TransducerStream::peek). It shares the
  // grammar's lazily built view (so both must be used from one thread) and starts with an empty
  // prediction cache.
  Search(const Search& other);
  Search& operator=(const Search&) = delete;
  // Decodes T encoder frames [T, D], the first being stream frame first_frame.
  void decode(const float* enc, int T, int64_t first_frame);
  // Best hypothesis so far (boosts of unfinished phrases taken back).
  // With a grammar: the best hypothesis that is a whole sentence (empty and *score -inf if none).
  std::vector<Token> best(double* score = nullptr) const;
  // With a grammar: the top-ranked hypothesis (whole sentence or not) is a sentence that nothing can
  // continue (GrammarDfa::complete). False without a grammar.
  bool best_complete() const;
  // The top-ranked hypothesis, whole sentence or not, and its score as best() reports it (a grammar
  // search's prefix, compared with the unrestricted path by TransducerStream::result).
  // *wildcard: its grammar state is inside or before free text (GrammarDfa::in_wildcard).
  std::vector<Token> top(double* score, bool* wildcard) const;
  void reset();
  // Log-probability added per token when hypotheses are ranked (not to the score best() reports): a
  // grammar search with a bonus keeps up with the speech instead of favouring the hypotheses that
  // put off emitting tokens.
  void set_token_bonus(float bonus) { token_bonus_ = bonus; }
  // Shallow fusion: weight * log P_lm(token | tokens before) joins every token's score (greedy and
  // beam); best() reports the score without it.
  void set_lm(std::shared_ptr<const NgramLm> lm, float weight) {
    lm_ = std::move(lm);
    lm_weight_ = weight;
  }

 private:
  struct Hyp {
    std::vector<Token> tokens;
    double score = 0;
    int ctx = 0;
    int g = 0;                              // GrammarDfa state
    double lm = 0;                          // the language model's part of score (equal on merged paths: same tokens)
    uint64_t key = 1469598103934665603ull;  // hash of the token ids, to merge equal prefixes
  };
  const float* pred_for(const std::vector<Token>& tokens);
  void greedy_frame(const float* join_enc, int64_t frame);
  void beam_frame(const float* join_enc, int64_t frame);

  const TransducerModel& model_;
  int beam_;
  bool greedy_when_one_;
  float token_bonus_ = 0;
  std::shared_ptr<const NgramLm> lm_;
  float lm_weight_ = 0;
  std::vector<float> lm_logp_;
  std::vector<int> lm_hist_;
  const float* lm_for(const std::vector<Token>& tokens);
  std::shared_ptr<const ContextGraph> context_;
  std::shared_ptr<GrammarDfa> dfa_;
  std::vector<Hyp> hyps_;
  std::map<std::vector<int>, std::vector<float>> pred_cache_;  // history -> join.pred output
  std::vector<float> join_enc_, logp_;
};

}  // namespace earshot
