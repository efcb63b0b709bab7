#include "fbank.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <map>
#include <mutex>

namespace earshot {

namespace {
double mel(double hz) { return 1127.0 * std::log(1.0 + hz / 700.0); }
}  // namespace

struct Fbank::Tables {
  std::vector<double> window;
  std::vector<double> cos, sin;  // FFT twiddles
  std::vector<int> bitrev;
  struct Filter {
    int first;
    std::vector<float> w;
  };
  std::vector<Filter> filters;
};

namespace {
std::shared_ptr<const Fbank::Tables> make_tables(int sample_rate, int bins, int frame_len, int n);
}

Fbank::Fbank(const FbankOptions& opt)
    : bins_(opt.num_mel_bins),
      frame_len_(static_cast<int>(opt.sample_rate * opt.frame_length_ms / 1000.f + 0.5f)),
      frame_shift_(static_cast<int>(opt.sample_rate * opt.frame_shift_ms / 1000.f + 0.5f)) {
  fft_size_ = 1;
  while (fft_size_ < frame_len_) fft_size_ *= 2;
  // Streams are created on the JS thread: reuse the tables instead of recomputing ~20k logs.
  static std::mutex mu;
  static std::map<std::vector<int>, std::shared_ptr<const Tables>> cache;
  std::vector<int> key = {opt.sample_rate, bins_, frame_len_, fft_size_};
  {
    std::lock_guard<std::mutex> lock(mu);
    auto it = cache.find(key);
    if (it != cache.end()) tab_ = it->second;
  }
  if (!tab_) {
    tab_ = make_tables(opt.sample_rate, bins_, frame_len_, fft_size_);
    std::lock_guard<std::mutex> lock(mu);
    cache.emplace(key, tab_);
  }
  re_.resize(fft_size_);
  im_.resize(fft_size_);
  power_.resize(fft_size_ / 2 + 1);
}

namespace {
std::shared_ptr<const Fbank::Tables> make_tables(int sample_rate, int bins, int frame_len, int n) {
  auto t = std::make_shared<Fbank::Tables>();
  // Povey window: a symmetric Hann window raised to 0.85.
  t->window.resize(frame_len);
  for (int i = 0; i < frame_len; ++i)
    t->window[i] = std::pow(0.5 - 0.5 * std::cos(2 * M_PI * i / (frame_len - 1)), 0.85);
  t->cos.resize(n / 2);
  t->sin.resize(n / 2);
  for (int i = 0; i < n / 2; ++i) {
    t->cos[i] = std::cos(2 * M_PI * i / n);
    t->sin[i] = -std::sin(2 * M_PI * i / n);
  }
  int bits = 0;
  while ((1 << bits) < n) ++bits;
  t->bitrev.resize(n);
  for (int i = 0; i < n; ++i) {
    int r = 0;
    for (int b = 0; b < bits; ++b) r |= ((i >> b) & 1) << (bits - 1 - b);
    t->bitrev[i] = r;
  }
  // Triangular filters on the mel scale from 20 Hz to Nyquist, over FFT bins 0..n/2-1 (Kaldi leaves
  // the Nyquist bin out).
  double lo = mel(20.0), hi = mel(sample_rate / 2.0);
  double delta = (hi - lo) / (bins + 1);
  double bin_hz = static_cast<double>(sample_rate) / n;
  t->filters.resize(bins);
  for (int m = 0; m < bins; ++m) {
    double left = lo + m * delta, center = left + delta, right = center + delta;
    auto& f = t->filters[m];
    f.first = -1;
    for (int k = 0; k < n / 2; ++k) {
      double x = mel(bin_hz * k);
      double w = std::max(0.0, std::min((x - left) / (center - left), (right - x) / (right - center)));
      if (w > 0) {
        if (f.first < 0) f.first = k;
        f.w.resize(k - f.first + 1, 0.f);
        f.w[k - f.first] = static_cast<float>(w);
      }
    }
    if (f.first < 0) f.first = 0;
  }
  return t;
}
}  // namespace

void Fbank::reset() {
  pending_.clear();
  ready_.clear();
  emitted_ = 0;
}

void Fbank::accept_int16(const int16_t* samples, size_t n) {
  size_t old = pending_.size();
  pending_.resize(old + n);
  for (size_t i = 0; i < n; ++i) pending_[old + i] = samples[i];
  drain();
}

void Fbank::accept(const float* samples, size_t n) {
  size_t old = pending_.size();
  pending_.resize(old + n);
  // A NaN or infinity from a broken source would poison every later frame (and the search): zero it.
  for (size_t i = 0; i < n; ++i) pending_[old + i] = std::isfinite(samples[i]) ? samples[i] * 32768.f : 0.f;
  drain();
}

void Fbank::drain() {
  size_t start = 0;
  while (pending_.size() - start >= static_cast<size_t>(frame_len_)) {
    size_t at = ready_.size();
    ready_.resize(at + bins_);
    compute_frame(pending_.data() + start, ready_.data() + at);
    ++emitted_;
    start += frame_shift_;
  }
  pending_.erase(pending_.begin(), pending_.begin() + start);
}

size_t Fbank::take(std::vector<float>& out, size_t max_frames) {
  size_t n = std::min(frames_ready(), max_frames);
  out.insert(out.end(), ready_.begin(), ready_.begin() + n * bins_);
  ready_.erase(ready_.begin(), ready_.begin() + n * bins_);
  return n;
}

void Fbank::compute_frame(const float* wave, float* out) {
  const Tables& tab = *tab_;
  const int len = frame_len_, n = fft_size_;
  double mean = 0;
  for (int i = 0; i < len; ++i) mean += wave[i];
  mean /= len;
  // DC removal, pre-emphasis (the first sample uses itself as its predecessor), window, zero pad.
  double prev = wave[0] - mean;
  for (int i = 0; i < len; ++i) {
    double x = wave[i] - mean;
    re_[tab.bitrev[i]] = (x - 0.97 * prev) * tab.window[i];
    prev = x;
  }
  for (int i = len; i < n; ++i) re_[tab.bitrev[i]] = 0;
  std::fill(im_.begin(), im_.end(), 0.0);
  for (int size = 2; size <= n; size *= 2) {
    int half = size / 2, step = n / size;
    for (int s = 0; s < n; s += size) {
      for (int k = 0; k < half; ++k) {
        double wr = tab.cos[k * step], wi = tab.sin[k * step];
        int a = s + k, b = a + half;
        double tr = re_[b] * wr - im_[b] * wi, ti = re_[b] * wi + im_[b] * wr;
        re_[b] = re_[a] - tr;
        im_[b] = im_[a] - ti;
        re_[a] += tr;
        im_[a] += ti;
      }
    }
  }
  for (int k = 0; k <= n / 2; ++k) power_[k] = re_[k] * re_[k] + im_[k] * im_[k];
  for (int m = 0; m < bins_; ++m) {
    const auto& f = tab.filters[m];
    double e = 0;
    for (size_t k = 0; k < f.w.size(); ++k) e += f.w[k] * power_[f.first + k];
    out[m] = static_cast<float>(std::log(std::max(e, static_cast<double>(FLT_EPSILON))));
  }
}

}  // namespace earshot
