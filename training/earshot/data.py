"""Training examples: clean speech (synthetic + real recordings) -> augmented waveform -> fbank.

Augmentations (each with its own probability): speed perturbation, leading/trailing silence,
two-command concatenation, simulated room reverberation, band limiting (incl. 8 kHz round trips),
coloured noise, babble from other synthetic speech, mains hum, gain, and a low noise floor
(a real microphone is never digitally silent).
"""
import math
import random

import numpy as np
import torch
import torchaudio

from . import tokens
from .features import SAMPLE_RATE

SR = SAMPLE_RATE


class Corpus:
    """Utterances as one int16 array plus offsets (cheap to pickle into DataLoader workers)."""

    def __init__(self, audio: np.ndarray, offsets: np.ndarray, texts, voices):
        self.audio, self.offsets, self.texts, self.voices = audio, offsets, list(texts), list(voices)

    @classmethod
    def from_items(cls, items):
        """items: (int16 audio at 16 kHz, text, voice)."""
        lens = np.array([len(a) for a, _, _ in items], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(lens)])
        audio = np.concatenate([a for a, _, _ in items]) if items else np.zeros(0, np.int16)
        return cls(audio, offsets, [t for _, t, _ in items], [v for _, _, v in items])

    def __len__(self):
        return len(self.texts)

    def wave(self, i: int) -> np.ndarray:
        return self.audio[self.offsets[i] : self.offsets[i + 1]].astype(np.float32) / 32768.0

    def save(self, path: str):
        np.savez(path, audio=self.audio, offsets=self.offsets, texts=np.array(self.texts), voices=np.array(self.voices))

    @classmethod
    def concat(cls, corpora):
        lens = np.concatenate([np.diff(c.offsets) for c in corpora])
        return cls(
            np.concatenate([c.audio for c in corpora]),
            np.concatenate([[0], np.cumsum(lens)]),
            sum((c.texts for c in corpora), []),
            sum((c.voices for c in corpora), []),
        )

    @classmethod
    def load(cls, path: str):
        z = np.load(path)
        return cls(z["audio"], z["offsets"], z["texts"].tolist(), z["voices"].tolist())


def resample(x: np.ndarray, orig: int, new: int) -> np.ndarray:
    return torchaudio.functional.resample(torch.from_numpy(np.ascontiguousarray(x)), orig, new).numpy()


def rms(x):
    return float(np.sqrt(np.mean(x * x) + 1e-12))


def coloured_noise(r: np.random.Generator, n: int, exponent: float) -> np.ndarray:
    """Noise with power ~ 1/f^exponent (0 white, 1 pink, 2 brown)."""
    spec = np.fft.rfft(r.standard_normal(n))
    f = np.maximum(np.fft.rfftfreq(n, 1.0 / SR), 20.0)
    y = np.fft.irfft(spec / f ** (exponent / 2), n)
    return (y / (rms(y) + 1e-9)).astype(np.float32)


def room_impulse(r: np.random.Generator) -> np.ndarray:
    """Direct path + exponentially decaying noise tail (RT60 0.15-0.8 s), a few early reflections."""
    rt60 = r.uniform(0.15, 0.8)
    n = int(min(rt60, 0.5) * SR)
    t = np.arange(n) / SR
    tail = r.standard_normal(n) * np.exp(-6.9 * t / rt60) * r.uniform(0.1, 0.5)
    tail[: int(0.003 * SR)] = 0
    h = tail
    h[0] = 1.0
    for _ in range(r.integers(2, 6)):
        h[r.integers(int(0.002 * SR), int(0.03 * SR))] += r.uniform(-0.6, 0.6)
    return (h / np.sqrt(np.sum(h * h))).astype(np.float32)


def fft_convolve(x, h):
    n = len(x) + len(h) - 1
    size = 1 << (n - 1).bit_length()
    return np.fft.irfft(np.fft.rfft(x, size) * np.fft.rfft(h, size), size)[: len(x)].astype(np.float32)


def lowpass(x, cutoff_hz, highpass_hz=0.0):
    spec = np.fft.rfft(x)
    f = np.fft.rfftfreq(len(x), 1.0 / SR)
    spec[(f > cutoff_hz) | (f < highpass_hz)] = 0
    return np.fft.irfft(spec, len(x)).astype(np.float32)


