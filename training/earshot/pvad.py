"""Speaker encoder and personal VAD (docs/model-format.md, `earshot-spkenc` and `earshot-pvad`).

These modules are the source of truth for the maths the engine reproduces. Both take raw Kaldi
fbank frames ([batch, frames, 80], from `features.fbank`) and apply the global CMVN they carry as
buffers (`feat_mean`, `feat_istd`, exported as `feat.mean` / `feat.istd`).
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from .features import NUM_MEL_BINS, apply_cmvn

NON_SPEECH, TARGET_SPEECH, OTHER_SPEECH = 0, 1, 2
CLASS_NAMES = ("non-speech", "target speech", "other speech")


class _Cmvn(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("feat_mean", torch.zeros(NUM_MEL_BINS))
        self.register_buffer("feat_istd", torch.ones(NUM_MEL_BINS))

    def set_cmvn(self, mean: torch.Tensor, istd: torch.Tensor) -> None:
        self.feat_mean.copy_(mean)
        self.feat_istd.copy_(istd)

    def normalize(self, fbank: torch.Tensor) -> torch.Tensor:
        return apply_cmvn(fbank, self.feat_mean, self.feat_istd)


class SpeakerEncoder(_Cmvn):
    """LSTM stack over CMVN'd fbank; per window the last hidden state -> projection -> L2 norm."""

    def __init__(
        self, hidden: int = 256, n_layers: int = 3, embed_dim: int = 128, window_frames: int = 160, window_hop: int = 80
    ):
        super().__init__()
        self.hidden, self.n_layers, self.embed_dim = hidden, n_layers, embed_dim
        self.window_frames, self.window_hop = window_frames, window_hop
        self.lstm = nn.LSTM(NUM_MEL_BINS, hidden, num_layers=n_layers, batch_first=True)
        self.proj = nn.Linear(hidden, embed_dim)

    def embed_windows(self, fbank: torch.Tensor) -> torch.Tensor:
        """[B, T, 80] windows (each run from a zero state) -> [B, E] unit embeddings."""
        out, _ = self.lstm(self.normalize(fbank))
        return F.normalize(self.proj(out[:, -1]), dim=-1)

    def window_starts(self, n_frames: int):
        """Windows start at 0, hop, 2*hop... while the whole window fits; a shorter input is one window."""
        if n_frames < 1:
            raise ValueError("speaker encoder: no frames")
        if n_frames <= self.window_frames:
            return [0]
        return list(range(0, n_frames - self.window_frames + 1, self.window_hop))

    def embed_utterance(self, fbank: torch.Tensor) -> torch.Tensor:
        """[T, 80] -> [E]: mean of the window embeddings, L2 normalized."""
        starts = self.window_starts(fbank.shape[0])
        length = min(self.window_frames, fbank.shape[0])
        windows = torch.stack([fbank[s : s + length] for s in starts])
        return F.normalize(self.embed_windows(windows).mean(0), dim=-1)


class PersonalVad(_Cmvn):
    """Causal 3-class frame classifier conditioned on a speaker embedding.

    conditioning='film' is the shipped model (docs/model-format.md). 'concat' (the second LSTM reads
    [h1, e]) exists only for the FiLM-versus-concatenation measurement and has no file format.
    """

    def __init__(self, hidden: int = 128, embed_dim: int = 128, conditioning: str = "film"):
        super().__init__()
        if conditioning not in ("film", "concat"):
            raise ValueError(f"unknown conditioning {conditioning!r}")
        self.hidden, self.embed_dim, self.conditioning = hidden, embed_dim, conditioning
        self.inp = nn.Linear(NUM_MEL_BINS, hidden)
        self.lstm0 = nn.LSTM(hidden, hidden, batch_first=True)
        if conditioning == "film":
            self.film_gamma = nn.Linear(embed_dim, hidden)
            self.film_beta = nn.Linear(embed_dim, hidden)
            self.lstm1 = nn.LSTM(hidden, hidden, batch_first=True)
        else:
            self.lstm1 = nn.LSTM(hidden + embed_dim, hidden, batch_first=True)
        self.out = nn.Linear(hidden, 3)

    def forward(self, fbank: torch.Tensor, embedding: torch.Tensor, state=None):
        """fbank [B, T, 80], embedding [B, E] (zeros: nobody enrolled) -> (logits [B, T, 3], state).

        state is ((h0, c0), (h1, c1)) of the two LSTMs; passing it back continues the stream exactly.
        """
        s0, s1 = (None, None) if state is None else state
        h0 = F.relu(self.inp(self.normalize(fbank)))
        h1, s0 = self.lstm0(h0, s0)
        e = embedding.unsqueeze(1)
        if self.conditioning == "film":
            f = h1 * (1 + self.film_gamma(e)) + self.film_beta(e)
        else:
            f = torch.cat([h1, e.expand(-1, h1.shape[1], -1)], dim=-1)
        h2, s1 = self.lstm1(f, s1)
        return self.out(h2), (s0, s1)

    def posteriors(self, fbank: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        return self.forward(fbank, embedding)[0].softmax(-1)


def count_parameters(module: nn.Module) -> int:
    """Parameters as the file stores them (an LSTM's two bias vectors count once)."""
    return sum(p.numel() for name, p in module.named_parameters() if "bias_hh" not in name)
