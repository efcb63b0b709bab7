// The sentence automaton's deterministic view (grammar.h): characters to tokens, template spaces
// that collapse into one spoken space, list calls and returns, wildcards, acceptance, and errors.
#include <string>
#include <vector>

#include "check.h"
#include "grammar.h"

using namespace earshot;

namespace {
const std::vector<std::string> kVocab = {"<blk>", "\xe2\x96\x81", "a", "b", "c", "o", "n"};
const int SP = 1, A = 2, B = 3, C = 4, O = 5, N = 6;

// A little builder for specs: states, arcs (from, label, to, aux).
struct Spec {
  GrammarSpec g;
  int state() {
    g.final.push_back(-1);
    g.list_end.push_back(0);
    return g.states++;
  }
  void arc(int from, int label, int to, int aux = -1) { g.arcs.insert(g.arcs.end(), {from, label, to, aux}); }
  int text(int from, const std::string& s) {
    for (char ch : s) {
      int n = state();
      arc(from, ch, n);
      from = n;
    }
    return from;
  }
};

// Walks tokens from the start; -1 once the grammar refuses one.
int walk(GrammarDfa& d, const std::vector<int>& tokens) {
  int s = d.start();
  for (int t : tokens)
    if ((s = d.next(s, t)) < 0) return -1;
  return s;
}
bool accepts(GrammarDfa& d, const std::vector<int>& tokens) {
  int s = walk(d, tokens);
  return s >= 0 && d.accepting(s);
}
}  // namespace

int main() {
  // "on [a] b" | "c {list} a" with list = {"ab", "a"} | "n {wild} a"
  Spec s;
  int start = s.state();
  int fin = s.state();
  s.g.final[fin] = 0;
  // on [a] b
  int x = s.text(start, "on ");
  int opt_end = s.state();
  s.arc(x, Grammar::kEps, opt_end);
  s.arc(s.text(x, "a"), Grammar::kEps, opt_end);
  s.arc(s.text(opt_end, " b"), Grammar::kEps, fin);
  // the list: start, values "ab" and "a", one end
  int ls = s.state(), le = s.state();
  s.g.list_end[le] = 1;
  int la = s.text(ls, "a");
  s.arc(la, Grammar::kEps, le, 0);
  s.arc(s.text(la, "b"), Grammar::kEps, le, 1);
  s.g.call_start = {ls, -1};
  int y = s.text(start, "c ");
  int after = s.state();
  s.arc(y, Grammar::kCall, after, 0);
  s.arc(s.text(after, " a"), Grammar::kEps, fin);
  // wildcard
  int z = s.text(start, "n ");
  int wend = s.state();
  s.arc(z, Grammar::kWild, wend, 1);
  s.arc(s.text(wend, " a"), Grammar::kEps, fin);

  auto g = std::make_shared<const Grammar>(s.g, kVocab, 0);
  CHECK(g->space() == SP);
  GrammarDfa d(g);
  CHECK(accepts(d, {O, N, SP, A, SP, B}));
  CHECK(accepts(d, {O, N, SP, B}));        // the optional's two spaces are one
  CHECK(walk(d, {O, N, SP, SP, SP}) < 0);  // no more spaces than the template has
  CHECK(walk(d, {O, N, B}) < 0);           // nor a missing one
  CHECK(!accepts(d, {O, N, SP, A}));       // a prefix is not a sentence
  CHECK(walk(d, {B}) < 0);
  CHECK(accepts(d, {C, SP, A, B, SP, A}));  // list value "ab"
  CHECK(accepts(d, {C, SP, A, SP, A}));     // list value "a", back to the caller
  CHECK(walk(d, {C, SP, B}) < 0);
  CHECK(!accepts(d, {C, SP, A, B}));
  CHECK(accepts(d, {N, SP, B, C, SP, O, O, SP, A}));  // free text "bc oo"
  CHECK(accepts(d, {N, SP, A, SP, A}));               // free text "a", then the template's " a"
  CHECK(walk(d, {N, SP, SP}) < 0);                    // free text starts with a character
  CHECK(!accepts(d, {N, SP, SP, A}));
  // Equal prefixes reach the same DFA state: hypotheses still merge.
  CHECK(walk(d, {O, N, SP}) == walk(d, {O, N, SP}));
  size_t before = d.size();
  d.trim(0);
  CHECK(d.size() == 1 && before > 1);
  CHECK(accepts(d, {O, N, SP, B}));

  // Complete: a sentence that nothing can continue (the segmenter may close on it at once).
  CHECK(d.complete(walk(d, {O, N, SP, B})));
  CHECK(d.complete(walk(d, {C, SP, A, B, SP, A})));
  CHECK(!d.complete(walk(d, {O, N, SP, A})));      // not a sentence yet
  CHECK(!d.complete(walk(d, {N, SP, B, SP, A})));  // free text may still be going on
  CHECK(!d.complete(d.start()));
  CHECK(d.in_wildcard(walk(d, {N, SP, B})) && d.in_wildcard(walk(d, {N, SP})));  // free text, or before it
  CHECK(!d.in_wildcard(walk(d, {O, N, SP})) && !d.in_wildcard(d.start()));
  {
    // "aa" | "aa c" | "bb [c]": "aa" is a sentence that can go on; a trailing optional too
    Spec t;
    int st = t.state(), f = t.state();
    t.g.final[f] = 0;
    int aa = t.text(st, "aa");
    t.arc(aa, Grammar::kEps, f);
    t.arc(t.text(aa, " c"), Grammar::kEps, f);
    int bb = t.text(st, "bb ");
    t.arc(bb, Grammar::kEps, f);
    t.arc(t.text(bb, "c"), Grammar::kEps, f);
    GrammarDfa e(std::make_shared<const Grammar>(t.g, kVocab, 0));
    CHECK(e.accepting(walk(e, {A, A})) && !e.complete(walk(e, {A, A})));
    CHECK(e.complete(walk(e, {A, A, SP, C})));
    CHECK(e.accepting(walk(e, {B, B})) && !e.complete(walk(e, {B, B})));  // " c" may follow the space
    CHECK(e.complete(walk(e, {B, B, SP, C})));
  }

  // Errors name the problem.
  auto throws = [&](GrammarSpec bad, const std::vector<std::string>& vocab, const std::string& needle) {
    CHECK_THROWS(Grammar(bad, vocab, 0), needle);
  };
  GrammarSpec e = s.g;
  e.arcs.insert(e.arcs.end(), {start, 0xe9, fin, -1});
  throws(e, kVocab, "no token for \"\xc3\xa9\"");
  throws(s.g, {"<blk>", "a", "b", "c", "o", "n"}, "no word-space token");
  e = s.g;
  e.arcs.insert(e.arcs.end(), {start, 'a', 999, -1});
  throws(e, kVocab, "joins states that do not exist");
  e = s.g;
  e.arcs.insert(e.arcs.end(), {start, Grammar::kCall, fin, 7});
  throws(e, kVocab, "names a call that does not exist");
  e = s.g;
  e.final.pop_back();
  throws(e, kVocab, "one entry per state");
  return check::summary("test_grammar");
}
