// Streaming transducer on a random in-memory model: chunk-by-chunk encoding equals whole-utterance
// encoding under the chunk mask, streams give the masked reference's tokens whatever the audio
// piece sizes, hot phrases steer beam search, the context graph takes back broken matches.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "fbank.h"
#include "model_fixture.h"
#include "search.h"
#include "stream.h"
#include "check.h"

using namespace earshot;

// Two seconds of a gliding tone with bursts of noise: something an encoder reacts to.
static std::vector<float> test_audio(size_t n = 32000) {
  std::mt19937 rng(3);
  std::normal_distribution<float> noise(0.f, 1.f);
  std::vector<float> a(n);
  for (size_t i = 0; i < n; ++i) {
    double t = i / 16000.0;
    double f = 200 + 600 * t;
    a[i] = float(0.3 * std::sin(2 * M_PI * f * t) * (0.5 + 0.5 * std::sin(2 * M_PI * 3 * t)) +
                 ((i / 4000) % 2 ? 0.05 * noise(rng) : 0.0));
  }
  return a;
}

// CMVN'd fbank, grouped in stacks of 4: [T, 320].
static std::vector<float> stacked_features(const TransducerModel& m, const std::vector<float>& audio, int* T) {
  Fbank fb;
  fb.accept(audio.data(), audio.size());
  std::vector<float> f;
  size_t frames = fb.take(f);
  m.cmvn(f.data(), frames);
  *T = int(frames / 4);
  f.resize(size_t(*T) * 320);
  return f;
}

static std::vector<int> ids(const std::vector<Token>& toks) {
  std::vector<int> v;
  for (const auto& t : toks) v.push_back(t.id);
  return v;
}

static void test_chunked_encoder(const std::string& weights) {
  std::vector<float> audio = test_audio();
  for (int L : {3, 1000}) {
    RandomTransducer rt(weights, L);
    const TransducerModel& m = *rt.model;
    int T;
    std::vector<float> x = stacked_features(m, audio, &T);
    const int D = m.config().d_model;
    for (int C : {1, 4, 16}) {
      std::vector<float> whole(size_t(T) * D), chunked(size_t(T) * D);
      m.encode_masked(x.data(), T, C, L, whole.data());
      auto st = m.new_encoder_state();
      for (int t = 0; t < T; t += C) {
        int n = std::min(C, T - t);
        m.encode_chunk(st, &x[size_t(t) * 320], n, &chunked[size_t(t) * D]);
      }
      double worst = 0;
      for (size_t i = 0; i < whole.size(); ++i) worst = std::max(worst, double(std::fabs(whole[i] - chunked[i])));
      CHECKF(worst <= 1e-4, "%s C=%d L=%d: chunked encoder differs by %.3g", weights.c_str(), C, L, worst);
      // encode_audio (the addon's debugEncode) is that loop, from the audio: the same bits.
      CHECKF(m.encode_audio(audio.data(), audio.size(), C) == chunked,
             "%s C=%d L=%d: encode_audio differs from chunk-by-chunk encoding", weights.c_str(), C, L);
      std::printf("encoder %s C=%d L=%d T=%d: max |chunked - masked| = %.3g\n", weights.c_str(), C, L, T, worst);

      // A stream fed in odd pieces decodes the same tokens, at the same frames, as greedy search
      // over the masked whole-utterance encoding.
      Search ref(m, 1, nullptr);
      ref.decode(whole.data(), T, 0);
      std::vector<Token> want = ref.best();
      StreamOptions opt;
      opt.chunk_frames = C;
      opt.tail_padding_ms = 0;  // the reference decodes exactly the audio given
      TransducerStream s(rt.model, opt);
      std::mt19937 rng(C * 7 + L);
      for (size_t at = 0; at < audio.size();) {
        size_t n = std::min<size_t>(1 + rng() % 3000, audio.size() - at);
        s.accept(&audio[at], n);
        s.decode_ready();
        at += n;
      }
      s.finalize();
      DecodeResult got = s.result();
      CHECKF(got.tokens.size() == want.size(), "%s C=%d L=%d: stream gave %zu tokens, reference %zu", weights.c_str(),
             C, L, got.tokens.size(), want.size());
      CHECKF(!want.empty(), "random model emitted nothing (the test would prove little)");
      for (size_t i = 0; i < std::min(got.tokens.size(), want.size()); ++i) {
        CHECKF(got.tokens[i].text ==
                   (m.config().tokens[want[i].id] == "\xe2\x96\x81" ? " " : m.config().tokens[want[i].id]),
               "token %zu differs", i);
        CHECKF(std::fabs(got.tokens[i].start - want[i].frame * 0.04) < 1e-9, "token %zu time differs", i);
        CHECKF(got.tokens[i].conf > 0 && got.tokens[i].conf <= 1, "token %zu confidence %g", i, got.tokens[i].conf);
      }
      CHECKF(!got.boundaries.empty(), "CIF head gave no boundary");
      // The beam search code with one path is greedy search.
      Search one(m, 1, nullptr, false);
      one.decode(whole.data(), T, 0);
      std::vector<Token> beam1 = one.best();
      CHECKF(ids(beam1) == ids(want), "%s C=%d L=%d: beam search with one path differs from greedy", weights.c_str(), C,
             L);
      for (size_t i = 0; i < std::min(beam1.size(), want.size()); ++i)
        CHECKF(beam1[i].frame == want[i].frame, "beam-1 token %zu frame differs", i);
      // reset() starts over: the same audio gives the same result.
      s.reset();
      s.accept(audio.data(), audio.size());
      s.finalize();
      CHECKF(s.result().text == got.text, "result after reset differs");
    }
  }
}

