"""End of utterance (issue 14): a small head on the recognizer's encoder that says, in a pause,
whether the speaker has finished ("turn on the kitchen lights" + quiet) or has more to say ("set a
timer for" + quiet). It reads the encoder output of the last frame before the pause's query time,
computed as the engine's look-ahead decode computes it (the audio so far, then 300 ms of digital
silence: RecognizerStream.peek), so the frozen shipped encoder serves and no GPU is needed.

Top to bottom, on the CPU (about 15 minutes on 2 cores):

    /usr/bin/python3 -m training.eou data --out runs/eou          # examples and their queries
    node --import=tsx training/eou_features.ts runs/eou models/earshot-en-int4.gguf
    /usr/bin/python3 -m training.eou fit --dir runs/eou           # the head; metrics on held-out voices and dev speakers
    /usr/bin/python3 -m training.eou export --dir runs/eou --model models/earshot-en-int4.gguf
    /usr/bin/python3 -m training.eou export --dir runs/eou --model models/earshot-en-f32.gguf

Examples: synthetic commands of the training text generator by the training voices, a third of them
cut after a word that cannot end a command ("set a timer for | ten minutes") and resumed after a
pause of 0.3-1.2 s; and real `train` rows of ../shared/data (words and sentences, by their own
speakers). Each is put between a lead-in and a second of quiet, with noise (5-35 dB SNR), rooms,
band limits and a random level. Queries, each labelled: after the end of a finished utterance, 40-500 ms
on (1), inside a mid-command pause (0), inside speech (0). Validation: the two held-out synthetic
voices and the dev speakers of ../shared/data (never trained on), reported, not used to fit.
"""
import argparse
import json
import os
import random
import subprocess
import wave

import numpy as np
import torch

from training.earshot import data as aug
from training.earshot.model import EouHead
from training.earshot.synth import HELD_OUT, Synthesizer, training_voices, trim
from training.earshot.textgen import TextGenerator
from training.real_pack import load_16k, manifest_rows

SR = 16000
PEEK_PAD_MS = 300  # daemon/pipeline.ts SENTENCE_PEEK_PAD_MS: what the engine's peek appends
# A command never ends on these: a pause after one is the speaker thinking, not done.
NON_FINAL = {
    "the", "a", "an", "to", "for", "of", "in", "at", "on", "my", "your", "and", "by", "with", "from",
    "into", "set", "turn", "play", "call", "add", "remind", "is", "are", "what's", "me", "about", "until",
}  # fmt: skip
KIND_SPEECH, KIND_DONE, KIND_PAUSE = 0, 1, 2


def split_command(words, r: random.Random):
    """(head, tail) cut after a word that cannot end a command, or None."""
    cuts = [k for k in range(1, len(words)) if words[k - 1] in NON_FINAL]
    if not cuts:
        return None
    k = r.choice(cuts)
    return words[:k], words[k:]


def room_and_noise(x: np.ndarray, r: random.Random, nr: np.random.Generator) -> np.ndarray:
    if r.random() < 0.2:
        x = aug.fft_convolve(x, aug.room_impulse(nr))
    if r.random() < 0.1:
        x = aug.resample(aug.resample(x, SR, 8000), 8000, SR)
    speech = aug.rms(x[np.abs(x) > 0]) if np.any(x) else 1e-3
    noise = aug.coloured_noise(nr, len(x), r.choice([0.0, 1.0, 1.0, 2.0])) * speech * 10 ** (-r.uniform(5, 35) / 20)
    x = x + noise + nr.standard_normal(len(x)).astype(np.float32) * 10 ** (r.uniform(-75, -55) / 20)
    x = x * (10 ** (r.uniform(-35, -15) / 20) / (aug.rms(x) + 1e-9))
    return np.clip(np.round(x * 32768), -32768, 32767).astype(np.int16)


