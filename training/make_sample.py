"""The bundled demo/test recording: home commands in a held-out voice (flite rms, never trained on)
with 1.5 s pauses, and its expected transcripts and speech times.

    python3 -m training.make_sample --out samples [--model models/earshot-en-int4.gguf]

The commands are fixed (--texts), never chosen by what a model gets right: the sample is a demo,
and a selection would make it flatter the model. The four defaults were picked in session 1 by the
first model; they are kept so the sample stays the same file. With --model, sample.json also
records what that model reads (int4 arithmetic), for information only.
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
from training.evaluate import load_model

SR = 16000


def flite(text: str, voice: str = "rms") -> np.ndarray:
    with tempfile.NamedTemporaryFile(suffix=".wav") as f:
        subprocess.run(["flite", "-voice", voice, "-t", text, "-o", f.name], check=True)
        with wave.open(f.name) as w:
            assert w.getframerate() == SR, "flite rms writes 16 kHz"
            return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768


def transcribe(model, x: np.ndarray) -> str:
    feats, lens = fbank_batch(torch.from_numpy(x).unsqueeze(0), torch.tensor([len(x)]))
    enc, enc_lens = model.encode(feats, lens)
    return tok.decode([t for t, _ in model.greedy(enc, enc_lens)[0]])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=None, help="record what this model reads in sample.json (no selection)")
    ap.add_argument("--out", default="samples")
    ap.add_argument(
        "--texts",
        default="turn on the kitchen lights|close the bedroom blinds|open the garage door|"
        "close the living room curtains",
        help="the commands, |-separated",
    )
    args = ap.parse_args()
    from training.earshot.synth import trim

    pieces, commands, t = [np.zeros(int(0.5 * SR), np.float32)], [], 0.5
    for text in args.texts.split("|"):
        x = trim(flite(text))
        x = x / np.sqrt(np.mean(x * x)) * 10 ** (-26 / 20)
        commands.append({"text": text, "start_s": round(t, 3), "end_s": round(t + len(x) / SR, 3)})
        pieces += [x, np.zeros(int(1.5 * SR), np.float32)]
        t += len(x) / SR + 1.5
    y = np.concatenate(pieces)
    y = y + np.random.default_rng(7).standard_normal(len(y)).astype(np.float32) * 10 ** (-66 / 20)
    pcm = np.clip(np.round(y * 32768), -32768, 32767).astype("<i2")
    os.makedirs(args.out, exist_ok=True)
    with wave.open(os.path.join(args.out, "sample.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SR)
        w.writeframes(pcm.tobytes())
    meta = {
        "sample_rate": SR,
        "duration_s": round(len(y) / SR, 3),
        "voice": "flite rms (held out of training)",
        "commands": commands,
        "transcripts": [c["text"] for c in commands],
        "chosen": "fixed commands, not selected by any model's output",
    }
    if args.model:
        model = load_model(args.model, "cpu")
        model.set_qat(True)
        with torch.no_grad():
            meta["whole_file_transcript_int4"] = transcribe(model, pcm.astype(np.float32) / 32768)
    with open(os.path.join(args.out, "sample.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print(json.dumps(meta, indent=1))


if __name__ == "__main__":
    main()