static void test_context_graph() {
  ContextGraph g({{{1, 2, 3}, 1.f}, {{2, 3, 4, 5}, 0.5f}});
  float d;
  int s = g.step(0, 1, &d);
  CHECKF(d == 1.f, "first token boost %g", d);
  s = g.step(s, 2, &d);
  CHECKF(d == 1.f && g.pending(s) == 2.f, "second token: delta %g pending %g", d, g.pending(s));
  s = g.step(s, 9, &d);
  CHECKF(d == -2.f && s == 0, "broken match should take back 2, got %g (state %d)", d, s);
  float total = 0;
  s = 0;
  for (int t : {1, 2, 3}) {
    s = g.step(s, t, &d);
    total += d;
  }
  CHECKF(total == 3.f && g.pending(s) == 0.f, "completed phrase keeps its boost: total %g pending %g", total,
         g.pending(s));
  // 1 2 then 3 ... fails over to the suffix phrase "2 3 4 5" when 4 follows "1 2 3"? "1 2 3" ends
  // first, so a following 4 starts from the root: no boost.
  s = g.step(s, 4, &d);
  CHECKF(d == 0.f, "token after a finished phrase: delta %g", d);
  // Failure link: "1 2" then 2 -> the match "2" of the second phrase.
  s = 0;
  s = g.step(s, 1, &d);
  s = g.step(s, 2, &d);
  s = g.step(s, 2, &d);
  CHECKF(std::fabs(d - (0.5f - 2.f)) < 1e-6 && g.pending(s) == 0.5f, "failure link: delta %g pending %g", d,
         g.pending(s));
}

static void test_tokenize() {
  RandomTransducer rt("f32");
  std::vector<int> v = tokenize_phrase("Hue  Go", rt.cfg.tokens);
  std::vector<int> want = {2 + 'h' - 'a', 2 + 'u' - 'a', 2 + 'e' - 'a', 1, 2 + 'g' - 'a', 2 + 'o' - 'a'};
  CHECKF(v == want, "tokenize_phrase(\"Hue  Go\") gave %zu ids", v.size());
  CHECKF(tokenize_phrase("caf\xc3\xa9", rt.cfg.tokens).empty(), "a character without a token must reject the phrase");
}

static void test_biasing() {
  RandomTransducer rt("f32", 1000);
  std::vector<float> audio = test_audio();
  auto decode = [&](int beam, std::vector<std::pair<std::string, float>> phrases) {
    StreamOptions opt;
    opt.beam = beam;
    opt.hot_phrases = phrases;
    TransducerStream s(rt.model, opt);
    s.accept(audio.data(), audio.size());
    s.finalize();
    return s.result().text;
  };
  {
    StreamOptions opt;
    opt.hot_phrases = {{"caf\xc3\xa9", 1.f}, {"hue go", 1.f}};
    TransducerStream s(rt.model, opt);
    CHECKF(s.rejected_phrases() == std::vector<std::string>{"caf\xc3\xa9"}, "the unspellable phrase is reported");
  }
  std::string greedy = decode(1, {}), beam = decode(4, {});
  std::printf("greedy: \"%s\"\nbeam 4: \"%s\"\n", greedy.c_str(), beam.c_str());
  CHECKF(!beam.empty(), "beam search gave nothing");
  CHECKF(decode(4, {{"qxz", 0.f}}) == beam, "a zero boost changed the result");
  std::string boosted = decode(4, {{"qxz", 8.f}});
  std::printf("beam 4 boosting \"qxz\": \"%s\"\n", boosted.c_str());
  CHECKF(beam.find("qxz") == std::string::npos, "the unboosted result already has the phrase");
  CHECKF(boosted.find("qxz") != std::string::npos, "boosted phrase missing from \"%s\"", boosted.c_str());
}

