#include "grammar.h"

#include <algorithm>
#include <unordered_set>

namespace earshot {

namespace {
std::string utf8(int cp) {
  std::string s;
  if (cp < 0x80) {
    s += char(cp);
  } else if (cp < 0x800) {
    s += char(0xC0 | (cp >> 6));
    s += char(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    s += char(0xE0 | (cp >> 12));
    s += char(0x80 | ((cp >> 6) & 0x3F));
    s += char(0x80 | (cp & 0x3F));
  } else {
    s += char(0xF0 | (cp >> 18));
    s += char(0x80 | ((cp >> 12) & 0x3F));
    s += char(0x80 | ((cp >> 6) & 0x3F));
    s += char(0x80 | (cp & 0x3F));
  }
  return s;
}

uint64_t pack(int s, int r) { return (uint64_t(uint32_t(s)) << 32) | uint32_t(r); }
int pos_state(uint64_t p) { return int32_t(uint32_t(p >> 32)); }
int pos_ret(uint64_t p) { return int32_t(uint32_t(p)); }
}  // namespace

Grammar::Grammar(const GrammarSpec& spec, const std::vector<std::string>& vocab, int blank)
    : start_(spec.start), blank_(blank), vocab_(int(vocab.size())) {
  const int S = spec.states;
  auto bad = [](const std::string& what) { throw Error("sentence automaton: " + what); };
  if (S <= 0 || spec.start < 0 || spec.start >= S) bad("no states or a bad start state");
  if (spec.arcs.size() % 4) bad("arcs must be quadruples (from, label, to, aux)");
  if (spec.final.size() != size_t(S) || spec.list_end.size() != size_t(S))
    bad("final and listEnd need one entry per state");
  for (int32_t c : spec.call_start)
    if (c < -1 || c >= S) bad("a call enters a state that does not exist");
  static const std::string kSpace = "\xe2\x96\x81";  // U+2581
  std::map<int, int> token_of;                       // code point -> token id
  for (size_t id = 0; id < vocab.size(); ++id)
    if (vocab[id] == kSpace) space_ = int(id);
  first_.assign(S + 1, 0);
  const size_t A = spec.arcs.size() / 4;
  for (size_t k = 0; k < A; ++k) {
    int from = spec.arcs[4 * k], label = spec.arcs[4 * k + 1], to = spec.arcs[4 * k + 2], aux = spec.arcs[4 * k + 3];
    if (from < 0 || from >= S || to < 0 || to >= S) bad("arc " + std::to_string(k) + " joins states that do not exist");
    if ((label == kCall || label == kWild) && (aux < 0 || aux >= int(spec.call_start.size())))
      bad("arc " + std::to_string(k) + " names a call that does not exist");
    if (label < kWild || label > 0x10FFFF) bad("arc " + std::to_string(k) + " has an unknown label");
    if (label >= 0 && !token_of.count(label)) {
      int id = -1;
      if (label == ' ')
        id = space_;
      else
        for (size_t v = 0; v < vocab.size(); ++v)
          if (int(v) != blank && vocab[v] == utf8(label)) id = int(v);
      if (id < 0)
        bad(label == ' ' ? std::string("the model has no word-space token")
                         : "the model has no token for \"" + utf8(label) + "\"");
      token_of[label] = id;
    }
    first_[from + 1]++;
  }
  for (int s = 0; s < S; ++s) first_[s + 1] += first_[s];
  arcs_.resize(A);
  std::vector<int> fill(first_.begin(), first_.end() - 1);
  for (size_t k = 0; k < A; ++k) {
    int label = spec.arcs[4 * k + 1];
    arcs_[fill[spec.arcs[4 * k]]++] =
        Arc{label >= 0 ? token_of[label] : label, spec.arcs[4 * k + 2], spec.arcs[4 * k + 3]};
  }
  final_ = spec.final;
  list_end_ = spec.list_end;
  call_start_ = spec.call_start;
}

size_t Grammar::bytes() const {
  return first_.size() * sizeof(int) + arcs_.size() * sizeof(Arc) + final_.size() * sizeof(int32_t) + list_end_.size() +
         call_start_.size() * sizeof(int32_t);
}

GrammarDfa::GrammarDfa(std::shared_ptr<const Grammar> g) : g_(std::move(g)) { trim(0); }

void GrammarDfa::trim(size_t max_states) {
  if (!states_.empty() && states_.size() <= max_states) return;
  states_.clear();
  index_.clear();
  std::vector<uint64_t> set{pack(g_->start(), -1)};
  closure(set);
  space_closure(set);  // template spaces before the first word are not said
  intern(std::move(set));
}

void GrammarDfa::closure(std::vector<uint64_t>& set) const {
  std::unordered_set<uint64_t> seen(set.begin(), set.end());
  std::vector<uint64_t> work(set.begin(), set.end());
  auto add = [&](int s, int r) {
    uint64_t p = pack(s, r);
    if (seen.insert(p).second) {
      work.push_back(p);
      set.push_back(p);
    }
  };
  while (!work.empty()) {
    uint64_t p = work.back();
    work.pop_back();
    int s = pos_state(p), r = pos_ret(p);
    if (s == kWildIn) {
      add(r, -1);  // the wildcard may end after any token
      continue;
    }
    if (s < 0) continue;
    if (r >= 0 && g_->list_end(s)) add(r, -1);
    for (const Grammar::Arc* a = g_->arcs_begin(s); a != g_->arcs_end(s); ++a) {
      if (a->label == Grammar::kEps)
        add(a->to, r);
      else if (a->label == Grammar::kCall && r < 0)
        add(g_->call_start(a->aux), a->to);
      else if (a->label == Grammar::kWild && r < 0)
        add(kWildStart, a->to);
    }
  }
  std::sort(set.begin(), set.end());
  set.erase(std::unique(set.begin(), set.end()), set.end());
}

// After a spoken space, further template spaces are taken for free: "turn on [the] light" without
// "the" has two template spaces in a row for one said.
void GrammarDfa::space_closure(std::vector<uint64_t>& set) const {
  const int sp = g_->space();
  for (;;) {
    std::vector<uint64_t> more;
    for (uint64_t p : set) {
      int s = pos_state(p);
      if (s < 0) continue;
      for (const Grammar::Arc* a = g_->arcs_begin(s); a != g_->arcs_end(s); ++a)
        if (a->label == sp) more.push_back(pack(a->to, pos_ret(p)));
    }
    size_t before = set.size();
    set.insert(set.end(), more.begin(), more.end());
    closure(set);
    if (set.size() == before) return;
  }
}

int GrammarDfa::intern(std::vector<uint64_t>&& set) {
  auto it = index_.find(set);
  if (it != index_.end()) return it->second;
  DState d;
  d.next.assign(g_->vocab(), -2);
  std::vector<uint64_t> end = set;
  space_closure(end);  // trailing template spaces are not said either
  for (uint64_t p : end) {
    const int s = pos_state(p);
    if (pos_ret(p) < 0 && s >= 0 && g_->final(s)) d.accepting = true;
    if (s < 0) {
      d.continues = d.wild = true;  // inside or before free text
      continue;
    }
    // spaces alone are no continuation: the positions after them are in `end` already
    for (const Grammar::Arc* a = g_->arcs_begin(s); a != g_->arcs_end(s); ++a)
      if (a->label >= 0 && a->label != g_->space()) d.continues = true;
  }
  d.pos = set;
  int id = int(states_.size());
  states_.push_back(std::move(d));
  index_.emplace(std::move(set), id);
  return id;
}

int GrammarDfa::next(int state, int token) {
  int cached = states_[state].next[token];
  if (cached != -2) return cached;
  const bool space = token == g_->space();
  std::vector<uint64_t> set;
  for (uint64_t p : states_[state].pos) {
    int s = pos_state(p), r = pos_ret(p);
    if (s == kWildStart) {
      if (!space) set.push_back(pack(kWildIn, r));  // free text starts with a character
    } else if (s == kWildIn) {
      set.push_back(p);
    } else {
      for (const Grammar::Arc* a = g_->arcs_begin(s); a != g_->arcs_end(s); ++a)
        if (a->label == token) set.push_back(pack(a->to, r));
    }
  }
  int id = -1;
  if (!set.empty()) {
    closure(set);
    if (space) space_closure(set);
    id = intern(std::move(set));
  }
  states_[state].next[token] = id;
  return id;
}

}  // namespace earshot
