"""Measures the speaker encoder and the personal VAD on the development set (bench/pvad_devset.py).

    /usr/bin/python3 -m bench.pvad_eval --dev runs/pvad-dev --spkenc models/spkenc.gguf \
        --pvad models/pvad.gguf --float runs/pvad/pvad_film.pt runs/pvad/pvad_concat.pt \
        --baselines runs/pvad-dev/baselines.json --out runs/pvad-dev/metrics.json

--float and --baselines are optional (without them only the GGUF files are measured).

- Speaker verification EER: enrollment embedding vs every test piece (1.5-4 s), all pairs.
- Personal VAD, enrolled with the target's enrollment speech: AP per class and micro mAP over
  frames (as Personal VAD reports them); also as a plain VAD (zero embedding): speech AP with
  score 1 - p(non-speech) against speech labels, next to Silero VAD and WebRTC VAD scores made by
  bench/pvad_baselines.ts on the same mixtures.
- End of segment at the recommended rule (bench/pvad_segments.py sweeps it).
- Cost: seconds of CPU (one thread) per second of audio.
"""
import argparse
import json
import os
import time

import numpy as np
import torch

from bench.pvad_segments import sweep as end_of_segment
from training import pvad_data as d
from training import pvad_export as px


def average_precision(y: np.ndarray, s: np.ndarray) -> float:
    """Area under the precision-recall steps (scikit-learn's average_precision_score)."""
    order = np.argsort(-s, kind="mergesort")
    y, s = y[order].astype(np.float64), s[order]
    thr = np.r_[np.flatnonzero(np.diff(s)), len(y) - 1]
    tps = np.cumsum(y)[thr]
    fps = thr + 1 - tps
    if tps[-1] == 0:
        return float("nan")
    precision, recall = tps / (tps + fps), tps / tps[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def eer(scores: np.ndarray, labels: np.ndarray) -> float:
    order = np.argsort(-scores)
    lab = labels[order]
    fr = 1 - np.cumsum(lab) / lab.sum()  # targets rejected above each cut
    fa = np.cumsum(1 - lab) / (1 - lab).sum()  # non-targets accepted
    i = np.argmin(np.abs(fr - fa))
    return float((fr[i] + fa[i]) / 2)


def load_feats(dev, rel):
    return d.features(d.load_audio(os.path.join(dev, rel)))


def speech_ap(scores, labels, tolerance=0):
    """Speech-vs-non-speech AP; tolerance > 0 leaves out frames within that many frames of a label
    change, so a detector's own convention for where speech starts and ends is not counted."""
    ys, ss = [], []
    for s, lab in zip(scores, labels):
        y = (lab > 0).astype(np.int64)
        keep = np.ones(len(y), dtype=bool)
        for c in np.flatnonzero(np.diff(y)) + 1:
            keep[max(0, c - tolerance) : c + tolerance] = False
        ys.append(y[keep])
        ss.append(np.asarray(s)[: len(y)][keep])
    return average_precision(np.concatenate(ys), np.concatenate(ss))


CONDITIONS = {
    "clean": lambda m: not m.get("reverb") and m.get("snr_db") is None,
    "noise": lambda m: m.get("snr_db") is not None,
    "noise_under_10db": lambda m: m.get("snr_db") is not None and m["snr_db"] < 10,
    "reverb": lambda m: bool(m.get("reverb")),
}


def by_condition(meta, labels, fn):
    """fn(indices) per dev-mixture condition (conditions recorded by bench/pvad_devset.py)."""
    out = {}
    for name, pred in CONDITIONS.items():
        idx = [i for i, m in enumerate(meta["mixtures"]) if pred(m)]
        if idx:
            out[name] = {"mixtures": len(idx), "value": fn(idx)}
    return out


def by_group(meta, labels, fn):
    """fn(indices) per target speaker group (name prefix: libri, espeak, flite, cv, vctk, arctic, fsdd)."""
    out = {}
    for g in sorted({m["target"].split("-")[0] for m in meta["mixtures"]}):
        idx = [i for i, m in enumerate(meta["mixtures"]) if m["target"].startswith(g + "-")]
        out[g] = {"mixtures": len(idx), "value": fn(idx)}
    return out


def embed_many(spk, feats):
    """Utterance embeddings of many utterances at once: all their windows in one batch."""
    wf, hop = spk.meta["earshot.window_frames"], spk.meta["earshot.window_hop"]
    groups = {}
    for i, f in enumerate(feats):
        n = f.shape[0]
        starts = [0] if n <= wf else list(range(0, n - wf + 1, hop))
        groups.setdefault(min(wf, n), []).extend((i, f[s : s + min(wf, n)]) for s in starts)
    sums = torch.zeros(len(feats), spk.meta["earshot.embed_dim"])
    for length, items in groups.items():
        with torch.no_grad():
            e = spk.spk_windows(torch.stack([w for _, w in items]))
        sums.index_add_(0, torch.tensor([i for i, _ in items]), e)
    return torch.nn.functional.normalize(sums, dim=-1)


def speaker_eer(spk, meta, dev):
    names = meta["speakers"]
    enr = embed_many(spk, [load_feats(dev, meta["enroll"][s]) for s in names])
    test = embed_many(spk, [load_feats(dev, t["wav"]) for t in meta["tests"]])
    who = np.array([names.index(t["speaker"]) for t in meta["tests"]])
    sc = (test @ enr.t()).numpy()
    lab = (who[:, None] == np.arange(len(names))[None, :]).astype(np.float64)
    out = {"all": eer(sc.ravel(), lab.ravel()), "trials": int(lab.size), "target_trials": int(lab.sum())}
    # groups by name prefix: libri, espeak, flite; with --all-corpora also cv, vctk, arctic, fsdd
    for group in sorted({n.split("-")[0] for n in names}):
        rows = np.array([names[w].startswith(group + "-") for w in who])
        cols = np.array([n.startswith(group + "-") for n in names])
        if rows.any():
            out[group] = eer(sc[rows][:, cols].ravel(), lab[rows][:, cols].ravel())
    return out, {s: e for s, e in zip(names, enr)}


def enrollment_sweep(spk, meta, dev, seconds=(2, 4, 6)):
    """EER and the cosine threshold at the EER point against enrollment length (every speaker but
    the flite dev voices, which are one voice), with score percentiles for a match rule."""
    names = meta["speakers"]
    use = [not n.startswith("flite") for n in names]
    tests = [t for t in meta["tests"] if use[names.index(t["speaker"])]]
    test = embed_many(spk, [load_feats(dev, t["wav"]) for t in tests])
    who = np.array([names.index(t["speaker"]) for t in tests])
    full = [load_feats(dev, meta["enroll"][n]) for n in names]
    out = {}
    for sec in seconds:
        enr = embed_many(spk, [f[: sec * 100] for f in full])
        sc = (test @ enr.t()).numpy()[:, use]
        lab = (who[:, None] == np.arange(len(names))[None, :])[:, use]
        tgt, non = sc[lab], sc[~lab]
        grid = np.linspace(-1, 1, 2001)
        gap = [abs((tgt < h).mean() - (non >= h).mean()) for h in grid]
        out[f"{sec}s"] = {
            "eer": eer(sc.ravel(), lab.ravel().astype(np.float64)),
            "threshold_at_eer": float(grid[int(np.argmin(gap))]),
            "target_cos_p10": float(np.percentile(tgt, 10)),
            "target_cos_p50": float(np.percentile(tgt, 50)),
            "nontarget_cos_p99": float(np.percentile(non, 99)),
        }
    return out


def pad_batch(feats):
    T = max(len(f) for f in feats)
    x = torch.zeros(len(feats), T, 80)
    for i, f in enumerate(feats):
        x[i, : len(f)] = f
    return x


def run_vad(fn, feats, embeds, chunk=200):
    out = []
    for i in range(0, len(feats), chunk):
        x = pad_batch(feats[i : i + chunk])
        with torch.no_grad():
            p = fn(x, torch.stack(embeds[i : i + chunk]))
        out += [p[j, : len(f)].numpy() for j, f in enumerate(feats[i : i + chunk])]
    return out


def class_metrics(posts, labels):
    p = np.concatenate(posts)
    y = np.concatenate(labels)
    onehot = np.eye(3)[y]
    ap = [average_precision(onehot[:, k], p[:, k]) for k in range(3)]
    return {
        "ap_non_speech": ap[0],
        "ap_target": ap[1],
        "ap_other": ap[2],
        "map_micro": average_precision(onehot.ravel(), p.ravel()),
        "frame_accuracy": float((p.argmax(1) == y).mean()),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dev", default="runs/pvad-dev")
    ap.add_argument("--spkenc", default="models/spkenc.gguf")
    ap.add_argument("--pvad", default="models/pvad.gguf")
    ap.add_argument("--float", nargs="*", default=[], help="PyTorch checkpoints to measure next to the file")
    ap.add_argument("--baselines", default=None)
    ap.add_argument("--out", default=None)
    ap.add_argument("--save-posteriors", default=None, help=".npz of the file model's posteriors (enrolled, zero)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    meta = json.load(open(os.path.join(args.dev, "devset.json")))
    spk = px.FileModel(args.spkenc)
    results = {}
    t = time.time()
    results["spkenc_eer"], enr = speaker_eer(spk, meta, args.dev)
    print("speaker EER", json.dumps(results["spkenc_eer"]), f"({time.time() - t:.0f}s)", flush=True)
    results["spkenc_enrollment"] = enrollment_sweep(spk, meta, args.dev)
    print("enrollment length", json.dumps(results["spkenc_enrollment"]), flush=True)
    feats = [load_feats(args.dev, m["wav"]) for m in meta["mixtures"]]
    labels = [np.array(m["labels"]) for m in meta["mixtures"]]
    seconds = sum(len(f) for f in feats) / 100
    emb = [enr[m["target"]] for m in meta["mixtures"]]
    zero = [torch.zeros_like(e) for e in emb]
    speech = [(lab > 0).astype(np.int64) for lab in labels]
    vad = px.FileModel(args.pvad)
    models = {"file": lambda x, e: vad.pvad(x, e)[0]}
    for ck in args.float:
        m, info = px.load_checkpoint(ck)
        # pvad_film.pt -> float_film, pvad_film_h192.pt -> float_film_h192
        models["float_" + os.path.basename(ck).removesuffix(".pt").removeprefix("pvad_")] = m.posteriors
    for name, fn in models.items():
        posts = run_vad(fn, feats, emb)
        r = class_metrics(posts, labels)
        zp = run_vad(fn, feats, zero)
        r["speech_ap_zero_embedding"] = speech_ap([1 - p[:, 0] for p in zp], labels)
        r["speech_ap_zero_embedding_tol100ms"] = speech_ap([1 - p[:, 0] for p in zp], labels, 10)
        r["speech_ap_by_condition"] = by_condition(
            meta, labels, lambda idx: speech_ap([1 - zp[i][:, 0] for i in idx], [labels[i] for i in idx])
        )
        r["map_by_condition"] = by_condition(
            meta, labels, lambda idx: class_metrics([posts[i] for i in idx], [labels[i] for i in idx])["map_micro"]
        )
        r["by_target_group"] = by_group(
            meta, labels, lambda idx: class_metrics([posts[i] for i in idx], [labels[i] for i in idx])
        )
        y2 = np.concatenate(speech)
        r["speech_ap_enrolled"] = average_precision(y2, 1 - np.concatenate(posts)[:, 0])
        if name == "file":
            r["end_of_segment"] = end_of_segment(posts, meta)
            if args.save_posteriors:
                # turns (bench/pvad_devset.py): target then another speaker, for bench/pvad_segments.py
                turns = meta.get("turns", [])
                tp = run_vad(fn, [load_feats(args.dev, m["wav"]) for m in turns], [enr[m["target"]] for m in turns])
                np.savez_compressed(
                    args.save_posteriors,
                    **{f"enrolled_{i}": p for i, p in enumerate(posts)},
                    **{f"zero_{i}": p for i, p in enumerate(zp)},
                    **{f"turn_enrolled_{i}": p for i, p in enumerate(tp)},
                )
        else:
            start = time.process_time()
            for f, e in zip(feats, emb):  # one stream at a time, as a device runs it
                with torch.no_grad():
                    fn(f.unsqueeze(0), e.unsqueeze(0))
            r["cpu_seconds_per_audio_second"] = (time.process_time() - start) / seconds
        results[name] = r
        print(name, json.dumps(r), flush=True)
    if args.baselines:
        base = json.load(open(args.baselines))
        y = np.concatenate(speech)
        for name, b in base["models"].items():
            s = np.concatenate(
                [np.array(b["scores"][m["wav"]])[: len(lab)] for m, lab in zip(meta["mixtures"], labels)]
            )
            results[name] = {
                "speech_ap": average_precision(y, s),
                "speech_ap_tol100ms": speech_ap([b["scores"][m["wav"]] for m in meta["mixtures"]], labels, 10),
                "speech_ap_by_condition": by_condition(
                    meta,
                    labels,
                    lambda idx: speech_ap(
                        [b["scores"][meta["mixtures"][i]["wav"]] for i in idx], [labels[i] for i in idx]
                    ),
                ),
                "cpu_seconds_per_audio_second": b["cpu_seconds_per_audio_second"],
            }
            print(name, json.dumps(results[name]))
        if "engine_enrolled_posteriors" in base:
            posts = [
                np.array(base["engine_enrolled_posteriors"][m["wav"]]).reshape(-1, 3)[: len(lab)]
                for m, lab in zip(meta["mixtures"], labels)
            ]
            results["earshot_engine"].update(class_metrics(posts, labels))
            results["earshot_engine"]["end_of_segment"] = end_of_segment(posts, meta)
            print("earshot_engine", json.dumps(results["earshot_engine"]))
    results["dev"] = {
        "mixtures": len(feats),
        "minutes": seconds / 60,
        "speakers": len(meta["speakers"]),
        "frames_per_class": np.bincount(np.concatenate(labels), minlength=3).tolist(),
    }
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
