"""BAT (boundary-aware transducer) loss in plain PyTorch, and the full RNN-T baseline.

BAT: a CIF head gives per-frame weights alpha_t; their cumulative sum (scaled to the target length)
says which token frame t is at, n_t. The transducer lattice is evaluated only on the band
u in [s_t, s_t + W) around n_t (W = R_d + R_u): only the band's joiner outputs are computed, so the
[B, T, U+1, J] joiner activations of the full loss shrink to [B, T, W, J]. CIF's quantity loss
|sum_t alpha_t - U| trains the weights.

The band start s_t must make the banded lattice a valid one, else some utterances (those with fewer
tokens than W, say) get no path and an infinite loss:
  * the gathered rows s_t .. s_t+W-1 exist: s_t <= hi = max(0, U_b + 1 - W) with the same W that is
    gathered (rows past U_b only hold padding, and no path to (T-1, U_b) goes through them);
  * s_0 = 0 (the path starts at u = 0) and s_{T_b-1} = hi (it ends at u = U_b);
  * monotone (s_{t+1} >= s_t) and connected (s_{t+1} <= s_t + W - 1): a blank from (t, u) lands on
    (t+1, u), which must lie in the next band.
Inside a band a frame can emit at most W - 1 tokens, so an utterance is feasible iff
U_b <= T_b (W - 1); `band_starts` then always returns valid bands (with W = U_max + 1 they cover the
whole lattice and the loss equals torchaudio's rnnt_loss).
"""
import torch
import torch.nn.functional as F

NEG = -1.0e30  # "log 0" that stays finite: no inf - inf, no NaN gradients


def band_starts(alphas, enc_lens, target_lens, r_down: int, r_up: int, u_max: int):
    """Band start s [B, T] (long) and width W from CIF weights alphas [B, T] (no gradient)."""
    b, t = alphas.shape
    device = alphas.device
    width = min(r_down + r_up, u_max + 1)
    frames = torch.arange(t, device=device).unsqueeze(0)
    valid = frames < enc_lens.unsqueeze(1)
    a = alphas.detach().float() * valid
    # Scale so the weights add up to the target length: positions then end at U_b.
    a = a * (target_lens.float() / a.sum(1).clamp(min=1e-6)).unsqueeze(1)
    n = torch.floor(torch.cumsum(a, 1)).long()
    hi = (target_lens + 1 - width).clamp(min=0).unsqueeze(1)
    s = torch.minimum((n - r_down).clamp(min=0), hi)
    s[:, 0] = 0
    s = torch.cummax(s, 1).values  # monotone
    slope = (width - 1) * frames
    s = torch.minimum(s, torch.cummin(s - slope, 1).values + slope)  # connected
    last = (enc_lens - 1).clamp(min=0).unsqueeze(1)
    s = torch.maximum(s, hi - (width - 1) * (last - frames))  # can still reach U_b
    s = torch.minimum(s, hi).clamp(min=0)
    return s, width


def banded_rnnt_loss(enc_proj, pred_proj, joiner_out, targets, enc_lens, target_lens, starts, width, blank: int = 0):
    """Transducer loss over the band rows starts[b, t] + [0, width). Sum over the batch.

    enc_proj [B, T, J] and pred_proj [B, U+1, J] are the joiner's two projections (before tanh);
    joiner_out maps tanh(enc + pred) [.., J] to logits [.., V].
    """
    b, t, j = enc_proj.shape
    rows = starts.unsqueeze(-1) + torch.arange(width, device=enc_proj.device)  # [B, T, W]
    pred_band = torch.gather(pred_proj, 1, rows.reshape(b, t * width, 1).expand(-1, -1, j))
    hidden = torch.tanh(enc_proj.unsqueeze(2) + pred_band.reshape(b, t, width, j))
    logp = F.log_softmax(joiner_out(hidden).float(), dim=-1)  # [B, T, W, V]
    # Row u emits targets[u]; rows >= U_b get the blank as a harmless, finite stand-in.
    padded = torch.cat([targets, targets.new_full((b, 1), blank)], dim=1)
    in_target = torch.arange(padded.shape[1], device=targets.device).unsqueeze(0) < target_lens.unsqueeze(1)
    padded = torch.where(in_target, padded, torch.full_like(padded, blank))
    emit_tok = torch.gather(padded, 1, rows.reshape(b, -1)).reshape(b, t, width)
    emit = torch.gather(logp, 3, emit_tok.unsqueeze(-1)).squeeze(-1)
    blank_lp = logp[..., blank]
    return _band_forward(blank_lp, emit, starts, enc_lens, target_lens, width)


def _log_matmul(a, b):
    """(a ⊗ b)[.., i, k] = logsumexp_j a[.., i, j] + b[.., j, k]: the log-semiring matrix product."""
    return torch.logsumexp(a.unsqueeze(-1) + b.unsqueeze(-3), dim=-2)


