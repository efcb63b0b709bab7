#!/usr/bin/python3
"""Writes the fbank golden files used by native/tests/test_fbank.cpp.

Each <name>.fbank file: u32 n_samples, u32 n_frames, u32 n_bins, then n_samples int16 (the signal),
then n_frames * n_bins float32: torchaudio.compliance.kaldi.fbank(int16 / 32768 * 32768) with the
options of docs/model-format.md, computed in float64 so that the reference itself carries no
float32 FFT noise in the low-energy bins. Run: /usr/bin/python3 native/tests/golden/make_fbank_golden.py
"""
import os
import struct
import subprocess
import tempfile

import numpy as np
import torch
import torchaudio

HERE = os.path.dirname(os.path.abspath(__file__))


def fbank(samples: np.ndarray) -> np.ndarray:
    wave = torch.from_numpy(samples.astype(np.float64) / 32768.0).unsqueeze(0)
    return (
        torchaudio.compliance.kaldi.fbank(
            wave * 32768, num_mel_bins=80, frame_length=25, frame_shift=10, dither=0.0, sample_frequency=16000
        )
        .numpy()
        .astype(np.float32)
    )


def speech() -> np.ndarray:
    with tempfile.TemporaryDirectory() as tmp:
        raw = os.path.join(tmp, "a.wav")
        out = os.path.join(tmp, "b.wav")
        subprocess.run(["espeak-ng", "-w", raw, "turn on the kitchen light"], check=True)
        subprocess.run(["sox", "-D", raw, "-r", "16000", "-c", "1", "-b", "16", out], check=True)
        wave, sr = torchaudio.load(out)
        assert sr == 16000
    return np.round(wave[0].numpy() * 32768).clip(-32768, 32767).astype(np.int16)


def main() -> None:
    rng = np.random.default_rng(7)
    t = np.arange(16000) / 16000.0
    tone = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.001 * rng.standard_normal(t.size)
    signals = {
        "speech": speech(),
        "noise": (rng.standard_normal(12345) * 3000).clip(-32768, 32767).astype(np.int16),
        "tone": np.round(tone * 32768).astype(np.int16),
    }
    for name, samples in signals.items():
        feats = fbank(samples)
        with open(os.path.join(HERE, name + ".fbank"), "wb") as f:
            f.write(struct.pack("<III", samples.size, feats.shape[0], feats.shape[1]))
            f.write(samples.astype("<i2").tobytes())
            f.write(feats.astype("<f4").tobytes())
        print(name, samples.size, feats.shape)


if __name__ == "__main__":
    main()
