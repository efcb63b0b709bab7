"""Synthesizes the held-out-voice development set with this machine's espeak-ng and flite, the same
texts, voices, rates and pitches as training/prepare_data.py's dev set (TextGenerator seed 99,
make_jobs seed 100 + voice index), first --per-voice of each voice.

    /usr/bin/python3 -m bench.lib.synth_devset --out runs/bench/synth --per-voice 50

Writes <out>/NNN.wav (16 kHz mono 16-bit) and <out>/manifest.json; does nothing when the manifest
already matches the arguments (the set is a cache).
"""
import argparse
import json
import os
import wave

from training.earshot.synth import HELD_OUT, make_jobs, synthesize
from training.earshot.textgen import TextGenerator

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")

RECIPE_DEV_PER_VOICE = 200  # prepare_data.py's default: the text stream advances this much per voice


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(ROOT, "runs", "bench", "synth"))
    ap.add_argument("--per-voice", type=int, default=50)
    ap.add_argument("--processes", type=int, default=2)
    args = ap.parse_args()
    manifest_path = os.path.join(args.out, "manifest.json")
    key = {"voices": HELD_OUT, "per_voice": args.per_voice, "text_seed": 99, "job_seed": 100}
    if os.path.exists(manifest_path):
        with open(manifest_path) as f:
            old = json.load(f)
        if old.get("key") == key and all(os.path.exists(os.path.join(args.out, u["wav"])) for u in old["utterances"]):
            print(json.dumps({"cached": True, "utterances": len(old["utterances"])}))
            return
    os.makedirs(args.out, exist_ok=True)
    gen = TextGenerator(seed=99)
    jobs = []
    for i, voice in enumerate(HELD_OUT):
        texts = [gen.sentence() for _ in range(RECIPE_DEV_PER_VOICE)]
        jobs += make_jobs(texts, [voice], seed=100 + i)[: args.per_voice]
    # Debian's binaries live under / (the recipe passes the folder the .debs were unpacked into).
    items = synthesize("", jobs, args.processes)
    utts = []
    for n, (audio, text, voice) in enumerate(items):
        name = f"{n:03d}.wav"
        with wave.open(os.path.join(args.out, name), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(16000)
            w.writeframes(audio.tobytes())
        utts.append({"wav": name, "text": text, "voice": voice, "seconds": len(audio) / 16000})
    if len(utts) < len(jobs):
        raise SystemExit(f"only {len(utts)} of {len(jobs)} utterances synthesized (espeak-ng/flite missing?)")
    with open(manifest_path, "w") as f:
        json.dump({"key": key, "utterances": utts}, f, indent=1)
    print(json.dumps({"cached": False, "utterances": len(utts), "seconds": sum(u["seconds"] for u in utts)}))


if __name__ == "__main__":
    main()
