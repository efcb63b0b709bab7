// Sentence automaton (compiled from sentence files by daemon/sentences.ts) that restricts beam
// search to what can be said. States and arcs as the compiler wrote them: characters, epsilons,
// calls into shared list sub-automata (one level), and wildcards (free text until the template
// resumes). Searches walk it through a lazily built deterministic view (GrammarDfa): a hypothesis's
// token prefix determines its set of automaton positions, so equal prefixes still merge.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "gguf.h"  // Error

namespace earshot {

struct GrammarSpec {
  int states = 0, start = 0;
  std::vector<int32_t> arcs;        // quadruples (from, label, to, aux); label: code point, or kEps/kCall/kWild
  std::vector<int32_t> final;       // per state: accepting data block or -1
  std::vector<uint8_t> list_end;    // per state: a list's sentence ends here
  std::vector<int32_t> call_start;  // per call: the list's start state (-1: wildcard)
};

class Grammar {
 public:
  static constexpr int kEps = -1, kCall = -2, kWild = -3;
  // Checks the spec and maps characters to the model's tokens; throws Error naming the problem
  // (e.g. a character the model cannot spell).
  Grammar(const GrammarSpec& spec, const std::vector<std::string>& vocab, int blank);

  struct Arc {
    int label;  // token id (>= 0), or kEps / kCall / kWild
    int to, aux;
  };
  int states() const { return int(first_.size()) - 1; }
  int start() const { return start_; }
  int space() const { return space_; }  // the word-space token (-1 if the model has none)
  int blank() const { return blank_; }
  int vocab() const { return vocab_; }
  const Arc* arcs_begin(int s) const { return arcs_.data() + first_[s]; }
  const Arc* arcs_end(int s) const { return arcs_.data() + first_[s + 1]; }
  bool final(int s) const { return final_[s] >= 0; }
  bool list_end(int s) const { return list_end_[s] != 0; }
  int call_start(int call) const { return call_start_[call]; }
  size_t bytes() const;

 private:
  std::vector<int> first_;
  std::vector<Arc> arcs_;
  std::vector<int32_t> final_;
  std::vector<uint8_t> list_end_;
  std::vector<int32_t> call_start_;
  int start_ = 0, space_ = -1, blank_ = 0, vocab_ = 0;
};

// Subset construction on demand: a DFA state is a set of (automaton state, return state) positions.
// One per search (not thread safe); memory grows with the prefixes actually explored.
class GrammarDfa {
 public:
  explicit GrammarDfa(std::shared_ptr<const Grammar> g);
  int start() const { return 0; }
  // DFA state after `token` (not blank), or -1 when the grammar does not allow it.
  int next(int state, int token);
  // A sentence can end here.
  bool accepting(int state) const { return states_[state].accepting; }
  // A sentence ends here and nothing can follow it (no word, no free text): the speaker is done
  // whatever comes next, so a segmenter need not wait out the trailing silence.
  bool complete(int state) const { return states_[state].accepting && !states_[state].continues; }
  // Inside or before a wildcard's free text: any text may follow, so the prefix says little.
  bool in_wildcard(int state) const { return states_[state].wild; }
  size_t size() const { return states_.size(); }
  // Drops every DFA state (the start stays 0): called between utterances once it has grown large.
  void trim(size_t max_states);

 private:
  // Position: automaton state s (or kWildStart / kWildIn) and where to go after the list or
  // wildcard (-1: at top level).
  static constexpr int kWildStart = -2, kWildIn = -3;
  struct DState {
    std::vector<uint64_t> pos;  // sorted
    std::vector<int> next;      // per token: -2 not computed, -1 dead
    bool accepting = false;
    bool continues = false;  // some token other than a word space can follow
    bool wild = false;       // a position inside or before free text
  };
  void closure(std::vector<uint64_t>& set) const;
  void space_closure(std::vector<uint64_t>& set) const;
  int intern(std::vector<uint64_t>&& set);

  std::shared_ptr<const Grammar> g_;
  std::vector<DState> states_;
  std::map<std::vector<uint64_t>, int> index_;
};

}  // namespace earshot
