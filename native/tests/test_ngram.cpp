// The n-gram model for shallow fusion (ngram.h): distributions sum to one, seen continuations win,
// unseen ones keep some probability, the sentence start is a context, bad input is refused.
#include <cmath>
#include <vector>

#include "check.h"
#include "gguf.h"  // Error
#include "ngram.h"

using namespace earshot;

int main() {
  const int V = 5, blank = 0;  // tokens 1..4
  NgramLm lm({{1, 2, 3}, {1, 2, 4}, {1, 2, 3}}, 3, V, blank);
  float lp[V];
  auto sum = [&] {
    double s = 0;
    for (int v = 1; v < V; ++v) s += std::exp(lp[v]);
    return s;
  };
  const int h12[] = {1, 2};
  lm.logprobs(h12, 2, lp);
  CHECKF(std::fabs(sum() - 1) < 1e-5, "sum %f", sum());
  CHECK(lp[blank] == 0);
  CHECK(lp[3] > lp[4] && lp[4] > lp[1]);  // 3 seen twice after "1 2", 4 once, 1 never
  CHECK(std::isfinite(lp[1]) && lp[1] > -30);
  lm.logprobs(nullptr, 0, lp);  // sentence start: every sentence began with 1
  CHECKF(std::fabs(sum() - 1) < 1e-5, "sum %f", sum());
  CHECK(lp[1] > std::log(0.5f));
  const int h9[] = {4, 4, 4, 4, 4};  // a context never seen: the lower orders decide
  lm.logprobs(h9, 5, lp);
  CHECKF(std::fabs(sum() - 1) < 1e-5, "sum %f", sum());
  CHECK_THROWS(NgramLm({{1}}, 1, V, blank), "order must be 2 to 8");
  CHECK_THROWS(NgramLm({{0}}, 3, V, blank), "out of range");
  CHECK_THROWS(NgramLm({{7}}, 3, V, blank), "out of range");
  return check::summary("test_ngram");
}