def real_room(r: random.Random, rirs) -> np.ndarray:
    """A measured room response with its tail shortened or kept (rooms of other sizes)."""
    h = rirs[r.randrange(len(rirs))]
    t = np.arange(len(h)) / SR
    h = h * np.exp(-t * r.choice([0.0, 0.0, 4.0, 10.0]))
    return (h / np.sqrt(np.sum(h * h))).astype(np.float32)


def microphone_colour(r: random.Random, x: np.ndarray) -> np.ndarray:
    """A random smooth frequency response (+-8 dB over a few octave-wide bumps): cheap
    microphones, speakerphones and cases colour speech this way."""
    spec = np.fft.rfft(x)
    f = np.maximum(np.fft.rfftfreq(len(x), 1.0 / SR), 50.0)
    octave = np.log2(f / 50.0)
    gain_db = np.zeros_like(octave)
    for _ in range(r.randint(1, 4)):
        gain_db += r.uniform(-8, 8) * np.exp(-0.5 * ((octave - r.uniform(0, 7.3)) / r.uniform(0.3, 1.2)) ** 2)
    return np.fft.irfft(spec * 10 ** (gain_db / 20), len(x)).astype(np.float32)


class Augmenter:
    """Clean speech -> what a microphone in a room hears. `real` speech makes `real_share` of the
    examples (the rest synthetic command sentences, for vocabulary); `noises` and `rirs` are real
    recordings (noise and measured rooms) used beside the simulated ones; babble is other people's
    real speech where there is some."""

    def __init__(
        self,
        corpus: Corpus,
        real: Corpus = None,
        real_share: float = 0.08,
        strength: float = 1.0,
        noises=(),
        rirs=(),
        real_words_power: float = 0.0,
    ):
        self.corpus, self.real, self.real_share, self.strength = corpus, real, real_share, strength
        # real utterances drawn with weight (words in it) ** power: one-second words are most of the
        # recordings, while connected speech is what commands are made of
        weights = [max(1, len(t.split())) ** real_words_power for t in (real.texts if real is not None else [])]
        self.real_cumulative = np.cumsum(weights) if weights else None
        self.noises, self.rirs = list(noises), list(rirs)
        self.babble_source = real if real is not None and len(real) else corpus

    def clean(self, r: random.Random):
        """(waveform, text) before augmentation; sometimes two commands with a pause."""
        if self.real is not None and len(self.real) and r.random() < self.real_share:
            i = int(np.searchsorted(self.real_cumulative, r.random() * self.real_cumulative[-1], side="right"))
            i = min(i, len(self.real) - 1)
            return self.real.wave(i), self.real.texts[i]
        i = r.randrange(len(self.corpus))
        x, text = self.corpus.wave(i), self.corpus.texts[i]
        if r.random() < 0.08:
            j = r.randrange(len(self.corpus))
            gap = np.zeros(int(r.uniform(0.3, 1.5) * SR), np.float32)
            y = self.corpus.wave(j) * (rms(x) / rms(self.corpus.wave(j)))
            x, text = np.concatenate([x, gap, y]), text + " " + self.corpus.texts[j]
        return x, text

    def __call__(self, r: random.Random, nr: np.random.Generator):
        """Returns (waveform float32, text)."""
        x, text = self.clean(r)
        s = self.strength
        if r.random() < 0.6:
            # speed 0.85-1.15: pitch, formants and rate move together (a new voice from a real one)
            factor = r.choice([(20, 17), (10, 9), (20, 19), (20, 21), (10, 11), (20, 23)])
            x = resample(x, factor[0] * 1000, factor[1] * 1000)
        x = x / (rms(x) + 1e-9) * 0.05
        x = np.concatenate(
            [
                np.zeros(int(r.uniform(0.05, 0.6) * SR), np.float32),
                x,
                np.zeros(int(r.uniform(0.3, 0.8) * SR), np.float32),
            ]
        )
        if r.random() < 0.3 * s:
            x = fft_convolve(x, real_room(r, self.rirs) if self.rirs and r.random() < 0.4 else room_impulse(nr))
        if r.random() < 0.3 * s:
            x = microphone_colour(r, x)
        u = r.random()
        if u < 0.12 * s:
            x = resample(resample(x, SR, 8000), 8000, SR)
        elif u < 0.25 * s:
            x = lowpass(x, r.uniform(3400, 7000), r.choice([0.0, 0.0, 300.0]))
        speech = rms(x)
        noise = np.zeros_like(x)
        if r.random() < 0.5 * s:
            noise += (
                coloured_noise(nr, len(x), r.choice([0.0, 1.0, 1.0, 2.0])) * speech * 10 ** (-r.uniform(5, 35) / 20)
            )
        if self.noises and r.random() < 0.25 * s:
            clip = self.noises[r.randrange(len(self.noises))]
            start = r.randrange(max(1, len(clip) - len(x)))
            seg = np.resize(clip[start : start + len(x)], len(x))  # loops a clip shorter than x
            noise += seg / (rms(seg) + 1e-9) * speech * 10 ** (-r.uniform(0, 25) / 20)
        if r.random() < 0.15 * s:
            babble = np.zeros_like(x)
            for _ in range(r.randint(2, 5)):
                b = self.babble_source.wave(r.randrange(len(self.babble_source)))
                start = r.randrange(max(1, len(x)))
                seg = b[: len(x) - start]
                babble[start : start + len(seg)] += seg / (rms(seg) + 1e-9)
            noise += babble / (rms(babble) + 1e-9) * speech * 10 ** (-r.uniform(8, 25) / 20)
        if r.random() < 0.1 * s:
            f0 = r.choice([50.0, 60.0])
            t = np.arange(len(x)) / SR
            hum = sum(math.pow(0.5, k) * np.sin(2 * np.pi * f0 * (k + 1) * t + r.uniform(0, 6.3)) for k in range(4))
            noise += (hum / (rms(hum) + 1e-9) * speech * 10 ** (-r.uniform(10, 35) / 20)).astype(np.float32)
        x = x + noise + nr.standard_normal(len(x)).astype(np.float32) * 10 ** (r.uniform(-75, -55) / 20)
        x = x * (10 ** (r.uniform(-40, -12) / 20) / (rms(x) + 1e-9))
        peak = np.abs(x).max()
        if r.random() < 0.05 * s:  # an overdriven input: hard clipping
            x = np.clip(x * r.uniform(2, 6) * 0.99 / (peak + 1e-9), -0.99, 0.99)
        elif peak > 0.99:
            x = x * (0.99 / peak)
        # int16 quantization, as the microphone delivers
        return np.round(x * 32768.0).clip(-32768, 32767).astype(np.float32) / 32768.0, text


