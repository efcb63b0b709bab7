"""Builds the personal-VAD development set, reproducibly (fixed seeds), from speakers never used in
training: the 30 held-out LibriSpeech speakers and synthetic voices whose espeak-ng voice, variant
and flite voice are all held out.

    /usr/bin/python3 -m bench.pvad_devset --data ../shared/data --out runs/pvad-dev

Writes <out>/speakers/<spk>.enroll.wav (enrollment speech), <out>/mix/NNNN.wav (16 kHz mono
mixtures) and <out>/devset.json: per mixture its target speaker, frame labels (0 non-speech,
1 target, 2 other; 10 ms frames, frame k covers samples [160k, 160k+400)) and the spans of each
placed utterance; per speaker the test pieces used for the speaker-verification EER.

Also <out>/turns/NNNN.wav with "turns" in devset.json: one target utterance followed by another
speaker's utterance after a short labelled silence (0-300 ms: turn-taking, which the mixtures'
0.1-1.2 s silences never make that short), for measuring how long another speaker who starts
right after the target holds a segment open (bench/pvad_segments.py). Drawn with their own seeds,
after the mixtures: the mixtures are the same with or without them.

--all-corpora builds the set from real people only: the `dev` speakers of every corpus in
../shared/data (LibriSpeech's 30, Common Voice, VCTK, CMU ARCTIC axb, FSDD lucas, Speech Commands),
no synthetic voices, with the held-out room and noises (pvad_data.AUG_DEV_FILES) as the real
augmentation material. Speakers with enough speech (LibriSpeech: its first <=6 s; others: their
first utterances up to 6 s, leaving at least two) are targets and enroll; the rest (all of Speech
Commands' one-second words) are other voices only; a mixture's other speakers are Speech Commands
speakers with p 0.3 (their words are the short pieces), else other real dev speakers. It also writes
<out>/others/NNNN.wav with "others_only" in devset.json: 2-5 min stretches of other people's speech
(1-3 speakers, the same gaps, noise and rooms as the mixtures) and a "profile" target speaker who is
not in them (one with at least 4 s of enrollment audio), for counting the segments a profile lets other voices open (bench/pvad_others.py).
"""
import argparse
import json
import os

import numpy as np

from training import pvad_data as d

ENROLL_SECONDS = 6.0
TURN_GAPS_MS = (0, 50, 100, 150, 200, 300)
# --all-corpora: corpus folder -> speaker-name prefix (prefixes group the EER in bench/pvad_eval.py)
REAL_CORPORA = {
    "librispeech-speakers": "libri",
    "common-voice-en": "cv",
    "vctk": "vctk",
    "cmu-arctic": "arctic",
    "fsdd": "fsdd",
    "speech-commands": "sc",
}
MAX_TESTS_PER_SPEAKER = 10  # ARCTIC axb alone has ~100 pieces of 1.5 s or more
P_SHORT_WORD_OTHER = 0.3  # share of a mixture's other speakers drawn from Speech Commands


def real_dev_speakers(data, rng):
    """{name: (enrollment speech or None, [pieces])} of every corpus's dev speakers (see --all-corpora)."""
    enroll, pieces = {}, {}
    for corpus, prefix in REAL_CORPORA.items():
        rows = [r for r in d.read_manifest(os.path.join(data, corpus, "manifest.tsv")) if r["split"] == "dev"]
        by_spk = {}
        for r in rows:
            if r["speaker_id"]:
                by_spk.setdefault(r["speaker_id"], []).append(r)
        if corpus == "librispeech-speakers" and set(by_spk) != d.librispeech_dev_speakers(
            [r["speaker_id"] for r in d.read_manifest(os.path.join(data, corpus, "manifest.tsv"))]
        ):
            raise SystemExit("librispeech-speakers: the manifest's dev split is not the fixed 30-speaker draw")
        for spk in sorted(by_spk):
            name = f"{prefix}-{spk.removeprefix('sc_').removeprefix('vctk_').removeprefix('arctic_')}"
            utts = [d.load_audio(os.path.join(data, corpus, r["path"])) for r in by_spk[spk]]
            if corpus == "librispeech-speakers":  # one recording: as the original dev set
                x = utts[0]
                n = int(min(ENROLL_SECONDS, 0.45 * len(x) / 16000) * 16000)
                enroll[name], pieces[name] = x[:n], d.split_at_pauses(x[n:], rng)
                continue
            utts = [d.trim_silence(u) for u in utts]
            utts = [u for u in utts if len(u) >= 0.3 * 16000]
            k, have = 0, 0
            while k < len(utts) - 2 and have < ENROLL_SECONDS * 16000:
                have += len(utts[k])
                k += 1
            rest = [q for u in utts[k:] for q in (d.split_at_pauses(u, rng) if len(u) > 4 * 16000 else [u])]
            if corpus != "speech-commands" and have >= 3 * 16000 and len(rest) >= 2:
                enroll[name], pieces[name] = np.concatenate(utts[:k]), rest
            elif utts:
                enroll[name], pieces[name] = None, utts  # another voice only
    return enroll, pieces


