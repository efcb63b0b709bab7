"""How far a transcript is from being a transducer's greedy decode, in logits.

A greedy decode is a chain of argmaxes; where two choices are within float noise, another CPU's
rounding (a Q8_0 step flipped by a different summation order) takes the other branch and the text
changes. The tests therefore ask how large a tolerance `eps` makes a transcript a greedy decode,
when any choice within `eps` of the best may be taken: 0 when plain greedy gives it, small at a
near-tie, large when the model prefers something else (greedy_deficit, path_deficit); and
make_sample.py keeps only commands whose decode wins every decision by a margin (path_margin)."""
import numpy as np
import torch


def logit_lattice(model, enc: torch.Tensor, targets) -> torch.Tensor:
    """Joiner logits [T, U + 1, V] of one utterance (`enc` [T, D]) at every frame and every prefix
    of `targets` (token ids), computed as `Transducer.greedy` computes them."""
    t = torch.tensor(list(targets), dtype=torch.long).view(1, -1)
    with torch.no_grad():
        hist = model.predictor.histories(t, model.blank, model.cfg.pred_context)
        pred = model.joiner.pred(model.predictor(hist))[0]
        return model.joiner(model.joiner.enc(enc)[:, None], pred[None])


def _deficits(logits: torch.Tensor, targets, blank: int):
    lg = logits.double().numpy()
    best = lg.max(-1)
    blank_def = best - lg[:, :, blank]
    u = np.arange(len(targets))
    tok_def = best[:, :-1] - lg[:, u, np.asarray(targets, dtype=np.int64)] if len(targets) else best[:, :0]
    return blank_def, tok_def


def greedy_deficit(logits: torch.Tensor, targets, blank: int = 0, max_symbols: int = 3) -> float:
    """The smallest `eps` for which `targets` is a greedy decode of `logits` (from logit_lattice)
    when every argmax may pick any choice within `eps` of the best: 0.0 when greedy gives exactly
    `targets`, inf when no path emits them (too many tokens for the frames)."""
    blank_def, tok_def = _deficits(logits, targets, blank)
    frames, rows = blank_def.shape
    # cur[u, k]: the least worst deficit reaching row u with k tokens emitted in this frame
    cur = np.full((rows, max_symbols + 1), np.inf)
    cur[0, 0] = 0.0
    for t in range(frames):
        nxt = np.full(rows, np.inf)
        for u in range(rows):
            for k in range(max_symbols + 1):
                c = cur[u, k]
                if c == np.inf:
                    continue
                if k == max_symbols:  # greedy moves on after max_symbols tokens without a look
                    nxt[u] = min(nxt[u], c)
                    continue
                nxt[u] = min(nxt[u], max(c, blank_def[t, u]))
                if u + 1 < rows:
                    cur[u + 1, k + 1] = min(cur[u + 1, k + 1], max(c, tok_def[t, u]))
        cur = np.full((rows, max_symbols + 1), np.inf)
        cur[:, 0] = nxt
    return float(cur[rows - 1, 0])


def _per_frame(path, frames: int, max_symbols: int):
    """[(token, frame)] -> the tokens emitted at each frame, checked to be a possible greedy path."""
    per_frame = [[] for _ in range(frames)]
    last = 0
    for token, frame in path:
        if not last <= frame < frames:
            raise ValueError(f"path frames must be non-decreasing and below {frames}: {path}")
        per_frame[frame].append(token)
        last = frame
    for t, tokens in enumerate(per_frame):
        if len(tokens) > max_symbols:
            raise ValueError(f"{len(tokens)} tokens at frame {t}: greedy emits at most {max_symbols}")
    return per_frame


def path_deficit(logits: torch.Tensor, path, blank: int = 0, max_symbols: int = 3) -> float:
    """The worst deficit along one decode `path` [(token id, frame)] (the engine's, say): how far
    its least argmax-like decision is from the argmax of `logits` (from logit_lattice over the
    path's tokens)."""
    per_frame = _per_frame(path, logits.shape[0], max_symbols)
    blank_def, tok_def = _deficits(logits, [t for t, _ in path], blank)
    worst, u = 0.0, 0
    for t, tokens in enumerate(per_frame):
        for _ in tokens:
            worst = max(worst, tok_def[t, u])
            u += 1
        if len(tokens) < max_symbols:
            worst = max(worst, blank_def[t, u])
    return float(worst)


def path_margin(logits: torch.Tensor, path, blank: int = 0, max_symbols: int = 3) -> float:
    """The smallest lead of a decode `path`'s decisions over the runner-up choice, in logits: how
    much rounding it takes to change that decode (negative where the path is not the argmax)."""
    per_frame = _per_frame(path, logits.shape[0], max_symbols)
    lg = logits.double().numpy()
    least, u = np.inf, 0

    def lead(t, u, choice):
        others = np.delete(lg[t, u], choice)
        return lg[t, u, choice] - others.max()

    for t, tokens in enumerate(per_frame):
        for token in tokens:
            least = min(least, lead(t, u, token))
            u += 1
        if len(tokens) < max_symbols:
            least = min(least, lead(t, u, blank))
    return float(least)


def texts_within(model, enc: torch.Tensor, eps: float, max_symbols: int = 3, max_texts: int = 1000):
    """The texts (token-id tuples) greedy decoding of one utterance (`enc` [T, D]) can give when each
    argmax may take any choice within `eps` logits of the best. A near-tie that only moves a token
    by a frame leaves the text alone, so this, not path_margin, says whether rounding can change a
    transcript. eps = 0 gives greedy's own text (and any exact tie's)."""
    blank, ctx = model.blank, model.cfg.pred_context
    preds = {}

    def pred(hist):
        if hist not in preds:
            preds[hist] = model.joiner.pred(model.predictor(torch.tensor([[list(hist)]])))[0, 0]
        return preds[hist]

    with torch.no_grad():
        enc_proj = model.joiner.enc(enc)
        texts = {()}
        for t in range(enc.shape[0]):
            after, todo, seen = set(), [(text, 0) for text in texts], set()
            while todo:
                text, k = todo.pop()
                if (text, k) in seen:
                    continue
                seen.add((text, k))
                if k == max_symbols:  # greedy moves on after max_symbols tokens without a look
                    after.add(text)
                    continue
                hist = tuple(([blank] * ctx + list(text))[-ctx:])
                logits = model.joiner.out(torch.tanh(enc_proj[t] + pred(hist)))
                for c in torch.nonzero(logits >= logits.max() - eps).flatten().tolist():
                    if c == blank:
                        after.add(text)
                    else:
                        todo.append((text + (c,), k + 1))
            if len(after) > max_texts:
                raise ValueError(f"more than {max_texts} texts within {eps} logits by frame {t}")
            texts = after
    return texts
