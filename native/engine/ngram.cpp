#include "ngram.h"

#include <algorithm>
#include <cmath>

#include "gguf.h"  // Error

namespace earshot {

// Contexts are hashed (FNV-1a over the ids and the length); the sentence start is id -1.
uint64_t NgramLm::key(const int* tokens, int n) {
  uint64_t h = 1469598103934665603ull ^ uint64_t(n);
  for (int i = 0; i < n; ++i) h = (h ^ uint64_t(uint32_t(tokens[i] + 2))) * 1099511628211ull;
  return h;
}

NgramLm::NgramLm(const std::vector<std::vector<int>>& sentences, int order, int vocab, int blank)
    : order_(order), vocab_(vocab), blank_(blank) {
  if (order < 2 || order > 8) throw Error("n-gram order must be 2 to 8, not " + std::to_string(order));
  std::vector<int> seq;
  for (const auto& s : sentences) {
    seq.assign(order - 1, -1);  // start of sentence
    for (int t : s) {
      if (t < 0 || t >= vocab || t == blank) throw Error("n-gram text holds a token id out of range");
      seq.push_back(t);
    }
    for (size_t i = order - 1; i < seq.size(); ++i)
      for (int k = 0; k < order; ++k) {  // every context length 0..order-1 before token i
        Ctx& c = ctx_[key(&seq[i - k], k)];
        c.total++;
        auto it = std::find_if(c.next.begin(), c.next.end(), [&](const auto& p) { return p.first == seq[i]; });
        if (it == c.next.end())
          c.next.emplace_back(seq[i], 1);
        else
          it->second++;
      }
  }
}

void NgramLm::logprobs(const int* history, int n, float* out) const {
  std::vector<double> p(vocab_, 1.0 / std::max(1, vocab_ - 1));
  p[blank_] = 0;
  int ctx[8];
  const int want = order_ - 1;
  for (int k = 0; k < want; ++k) ctx[k] = -1;
  for (int k = 0; k < want && k < n; ++k) ctx[want - 1 - k] = history[n - 1 - k];
  for (int k = 0; k <= want; ++k) {  // context lengths 0, 1, ...: the longest seen ends the chain
    auto it = ctx_.find(key(ctx + want - k, k));
    if (it == ctx_.end()) break;
    const Ctx& c = it->second;
    const double T = double(c.next.size()), N = double(c.total);
    for (double& x : p) x *= T / (N + T);
    for (const auto& nx : c.next) p[nx.first] += nx.second / (N + T);
  }
  for (int v = 0; v < vocab_; ++v) out[v] = v == blank_ ? 0.f : float(std::log(std::max(p[v], 1e-30)));
}

}  // namespace earshot
