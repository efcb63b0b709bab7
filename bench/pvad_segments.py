"""End of segment on the personal VAD's posteriors over the development mixtures (posteriors saved
by bench/pvad_eval.py --save-posteriors), with the daemon's own segmenter (daemon/segmenter.ts, run
by Node through bench/segmenter_driver.ts: the rule lives in one place).

    /usr/bin/python3 -m bench.pvad_segments --dev runs/pvad-dev --posteriors runs/pvad-dev/posteriors.npz

A rule is the daemon's `vad` and `segmenter` configuration keys (config/earshot.yaml); unset keys
take the daemon's defaults. Latency: close decision minus the end of the last target speech inside
the segment (both in 10 ms frames; the decision for frame k is known when its last sample arrives).
A command (one placed target utterance) is cut when a segment closes inside it; cuts are split into
those at a labelled pause at least as long as the trailing stretch (which any silence rule of that
length cuts) and those where the model lost the speaker mid-speech. False segments touch no target
speech. "other held" is the other speakers' labelled speech inside segments, in seconds.

Turns (bench/pvad_devset.py): the target, then another speaker 0-300 ms after the target's speech
ends. Their latency (close minus the end of the target's speech) is how long the other speaker keeps
the segment open; it is the trailing stretch when the other speaker does not hold it.

Speaker check (segmenter.speaker_check): the driver (bench/segmenter_driver.ts) answers the
segmenter's checks with the engine's speaker encoder (the addon, through the daemon's
scoreSpeakers) on the mixture's own audio, the
profile being the embedding of the target's enrollment recording (what the posteriors were
conditioned on); an answer reaches the segmenter CHECK_DELAY_MS after it is asked. A segment whose
speech the rules all dropped is not transcribed by the pipeline: it counts for cuts (it closed) but
not as a segment otherwise ("untranscribed"; the "before" row counts it as the pipeline did).
--check-only prints just the speaker-check table. Without audio (bench/pvad_eval.py) the check is off.
"""
import argparse
import json
import os
import subprocess
import tempfile

import numpy as np

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")

# The daemon's segmenter over the saved posteriors, in the daemon's own TypeScript.
DRIVER = os.path.join(ROOT, "bench", "segmenter_driver.ts")


# Engine time a speaker check's answer takes to reach the segmenter in the benchmark (frames go on
# meanwhile): the speaker encoder on 1.6 s takes about 12 ms of CPU on x86-64 (the driver measures
# it, "cost"); 50 ms leaves room for a slower board.
CHECK_DELAY_MS = 50


def run_segmenter(posts, rules, audio=None, details=None):
    """Segments of the daemon's segmenter: for each rule, for each posterior array,
    [(start, close, has target speech)]. audio (for rules with speaker_check): {"wavs", "targets"
    per posterior array, "enroll": {speaker: wav}, "spkenc": model file}. details (a dict) receives
    the checks run and their cost. Without audio the speaker check is off (it needs the audio)."""
    if audio is None:
        rules = [dict(r, segmenter={**r.get("segmenter", {}), "speaker_check": False}) for r in rules]
    with tempfile.TemporaryDirectory() as tmp:
        pf, jf = os.path.join(tmp, "posts.f32"), os.path.join(tmp, "job.json")
        np.concatenate([np.asarray(p, np.float32).reshape(-1, 3) for p in posts]).tofile(pf)
        with open(jf, "w") as f:
            json.dump(
                {"rules": rules, "lengths": [len(p) for p in posts], "check_delay_ms": CHECK_DELAY_MS, **(audio or {})},
                f,
            )
        res = subprocess.run(["node", "--import=tsx", DRIVER, pf, jf], cwd=ROOT, capture_output=True, text=True)
    if res.returncode:
        raise RuntimeError(f"the segmenter driver failed: {res.stderr[-2000:]}")
    out = json.loads(res.stdout)
    if details is not None:
        details.update(checks=out["checks"], thresholds=out["thresholds"], cost=out["cost"])
    return [[[tuple(s) for s in m] for m in r] for r in out["segments"]]


def audio_of(meta, dev, spkenc, n_turns=0):
    """What the driver needs to run speaker checks on the mixtures (then the turns)."""
    items = meta["mixtures"] + meta.get("turns", [])[:n_turns]
    return {
        "wavs": [os.path.join(dev, m["wav"]) for m in items],
        "targets": [m["target"] for m in items],
        "enroll": {k: os.path.join(dev, v) for k, v in meta["enroll"].items()},
        "spkenc": spkenc,
    }


