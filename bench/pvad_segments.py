"""End-of-segment latency of a trailing-silence rule on the personal VAD's target posteriors, over
the development mixtures (posteriors saved by bench/pvad_eval.py --save-posteriors).

    /usr/bin/python3 bench/pvad_segments.py --dev runs/pvad-dev --posteriors runs/pvad-dev/posteriors.npz

Rule: a segment opens after `min_on` consecutive frames with p(target) > on, and closes after
`trail` consecutive frames with p(target) <= off. Latency: close decision minus the end of the last
target speech inside the segment (both in 10 ms frames; the decision for frame k is known when its
last sample arrives). A command (one placed target utterance) is cut when a segment closes inside
it; cuts are split into those at a labelled pause longer than the trailing stretch (which any
silence rule of that length cuts) and those where the model lost the speaker mid-speech.
"""
import argparse
import json
import os

import numpy as np


def segments(p, on, off, min_on, trail):
    out, is_open, above, below, start = [], False, 0, 0, 0
    for t, v in enumerate(p):
        if not is_open:
            above = above + 1 if v > on else 0
            if above >= min_on:
                is_open, start, below = True, t - min_on + 1, 0
        else:
            below = below + 1 if v <= off else 0
            if below >= trail:
                out.append((start, t))
                is_open, above = False, 0
    if is_open:
        out.append((start, len(p) - 1))
    return out


def longest_pause(labels, a, b):
    run = best = 0
    for v in labels[a:b]:
        run = run + 1 if v != 1 else 0
        best = max(best, run)
    return best


def evaluate(posts, meta, on=0.5, off=0.5, min_on=5, trail=30, group=None):
    lat, total, cut_pause, cut_model, missed, false_seg = [], 0, 0, 0, 0, 0
    for p, m in zip(posts, meta["mixtures"]):
        if group and not m["target"].startswith(group):
            continue
        lab = np.array(m["labels"])
        segs = segments(p[:, 1], on, off, min_on, trail)
        spans = [(a, b) for a, b, is_t in m["spans"] if is_t]
        total += len(spans)
        for a, b in spans:
            if any(a <= c < b - 1 for _, c in segs):
                if longest_pause(lab, a, b) >= trail:
                    cut_pause += 1
                else:
                    cut_model += 1
            if not any(s <= b - 1 and c >= a for s, c in segs):
                missed += 1
        for s, c in segs:
            ends = [b - 1 for a, b in spans if s <= b - 1 <= c]
            if not ends:
                if not any(s <= b - 1 and c >= a for a, b in spans):
                    false_seg += 1
                continue
            if c < len(p) - 1:
                lat.append((c - max(ends)) * 10)
    pct = (lambda q: float(np.percentile(lat, q))) if lat else (lambda q: None)
    return {"on": on, "off": off, "min_on_ms": min_on * 10, "trail_ms": trail * 10,
            "latency_p50_ms": pct(50), "latency_p90_ms": pct(90), "commands": total,
            "cut_commands": cut_pause + cut_model, "cut_at_long_pause": cut_pause, "cut_mid_speech": cut_model,
            "missed_commands": missed, "false_segments": false_seg}


TRAILS = (15, 20, 25, 30, 35, 40, 50, 60, 80)


def sweep(posts, meta, on=0.5, off=0.3, min_on=5, trails=TRAILS):
    """{"300ms": evaluate(...)} over trailing stretches (the layout bench/lib/report.ts reads)."""
    return {f"{t * 10}ms": evaluate(posts, meta, on, off, min_on, t) for t in trails}


def load_posteriors(path, n, kind="enrolled"):
    z = np.load(path)
    return [z[f"{kind}_{i}"] for i in range(n)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dev", default="runs/pvad-dev")
    ap.add_argument("--posteriors", default="runs/pvad-dev/posteriors.npz")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    meta = json.load(open(os.path.join(args.dev, "devset.json")))
    posts = load_posteriors(args.posteriors, len(meta["mixtures"]))
    rows = []
    for on, off in ((0.5, 0.5), (0.5, 0.3), (0.5, 0.2), (0.7, 0.3)):
        for trail in (15, 20, 25, 30, 35, 40, 50, 60):
            r = evaluate(posts, meta, on, off, 5, trail)
            rows.append(r)
            print(json.dumps(r))
    for on in (0.5, 0.6, 0.7):
        for min_on in (5, 10, 15, 20, 30):
            r = evaluate(posts, meta, on, 0.3, min_on, 30)
            rows.append(r)
            print(json.dumps(r))
    for group in ("libri", "espeak", "flite"):
        r = evaluate(posts, meta, 0.5, 0.3, 5, 30, group)
        r["group"] = group
        rows.append(r)
        print(json.dumps(r))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
