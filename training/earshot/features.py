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
        out[i, :f] = feats_all[start // hop : start // hop + f]
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


def cmvn_of(frames) -> tuple:
    """(mean, istd) over every frame of an iterable of [frames, 80] tensors or arrays."""
    cmvn = GlobalCmvn()
    for f in frames:
        cmvn.accumulate(torch.as_tensor(f))
    return cmvn.stats()


def apply_cmvn(feats: torch.Tensor, mean: torch.Tensor, istd: torch.Tensor) -> torch.Tensor:
    """The one statement of the normalization every model (and the engine) applies to raw fbank."""
    return (feats - mean) * istd


def spec_augment(
    feats: torch.Tensor,
    lengths: torch.Tensor,
    fill: torch.Tensor,
    gen: torch.Generator,
    warp: float = 0.12,
    freq_masks: int = 2,
    freq_width: int = 10,
    time_masks: int = 2,
    time_share: float = 0.05,
) -> torch.Tensor:
    """Training-time feature augmentation of fbank [B, T, 80] (frames past `lengths` untouched):
    a per-utterance warp of the frequency axis by a factor in [1 - warp, 1 + warp] (vocal tract
    length: new timbres from the few voices we have), then SpecAugment masks filled with `fill`
    (the global mean, so a masked bin is "average", not silence). Time masks are short
    (`time_share` of the utterance each): a command loses no whole word."""
    b, t, f = feats.shape
    dev = feats.device
    r = lambda *shape: torch.rand(*shape, generator=gen).to(dev)  # noqa: E731
    alpha = 1 + (2 * r(b, 1) - 1) * warp
    pos = (torch.arange(f, device=dev).float().unsqueeze(0) * alpha).clamp(max=f - 1)  # [B, F]
    lo = pos.floor().long()
    hi = (lo + 1).clamp(max=f - 1)
    frac = (pos - lo).unsqueeze(1)
    out = (
        feats.gather(2, lo.unsqueeze(1).expand(b, t, f)) * (1 - frac)
        + feats.gather(2, hi.unsqueeze(1).expand(b, t, f)) * frac
    )
    bins = torch.arange(f, device=dev).view(1, 1, f)
    for _ in range(freq_masks):
        width = (r(b, 1, 1) * (freq_width + 1)).long()
        start = (r(b, 1, 1) * (f - width + 1)).long()
        out = torch.where((bins >= start) & (bins < start + width), fill.view(1, 1, f), out)
    frames = torch.arange(t, device=dev).view(1, t, 1)
    lens = lengths.to(dev).view(b, 1, 1).float()
    for _ in range(time_masks):
        width = (r(b, 1, 1) * time_share * lens).long()
        start = (r(b, 1, 1) * (lens - width).clamp(min=0)).long()
        out = torch.where((frames >= start) & (frames < start + width), fill.view(1, 1, f), out)
    return out
