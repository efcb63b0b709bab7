"""Streaming transducer (docs/model-format.md, "earshot-transducer"): the maths the engine reproduces.

Encoder: frame stacking (S fbank frames -> one 40 ms frame), N Conformer blocks with a chunked
causal attention mask and causal depthwise convolution, no positional encoding.
Predictor: stateless, the last two tokens' embeddings -> Linear -> ReLU.
Joiner: tanh(join.enc(enc) + join.pred(pred)) -> join.out. CIF head: sigmoid(Linear(enc)).

With `qat=True` every quantized Linear (the ones the file stores as Q4_0) fake-quantizes its weight
to Q4_0 and its input to Q8_0 in the forward, with straight-through gradients.
"""
import math
from dataclasses import dataclass, asdict

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import quant
from .features import apply_cmvn


@dataclass
class TransducerConfig:
    vocab_size: int = 29
    d_model: int = 192
    n_layers: int = 8
    n_heads: int = 4
    ff_dim: int = 768
    conv_kernel: int = 15
    stack: int = 4
    pred_dim: int = 256
    pred_context: int = 2
    joiner_dim: int = 256
    chunk_frames: int = 8
    left_context_frames: int = 64
    has_cif: bool = True
    num_mel_bins: int = 80
    eou_hidden: int = 0  # end-of-utterance head (training/eou.py); 0: none

    def to_dict(self):
        return asdict(self)


class QLinear(nn.Linear):
    """nn.Linear whose forward can fake-quantize as the engine computes (Q4_0 weight, Q8_0 input)."""

    qat = False

    def forward(self, x):
        if not self.qat:
            return F.linear(x, self.weight, self.bias)
        return F.linear(quant.fake_q8_0(x), quant.fake_q4_0(self.weight), self.bias)


class FeedForward(nn.Module):
    def __init__(self, d, f):
        super().__init__()
        self.norm = nn.LayerNorm(d, eps=1e-5)
        self.up = QLinear(d, f)
        self.down = QLinear(f, d)

    def forward(self, x):
        return self.down(F.silu(self.up(self.norm(x))))