# The trailing-silence rule alone (speaker turns off): the segmenter before the turn rule.
PLAIN = {"hold_other_ms": 0, "switch_ms": 0}


def segments(p, on, off, min_on, trail):
    """The plain rule on one target-score array (frames): [(first speech frame, close frame)]."""
    p = np.asarray(p, np.float64)
    post = np.stack([1 - p, p, np.zeros_like(p)], 1)
    r = rule({"threshold": on, "close_threshold": off}, min_speech_ms=min_on * 10, trailing_ms=trail * 10, **PLAIN)
    return [(a, c) for a, c, _ in run_segmenter([post], [r])[0][0]]


def rule(vad=None, **segmenter):
    return {"vad": dict(vad or {}), "segmenter": segmenter}


def longest_pause(labels, a, b):
    run = best = 0
    for v in labels[a:b]:
        run = run + 1 if v != 1 else 0
        best = max(best, run)
    return best


def describe(r):
    out = {"on": r["vad"].get("threshold", 0.5), "off": r["vad"].get("close_threshold", 0.3)}
    seg = r["segmenter"]
    out["min_on_ms"] = seg.get("min_speech_ms", 100)
    out["trail_ms"] = seg.get("trailing_ms", 300)
    for k in (
        "pause_ms",
        "hold_other_ms",
        "hold_min_target_ms",
        "switch_ms",
        "speaker_check",
        "speaker_check_threshold",
        "speaker_check_ms",
        "speaker_check_min_ms",
        "speaker_check_switch",
        "speaker_check_recheck_above",
        "speaker_check_recheck_ms",
    ):
        if k in seg:
            out[k] = seg[k]
    return out


def score(segs_per_mix, mixtures, trail, group=None, all_segments=False):
    """Cuts count every close; the rest only the segments the pipeline transcribes (those with
    target speech left; all_segments: every segment, as before the pipeline skipped the others)."""
    lat, total, cut_pause, cut_model, missed, false_seg = [], 0, 0, 0, 0, 0
    other_held = false_frames = untranscribed = 0
    for segs3, m in zip(segs_per_mix, mixtures):
        if group and not m["target"].startswith(group):
            continue
        closes = [(s, c) for s, c, _ in segs3]
        segs = [(s, c) for s, c, t in segs3 if t or all_segments]
        untranscribed += len(closes) - len(segs)
        lab = np.array(m["labels"])
        spans = [(a, b) for a, b, is_t in m["spans"] if is_t]
        total += len(spans)
        for a, b in spans:
            if any(a <= c < b - 1 for _, c in closes):
                if longest_pause(lab, a, b) >= trail:
                    cut_pause += 1
                else:
                    cut_model += 1
            if not any(s <= b - 1 and c >= a for s, c in segs):
                missed += 1
        for s, c in segs:
            other_held += int((lab[s : c + 1] == 2).sum())
            ends = [b - 1 for a, b in spans if s <= b - 1 <= c]
            if not ends:
                if not any(s <= b - 1 and c >= a for a, b in spans):
                    false_seg += 1
                    false_frames += c - s + 1
                continue
            if c < len(lab) - 1:
                lat.append((c - max(ends)) * 10)
    pct = (lambda q: float(np.percentile(lat, q))) if lat else (lambda q: None)
    return {
        "latency_p50_ms": pct(50),
        "latency_p90_ms": pct(90),
        "commands": total,
        "cut_commands": cut_pause + cut_model,
        "cut_at_long_pause": cut_pause,
        "cut_mid_speech": cut_model,
        "missed_commands": missed,
        "false_segments": false_seg,
        "false_segment_s": false_frames / 100,
        "other_held_s": other_held / 100,
        "untranscribed_segments": untranscribed,
    }


