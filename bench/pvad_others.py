"""Other voices that must not open segments: with the enrolled user silent, how many segments the
daemon's pipeline transcribes and publishes per hour of other people's speech, with and without a
profile, beside plain VADs (Silero, WebRTC) through the same segmenter.

    /usr/bin/python3 -m bench.pvad_devset --data ../shared/data --out runs/pvad-dev-all --all-corpora
    node --import=tsx bench/pvad_baselines.ts ... (run by this script on the others-only files)
    /usr/bin/python3 -m bench.pvad_others --dev runs/pvad-dev-all --out runs/pvad-dev-all/others.json

Input: devset.json's "others_only" files (bench/pvad_devset.py --all-corpora): other dev speakers
talking, with noise and rooms, and per file a "profile" dev speaker who is not in it.
- with a profile: `earshot enroll` on that speaker's enrollment recording (--min-speech 1: the
  LibriSpeech enrollments are 2-6 s), then `earshot transcribe --profile` on the file: the daemon's
  segmenter, speaker check and recognizer. Every line is a transcribed segment; one with words is
  what the daemon publishes (it drops empty texts).
- without a profile: `earshot transcribe` (the pVAD as a plain VAD, every voice counts).
- segments opened with a profile, also those the pipeline drops untranscribed (opened on another
  voice, all their speech then dropped): the daemon's segmenter alone on the engine's posteriors.
- Silero VAD and WebRTC VAD (bench/pvad_baselines.ts) scores through the daemon's segmenter with the
  plain rule (open at p > 0.5 for 100 ms, close after 300 ms under 0.3): the segments a plain-VAD
  front end would transcribe; WebRTC's scores are 0/1.
"""
import argparse
import json
import os
import subprocess

import numpy as np

from bench.pvad_segments import rule, run_segmenter, segments

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
EARSHOT = os.path.join(ROOT, "bin", "earshot")


def earshot(args):
    res = subprocess.run(["node", EARSHOT, *args], cwd=ROOT, capture_output=True, text=True)
    if res.returncode:
        raise RuntimeError(f"earshot {' '.join(args[:2])} failed: {res.stderr[-2000:]}")
    return res


def transcribe(files, profile=None):
    """{file: [lines]} from earshot transcribe."""
    args = ["transcribe", *(["--profile", profile] if profile else []), *files]
    out = {f: [] for f in files}
    for line in earshot(args).stdout.splitlines():
        if line.strip():
            r = json.loads(line)
            out[r["file"]].append(r)
    return out