def chunk_mask(t: int, chunk: int, left: int, device=None) -> torch.Tensor:
    """[t, t] bool, True where frame i may attend to frame j (same chunk or up to `left` frames
    before the chunk start). `chunk <= 0` means the whole utterance (offline)."""
    i = torch.arange(t, device=device).unsqueeze(1)
    j = torch.arange(t, device=device).unsqueeze(0)
    if chunk <= 0:
        return torch.ones(t, t, dtype=torch.bool, device=device)
    start = (i // chunk) * chunk
    return (j < start + chunk) & (j >= start - left)


class ChunkedSelfAttention(nn.Module):
    def __init__(self, d, h):
        super().__init__()
        if d % h:
            raise ValueError(f"d_model {d} not divisible by n_heads {h}")
        self.h = h
        self.norm = nn.LayerNorm(d, eps=1e-5)
        self.qkv = QLinear(d, 3 * d)
        self.out = QLinear(d, d)

    def forward(self, x, allowed):
        # allowed: [B or 1, T, T] bool (chunk mask AND key padding mask)
        b, t, d = x.shape
        q, k, v = self.qkv(self.norm(x)).view(b, t, 3, self.h, d // self.h).permute(2, 0, 3, 1, 4)
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(d // self.h)
        scores = scores.masked_fill(~allowed.unsqueeze(1), float("-inf"))
        # A padded query row can have no allowed key: keep it finite, it is never used.
        attn = torch.softmax(scores, dim=-1).nan_to_num(0.0)
        y = torch.matmul(attn, v).transpose(1, 2).reshape(b, t, d)
        return self.out(y)


class CausalConvModule(nn.Module):
    def __init__(self, d, k):
        super().__init__()
        self.k = k
        self.norm = nn.LayerNorm(d, eps=1e-5)
        self.pw1 = QLinear(d, 2 * d)
        self.dw = nn.Conv1d(d, d, k, groups=d, bias=True)
        self.dwnorm = nn.LayerNorm(d, eps=1e-5)
        self.pw2 = QLinear(d, d)

    def forward(self, x, pad_mask):
        # pad_mask [B, T] True on real frames: zero padded frames so they never leak into the
        # conv of a later utterance position (they only come after the real ones, but be safe).
        y = F.glu(self.pw1(self.norm(x)), dim=-1)
        y = y * pad_mask.unsqueeze(-1).to(y.dtype)
        y = F.pad(y.transpose(1, 2), (self.k - 1, 0))  # causal: zeros before the stream's start
        y = self.dw(y).transpose(1, 2)
        return self.pw2(F.silu(self.dwnorm(y)))


class ConformerBlock(nn.Module):
    def __init__(self, cfg: TransducerConfig):
        super().__init__()
        d = cfg.d_model
        self.ff1 = FeedForward(d, cfg.ff_dim)
        self.attn = ChunkedSelfAttention(d, cfg.n_heads)
        self.conv = CausalConvModule(d, cfg.conv_kernel)
        self.ff2 = FeedForward(d, cfg.ff_dim)
        self.out_norm = nn.LayerNorm(d, eps=1e-5)

    def forward(self, x, allowed, pad_mask):
        x = x + 0.5 * self.ff1(x)
        x = x + self.attn(x, allowed)
        x = x + self.conv(x, pad_mask)
        x = x + 0.5 * self.ff2(x)
        return self.out_norm(x)


class Encoder(nn.Module):
    def __init__(self, cfg: TransducerConfig):
        super().__init__()
        self.cfg = cfg
        self.input = QLinear(cfg.stack * cfg.num_mel_bins, cfg.d_model)
        self.blocks = nn.ModuleList([ConformerBlock(cfg) for _ in range(cfg.n_layers)])

    def forward(self, feats, feat_lens, chunk: int, left: int):
        """feats [B, T, 80] (CMVN'd) -> enc [B, T // S, D], enc_lens. Trailing frames that do not
        fill a stack are dropped, as the engine only runs full stacks."""
        s = self.cfg.stack
        b, t, m = feats.shape
        t_out = t // s
        x = self.input(feats[:, : t_out * s].reshape(b, t_out, s * m))
        enc_lens = torch.div(feat_lens, s, rounding_mode="floor")
        pad_mask = torch.arange(t_out, device=x.device).unsqueeze(0) < enc_lens.unsqueeze(1)
        allowed = chunk_mask(t_out, chunk, left, x.device).unsqueeze(0) & pad_mask.unsqueeze(1)
        for blk in self.blocks:
            x = blk(x, allowed, pad_mask)
        return x, enc_lens


class StatelessPredictor(nn.Module):
    def __init__(self, cfg: TransducerConfig):
        super().__init__()
        self.context = cfg.pred_context
        self.embed = nn.Embedding(cfg.vocab_size, cfg.pred_dim)
        self.ctx = QLinear(cfg.pred_context * cfg.pred_dim, cfg.pred_dim)

    def forward(self, history):
        """history [B, U, context] token ids (oldest first, blank where missing) -> [B, U, P]."""
        e = self.embed(history)  # [B, U, ctx, P]
        return F.relu(self.ctx(e.flatten(-2)))

    @staticmethod
    def histories(targets, blank: int, context: int = 2):
        """targets [B, U] -> [B, U + 1, context]: the context before each lattice row u."""
        b, u = targets.shape
        padded = torch.cat([targets.new_full((b, context), blank), targets], dim=1)
        return torch.stack([padded[:, i : i + u + 1] for i in range(context)], dim=-1)


class Joiner(nn.Module):
    def __init__(self, cfg: TransducerConfig):
        super().__init__()
        self.enc = QLinear(cfg.d_model, cfg.joiner_dim)
        self.pred = QLinear(cfg.pred_dim, cfg.joiner_dim)
        self.out = QLinear(cfg.joiner_dim, cfg.vocab_size)

    def forward(self, enc_proj, pred_proj):
        """Already projected inputs, broadcastable: returns logits (not normalized)."""
        return self.out(torch.tanh(enc_proj + pred_proj))


class EouHead(nn.Module):
    """Encoder frame [D] -> logit of p(the utterance is over): the engine's eou_prob."""

    def __init__(self, d_model: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(d_model, hidden)
        self.fc2 = nn.Linear(hidden, 1)

    def forward(self, enc):
        return self.fc2(torch.relu(self.fc1(enc))).squeeze(-1)


class Transducer(nn.Module):
    def __init__(self, cfg: TransducerConfig):
        super().__init__()
        self.cfg = cfg
        self.encoder = Encoder(cfg)
        self.predictor = StatelessPredictor(cfg)
        self.joiner = Joiner(cfg)
        self.cif = nn.Linear(cfg.d_model, 1) if cfg.has_cif else None
        self.eou = EouHead(cfg.d_model, cfg.eou_hidden) if cfg.eou_hidden else None
        self.register_buffer("feat_mean", torch.zeros(cfg.num_mel_bins))
        self.register_buffer("feat_istd", torch.ones(cfg.num_mel_bins))
        self.blank = 0

    def set_eou_head(self, hidden: int) -> None:
        """A new end-of-utterance head (trained apart, on the frozen encoder)."""
        self.cfg.eou_hidden = hidden
        self.eou = EouHead(self.cfg.d_model, hidden)

    def set_qat(self, on: bool) -> None:
        for m in self.modules():
            if isinstance(m, QLinear):
                m.qat = on

    def encode(self, fbank_feats, feat_lens, chunk=None, left=None):
        """Raw fbank [B, T, 80] -> encoder output, lengths (CMVN applied here, as in the engine)."""
        x = apply_cmvn(fbank_feats, self.feat_mean, self.feat_istd)
        chunk = self.cfg.chunk_frames if chunk is None else chunk
        left = self.cfg.left_context_frames if left is None else left
        return self.encoder(x, feat_lens, chunk, left)

    def cif_alphas(self, enc):
        return torch.sigmoid(self.cif(enc)).squeeze(-1)

    def predict(self, targets):
        hist = StatelessPredictor.histories(targets, self.blank, self.cfg.pred_context)
        return self.predictor(hist)

    @torch.no_grad()
    def greedy(self, enc, enc_lens, max_symbols: int = 3):
        """Greedy search as the engine: per encoder frame, emit the argmax until blank, at most
        `max_symbols` tokens. Batched over utterances. Returns per utterance [(token, frame)]."""
        b, t, _ = enc.shape
        ctx = self.cfg.pred_context
        enc_proj = self.joiner.enc(enc)
        hist = torch.full((b, 1, ctx), self.blank, dtype=torch.long, device=enc.device)
        pred_proj = self.joiner.pred(self.predictor(hist))[:, 0]
        out = [[] for _ in range(b)]
        for ti in range(t):
            active = ti < enc_lens
            for _ in range(max_symbols):
                logits = self.joiner.out(torch.tanh(enc_proj[:, ti] + pred_proj))
                tok = logits.argmax(-1)
                emit = active & (tok != self.blank)
                if not bool(emit.any()):
                    break
                for i in torch.nonzero(emit).flatten().tolist():
                    out[i].append((int(tok[i]), ti))
                new_hist = torch.cat([hist[:, :, 1:], tok.view(b, 1, 1)], dim=-1)
                hist = torch.where(emit.view(b, 1, 1), new_hist, hist)
                new_pred = self.joiner.pred(self.predictor(hist))[:, 0]
                pred_proj = torch.where(emit.view(b, 1), new_pred, pred_proj)
                active = emit
        return out


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
