// The vectorized float operations (ops.h) against double-precision references: swish, GLU and the
// softmax's exp within a few ulp over the whole float range they see, dot products, LayerNorm and
// one attention head; a value's result must not depend on its position (the tails run through
// the same lanes as the body).
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "check.h"
#include "ops.h"

using namespace earshot;

namespace {

std::mt19937 rng(7);

float uniform(float lo, float hi) { return std::uniform_real_distribution<float>(lo, hi)(rng); }

// |got - want| within `ulps` units of want's magnitude (plus a floor for results near zero).
bool close(double got, double want, double ulps, double floor = 1e-37) {
  return std::fabs(got - want) <= ulps * 5.96e-8 * std::fabs(want) + floor;
}

void test_swish_glu_exp() {
  std::vector<float> x;
  for (float v = -100.f; v <= 100.f; v += 0.0137f) x.push_back(v);
  for (int i = 0; i < 20000; ++i) x.push_back(uniform(-12.f, 12.f));
  x.push_back(0.f);
  x.push_back(-0.f);
  const size_t n = x.size();

  std::vector<float> s = x;
  swish_inplace(s.data(), int64_t(n));
  int bad = 0;
  // Below -88, exp(-x) is clamped: results under 1e-30 in magnitude only need to stay that small.
  for (size_t i = 0; i < n; ++i) bad += !close(s[i], double(x[i]) / (1.0 + std::exp(-double(x[i]))), 8, 1e-30);
  CHECKF(bad == 0, "swish: %d of %zu values off by more than 8 ulp", bad, n);

  std::vector<float> a(n), g(n);
  for (auto& v : a) v = uniform(-3.f, 3.f);
  glu(a.data(), x.data(), int64_t(n), g.data());
  bad = 0;
  for (size_t i = 0; i < n; ++i) bad += !close(g[i], double(a[i]) / (1.0 + std::exp(-double(x[i]))), 8, 1e-30);
  CHECKF(bad == 0, "glu: %d of %zu values off by more than 8 ulp", bad, n);

  // exp of values <= 0 (the softmax shifts by the maximum), and its sum
  std::vector<float> e(n);
  for (size_t i = 0; i < n; ++i) e[i] = -std::fabs(x[i]);
  std::vector<float> want(e.begin(), e.end());
  const float sum = exp_shifted_sum(e.data(), int64_t(n), 0.f);
  double ref_sum = 0;
  bad = 0;
  for (size_t i = 0; i < n; ++i) {
    const double w = std::exp(double(want[i]));
    ref_sum += w;
    bad += !close(e[i], w, 8, 2e-38);  // below that, exp is clamped to the smallest normal
  }
  CHECKF(bad == 0, "exp: %d of %zu values off by more than 8 ulp", bad, n);
  CHECKF(close(sum, ref_sum, 64), "exp sum %.9g vs %.9g", sum, ref_sum);

  // position independence: each element alone gives the bits it got in the long run
  int moved = 0;
  for (size_t i = 0; i < n; i += 97) {
    float one = x[i];
    swish_inplace(&one, 1);
    moved += std::memcmp(&one, &s[i], 4) != 0;
  }
  CHECKF(moved == 0, "swish: %d values differ when computed alone", moved);
}

void test_dot_norm_attention() {
  for (int n : {1, 7, 8, 9, 48, 192, 333}) {
    std::vector<float> a(static_cast<size_t>(n)), b(static_cast<size_t>(n));
    double ref = 0, mag = 0;
    for (int i = 0; i < n; ++i) {
      a[size_t(i)] = uniform(-1.f, 1.f);
      b[size_t(i)] = uniform(-1.f, 1.f);
      ref += double(a[size_t(i)]) * b[size_t(i)];
      mag += std::fabs(double(a[size_t(i)]) * b[size_t(i)]);
    }
    CHECKF(std::fabs(dot(a.data(), b.data(), n) - ref) <= 1e-6 * mag + 1e-7, "dot n=%d", n);
  }

  for (int dim : {5, 8, 192, 203}) {
    std::vector<float> w(static_cast<size_t>(dim)), bias(static_cast<size_t>(dim)), x(static_cast<size_t>(3 * dim)),
        y(x.size());
    for (auto& v : w) v = uniform(0.5f, 1.5f);
    for (auto& v : bias) v = uniform(-0.5f, 0.5f);
    for (auto& v : x) v = uniform(-4.f, 4.f) + 10.f;  // an offset, as residual streams have
    LayerNorm ln;
    ln.w = w.data();
    ln.b = bias.data();
    ln.dim = dim;
    ln.forward(x.data(), 3, y.data());
    double worst = 0;
    for (int r = 0; r < 3; ++r) {
      const float* xr = &x[size_t(r * dim)];
      double mean = 0, var = 0;
      for (int i = 0; i < dim; ++i) mean += xr[i];
      mean /= dim;
      for (int i = 0; i < dim; ++i) var += (xr[i] - mean) * (xr[i] - mean);
      var /= dim;
      for (int i = 0; i < dim; ++i) {
        const double want = (xr[i] - mean) / std::sqrt(var + 1e-5) * w[size_t(i)] + bias[size_t(i)];
        worst = std::max(worst, std::fabs(y[size_t(r * dim + i)] - want));
      }
    }
    CHECKF(worst <= 2e-5, "LayerNorm dim=%d: max error %.3g", dim, worst);
  }

  // one head: softmax(q.k * scale) v over m keys in rows of a wider matrix
  for (int dh : {4, 48, 50, 64}) {
    const int m = 37, ld = dh + 16;
    std::vector<float> q(static_cast<size_t>(dh)), k(static_cast<size_t>(m * ld)), v(k.size()), out(q.size()),
        scores(static_cast<size_t>(m));
    for (auto& t : q) t = uniform(-2.f, 2.f);
    for (auto& t : k) t = uniform(-2.f, 2.f);
    for (auto& t : v) t = uniform(-1.f, 1.f);
    const float scale = 1.f / std::sqrt(float(dh));
    attend(q.data(), k.data(), v.data(), ld, m, dh, scale, scores.data(), out.data());
    std::vector<double> p(static_cast<size_t>(m));
    double mx = -1e300, sum = 0;
    for (int j = 0; j < m; ++j) {
      double s = 0;
      for (int e = 0; e < dh; ++e) s += double(q[size_t(e)]) * k[size_t(j * ld + e)];
      p[size_t(j)] = s * scale;
      mx = std::max(mx, p[size_t(j)]);
    }
    for (auto& t : p) sum += (t = std::exp(t - mx));
    double worst = 0;
    for (int e = 0; e < dh; ++e) {
      double want = 0;
      for (int j = 0; j < m; ++j) want += p[size_t(j)] / sum * v[size_t(j * ld + e)];
      worst = std::max(worst, std::fabs(out[size_t(e)] - want));
    }
    CHECKF(worst <= 1e-5, "attend dh=%d: max error %.3g", dh, worst);
  }
}

}  // namespace

int main() {
  test_swish_glu_exp();
  test_dot_norm_attention();
  return check::summary("test_ops");
}
