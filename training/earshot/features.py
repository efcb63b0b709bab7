"""Acoustic features shared by every Earshot model (docs/model-format.md, "Features").

The engine reimplements exactly this: Kaldi fbank through torchaudio's compliance module with the
options below and every other option at its default, then a global CMVN stored in the model file.
"""
import torch
import torchaudio

SAMPLE_RATE = 16000
NUM_MEL_BINS = 80
FRAME_LENGTH_MS = 25.0
FRAME_SHIFT_MS = 10.0


def fbank(wave: torch.Tensor) -> torch.Tensor:
    """Log-mel filterbank of a mono float waveform in [-1, 1) at 16 kHz: [frames, 80].

    Scaled by 32768 first, as the engine feeds int16 samples; dither off so features are
    deterministic (the engine has no dither).
    """
    if wave.dim() != 1:
        raise ValueError(f"fbank expects a 1-D waveform, got shape {tuple(wave.shape)}")
    if wave.numel() < int(SAMPLE_RATE * FRAME_LENGTH_MS / 1000):
        return torch.zeros(0, NUM_MEL_BINS)
    return torchaudio.compliance.kaldi.fbank(
        wave.float().unsqueeze(0) * 32768.0,
        num_mel_bins=NUM_MEL_BINS,
        frame_length=FRAME_LENGTH_MS,
        frame_shift=FRAME_SHIFT_MS,
        dither=0.0,
        sample_frequency=SAMPLE_RATE,
    )


def num_frames(num_samples: int) -> int:
    """Frames fbank gives with snip_edges=True: frame k covers samples [160k, 160k + 400)."""
    win, hop = int(SAMPLE_RATE * FRAME_LENGTH_MS / 1000), int(SAMPLE_RATE * FRAME_SHIFT_MS / 1000)
    return 0 if num_samples < win else 1 + (num_samples - win) // hop


def fbank_batch(waves: torch.Tensor, lengths: torch.Tensor):
    """fbank of many utterances in one call (on their device, e.g. the GPU), frame for frame the
    same maths as `fbank` of each alone (the batched FFT may round differently in the last bits):
    waves [B, N] padded, lengths [B] -> feats [B, T, 80] (zero past each length), frames [B].

    Every Kaldi step (DC removal, pre-emphasis, window, FFT, mel, log) is per frame, so the
    utterances are laid end to end, each on its own 160-sample grid and padded by at least
    400 - 160 samples so that none of its own frames reaches into the next one.
    """
    win, hop = int(SAMPLE_RATE * FRAME_LENGTH_MS / 1000), int(SAMPLE_RATE * FRAME_SHIFT_MS / 1000)
    lens = [int(n) for n in lengths]
    frames = [num_frames(n) for n in lens]
    spans = [-(-(n + win - hop) // hop) * hop for n in lens]
    pieces = []
    for i, n in enumerate(lens):
        pieces.append(waves[i, :n].float())
        pieces.append(waves.new_zeros(spans[i] - n, dtype=torch.float32))
    feats_all = fbank(torch.cat(pieces))
    out = waves.new_zeros(len(lens), max(frames + [0]), NUM_MEL_BINS, dtype=torch.float32)
    start = 0
    for i, f in enumerate(frames):
        out[i, :f] = feats_all[start // hop: start // hop + f]
        start += spans[i]
    return out, torch.tensor(frames, device=waves.device)


class GlobalCmvn:
    """Running mean / inverse std over all frames seen; stored as feat.mean and feat.istd."""

    def __init__(self):
        self.count = 0
        self.sum = torch.zeros(NUM_MEL_BINS, dtype=torch.float64)
        self.sum_sq = torch.zeros(NUM_MEL_BINS, dtype=torch.float64)

    def accumulate(self, feats: torch.Tensor) -> None:
        f = feats.double()
        self.count += f.shape[0]
        self.sum += f.sum(0)
        self.sum_sq += (f * f).sum(0)

    def stats(self):
        """(mean, istd) as float32 tensors of 80."""
        if self.count == 0:
            raise ValueError("GlobalCmvn.stats: no frames accumulated")
        mean = self.sum / self.count
        var = (self.sum_sq / self.count - mean * mean).clamp(min=1e-8)
        return mean.float(), var.rsqrt().float()


def apply_cmvn(feats: torch.Tensor, mean: torch.Tensor, istd: torch.Tensor) -> torch.Tensor:
    return (feats - mean) * istd