// peek(): what finalize() would give now, from a copy; the stream itself goes on unchanged.
static void test_peek() {
  RandomTransducer rt("f32", 1000);
  std::vector<float> audio = test_audio();
  const size_t half = audio.size() / 2;
  auto same = [](const DecodeResult& a, const DecodeResult& b) {
    if (a.text != b.text || a.tokens.size() != b.tokens.size()) return false;
    for (size_t i = 0; i < a.tokens.size(); ++i)
      if (a.tokens[i].start != b.tokens[i].start || a.tokens[i].conf != b.tokens[i].conf) return false;
    return true;
  };
  StreamOptions opt;  // finalize() pads 500 ms
  TransducerStream peeked(rt.model, opt), cut(rt.model, opt), plain(rt.model, opt);
  peeked.accept(audio.data(), half);
  peeked.decode_ready();
  cut.accept(audio.data(), half);
  cut.finalize();
  DecodeResult look = peeked.peek(500);
  CHECKF(!look.text.empty(), "the random model emitted nothing (the test would prove little)");
  CHECKF(same(look, cut.result()), "peek(500) differs from finalize() on the same audio");
  peeked.accept(audio.data() + half, audio.size() - half);
  peeked.finalize();
  plain.accept(audio.data(), audio.size());
  plain.finalize();
  CHECKF(same(peeked.result(), plain.result()), "a peek changed the stream's final result");
}

// The end-of-utterance head: a peek reports p(done) at the last encoder frame of the accepted
// audio, computed on the audio plus the peek's silence exactly as encode_audio computes it; the
// head is the MLP of its tensors; a model without a head reports none.
static void test_end_of_utterance() {
  RandomTransducer rt("f32", 1000, 1, 16);
  const TransducerModel& m = *rt.model;
  const int D = m.config().d_model, H = m.config().eou_hidden;
  std::vector<float> audio = test_audio();
  for (size_t n : {size_t(20800), size_t(20800 + 333), size_t(9000)}) {
    TransducerStream s(rt.model, StreamOptions{});
    s.accept(audio.data(), n);
    s.decode_ready();
    DecodeResult look = s.peek(300);
    std::vector<float> padded(audio.begin(), audio.begin() + n);
    padded.resize(n + 4800, 0.f);
    std::vector<float> enc = m.encode_audio(padded.data(), padded.size(), m.config().chunk_frames);
    const int last = int((1 + (n - 400) / 160) / 4) - 1;
    const float* e = &enc[size_t(last) * D];
    auto w = [&](const char* name) { return static_cast<const float*>(rt.table.at(name).data); };
    double logit = w("eou.fc2.bias")[0];
    for (int h = 0; h < H; ++h) {
      double a = w("eou.fc1.bias")[h];
      for (int d = 0; d < D; ++d) a += double(w("eou.fc1.weight")[size_t(h) * D + d]) * e[d];
      logit += w("eou.fc2.weight")[h] * std::max(a, 0.0);
    }
    CHECKF(look.end_of_utterance == m.eou_prob(e), "peek's end of utterance is not the head at the last real frame");
    CHECKF(std::fabs(look.end_of_utterance - 1 / (1 + std::exp(-logit))) < 1e-5, "eou_prob is not the MLP");
  }
  RandomTransducer plain("f32", 1000);
  TransducerStream s(plain.model, StreamOptions{});
  s.accept(audio.data(), audio.size());
  CHECKF(s.peek(300).end_of_utterance == -1.f, "a model without the head reported an end of utterance");
}

int main() {
  test_end_of_utterance();
  test_peek();
  test_context_graph();
  test_tokenize();
  test_chunked_encoder("f32");
  test_chunked_encoder("q4_0");
  test_biasing();
  return check::summary("test_transducer");
}
