#include "search.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <deque>

namespace earshot {

ContextGraph::ContextGraph(const std::vector<Phrase>& phrases) {
  nodes_.emplace_back();
  for (const Phrase& p : phrases) {
    int n = 0;
    for (int tok : p.tokens) {
      auto it = nodes_[n].next.find(tok);
      int child;
      if (it == nodes_[n].next.end()) {
        child = int(nodes_.size());
        nodes_[n].next[tok] = child;
        nodes_.emplace_back();
        nodes_[child].acc = nodes_[n].acc + p.boost;
      } else {
        child = it->second;
        nodes_[child].acc = std::max(nodes_[child].acc, nodes_[n].acc + p.boost);
      }
      n = child;
    }
    if (n) nodes_[n].end = true;
  }
  // Breadth first: failure link = longest proper suffix that is also a prefix in the trie.
  std::deque<int> queue;
  for (auto& kv : nodes_[0].next) queue.push_back(kv.second);
  while (!queue.empty()) {
    int n = queue.front();
    queue.pop_front();
    for (auto& kv : nodes_[n].next) {
      int child = kv.second;
      int f = nodes_[n].fail;
      while (f && !nodes_[f].next.count(kv.first)) f = nodes_[f].fail;
      auto it = nodes_[f].next.find(kv.first);
      nodes_[child].fail = (it != nodes_[f].next.end() && it->second != child) ? it->second : 0;
      queue.push_back(child);
    }
  }
  // banked of a node: the acc of the deepest completed phrase on its own path.
  queue.push_back(0);
  while (!queue.empty()) {
    int n = queue.front();
    queue.pop_front();
    for (auto& kv : nodes_[n].next) {
      Node& c = nodes_[kv.second];
      c.banked = c.end ? c.acc : nodes_[n].banked;
      queue.push_back(kv.second);
    }
  }
}

int ContextGraph::step(int state, int token, float* delta) const {
  const Node& from = nodes_[state];
  auto it = from.next.find(token);
  int to;
  float kept = 0;
  if (it != from.next.end()) {
    to = it->second;
  } else {
    // The match broke: keep the completed phrases, fall back along failure links.
    kept = from.banked;
    int f = from.fail;
    while (f && !nodes_[f].next.count(token)) f = nodes_[f].fail;
    auto jt = nodes_[f].next.find(token);
    to = jt != nodes_[f].next.end() ? jt->second : 0;
  }
  *delta = nodes_[to].acc - from.acc + kept;
  // A finished phrase with nothing longer to match banks its boost by returning to the root.
  if (nodes_[to].end && nodes_[to].next.empty()) to = 0;
  return to;
}

std::vector<int> tokenize_phrase(const std::string& phrase, const std::vector<std::string>& vocab) {
  static const std::string kSpace = "\xe2\x96\x81";  // U+2581
  std::string text;
  bool in_word = false;
  for (char ch : phrase) {
    if (std::isspace(static_cast<unsigned char>(ch))) {
      in_word = false;
      continue;
    }
    if (!in_word && !text.empty()) text += kSpace;
    in_word = true;
    text += char(std::tolower(static_cast<unsigned char>(ch)));
  }
  bool word_pieces = false;
  for (const auto& t : vocab)
    if (t.size() > kSpace.size() && t.compare(0, kSpace.size(), kSpace) == 0) word_pieces = true;
  if (word_pieces) text = kSpace + text;
  std::vector<int> ids;
  size_t at = 0;
  while (at < text.size()) {
    int best = -1;
    size_t best_len = 0;
    for (size_t id = 0; id < vocab.size(); ++id) {
      const std::string& t = vocab[id];
      if (t.size() > best_len && text.compare(at, t.size(), t) == 0 && t != "<blk>") {
        best = int(id);
        best_len = t.size();
      }
    }
    if (best < 0) return {};
    ids.push_back(best);
    at += best_len;
  }
  return ids;
}

Search::Search(const TransducerModel& model, int beam, std::shared_ptr<const ContextGraph> context,
               bool greedy_when_one, std::shared_ptr<const Grammar> grammar)
    : model_(model),
      beam_(std::max(1, beam)),
      greedy_when_one_(greedy_when_one && !grammar),
      context_(std::move(context)),
      dfa_(grammar ? std::make_shared<GrammarDfa>(std::move(grammar)) : nullptr) {
  reset();
}

Search::Search(const Search& o)
    : model_(o.model_),
      beam_(o.beam_),
      greedy_when_one_(o.greedy_when_one_),
      token_bonus_(o.token_bonus_),
      lm_(o.lm_),
      lm_weight_(o.lm_weight_),
      context_(o.context_),
      dfa_(o.dfa_),
      hyps_(o.hyps_) {}

void Search::reset() {
  hyps_.assign(1, Hyp{});
  if (dfa_) dfa_->trim(100000);  // bounded: subsets explored by past utterances are dropped when many
  pred_cache_.clear();
}

const float* Search::pred_for(const std::vector<Token>& tokens) {
  const TransducerConfig& c = model_.config();
  std::vector<int> history(c.pred_context, c.blank);
  for (int i = 0; i < c.pred_context && i < int(tokens.size()); ++i)
    history[c.pred_context - 1 - i] = tokens[tokens.size() - 1 - i].id;
  auto it = pred_cache_.find(history);
  if (it != pred_cache_.end()) return it->second.data();
  if (pred_cache_.size() > 4096) pred_cache_.clear();  // bounded: histories are few and short
  std::vector<float>& out = pred_cache_[history];
  out.resize(c.joiner_dim);
  model_.predict(history.data(), out.data());
  return out.data();
}

void Search::decode(const float* enc, int T, int64_t first_frame) {
  const TransducerConfig& c = model_.config();
  join_enc_.resize(size_t(T) * c.joiner_dim);
  logp_.resize(c.vocab);
  model_.join_encoder(enc, T, join_enc_.data());
  for (int t = 0; t < T; ++t) {
    const float* je = &join_enc_[size_t(t) * c.joiner_dim];
    if (beam_ == 1 && greedy_when_one_)
      greedy_frame(je, first_frame + t);
    else
      beam_frame(je, first_frame + t);
  }
}

const float* Search::lm_for(const std::vector<Token>& tokens) {
  const int n = std::min<int>(int(tokens.size()), lm_->order() - 1);
  lm_hist_.resize(n);
  for (int i = 0; i < n; ++i) lm_hist_[i] = tokens[tokens.size() - n + i].id;
  lm_logp_.resize(model_.config().vocab);
  lm_->logprobs(lm_hist_.data(), n, lm_logp_.data());
  for (float& x : lm_logp_) x *= lm_weight_;
  return lm_logp_.data();
}

void Search::greedy_frame(const float* join_enc, int64_t frame) {
  const int blank = model_.config().blank;
  Hyp& h = hyps_[0];
  for (int emitted = 0; emitted < kMaxSymbols; ++emitted) {
    model_.joint(join_enc, pred_for(h.tokens), logp_.data());
    int best;
    if (lm_) {
      const float* lm = lm_for(h.tokens);
      best = 0;
      for (int v = 1; v < int(logp_.size()); ++v)
        if (logp_[v] + lm[v] > logp_[best] + lm[best]) best = v;
      h.score += lm[best];
      h.lm += lm[best];
    } else {
      best = int(std::max_element(logp_.begin(), logp_.end()) - logp_.begin());
    }
    h.score += logp_[best];  // blanks count too: the score is the path's (compared with a grammar's)
    if (best == blank) break;
    h.tokens.push_back(Token{best, frame, logp_[best]});
  }
}

namespace {
// Adds h to set, or log-adds its probability into an equal token sequence already there (the same
// hypothesis reached two ways).
template <typename Hyp>
void add_merged(std::vector<Hyp>& set, Hyp&& h) {
  for (Hyp& o : set) {
    if (o.key != h.key || o.tokens.size() != h.tokens.size()) continue;
    bool same = true;
    for (size_t j = 0; same && j < o.tokens.size(); ++j) same = o.tokens[j].id == h.tokens[j].id;
    if (!same) continue;
    double a = o.score, b = h.score, m = std::max(a, b);
    o.score = m + std::log(std::exp(a - m) + std::exp(b - m));
    return;
  }
  set.push_back(std::move(h));
}
}  // namespace

// Modified beam search, extended to up to kMaxSymbols symbols a frame (as greedy search): a
// character model at 40 ms a frame needs two now and then. Each step expands the hypotheses still
// in the frame; the best `beam` of those expansions and of the hypotheses already done with the
// frame survive; a blank (or the last step) moves a hypothesis on to the next frame.
void Search::beam_frame(const float* join_enc, int64_t frame) {
  const TransducerConfig& c = model_.config();
  const int V = c.vocab;
  struct Cand {
    double score, rank;  // rank: score plus the token bonus, what the beam keeps the best of
    double lm;           // the language model's part of score
    int from;            // index into active, or -1 - index into done
    int token, ctx, g;
    float logp;
  };
  std::vector<Hyp> active = std::move(hyps_), done;
  std::vector<Cand> cands;
  for (int step = 0; step < kMaxSymbols && !active.empty(); ++step) {
    cands.clear();
    for (size_t i = 0; i < done.size(); ++i)
      cands.push_back(Cand{done[i].score, done[i].score + token_bonus_ * done[i].tokens.size(), done[i].lm, -1 - int(i),
                           -1, 0, done[i].g, 0.f});
    for (size_t h = 0; h < active.size(); ++h) {
      const Hyp& hyp = active[h];
      model_.joint(join_enc, pred_for(hyp.tokens), logp_.data());
      const float* lm = lm_ ? lm_for(hyp.tokens) : nullptr;
      for (int v = 0; v < V; ++v) {
        double s = hyp.score + logp_[v], lmpart = hyp.lm;
        if (lm && v != c.blank) {
          s += lm[v];
          lmpart += lm[v];
        }
        int ctx = hyp.ctx, g = hyp.g;
        if (v != c.blank && dfa_ && (g = dfa_->next(hyp.g, v)) < 0) continue;  // not in any sentence
        if (v != c.blank && context_) {
          float delta;
          ctx = context_->step(hyp.ctx, v, &delta);
          s += delta;
        }
        double rank = s + token_bonus_ * (hyp.tokens.size() + (v != c.blank));
        cands.push_back(Cand{s, rank, lmpart, int(h), v, ctx, g, logp_[v]});
      }
    }
    size_t k = std::min<size_t>(beam_, cands.size());
    std::partial_sort(cands.begin(), cands.begin() + k, cands.end(),
                      [](const Cand& a, const Cand& b) { return a.rank > b.rank; });
    // With a grammar, a whole sentence once found is kept (one place beyond the beam) until a better
    // one comes: hypotheses that are still mid-sentence would otherwise crowd it out.
    if (dfa_ && k < cands.size() &&
        std::none_of(cands.begin(), cands.begin() + k, [&](const Cand& cd) { return dfa_->accepting(cd.g); })) {
      size_t best = cands.size();
      for (size_t i = k; i < cands.size(); ++i)
        if (dfa_->accepting(cands[i].g) && (best == cands.size() || cands[i].rank > cands[best].rank)) best = i;
      if (best < cands.size()) std::swap(cands[k++], cands[best]);
    }
    std::vector<Hyp> next_done, next_active;
    for (size_t i = 0; i < k; ++i) {
      const Cand& cd = cands[i];
      if (cd.from < 0) {
        add_merged(next_done, std::move(done[-1 - cd.from]));
        continue;
      }
      Hyp h = active[cd.from];
      h.score = cd.score;
      if (cd.token == c.blank) {
        add_merged(next_done, std::move(h));
        continue;
      }
      h.tokens.push_back(Token{cd.token, frame, cd.logp});
      h.ctx = cd.ctx;
      h.g = cd.g;
      h.lm = cd.lm;
      h.key = (h.key ^ uint64_t(cd.token + 1)) * 1099511628211ull;
      add_merged(step + 1 < kMaxSymbols ? next_active : next_done, std::move(h));
    }
    done = std::move(next_done);
    active = std::move(next_active);
  }
  for (Hyp& h : active) add_merged(done, std::move(h));
  hyps_ = std::move(done);
}

std::vector<Token> Search::best(double* score) const {
  const Hyp* best = nullptr;
  double best_rank = -INFINITY;
  for (const Hyp& h : hyps_) {
    if (dfa_ && !dfa_->accepting(h.g)) continue;
    double r = h.score - (context_ ? context_->pending(h.ctx) : 0.f) + token_bonus_ * h.tokens.size();
    if (!best || r > best_rank) {
      best = &h;
      best_rank = r;
    }
  }
  if (score) *score = best ? best->score - best->lm : -INFINITY;
  return best ? best->tokens : std::vector<Token>{};
}

std::vector<Token> Search::top(double* score, bool* wildcard) const {
  const Hyp* top = nullptr;
  for (const Hyp& h : hyps_)
    if (!top || h.score + token_bonus_ * h.tokens.size() > top->score + token_bonus_ * top->tokens.size()) top = &h;
  *score = top ? top->score - top->lm : -INFINITY;
  *wildcard = top && dfa_ && dfa_->in_wildcard(top->g);
  return top ? top->tokens : std::vector<Token>{};
}

bool Search::best_complete() const {
  if (!dfa_) return false;
  const Hyp* top = nullptr;
  for (const Hyp& h : hyps_)
    if (!top || h.score + token_bonus_ * h.tokens.size() > top->score + token_bonus_ * top->tokens.size()) top = &h;
  return top && !top->tokens.empty() && dfa_->complete(top->g);
}

}  // namespace earshot