class Builder:
    def __init__(self, seed: int):
        self.r = random.Random(seed)
        self.nr = np.random.default_rng(seed)
        self.audio, self.offsets = [], [0]
        self.queries = []  # (example, tau samples, label, kind, samples after the piece's end or -1)
        self.split, self.source = [], []

    def add(self, parts, split: int, source: str):
        """parts: speech pieces (float32, trimmed); between two, a pause. Queries after each piece."""
        r = self.r
        pieces, spans = [np.zeros(int(r.uniform(0.15, 0.5) * SR), np.float32)], []
        at = len(pieces[0])
        for i, p in enumerate(parts):
            spans.append((at, at + len(p)))
            pieces.append(p)
            at += len(p)
            gap = int(r.uniform(0.3, 1.2) * SR) if i + 1 < len(parts) else SR
            pieces.append(np.zeros(gap, np.float32))
            at += gap
        x = room_and_noise(np.concatenate(pieces), r, self.nr)
        ex = len(self.split)
        for i, (start, end) in enumerate(spans):
            done = i + 1 == len(spans)
            room = (spans[i + 1][0] - end) if not done else SR
            for _ in range(3 if done else 2):
                d = r.uniform(0.04, min(0.5, room / SR - 0.02))
                self.queries.append((ex, end + int(d * SR), int(done), KIND_DONE if done else KIND_PAUSE, int(d * SR)))
            if end - start > int(0.5 * SR):
                tau = r.randrange(start + int(0.3 * SR), end - int(0.05 * SR))
                self.queries.append((ex, tau, 0, KIND_SPEECH, -1))
        self.audio.append(x)
        self.offsets.append(self.offsets[-1] + len(x))
        self.split.append(split)
        self.source.append(source)

    def save(self, out: str):
        q = np.array(self.queries, dtype=np.int64).reshape(-1, 5)
        np.savez(
            os.path.join(out, "examples.npz"),
            audio=np.concatenate(self.audio),
            offsets=np.array(self.offsets, np.int64),
            split=np.array(self.split, np.int8),
            source=np.array(self.source),
            q_example=q[:, 0],
            q_tau=q[:, 1],
            q_label=q[:, 2],
            q_kind=q[:, 3],
            q_after=q[:, 4],
        )
        # raw copies for training/eou_features.ts (the engine's side reads no .npz)
        np.concatenate(self.audio).tofile(os.path.join(out, "audio.i16"))
        np.array(self.offsets, np.int64).tofile(os.path.join(out, "offsets.i64"))
        q.tofile(os.path.join(out, "queries.i64"))
        return len(self.split), len(q)


def synth_examples(b: Builder, synth: Synthesizer, gen: TextGenerator, voices, n: int, split: int):
    r = b.r
    made = 0
    while made < n:
        words = gen.sentence().split()
        cut = split_command(words, r) if r.random() < 0.4 else None
        texts = [" ".join(p) for p in cut] if cut else [" ".join(words)]
        voice, rate, pitch = r.choice(voices), r.uniform(0.8, 1.25), r.uniform(0.75, 1.3)
        try:
            parts = [synth.say(t, voice, rate, pitch) for t in texts]
        except (subprocess.CalledProcessError, OSError, wave.Error):  # a voice that fails on a text: another draw
            continue
        b.add([trim(p, 0.0) for p in parts], split, "synth")
        made += 1


def real_examples(b: Builder, data: str, split: str, n: int, seed: int):
    rows = list(manifest_rows(data, {split}))
    r = random.Random(seed)
    # connected speech drawn as often as single words (most rows are one-second words)
    weights = [len(text.split()) ** 0.5 for _, _, _, text, _ in rows]
    for corpus, path, speaker, text, _ in r.choices(rows, weights=weights, k=n):
        x = trim(load_16k(path), 0.0)
        if len(x) > SR // 10:
            b.add([x], 1 if split == "dev" else 0, corpus)


def cmd_data(args):
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(1)
    b = Builder(args.seed)
    synth = Synthesizer(args.root)
    voices = training_voices()
    synth_examples(b, synth, TextGenerator(seed=args.seed), voices, args.synth, 0)
    synth_examples(b, synth, TextGenerator(seed=args.seed + 1), HELD_OUT, args.synth_val, 1)
    real_examples(b, args.data, "train", args.real, args.seed)
    real_examples(b, args.data, "dev", args.real_val, args.seed + 1)
    n, q = b.save(args.out)
    print(f"{n} examples, {q} queries -> {args.out}/examples.npz")


def load_queries(folder: str):
    z = np.load(os.path.join(folder, "examples.npz"))
    feats = np.fromfile(os.path.join(folder, "features.f32"), dtype=np.float32)
    n = len(z["q_tau"])
    return z, feats.reshape(n, -1)