def collate(examples):
    """[(waveform float32, text)] -> waves int16 [B, N] (0-padded), wave_lens, targets [B, U]
    (0-padded), target_lens. Features are computed by the consumer (fbank_batch, on the GPU)."""
    ids = [tokens.encode(t) for _, t in examples]
    b = len(examples)
    n = max(len(x) for x, _ in examples)
    u = max(max(len(y) for y in ids), 1)
    waves = torch.zeros(b, n, dtype=torch.int16)
    targets = torch.zeros(b, u, dtype=torch.long)
    for i, ((x, _), y) in enumerate(zip(examples, ids)):
        waves[i, : len(x)] = torch.from_numpy(np.round(x * 32768.0).astype(np.int16))
        targets[i, : len(y)] = torch.tensor(y, dtype=torch.long)
    return (waves, torch.tensor([len(x) for x, _ in examples]), targets, torch.tensor([len(y) for y in ids]))


def waves_to_float(waves: torch.Tensor) -> torch.Tensor:
    return waves.float() / 32768.0


class BatchStream(torch.utils.data.IterableDataset):
    """Endless augmented batches, bucketed by length (a pool of `pool` batches is sorted by
    duration and cut into batches) so padding stays small."""

    def __init__(self, augmenter: Augmenter, batch_size: int, seed: int, pool: int = 8):
        self.aug, self.batch_size, self.seed, self.pool = augmenter, batch_size, seed, pool

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        wid = info.id if info else 0
        torch.set_num_threads(1)
        r = random.Random(self.seed * 1000 + wid)
        nr = np.random.default_rng(self.seed * 1000 + wid)
        while True:
            exs = [self.aug(r, nr) for _ in range(self.batch_size * self.pool)]
            exs.sort(key=lambda e: len(e[0]))
            batches = [exs[i : i + self.batch_size] for i in range(0, len(exs), self.batch_size)]
            r.shuffle(batches)
            for bt in batches:
                yield collate(bt)
