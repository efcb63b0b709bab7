"""PNG plots for bench/RESULTS.md from the benchmark results (runs/bench/results/*.json).

    /usr/bin/python3 bench/plots.py [--results runs/bench/results] [--out bench/plots]

Needs matplotlib (apt-get install -y python3-matplotlib). A plot whose results are missing is
skipped; prints the written files as one JSON object.
"""
import argparse
import json
import os
import wave

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
COLORS = {
    "earshot-int4": "tab:blue",
    "earshot-f32": "tab:cyan",
    "onnx-fp32": "tab:orange",
    "onnx-int8": "tab:red",
    "onnx-fp32-whole": "navajowhite",
    "onnx-int8-whole": "lightcoral",
    "pocketsphinx": "tab:gray",
}
SYNTH_MARGIN_S = 0.02  # training/earshot/synth.py trims silence to 20 ms after the last speech


def load(results, name):
    p = os.path.join(results, f"{name}.json")
    return json.load(open(p)) if os.path.exists(p) else None


def read_wav(path):
    with wave.open(path) as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768, w.getframerate()


def emissions(rec, out, n=4):
    """Token emission times of a few held-out-voice utterances, per engine (cf. the BAT paper's Fig. 4)."""
    utts = rec["utterances"]
    names = [k for k in ("earshot-int4", "earshot-f32", "onnx-int8", "onnx-fp32") if k in utts]
    synth = [i for i, u in enumerate(utts[names[0]]) if u["set"] == "synth"]
    # Spread over the set: both voices, varied lengths.
    picks = [synth[int(j)] for j in np.linspace(0, len(synth) - 1, n)]
    manifest = json.load(open(os.path.join(ROOT, "runs", "bench", "synth", "manifest.json")))["utterances"]
    fig, axes = plt.subplots(len(picks), 1, figsize=(11, 2.2 * len(picks)))
    for ax, i in zip(np.atleast_1d(axes), picks):
        u0 = utts[names[0]][i]
        wav = os.path.join(ROOT, "runs", "bench", "synth", u0["id"].split("/")[-1])
        x, sr = read_wav(wav)
        # The clips were decoded with the daemon's segment margins: silence before and after.
        pad = rec.get("padding", {"lead_s": 0.0, "trail_s": 0.0})
        x = np.concatenate([np.zeros(int(pad["lead_s"] * sr)), x, np.zeros(int(pad["trail_s"] * sr))])
        t = np.arange(len(x)) / sr
        ax.plot(t, x / (np.abs(x).max() + 1e-9), color="0.8", lw=0.5)
        end = len(x) / sr - pad["trail_s"] - SYNTH_MARGIN_S
        ax.axvline(end, color="k", ls="--", lw=1)
        for row, name in enumerate(names):
            toks = utts[name][i]["tokens"]
            xs = [s for _, s in toks]
            y = 0.75 - 0.45 * row
            ax.scatter(xs, [y] * len(xs), s=10, color=COLORS.get(name), label=name)
            for s, (tk, _) in zip(xs, toks):
                ax.text(s, y + 0.08, tk.replace("\u2581", "_"), fontsize=5, ha="center")
        ax.set_title(f"{u0['ref']}  ({manifest[int(u0['id'].split('/')[-1][:3])]['voice']})", fontsize=8)
        ax.set_yticks([])
        ax.set_xlim(0, max(t[-1], max([s for n_ in names for _, s in utts[n_][i]["tokens"]] or [0])) + 0.1)
    np.atleast_1d(axes)[0].legend(loc="upper left", fontsize=7, ncol=len(names))
    np.atleast_1d(axes)[-1].set_xlabel("time (s); dashed: end of speech; dots: token emission times")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def sample_timeline(e2e, out):
    """The bundled sample in real time: true speech, emitted tokens and transcript arrivals."""
    rows = [r for r in e2e["realtime"]["segments_detail"] if r.get("run", 0) == 0]
    x, sr = read_wav(os.path.join(ROOT, e2e["sample"]))
    t = np.arange(len(x)) / sr
    fig, ax = plt.subplots(figsize=(12, 3))
    ax.plot(t, x / (np.abs(x).max() + 1e-9), color="0.75", lw=0.4)
    for r in rows:
        ax.axvline(r["truth_end_s"], color="k", ls="--", lw=0.8)
        if not r["received"]:
            continue
        xs = [s for _, s in r["tokens"]]
        ax.scatter(xs, [0.9] * len(xs), s=6, color="tab:blue")
        arrive = r["truth_end_s"] + r["latency_ms"] / 1000
        ax.axvline(arrive, color="tab:red", lw=1.2)
        ax.text(arrive, -1.05, f"{r['latency_ms']:.0f} ms", color="tab:red", fontsize=7, ha="left")
    ax.set_yticks([])
    ax.set_xlim(0, t[-1])
    ax.set_xlabel(
        "time in the sample (s); dashed: end of speech (sample.json); red: transcript received "
        "over MQTT; blue dots: token emission times"
    )
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def latency_hist(e2e, pvad, out):
    rows = [r for r in e2e["realtime"]["segments_detail"] if r["received"]] if e2e else []
    panels = []
    if rows:
        panels.append(
            ("end of speech -> transcript received (e2e, mosquitto)", [r["latency_ms"] for r in rows], e2e["realtime"])
        )
    m = (pvad or {}).get("metrics", {})
    eos = (m.get("earshot_engine") or {}).get("end_of_segment") or (m.get("file") or {}).get("end_of_segment")
    if eos and "trail_ms" in eos:  # a single rule, not a sweep
        eos = {f"{eos['trail_ms']}ms": eos}
    if eos:
        panels.append(("pVAD dev set: end of target speech -> segment closed", None, eos))
    if not panels:
        return False
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 3.2))
    for ax, (title, values, info) in zip(np.atleast_1d(axes), panels):
        if values is not None:
            ax.hist(values, bins=min(30, max(5, len(values) // 2)), color="tab:blue")
            for p, ls in ((50, "-"), (90, "--")):
                v = np.percentile(values, p)
                ax.axvline(v, color="k", ls=ls, lw=1)
                ax.text(v, ax.get_ylim()[1] * 0.9, f" p{p} {v:.0f} ms", fontsize=8)
            ax.set_xlabel("ms")
        else:
            trails = sorted(info, key=lambda k: int(k[:-2]))
            p50 = [info[k]["latency_p50_ms"] or np.nan for k in trails]
            p90 = [info[k]["latency_p90_ms"] or np.nan for k in trails]
            cut = [info[k]["cut_commands"] for k in trails]
            xs = [int(k[:-2]) for k in trails]
            ax.plot(xs, p50, "o-", label="p50 latency")
            ax.plot(xs, p90, "s--", label="p90 latency")
            ax2 = ax.twinx()
            ax2.bar(xs, cut, width=6, color="tab:red", alpha=0.3, label="commands cut")
            ax2.set_ylabel("commands cut")
            ax.set_xlabel("trailing non-speech that closes a segment (ms)")
            ax.set_ylabel("ms")
            ax.legend(fontsize=7, loc="upper left")
            title = "pVAD dev set: end of target speech -> segment close"
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return True


def speed_vs_size(rec, ps, out):
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 3.8))
    pts = []
    for r in rec["table"]:
        pts.append((r["name"], r["file_mib"], r["encoder_ms_per_audio_s"], r["wer"]))
    for name, size, ms, wer in pts:
        a1.scatter(size, ms, s=50, color=COLORS.get(name))
        a1.annotate(name, (size, ms), textcoords="offset points", xytext=(5, 4), fontsize=8)
    a1.set_xscale("log")
    a1.set_xlabel("model file (MiB, log)")
    a1.set_ylabel("encoder CPU ms per second of audio (1 thread)")
    a1.set_title("encoder speed vs size, equal fbank inputs", fontsize=9)
    rtf = [
        (
            r["name"],
            r["file_mib"],
            r["rtf_streaming_decode"] if r["rtf_streaming_decode"] is not None else r["rtf_fbank_encoder"],
        )
        for r in rec["table"]
    ]
    if ps:
        rtf.append(("pocketsphinx", ps["model_mib"], ps["rtf_without_load"]))
    for name, size, v in rtf:
        a2.scatter(size, v, s=50, color=COLORS.get(name))
        a2.annotate(name, (size, v), textcoords="offset points", xytext=(5, 4), fontsize=8)
    a2.set_xscale("log")
    a2.set_yscale("log")
    a2.set_xlabel("model size (MiB, log)")
    a2.set_ylabel("real-time factor (CPU s / audio s, log)")
    a2.set_title(
        "real-time factor vs size (Earshot: whole streaming decode;\nONNX: fbank + encoder; "
        "pocketsphinx: decode without loading)",
        fontsize=8,
    )
    for a in (a1, a2):
        a.grid(alpha=0.3, which="both")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def rss(e2e, out):
    mem = e2e["memory"]
    s = np.array(mem["series"])
    fig, ax = plt.subplots(figsize=(8, 3))
    ax.plot(s[:, 0], s[:, 1], lw=1, label="RSS")
    if mem.get("series_daemon"):
        d = np.array([[r[0], r[2]] for r in mem["series_daemon"]], dtype=float)
        ax.plot(d[:, 0], d[:, 1], lw=1, label="V8 heap (committed)")
        ax.plot(d[:, 0], s[:, 1] - d[:, 1], lw=1, label="RSS outside the V8 heap")
    if mem.get("warmup_min"):
        ax.axvline(mem["warmup_min"], color="grey", lw=0.8, ls="--", label="end of warm-up")
    if mem.get("series_daemon") or mem.get("warmup_min"):
        ax.legend(fontsize=7, loc="lower right")
    ax.set_xlabel(f"audio fed (minutes; raw PCM on stdin at {e2e['memory'].get('speed', '?')}x real time)")
    ax.set_ylabel("daemon memory (MiB)")
    ax.set_title(
        f"RSS over {e2e['memory']['audio_s'] / 60:.1f} min of audio: slope over the second half "
        f"{e2e['memory']['slope_mib_per_audio_min_second_half']:.3f} MiB/min",
        fontsize=9,
    )
    ax.set_ylim(0, max(s[:, 1]) * 1.15)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", default=os.path.join(ROOT, "runs", "bench", "results"))
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "plots"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rec, ps, e2e, pvad = (load(args.results, n) for n in ("recognizer", "pocketsphinx", "e2e", "pvad"))
    written = []

    def out(name):
        written.append(name)
        return os.path.join(args.out, name)

    if rec:
        emissions(rec, out("emissions.png"))
        speed_vs_size(rec, ps, out("speed_vs_size.png"))
    if e2e:
        sample_timeline(e2e, out("sample_timeline.png"))
        rss(e2e, out("rss.png"))
    if e2e or pvad:
        if latency_hist(e2e, pvad, os.path.join(args.out, "latency.png")):
            written.append("latency.png")
    print(json.dumps({"plots": written, "dir": os.path.relpath(args.out, ROOT)}))


if __name__ == "__main__":
    main()