def metrics(p: np.ndarray, label, kind, tau_after, threshold: float):
    """Shares at the threshold: finished utterances seen as finished (early: at most 150 ms after
    the end), pauses and speech taken for an end."""
    done = kind == KIND_DONE
    early = done & (tau_after <= int(0.15 * SR))
    return {
        "done_recall": float((p[done] >= threshold).mean()),
        "done_recall_150ms": float((p[early] >= threshold).mean()),
        "pause_false_end": float((p[kind == KIND_PAUSE] >= threshold).mean()),
        "speech_false_end": float((p[kind == KIND_SPEECH] >= threshold).mean()),
        "n": {"done": int(done.sum()), "pause": int((kind == KIND_PAUSE).sum()), "speech": int((kind == 0).sum())},
    }


def cmd_fit(args):
    torch.manual_seed(args.seed)
    z, x = load_queries(args.dir)
    ex = z["q_example"]
    split, source = z["split"][ex], z["source"][ex]
    y = z["q_label"].astype(np.float32)
    kind = z["q_kind"]
    tr = split == 0
    xt, yt = torch.from_numpy(x[tr]), torch.from_numpy(y[tr])
    head = EouHead(x.shape[1], args.hidden)
    opt = torch.optim.AdamW(head.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    pos_weight = torch.tensor((1 - yt.mean()) / yt.mean())
    for epoch in range(args.epochs):
        perm = torch.randperm(len(yt))
        for i in range(0, len(perm), 256):
            idx = perm[i : i + 256]
            loss = torch.nn.functional.binary_cross_entropy_with_logits(head(xt[idx]), yt[idx], pos_weight=pos_weight)
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        p = torch.sigmoid(head(torch.from_numpy(x))).numpy()
    tau_after = z["q_after"]
    report = {}
    for name, sel in (
        ("train", tr),
        ("heldout_voices", (split == 1) & (source == "synth")),
        ("dev_speakers", (split == 1) & (source != "synth")),
    ):
        report[name] = {str(t): metrics(p[sel], y[sel], kind[sel], tau_after[sel], t) for t in (0.5, 0.8, 0.9)}
    torch.save({"state": head.state_dict(), "hidden": args.hidden}, f"{args.dir}/head.pt")
    with open(f"{args.dir}/fit.json", "w") as f:
        json.dump(report, f, indent=1)
    print(json.dumps(report, indent=1))


def cmd_export(args):
    from training.earshot.gguf import read_gguf
    from training.export import export_transducer, read_transducer

    saved = torch.load(f"{args.dir}/head.pt")
    model, meta, quantized = read_transducer(args.model)
    model.set_eou_head(saved["hidden"])
    model.eou.load_state_dict(saved["state"])
    provenance = json.loads(meta.get("earshot.provenance", "{}"))
    provenance["eou"] = "training/eou.py on the frozen encoder of this file"
    weights = next(t for _, t in read_gguf(args.model)[1].values() if t != "F32") if quantized else "F32"
    out = args.out or args.model
    export_transducer(model, out, weights.lower(), meta["general.name"], meta["earshot.tokens"], provenance)
    print(f"{out}: end-of-utterance head ({saved['hidden']} hidden) added")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("data")
    d.add_argument("--out", default="runs/eou")
    d.add_argument("--data", default="../shared/data")
    d.add_argument("--root", default="/", help="where espeak-ng and flite are (their .debs unpacked, or /)")
    d.add_argument("--synth", type=int, default=2400)
    d.add_argument("--synth-val", type=int, default=300)
    d.add_argument("--real", type=int, default=1500)
    d.add_argument("--real-val", type=int, default=400)
    d.add_argument("--seed", type=int, default=701)
    f = sub.add_parser("fit")
    f.add_argument("--dir", default="runs/eou")
    f.add_argument("--hidden", type=int, default=32)
    f.add_argument("--epochs", type=int, default=10)
    f.add_argument("--lr", type=float, default=2e-3)
    f.add_argument("--weight-decay", type=float, default=0.1)
    f.add_argument("--seed", type=int, default=1)
    e = sub.add_parser("export")
    e.add_argument("--dir", default="runs/eou")
    e.add_argument("--model", required=True)
    e.add_argument("--out", default=None, help="default: rewrite --model")
    args = ap.parse_args(argv)
    {"data": cmd_data, "fit": cmd_fit, "export": cmd_export}[args.cmd](args)


if __name__ == "__main__":
    main()
