// Fbank against torchaudio golden files (golden/make_fbank_golden.py), fed in many chunk sizes.
// Tolerance on log-mel values: |engine - ref| <= 1e-4 * max(1, |ref|), i.e. 1e-4 relative, and
// 1e-4 absolute near zero where a relative bound on a log value means nothing.
#include <cmath>
#include <cstdio>
#include <cstdint>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "fbank.h"
#include "check.h"

using earshot::Fbank;

struct Golden {
  std::vector<int16_t> samples;
  std::vector<float> feats;
  uint32_t frames = 0, bins = 0;
};

static std::string golden_dir() {
  std::string f = __FILE__;
  return f.substr(0, f.find_last_of('/')) + "/golden/";
}

static bool load(const std::string& name, Golden& g) {
  std::ifstream in(golden_dir() + name + ".fbank", std::ios::binary);
  if (!in) return false;
  uint32_t hdr[3];
  in.read(reinterpret_cast<char*>(hdr), sizeof hdr);
  g.samples.resize(hdr[0]);
  g.frames = hdr[1];
  g.bins = hdr[2];
  g.feats.resize(size_t(hdr[1]) * hdr[2]);
  in.read(reinterpret_cast<char*>(g.samples.data()), g.samples.size() * 2);
  in.read(reinterpret_cast<char*>(g.feats.data()), g.feats.size() * 4);
  return bool(in);
}

// Feeds the signal in pieces of the given sizes (cycled), taking frames as they complete.
static std::vector<float> run(const Golden& g, const std::vector<size_t>& sizes, bool as_float) {
  Fbank fb;
  std::vector<float> out, f32;
  size_t at = 0, k = 0;
  while (at < g.samples.size()) {
    size_t n = std::min(sizes[k++ % sizes.size()], g.samples.size() - at);
    if (as_float) {
      f32.resize(n);
      for (size_t i = 0; i < n; ++i) f32[i] = g.samples[at + i] / 32768.f;
      fb.accept(f32.data(), n);
    } else {
      fb.accept_int16(g.samples.data() + at, n);
    }
    fb.take(out);
    at += n;
  }
  return out;
}

int main() {
  std::mt19937 rng(1);
  std::vector<size_t> random_sizes;
  for (int i = 0; i < 50; ++i) random_sizes.push_back(1 + rng() % 900);
  for (const char* name : {"speech", "noise", "tone"}) {
    Golden g;
    if (!load(name, g)) {
      CHECKF(false, "cannot read golden file %s%s.fbank", golden_dir().c_str(), name);
      continue;
    }
    CHECKF(g.bins == 80, "%s: golden has %u bins", name, g.bins);
    std::vector<float> whole = run(g, {g.samples.size()}, false);
    CHECKF(whole.size() == g.feats.size(), "%s: %zu values, golden %zu", name, whole.size(), g.feats.size());
    if (whole.size() != g.feats.size()) continue;
    double worst = 0;
    for (size_t i = 0; i < whole.size(); ++i) {
      double ref = g.feats[i];
      double err = std::fabs(whole[i] - ref) / std::max(1.0, std::fabs(ref));
      worst = std::max(worst, err);
    }
    CHECKF(worst <= 1e-4, "%s: worst scaled error %.3g > 1e-4", name, worst);
    std::printf("%s: %u frames, worst scaled error %.3g\n", name, g.frames, worst);

    // Incremental feeding must give exactly the same frames, whatever the chunk sizes.
    for (const auto& sizes : std::vector<std::vector<size_t>>{{1}, {160}, {399, 1, 401}, random_sizes}) {
      for (bool as_float : {false, true}) {
        std::vector<float> part = run(g, sizes, as_float);
        CHECKF(part == whole, "%s: chunked feeding (first size %zu, float %d) differs from one-shot", name, sizes[0],
               int(as_float));
      }
    }
  }
  // Fewer samples than one window give no frame; reset forgets pending samples.
  Fbank fb;
  std::vector<int16_t> short_sig(399, 100);
  fb.accept_int16(short_sig.data(), short_sig.size());
  CHECKF(fb.frames_ready() == 0, "399 samples gave %zu frames", fb.frames_ready());
  fb.reset();
  fb.accept_int16(short_sig.data(), 1);
  CHECKF(fb.frames_ready() == 0, "reset kept pending samples");
  // Non-finite input samples count as silence instead of spreading NaN.
  std::vector<float> bad(1600, 0.1f);
  bad[10] = NAN;
  bad[500] = INFINITY;
  Fbank fb2;
  fb2.accept(bad.data(), bad.size());
  std::vector<float> frames;
  fb2.take(frames);
  bool finite = !frames.empty();
  for (float v : frames) finite = finite && std::isfinite(v);
  CHECKF(finite, "NaN / infinity in the input gave non-finite features");
  return check::summary("test_fbank");
}
