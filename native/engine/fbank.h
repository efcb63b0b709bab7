// Kaldi-compatible log-mel filterbank, computed incrementally (docs/model-format.md, "Features").
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace earshot {

struct FbankOptions {
  int sample_rate = 16000;
  int num_mel_bins = 80;
  float frame_length_ms = 25.f;
  float frame_shift_ms = 10.f;
};

class Fbank {
 public:
  explicit Fbank(const FbankOptions& opt = {});

  // Appends samples in [-1, 1) (scaled by 32768 inside, as Kaldi's int16 convention); any chunk size.
  void accept(const float* samples, size_t n);
  void accept_int16(const int16_t* samples, size_t n);
  // Frames completed so far and not yet taken, num_mel_bins floats each, oldest first.
  size_t frames_ready() const { return ready_.size() / bins_; }
  // Moves up to max_frames completed frames into out (appended); returns how many.
  size_t take(std::vector<float>& out, size_t max_frames = SIZE_MAX);
  void reset();

  int num_bins() const { return bins_; }
  int64_t frames_emitted() const { return emitted_; }

  struct Tables;  // window, FFT twiddles, mel filters: built once per option set, shared

 private:
  void drain();
  void compute_frame(const float* wave, float* out);

  std::shared_ptr<const Tables> tab_;
  int bins_, frame_len_, frame_shift_, fft_size_;
  std::vector<float> pending_;  // samples not yet consumed by a complete frame (already x32768)
  std::vector<float> ready_;    // completed frames
  int64_t emitted_ = 0;
  std::vector<double> re_, im_, power_;
};

}  // namespace earshot
