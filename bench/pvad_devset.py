"""Builds the personal-VAD development set, reproducibly (fixed seeds), from speakers never used in
training: the 30 held-out LibriSpeech speakers and synthetic voices whose espeak-ng voice, variant
and flite voice are all held out.

    /usr/bin/python3 bench/pvad_devset.py --data ../shared/data --out runs/pvad-dev

Writes <out>/speakers/<spk>.enroll.wav (enrollment speech), <out>/mix/NNNN.wav (16 kHz mono
mixtures) and <out>/devset.json: per mixture its target speaker, frame labels (0 non-speech,
1 target, 2 other; 10 ms frames, frame k covers samples [160k, 160k+400)) and the spans of each
placed utterance; per speaker the test pieces used for the speaker-verification EER.
"""
import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "training"))
import pvad_data as d  # noqa: E402

ENROLL_SECONDS = 6.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="../shared/data")
    ap.add_argument("--out", default="runs/pvad-dev")
    ap.add_argument("--mixtures", type=int, default=200)
    ap.add_argument("--n-espeak", type=int, default=24)
    ap.add_argument("--n-flite", type=int, default=6)
    ap.add_argument("--per-voice", type=int, default=10)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    for sub in ("speakers", "mix", "synth"):
        os.makedirs(os.path.join(args.out, sub), exist_ok=True)
    rng = np.random.default_rng(args.seed)
    enroll, pieces = {}, {}
    libri = d.read_manifest(os.path.join(args.data, "librispeech-speakers", "manifest.tsv"))
    dev = d.librispeech_dev_speakers([r["speaker_id"] for r in libri])
    for r in libri:
        if r["speaker_id"] in dev:
            x = d.load_audio(os.path.join(args.data, "librispeech-speakers", r["path"]))
            n = int(min(ENROLL_SECONDS, 0.45 * len(x) / 16000) * 16000)
            spk = "libri-" + r["speaker_id"]
            enroll[spk] = x[:n]
            pieces[spk] = d.split_at_pauses(x[n:], rng)
    variants = d.espeak_variants("/usr/lib/x86_64-linux-gnu/espeak-ng-data")
    syn = d.synthetic_speakers("dev", args.n_espeak, args.n_flite, variants, args.seed)
    made = d.synthesize(syn, args.per_voice, os.path.join(args.out, "synth"), args.seed, args.jobs)
    by_spk = {}
    for s, p, _ in made:
        by_spk.setdefault(s, []).append(d.trim_silence(d.load_audio(p)))
    for s, utts in by_spk.items():
        k = len(utts) // 2  # half for enrollment (several seconds), half for mixtures
        enroll[s] = np.concatenate(utts[:k])
        pieces[s] = utts[k:]
    names = sorted(s for s in pieces if pieces[s])
    for s in names:
        d.write_wav(os.path.join(args.out, "speakers", f"{s}.enroll.wav"), enroll[s])
    mixtures = []
    for i in range(args.mixtures):
        mrng = np.random.default_rng(d.stable_seed(args.seed, "mix", i))
        ti = int(mrng.integers(len(names)))
        others = [o for o in mrng.choice(len(names), int(mrng.integers(1, 3)), replace=False) if o != ti]
        others = others or [(ti + 1) % len(names)]
        cond = {}
        w, lab, spans = d.make_mixture(pieces[names[ti]], [pieces[names[o]] for o in others], mrng,
                                       max_seconds=12.0, info=cond)
        path = f"mix/{i:04d}.wav"
        d.write_wav(os.path.join(args.out, path), w)
        mixtures.append({"wav": path, "target": names[ti], "others": [names[o] for o in others],
                         "labels": lab.tolist(), "spans": spans, **cond})
    # Speaker-verification test pieces: every piece of at least 1.5 s, as WAV.
    tests = []
    for s in names:
        for j, p in enumerate(pieces[s]):
            if len(p) >= 24000:
                path = f"speakers/{s}.test{j:02d}.wav"
                d.write_wav(os.path.join(args.out, path), p)
                tests.append({"speaker": s, "wav": path})
    meta = {"seed": args.seed, "speakers": names, "enroll": {s: f"speakers/{s}.enroll.wav" for s in names},
            "tests": tests, "mixtures": mixtures}
    with open(os.path.join(args.out, "devset.json"), "w") as f:
        json.dump(meta, f)
    lab = np.concatenate([np.array(m["labels"]) for m in mixtures])
    print(f"{len(names)} speakers, {len(tests)} test pieces, {len(mixtures)} mixtures, "
          f"{len(lab) / 100 / 60:.1f} min; frames per class {np.bincount(lab, minlength=3).tolist()}")


if __name__ == "__main__":
    main()