def _band_forward(blank_lp, emit, starts, enc_lens, target_lens, width):
    """-log P(target) summed over the batch, from the band's blank and emit log-probs [B, T, W].

    The forward variable of frame t is a W-vector over the band's rows, and frame t's step (blank
    from frame t-1, shifted by the band's rise, then any emissions inside frame t) is linear in the
    log semiring: alpha_t = M_t ⊗ alpha_{t-1}. Multiplying the T matrices pairwise in a tree takes
    log2(T) batched steps instead of T sequential ones: the loss costs a few kernels, not a loop.
    """
    b, t, w = blank_lp.shape
    device = blank_lp.device
    # excl[t, i] = sum of emissions of rows < i in frame t: the cost of climbing from row j to i is
    # excl[i] - excl[j] (the band is narrow, so the differences stay exact enough in fp32).
    excl = torch.cumsum(emit, 2) - emit
    last_t = (enc_lens - 1).clamp(min=0)
    col = (target_lens - starts.gather(1, last_t.unsqueeze(1)).squeeze(1)).clamp(0, w - 1)
    idx = torch.arange(b, device=device)
    alpha0 = excl[:, 0]  # starts at row 0, s_0 = 0
    if t > 1:
        rise = (starts[:, 1:] - starts[:, :-1]).unsqueeze(-1)  # [B, T-1, 1]
        k = torch.arange(w, device=device)
        src = k - rise  # frame t's row fed by blank from row k
        i = k.view(1, 1, w, 1)
        valid = (src.unsqueeze(2) >= 0) & (src.unsqueeze(2) <= i)  # [B, T-1, W(i), W(k)]
        climb_from = torch.gather(excl[:, 1:], 2, src.clamp(min=0))  # excl_t at the entry row
        mats = excl[:, 1:].unsqueeze(-1) - climb_from.unsqueeze(-2) + blank_lp[:, :-1].unsqueeze(-2)
        frames = torch.arange(1, t, device=device).view(1, t - 1, 1, 1)
        live = frames <= last_t.view(b, 1, 1, 1)  # past an utterance's end: identity
        eye = torch.eye(w, device=device, dtype=torch.bool)
        mats = torch.where(
            live,
            torch.where(valid, mats, mats.new_full((), NEG)),
            torch.where(eye, mats.new_zeros(()), mats.new_full((), NEG)),
        )
        while mats.shape[1] > 1:
            if mats.shape[1] % 2:
                ident = torch.where(eye, mats.new_zeros(()), mats.new_full((), NEG))
                mats = torch.cat([mats, ident.expand(b, 1, w, w)], 1)
            mats = _log_matmul(mats[:, 1::2], mats[:, 0::2])  # later ⊗ earlier
        alpha_last = torch.logsumexp(mats[:, 0] + alpha0.unsqueeze(1), dim=-1)
    else:
        alpha_last = alpha0
    final = alpha_last[idx, col] + blank_lp[idx, last_t, col]
    return -final.sum()


def cif_quantity_loss(alphas, enc_lens, target_lens):
    """Sum over the batch of |sum_t alpha_t - U_b|."""
    valid = torch.arange(alphas.shape[1], device=alphas.device).unsqueeze(0) < enc_lens.unsqueeze(1)
    return ((alphas * valid).sum(1) - target_lens.to(alphas.dtype)).abs().sum()


def bat_loss(model, enc, enc_lens, targets, target_lens, r_down: int = 4, r_up: int = 6):
    """(pruned transducer loss, CIF quantity loss), both summed over the batch."""
    alphas = model.cif_alphas(enc)
    starts, width = band_starts(alphas, enc_lens, target_lens, r_down, r_up, targets.shape[1])
    enc_proj = model.joiner.enc(enc)
    pred_proj = model.joiner.pred(model.predict(targets))
    loss = banded_rnnt_loss(
        enc_proj, pred_proj, model.joiner.out, targets, enc_lens, target_lens, starts, width, model.blank
    )
    return loss, cif_quantity_loss(alphas, enc_lens, target_lens)


def full_rnnt_loss(model, enc, enc_lens, targets, target_lens):
    """Baseline: the whole [B, T, U+1, V] lattice through torchaudio's rnnt_loss. Sum over the batch."""
    import torchaudio

    enc_proj = model.joiner.enc(enc).unsqueeze(2)
    pred_proj = model.joiner.pred(model.predict(targets)).unsqueeze(1)
    logits = model.joiner(enc_proj, pred_proj)
    return torchaudio.functional.rnnt_loss(
        logits.float(), targets.int(), enc_lens.int(), target_lens.int(), blank=model.blank, reduction="sum"
    )