def count(lines):
    published = [r for r in lines if r["text"].strip()]
    return {
        "transcribed": len(lines),
        "published": len(published),
        "published_s": round(sum(r["end"] - r["start"] for r in published), 2),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dev", default="runs/pvad-dev-all")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    dev = os.path.abspath(args.dev)
    meta = json.load(open(os.path.join(dev, "devset.json")))
    items = meta.get("others_only")
    if not items:
        raise SystemExit(f"{dev}/devset.json has no others_only files: build it with pvad_devset.py --all-corpora")
    wav = {o["wav"]: os.path.join(dev, o["wav"]) for o in items}
    # profiles through the daemon's own enrollment
    os.makedirs(os.path.join(dev, "profiles"), exist_ok=True)
    prof = {}
    for s in sorted({o["profile"] for o in items}):
        prof[s] = os.path.join(dev, "profiles", f"{s}.json")
        earshot(["enroll", "--min-speech", "1", "--out", prof[s], os.path.join(dev, meta["enroll"][s])])
    rows = {}
    for s in prof:
        got = transcribe([wav[o["wav"]] for o in items if o["profile"] == s], prof[s])
        for o in items:
            if o["profile"] == s:
                rows.setdefault(o["wav"], {})["profile"] = count(got[wav[o["wav"]]])
    plain = transcribe([wav[o["wav"]] for o in items])
    for o in items:
        rows[o["wav"]]["no_profile"] = count(plain[wav[o["wav"]]])
    # plain-VAD baselines: bench/pvad_baselines.ts on a view of the files as "mixtures"
    view = os.path.join(dev, "others-view")
    os.makedirs(view, exist_ok=True)
    with open(os.path.join(view, "devset.json"), "w") as f:
        json.dump(
            {
                "mixtures": [{"wav": os.path.join("..", o["wav"]), "target": o["profile"]} for o in items],
                "enroll": {s: os.path.join("..", meta["enroll"][s]) for s in prof},
            },
            f,
        )
    base_file = os.path.join(view, "baselines.json")
    res = subprocess.run(
        ["node", "--import=tsx", os.path.join(ROOT, "bench", "pvad_baselines.ts"), view, base_file],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if res.returncode:
        raise RuntimeError(f"pvad_baselines.ts failed: {res.stderr[-2000:]}")
    base = json.load(open(base_file))
    for name, b in base["models"].items():
        for o in items:
            segs = segments(np.asarray(b["scores"][os.path.join("..", o["wav"])], np.float64), 0.5, 0.3, 10, 30)
            rows[o["wav"]][name] = {
                "transcribed": len(segs),
                "published": len(segs),
                "published_s": round(sum(c - a for a, c in segs) / 100, 2),
            }
    # segments opened with a profile, those the pipeline then drops included: the daemon's segmenter
    # (defaults, speaker check answered from the audio) on the engine's posteriors enrolled with the
    # profile speaker's enrollment recording (bench/pvad_baselines.ts; its embedding, not the profile's)
    posts = [
        np.asarray(base["engine_enrolled_posteriors"][os.path.join("..", o["wav"])], np.float32).reshape(-1, 3)
        for o in items
    ]
    audio = {
        "wavs": [wav[o["wav"]] for o in items],
        "targets": [o["profile"] for o in items],
        "enroll": {s: os.path.join(dev, meta["enroll"][s]) for s in prof},
        "spkenc": os.path.join(ROOT, "models", "spkenc.gguf"),
    }
    for o, segs in zip(items, run_segmenter(posts, [rule()], audio=audio)[0]):
        rows[o["wav"]]["segmenter_profile"] = {"opened": len(segs), "transcribed": sum(1 for s in segs if s[2])}
    hours_audio = sum(o["seconds"] for o in items) / 3600
    hours_speech = sum(o["speech_seconds"] for o in items) / 3600
    totals = {}
    seg = [rows[o["wav"]]["segmenter_profile"] for o in items]
    totals["segmenter_profile"] = {
        "opened": sum(r["opened"] for r in seg),
        "transcribed": sum(r["transcribed"] for r in seg),
    }
    totals["segmenter_profile"]["opened_per_speech_hour"] = totals["segmenter_profile"]["opened"] / hours_speech
    for key in [k for k in rows[items[0]["wav"]] if k != "segmenter_profile"]:
        t = {k: sum(rows[o["wav"]][key][k] for o in items) for k in ("transcribed", "published", "published_s")}
        t["transcribed_per_speech_hour"] = t["transcribed"] / hours_speech
        t["published_per_speech_hour"] = t["published"] / hours_speech
        t["published_per_audio_hour"] = t["published"] / hours_audio
        t["files_with_any_published"] = sum(rows[o["wav"]][key]["published"] > 0 for o in items)
        totals[key] = t
    out = {
        "files": len(items),
        "audio_hours": hours_audio,
        "other_speech_hours": hours_speech,
        "profiles": sorted(prof),
        "totals": totals,
        "per_file": rows,
    }
    sp = totals["segmenter_profile"]
    print(
        f"profile, segmenter alone: opened {sp['opened']} ({sp['opened_per_speech_hour']:.1f}/h of speech), "
        f"with speech left to transcribe {sp['transcribed']}"
    )
    for key, t in [(k, v) for k, v in totals.items() if k != "segmenter_profile"]:
        print(
            f"{key:12s} transcribed {t['transcribed']:5d} ({t['transcribed_per_speech_hour']:7.1f}/h of speech)  "
            f"published {t['published']:5d} ({t['published_per_speech_hour']:7.1f}/h of speech, "
            f"{t['published_s']:.0f} s held)  files with any: {t['files_with_any_published']}/{len(items)}"
        )
    print(
        f"{len(items)} files, {hours_audio * 60:.1f} min of audio, {hours_speech * 60:.1f} min of other people's speech"
    )
    if args.out:
        with open(args.out, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