def pick_others(names, short, ti, rng, count):
    """Other speakers for target index ti: Speech Commands speakers with p P_SHORT_WORD_OTHER."""
    out = []
    for _ in range(count):
        pool = short if short and rng.random() < P_SHORT_WORD_OTHER else [n for n in names if n != names[ti]]
        out.append(pool[int(rng.integers(len(pool)))])
    return sorted(set(out))


def make_turn(first, second, gap_frames, rng, info):
    """`first` (the target) then `second` (another speaker) whose labelled speech starts
    gap_frames after the target's labelled speech ends; same noise/reverberation draws as the
    mixtures. Returns (wave, labels, spans)."""
    hop = d.HOP
    s1, s2 = d.speech_frames(first), d.speech_frames(second)
    on1, on2 = np.flatnonzero(s1), np.flatnonzero(s2)
    off1 = int(rng.uniform(0.3, 0.8) * 100)  # frames of silence before the target
    off2 = off1 + int(on1[-1]) + 1 + gap_frames - int(on2[0])  # second source's first frame
    n = max(off1 * hop + len(first), off2 * hop + len(second)) + d.SAMPLE_RATE
    w = np.zeros(n, np.float32)
    w[off1 * hop : off1 * hop + len(first)] += first * 10 ** (rng.uniform(-6, 6) / 20)
    w[off2 * hop : off2 * hop + len(second)] += second * 10 ** (rng.uniform(-6, 6) / 20)
    labels = np.zeros(d.frame_count(n), dtype=np.int64)
    labels[on1 + off1] = 1
    labels[on2 + off2] = 2
    spans = [(int(on1[0]) + off1, int(on1[-1]) + off1 + 1, True), (int(on2[0]) + off2, int(on2[-1]) + off2 + 1, False)]
    active = labels.repeat(hop) > 0
    rms = np.sqrt((w[: len(active)][active] ** 2).mean())
    reverb = rng.random() < 0.3
    if reverb:
        w = d.reverberate(w, d.make_rir(rng))
    snr_db = None
    if rng.random() < 0.7:
        snr_db = float(rng.uniform(3.0, 30.0))
        w = d.add_noise(w, snr_db, rng, rms)
    w = w / (np.abs(w).max() + 1e-9) * rng.uniform(0.05, 0.9)
    info.update(reverb=bool(reverb), snr_db=snr_db)
    return w.astype(np.float32), labels, spans


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
    ap.add_argument("--turns", type=int, default=120, help="target-then-other turn pairs (0: none)")
    ap.add_argument(
        "--all-corpora", action="store_true", help="real dev speakers of every corpus, held-out rooms and noises"
    )
    ap.add_argument(
        "--others-minutes", type=float, default=40.0, help="--all-corpora: minutes of other people's speech"
    )
    args = ap.parse_args()
    for sub in ("speakers", "mix", "synth", "turns"):
        os.makedirs(os.path.join(args.out, sub), exist_ok=True)
    rng = np.random.default_rng(args.seed)
    if args.all_corpora:
        return main_all_corpora(args, rng)
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
        w, lab, spans = d.make_mixture(
            pieces[names[ti]], [pieces[names[o]] for o in others], mrng, max_seconds=12.0, info=cond
        )
        path = f"mix/{i:04d}.wav"
        d.write_wav(os.path.join(args.out, path), w)
        mixtures.append(
            {
                "wav": path,
                "target": names[ti],
                "others": [names[o] for o in others],
                "labels": lab.tolist(),
                "spans": spans,
                **cond,
            }
        )
    # Speaker-verification test pieces: every piece of at least 1.5 s, as WAV.
    tests = []
    for s in names:
        for j, p in enumerate(pieces[s]):
            if len(p) >= 24000:
                path = f"speakers/{s}.test{j:02d}.wav"
                d.write_wav(os.path.join(args.out, path), p)
                tests.append({"speaker": s, "wav": path})
    turns = []
    for i in range(args.turns):
        trng = np.random.default_rng(d.stable_seed(args.seed, "turn", i))
        ti = int(trng.integers(len(names)))
        oi = int(trng.integers(len(names) - 1))
        oi += oi >= ti
        first = pieces[names[ti]][int(trng.integers(len(pieces[names[ti]])))]
        second = pieces[names[oi]][int(trng.integers(len(pieces[names[oi]])))]
        gap_ms = TURN_GAPS_MS[i % len(TURN_GAPS_MS)]
        cond = {}
        w, lab, spans = make_turn(first, second, gap_ms // 10, trng, cond)
        path = f"turns/{i:04d}.wav"
        d.write_wav(os.path.join(args.out, path), w)
        turns.append(
            {
                "wav": path,
                "target": names[ti],
                "others": [names[oi]],
                "gap_ms": gap_ms,
                "labels": lab.tolist(),
                "spans": spans,
                **cond,
            }
        )
    meta = {
        "seed": args.seed,
        "speakers": names,
        "enroll": {s: f"speakers/{s}.enroll.wav" for s in names},
        "tests": tests,
        "mixtures": mixtures,
        "turns": turns,
    }
    with open(os.path.join(args.out, "devset.json"), "w") as f:
        json.dump(meta, f)
    lab = np.concatenate([np.array(m["labels"]) for m in mixtures])
    print(
        f"{len(names)} speakers, {len(tests)} test pieces, {len(mixtures)} mixtures, "
        f"{len(lab) / 100 / 60:.1f} min; frames per class {np.bincount(lab, minlength=3).tolist()}; "
        f"{len(turns)} turns"
    )


def main_all_corpora(args, rng):
    d.load_augment_bank(d.pack_augment_bank(args.data, "dev"))
    enroll, pieces = real_dev_speakers(args.data, rng)
    names = sorted(s for s in enroll if enroll[s] is not None)  # targets: they enroll
    short = sorted(s for s in enroll if s.startswith("sc-"))  # one-second words
    voices = sorted(s for s in enroll if not s.startswith("sc-"))  # other voices that are not SC
    for s in names:
        d.write_wav(os.path.join(args.out, "speakers", f"{s}.enroll.wav"), enroll[s])

    def others_for(ti, mrng, count):
        return pick_others(voices, short, voices.index(names[ti]), mrng, count)

    mixtures = []
    for i in range(args.mixtures):
        mrng = np.random.default_rng(d.stable_seed(args.seed, "mix-real", i))
        ti = int(mrng.integers(len(names)))
        others = others_for(ti, mrng, int(mrng.integers(1, 3)))
        cond = {}
        w, lab, spans = d.make_mixture(
            pieces[names[ti]], [pieces[o] for o in others], mrng, max_seconds=12.0, info=cond
        )
        path = f"mix/{i:04d}.wav"
        d.write_wav(os.path.join(args.out, path), w)
        mixtures.append(
            {"wav": path, "target": names[ti], "others": others, "labels": lab.tolist(), "spans": spans, **cond}
        )
    tests = []
    for s in names:
        for j, p in enumerate([p for p in pieces[s] if len(p) >= 24000][:MAX_TESTS_PER_SPEAKER]):
            path = f"speakers/{s}.test{j:02d}.wav"
            d.write_wav(os.path.join(args.out, path), p)
            tests.append({"speaker": s, "wav": path})
    turns = []
    for i in range(args.turns):
        trng = np.random.default_rng(d.stable_seed(args.seed, "turn-real", i))
        ti = int(trng.integers(len(names)))
        other = others_for(ti, trng, 1)[0]
        first = pieces[names[ti]][int(trng.integers(len(pieces[names[ti]])))]
        second = pieces[other][int(trng.integers(len(pieces[other])))]
        gap_ms = TURN_GAPS_MS[i % len(TURN_GAPS_MS)]
        cond = {}
        w, lab, spans = make_turn(first, second, gap_ms // 10, trng, cond)
        path = f"turns/{i:04d}.wav"
        d.write_wav(os.path.join(args.out, path), w)
        turns.append(
            {
                "wav": path,
                "target": names[ti],
                "others": [other],
                "gap_ms": gap_ms,
                "labels": lab.tolist(),
                "spans": spans,
                **cond,
            }
        )
    # Other people only: 1-3 speakers (none of them the profile's) talking for 2-5 minutes, made of
    # 10-12 s mixtures whose "target" is another of those speakers, so every utterance is other speech.
    os.makedirs(os.path.join(args.out, "others"), exist_ok=True)
    profiles = [s for s in names if len(enroll[s]) >= 4 * 16000]  # enough for `earshot enroll` to work with
    others_only, total, i = [], 0.0, 0
    while total < args.others_minutes * 60:
        orng = np.random.default_rng(d.stable_seed(args.seed, "others", i))
        profile = profiles[int(orng.integers(len(profiles)))]
        talkers = pick_others(voices, short, voices.index(profile), orng, int(orng.integers(1, 4)))
        parts, seconds, labels = [], float(orng.uniform(120, 300)), []
        while sum(len(p) for p in parts) < seconds * 16000:
            j = int(orng.integers(len(talkers)))
            w, lab, _ = d.make_mixture(
                pieces[talkers[j]], [pieces[t] for t in talkers if t != talkers[j]], orng, max_seconds=12.0, p_noise=0.7
            )
            parts.append(w / (np.abs(w).max() + 1e-9) * 0.5)
            labels.append((lab > 0).astype(np.int64) * 2)  # all of it is other speech
        path = f"others/{i:04d}.wav"
        d.write_wav(os.path.join(args.out, path), np.concatenate(parts))
        lab = np.concatenate(labels)
        others_only.append(
            {
                "wav": path,
                "profile": profile,
                "speakers": talkers,
                "seconds": len(np.concatenate(parts)) / 16000,
                "speech_seconds": float((lab > 0).sum() / 100),
            }
        )
        total += others_only[-1]["seconds"]
        i += 1
    meta = {
        "seed": args.seed,
        "all_corpora": True,
        "speakers": names,
        "other_voices": sorted(set(pieces) - set(names)),
        "enroll": {s: f"speakers/{s}.enroll.wav" for s in names},
        "tests": tests,
        "mixtures": mixtures,
        "turns": turns,
        "others_only": others_only,
    }
    with open(os.path.join(args.out, "devset.json"), "w") as f:
        json.dump(meta, f)
    lab = np.concatenate([np.array(m["labels"]) for m in mixtures])
    groups = sorted({n.split("-")[0] for n in names})
    print(
        f"{len(names)} target speakers ({', '.join(f'{g} {sum(n.startswith(g + chr(45)) for n in names)}' for g in groups)}), "
        f"{len(pieces) - len(names)} other voices, {len(tests)} test pieces, {len(mixtures)} mixtures, "
        f"{len(lab) / 100 / 60:.1f} min; frames per class {np.bincount(lab, minlength=3).tolist()}; {len(turns)} turns; "
        f"{len(others_only)} others-only files, {total / 60:.1f} min"
    )


if __name__ == "__main__":
    main()
