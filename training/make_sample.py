"""The bundled demo/test recording: home commands in a held-out voice (flite rms, never trained on)
with ~1.5 s pauses, and its expected transcripts and speech times.

    python3 -m training.make_sample --model runs/bat_qat.pt --out samples
Candidates the model does not transcribe exactly (int4 arithmetic, default chunk) are skipped and
counted in sample.json, so the sample is honest about being a selection; so are those whose text
changes when a decision within --min-margin logits goes the other way, as another CPU's rounding
(or the engine's, or another kernel family's) may take it (greedy_margin.texts_within).
"""
import argparse
import json
import os
import subprocess
import tempfile
import wave

import numpy as np
import torch

from training.earshot import tokens as tok
from training.earshot.features import fbank_batch
from training.earshot.greedy_margin import texts_within
from training.evaluate import load_model

CANDIDATES = ["turn on the kitchen lights", "set the living room temperature to twenty one degrees",
              "close the bedroom blinds", "lock the front door", "turn off the hallway lights",
              "play some music in the office", "set a timer for ten minutes", "open the garage door", "turn off the bedroom fan",
              "close the living room curtains", "unlock the back door", "turn on the porch light",
              "open the kitchen window", "turn off the office lights", "close the garage door",
              "lock the back door", "open the bedroom curtains", "turn on the living room lamp",
              "dim the dining room lights to fifty percent", "turn on the fan"]
SR = 16000


def flite(text: str, voice: str = "rms") -> np.ndarray:
    with tempfile.NamedTemporaryFile(suffix=".wav") as f:
        subprocess.run(["flite", "-voice", voice, "-t", text, "-o", f.name], check=True)
        with wave.open(f.name) as w:
            assert w.getframerate() == SR, "flite rms writes 16 kHz"
            return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768


def transcribe(model, x: np.ndarray, eps: float = 0.0):
    """(greedy text, the other texts greedy gives where decisions within eps logits go the other way)."""
    feats, lens = fbank_batch(torch.from_numpy(x).unsqueeze(0), torch.tensor([len(x)]))
    enc, enc_lens = model.encode(feats, lens)
    text = tok.decode([t for t, _ in model.greedy(enc, enc_lens)[0]])
    others = {tok.decode(t) for t in texts_within(model, enc[0], eps)} - {text} if eps > 0 else set()
    return text, others


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", default="samples")
    ap.add_argument("--count", type=int, default=4)
    ap.add_argument("--min-margin", type=float, default=0.25,
                    help="no decision within this many logits may change the text (0: exact transcripts suffice)")
    args = ap.parse_args()
    from training.earshot.synth import trim
    model = load_model(args.model, "cpu")
    model.set_qat(True)
    chosen, skipped = [], []

    def build(items):
        pieces, commands, t = [np.zeros(int(0.5 * SR), np.float32)], [], 0.5
        for text, x in items:
            commands.append({"text": text, "start_s": round(t, 3), "end_s": round(t + len(x) / SR, 3)})
            pieces += [x, np.zeros(int(1.5 * SR), np.float32)]
            t += len(x) / SR + 1.5
        y = np.concatenate(pieces)
        y = y + np.random.default_rng(7).standard_normal(len(y)).astype(np.float32) * 10 ** (-66 / 20)
        return np.clip(np.round(y * 32768), -32768, 32767).astype("<i2"), commands

    for text in CANDIDATES:
        x = trim(flite(text))
        x = x / np.sqrt(np.mean(x * x)) * 10 ** (-26 / 20)
        # robust to where the segment starts and ends: the daemon's segments carry some lead-in, and
        # test_shipped_model cuts 0.3 s before and 0.6 s after each command
        with torch.no_grad():
            decoded = [transcribe(model, np.concatenate([np.zeros(int(lead * SR), np.float32), x,
                                                         np.zeros(int(tail * SR), np.float32)]), args.min_margin)
                       for lead, tail in ((0.3, 0.6), (0.3, 0.8), (0.5, 0.8), (0.8, 0.8), (1.2, 0.8))]
            hyps = {h for h, _ in decoded}
            near = set().union(*(o for _, o in decoded))
            if hyps == {text} and near:
                hyps = {f"{text} (within {args.min_margin} logits also: {' | '.join(sorted(near))})"}
            elif hyps == {text}:
                # and decoded right in the sample itself (dithered, 16-bit): cut as
                # test_shipped_model cuts it, and as part of one continuous stream with the
                # commands before it
                pcm, commands = build(chosen + [(text, x)])
                y = pcm.astype(np.float32) / 32768
                c = commands[-1]
                cut, cut_near = transcribe(model, y[int((c["start_s"] - 0.3) * SR): int((c["end_s"] + 0.6) * SR)],
                                           args.min_margin)
                whole, near = transcribe(model, y, args.min_margin)
                if cut == text and not cut_near and whole == " ".join([c for c, _ in chosen] + [text]) and not near:
                    chosen.append((text, x))
                    if len(chosen) == args.count:
                        break
                    continue
                hyps = {f"cut from the sample: {cut} | in stream: {whole}"
                        + (f" (within {args.min_margin} logits also: {' | '.join(sorted(near | cut_near))})" if near | cut_near else "")}
        skipped.append((text, " | ".join(sorted(hyps))))
    pcm, commands = build(chosen)
    y = pcm.astype(np.float32) / 32768
    os.makedirs(args.out, exist_ok=True)
    with wave.open(os.path.join(args.out, "sample.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SR)
        w.writeframes(pcm.tobytes())
    with torch.no_grad():
        whole, near = transcribe(model, y, args.min_margin)
    meta = {"sample_rate": SR, "duration_s": round(len(y) / SR, 3), "voice": "flite rms (held out of training)",
            "commands": commands, "transcripts": [c["text"] for c in commands],
            "whole_file_transcript_int4": whole, "min_margin": args.min_margin,
            "whole_file_within_min_margin": sorted(near),
            "candidates_skipped": [{"text": a, "int4_hypothesis": b} for a, b in skipped]}
    json.dump(meta, open(os.path.join(args.out, "sample.json"), "w"), indent=1)
    print(json.dumps(meta, indent=1))


if __name__ == "__main__":
    main()
