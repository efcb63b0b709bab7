// A small n-gram language model over the transducer's tokens (characters and the word space), for
// shallow fusion in the open-vocabulary search. Counts are kept; probabilities come from
// Witten-Bell interpolation down to a uniform distribution, so every token keeps some probability.
#pragma once
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace earshot {

class NgramLm {
 public:
  // sentences: token ids (no blank); order: tokens of context + 1 (2..8).
  NgramLm(const std::vector<std::vector<int>>& sentences, int order, int vocab, int blank);
  // log P(token | history) for every token into out[vocab] (out[blank] = 0); history holds the
  // sentence's tokens so far, oldest first (only the last order-1 are read).
  void logprobs(const int* history, int n, float* out) const;
  int order() const { return order_; }
  size_t contexts() const { return ctx_.size(); }

 private:
  struct Ctx {
    uint32_t total = 0;
    std::vector<std::pair<int, uint32_t>> next;  // token, count
  };
  static uint64_t key(const int* tokens, int n);
  std::unordered_map<uint64_t, Ctx> ctx_;
  int order_, vocab_, blank_;
};

}  // namespace earshot