def score_turns(segs_per_turn, turns, all_segments=False):
    """Latency after the target when another speaker follows it; per gap and overall."""
    lat, by_gap, held, cut = [], {}, 0, 0
    for segs, m in zip(segs_per_turn, turns):
        lab = np.array(m["labels"])
        (a, b, _), _ = m["spans"]
        for s, c, t in segs:
            if not (t or all_segments):
                if a <= c < b - 1:
                    cut += 1
                continue
            held += int((lab[s : c + 1] == 2).sum())
            if a <= c < b - 1:
                cut += 1
            if s <= b - 1 <= c:
                v = (c - (b - 1)) * 10
                lat.append(v)
                by_gap.setdefault(m["gap_ms"], []).append(v)
    pct = lambda v, q: float(np.percentile(v, q)) if v else None  # noqa: E731
    return {
        "turns": len(turns),
        "turn_latency_p50_ms": pct(lat, 50),
        "turn_latency_p90_ms": pct(lat, 90),
        "turn_other_held_s": held / 100,
        "turn_cut_commands": cut,
        "turn_latency_by_gap_ms": {str(g): [pct(v, 50), pct(v, 90)] for g, v in sorted(by_gap.items())},
    }


def evaluate_rules(posts, meta, rules, turn_posts=None, group=None, audio=None, all_segments=False, details=None):
    segs = run_segmenter(list(posts) + list(turn_posts or []), rules, audio, details)
    n = len(posts)
    out = []
    for r, sg in zip(rules, segs):
        row = describe(r)
        row.update(score(sg[:n], meta["mixtures"], row["trail_ms"] // 10, group, all_segments))
        if turn_posts:
            row.update(score_turns(sg[n:], meta["turns"], all_segments))
        if group:
            row["group"] = group
        out.append(row)
    return out


def evaluate(posts, meta, on=0.5, off=0.3, min_on=5, trail=30, group=None, **turn_keys):
    """One rule in the old argument style (frames); the speaker-turn keys default to off."""
    seg = {"min_speech_ms": min_on * 10, "trailing_ms": trail * 10, **PLAIN, **turn_keys}
    return evaluate_rules(posts, meta, [rule({"threshold": on, "close_threshold": off}, **seg)], group=group)[0]


TRAILS = (15, 20, 25, 30, 35, 40, 50, 60, 80)


def sweep(posts, meta, on=0.5, off=0.3, min_on=10, trails=TRAILS, turn_posts=None, **turn_keys):
    """{"300ms": row} over trailing stretches (the layout bench/lib/report.ts reads); the other keys
    are the daemon's defaults unless given."""
    rules = [
        rule({"threshold": on, "close_threshold": off}, min_speech_ms=min_on * 10, trailing_ms=t * 10, **turn_keys)
        for t in trails
    ]
    return {f"{t * 10}ms": r for t, r in zip(trails, evaluate_rules(posts, meta, rules, turn_posts))}


def load_posteriors(path, n, kind="enrolled"):
    z = np.load(path)
    return [z[f"{kind}_{i}"] for i in range(n)]


def table(rows):
    keys = [
        ("trail_ms", "trail"),
        ("min_on_ms", "open"),
        ("latency_p50_ms", "p50"),
        ("latency_p90_ms", "p90"),
        ("cut_at_long_pause", "cut@pause"),
        ("cut_mid_speech", "cut mid"),
        ("missed_commands", "missed"),
        ("false_segments", "false"),
        ("false_segment_s", "false s"),
        ("other_held_s", "other held s"),
        ("turn_latency_p50_ms", "turn p50"),
        ("turn_latency_p90_ms", "turn p90"),
        ("turn_other_held_s", "turn held s"),
        ("untranscribed_segments", "untranscribed"),
        ("checks_run", "checks"),
        ("checks_passed", "passed"),
    ]
    lines = ["rule | " + " | ".join(h for _, h in keys)]
    for r in rows:
        name = r.get("name", "") + (f" [{r['group']}]" if r.get("group") else "")
        lines.append(
            name
            + " | "
            + " | ".join(
                "" if r.get(k) is None else f"{r[k]:.0f}" if isinstance(r[k], float) else str(r[k]) for k, _ in keys
            )
        )
    return "\n".join(lines)


def speaker_check_table(posts, meta, turn_posts, audio):
    """The speaker check (segmenter.speaker_check, on by default) against the defaults without it."""
    off = {"speaker_check": False}
    before = evaluate_rules(posts, meta, [rule(**off)], turn_posts, all_segments=True)[0]
    before["name"] = "check off, every segment transcribed (before)"
    named = [
        ("check off", rule(**off)),
        ("daemon defaults (switches too, min 300 ms, threshold 0.25, second look from 0.1 after 300 ms)", rule()),
        (
            "before the second look: threshold 0.3, no second look",
            rule(speaker_check_threshold=0.3, speaker_check_recheck_above=0.99),
        ),
        ("no second look", rule(speaker_check_recheck_above=0.99)),
        ("threshold 0.3", rule(speaker_check_threshold=0.3)),
        ("threshold 0.5", rule(speaker_check_threshold=0.5)),
        ("second look from 0.2", rule(speaker_check_recheck_above=0.2)),
        ("second look after 500 ms", rule(speaker_check_recheck_ms=500)),
        ("min 500 ms", rule(speaker_check_min_ms=500)),
        ("holds only (switches off)", rule(speaker_check_switch=False)),
        ("switches in the opening run only", dict(rule(), check_switch_opening_only=True)),
        ("window 1000 ms", rule(speaker_check_ms=1000)),
        ("answer after 100 ms", dict(rule(), check_delay_ms=100)),
    ]
    rows = [before]
    for name, r in named:
        d = {}
        row = evaluate_rules(posts, meta, [r], turn_posts, audio=audio, details=d)[0]
        row["name"] = name
        th = d["thresholds"][0]
        if th is not None:
            row["checks_run"] = len(d["checks"][0])
            row["checks_passed"] = sum(1 for c in d["checks"][0] if c[3] is not None and c[3] >= th)
            row["check_cost"] = d["cost"]
            row["checks"] = d["checks"][0]
        rows.append(row)
    return rows + group_rows(posts, meta, [("check off", rule(**off)), ("daemon defaults", rule())], audio)


def group_rows(posts, meta, named, audio):
    """The named rules once per speaker group of the targets."""
    rows = []
    for name, r in named:
        # by speaker-name prefix: libri, espeak, flite; --all-corpora dev sets also cv, vctk, arctic, fsdd
        for group in sorted({n.split("-")[0] for n in meta["speakers"]}):
            row = evaluate_rules(posts, meta, [r], group=group, audio=audio)[0]
            row["name"] = name
            rows.append(row)
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dev", default="runs/pvad-dev")
    ap.add_argument("--posteriors", default="runs/pvad-dev/posteriors.npz")
    ap.add_argument("--out", default=None)
    ap.add_argument(
        "--spkenc", default=os.path.join(ROOT, "models", "spkenc.gguf"), help="speaker encoder for the speaker check"
    )
    ap.add_argument("--check-only", action="store_true", help="only the speaker-check table")
    args = ap.parse_args()
    meta = json.load(open(os.path.join(args.dev, "devset.json")))
    posts = load_posteriors(args.posteriors, len(meta["mixtures"]))
    turns = meta.get("turns", [])
    turn_posts = load_posteriors(args.posteriors, len(turns), "turn_enrolled") if turns else None
    audio = audio_of(meta, args.dev, args.spkenc, len(turns) if turns else 0)
    check_rows = speaker_check_table(posts, meta, turn_posts, audio)
    if args.check_only:
        print(table(check_rows))
        if args.out:
            with open(args.out, "w") as f:
                json.dump(check_rows, f, indent=1)
        return
    named = [
        ("plain (turns off), open 50 ms", rule(min_speech_ms=50, **PLAIN)),
        ("plain (turns off)", rule(**PLAIN)),
        ("daemon defaults", rule()),
        ("defaults, open 50 ms", rule(min_speech_ms=50)),
        ("switch only", rule(hold_other_ms=0)),
        ("hold only", rule(switch_ms=0)),
        ("hold 1000 ms", rule(hold_other_ms=1000)),
        ("hold 3000 ms", rule(hold_other_ms=3000)),
        ("pause 100 ms", rule(pause_ms=100)),
        ("switch 200 ms", rule(switch_ms=200)),
        ("hold after 100 ms", rule(hold_min_target_ms=100)),
    ]
    named += [(f"plain, trailing {t} ms", rule(trailing_ms=t, **PLAIN)) for t in (200, 250, 400, 600)]
    named += [(f"defaults, trailing {t} ms", rule(trailing_ms=t)) for t in (200, 250, 400, 600)]
    rows = evaluate_rules(posts, meta, [r for _, r in named], turn_posts, audio=audio)
    for (name, _), row in zip(named, rows):
        row["name"] = name
    rows += group_rows(posts, meta, [("plain (turns off)", rule(**PLAIN)), ("daemon defaults", rule())], audio)
    rows += check_rows
    for row in rows:
        print(json.dumps({k: v for k, v in row.items() if k != "checks"}))
    print(table(rows))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
