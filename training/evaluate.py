"""Word error rate and emission latency on the development sets, float or int4 (QAT arithmetic).

    python3 -m training.evaluate --model bat=runs/bat.pt --model bat-int4=runs/bat_qat.pt:int4 \
        --data /tmp/earshot_data --real .carry/data --out $OUT/eval.json --plot $OUT/emissions.png

Development sets: each corpus of the real store's `dev` rows (speakers never trained on; grouped as
`words`: Speech Commands, FSDD lucas; `sentences`: LibriSpeech, ARCTIC axb, Common Voice, VCTK), and
`heldout` (the two synthetic voices never trained on, quiet room) and `heldout_noisy` (the same with
pink noise at 15 dB SNR) when --data has them. The store: `python3 -m training.real_pack pack
--splits dev --out runs/real_dev`.
Latency: a token is emitted at the end of the encoder frame that emits it ((t + 1) * 40 ms, before
any chunk wait); the end of speech is known from the clean synthetic clip.
"""
import argparse
import json
import os

import numpy as np
import torch

from training.earshot import tokens as tok
from training.earshot.checkpoint import expand_state
from training.earshot.data import Corpus, coloured_noise, rms
from training.earshot.features import fbank_batch
from training.earshot.model import Transducer, TransducerConfig
from training.earshot.realdata import corpus_of, load_real

SR = 16000
LEAD_S, TRAIL_S, MARGIN_S = 0.4, 0.8, 0.02
FRAME_S = 0.04


def word_errors(ref: str, hyp: str) -> int:
    r, h = ref.split(), hyp.split()
    d = list(range(len(h) + 1))
    for i in range(1, len(r) + 1):
        prev, d[0] = d[0], i
        for j in range(1, len(h) + 1):
            cur = min(d[j] + 1, d[j - 1] + 1, prev + (r[i - 1] != h[j - 1]))
            prev, d[j] = d[j], cur
    return d[len(h)]


# The dev table's groups (issue 15): words and digits, and read sentences, all by dev speakers.
GROUPS = {
    "words": ["speech-commands", "fsdd"],
    "sentences": ["librispeech-speakers", "cmu-arctic", "common-voice-en", "vctk"],
}


def place(nr, x, noise_db=None):
    """Level -26 dBFS, 0.4 s before and 0.8 s after, a faint noise floor (and pink noise at
    `noise_db` SNR): as the daemon's segments look. Returns (waveform, end of speech in s)."""
    x = x / (rms(x) + 1e-9) * 10 ** (-26 / 20)
    y = np.concatenate([np.zeros(int(LEAD_S * SR), np.float32), x, np.zeros(int(TRAIL_S * SR), np.float32)])
    y = y + nr.standard_normal(len(y)).astype(np.float32) * 10 ** (-70 / 20)
    if noise_db is not None:
        y = y + coloured_noise(nr, len(y), 1.0) * rms(x) * 10 ** (-noise_db / 20)
    end = LEAD_S + len(x) / SR - MARGIN_S
    return np.round(np.clip(y, -1, 0.99997) * 32768) / 32768, end


def dev_sets(data_dir: str, real_dir: str, seed: int = 5):
    """name -> list of (waveform float32, text, end of speech in s, speaker): every corpus of the
    real store's `dev` rows (speakers never trained on), and the held-out synthetic voices quiet
    and noisy where `data_dir` has them."""
    nr = np.random.default_rng(seed)
    sets = {}
    if real_dir and os.path.exists(os.path.join(real_dir, "real.tsv")):
        dev = load_real(real_dir, split="dev")
        for i, corpus in enumerate(corpus_of(real_dir, "dev")):
            y, end = place(nr, dev.wave(i))
            sets.setdefault(corpus, []).append((y.astype(np.float32), dev.texts[i], end, dev.voices[i]))
    held = os.path.join(data_dir, "dev_heldout.npz") if data_dir else ""
    if held and os.path.exists(held):
        held = Corpus.load(held)
        for name, noise in (("heldout", None), ("heldout_noisy", 15.0)):
            sets[name] = []
            for i in range(len(held)):
                y, end = place(nr, held.wave(i), noise)
                sets[name].append((y.astype(np.float32), held.texts[i], end, held.voices[i]))
    return sets


def group_table(results: dict) -> dict:
    """WER of each group over the sets it has (errors and words summed, not rates averaged)."""
    out = {}
    for group, names in list(GROUPS.items()) + [("synthetic", ["heldout", "heldout_noisy"])]:
        have = [results[n] for n in names if n in results]
        if have:
            errors, words = sum(r["errors"] for r in have), sum(r["words"] for r in have)
            out[group] = {"wer": errors / max(1, words), "errors": errors, "words": words}
    return out


def load_model(path: str, device):
    if path.endswith(".gguf"):  # a shipped file (its weights dequantized)
        from training.export import load_gguf

        return load_gguf(path).to(device).eval()
    ckpt = torch.load(path, map_location="cpu")
    model = Transducer(TransducerConfig(**ckpt["config"]))
    model.load_state_dict(expand_state(ckpt["model"]))
    return model.to(device).eval()


@torch.no_grad()
def decode(model, items, device, chunk=None, batch=64, left=None):
    """Returns per item (hypothesis text, emission frames list)."""
    order = sorted(range(len(items)), key=lambda i: len(items[i][0]))
    out = [None] * len(items)
    for s in range(0, len(order), batch):
        idx = order[s : s + batch]
        lens = torch.tensor([len(items[i][0]) for i in idx])
        waves = torch.zeros(len(idx), int(lens.max()))
        for k, i in enumerate(idx):
            waves[k, : lens[k]] = torch.from_numpy(items[i][0])
        feats, feat_lens = fbank_batch(waves.to(device), lens)
        enc, enc_lens = model.encode(feats, feat_lens.to(device), chunk=chunk, left=left)
        for k, hyp in enumerate(model.greedy(enc, enc_lens)):
            out[idx[k]] = (tok.decode([t for t, _ in hyp]), [f for _, f in hyp])
    return out


def paired_latency(hyps_by_model, sets):
    """Emission latency over the utterances that every model transcribes exactly: models of
    different accuracy are then timed on the same speech (latency over each model's own correct
    set favours the weaker model, whose correct set is the short, easy utterances)."""
    out = {}
    for name, items in sets.items():
        both = [
            i
            for i, it in enumerate(items)
            if all(h[name][i][1] and h[name][i][0] == it[1] for h in hyps_by_model.values())
        ]
        out[name] = {"utterances": len(both)}
        for model, hyps in hyps_by_model.items():
            lat = [(hyps[name][i][1][-1] + 1) * FRAME_S - items[i][2] for i in both]
            out[name][model] = {
                "mean_last_emission_s": float(np.mean([(hyps[name][i][1][-1] + 1) * FRAME_S for i in both]))
                if both
                else None,
                "last_minus_end_mean_s": float(np.mean(lat)) if lat else None,
                "last_minus_end_p50_s": float(np.percentile(lat, 50)) if lat else None,
                "last_minus_end_p90_s": float(np.percentile(lat, 90)) if lat else None,
            }
        print(
            f"  paired {name}: {len(both)} utterances "
            + ", ".join(
                f"{m} p50 {v['last_minus_end_p50_s']} p90 {v['last_minus_end_p90_s']}"
                for m, v in out[name].items()
                if m != "utterances"
            ),
            flush=True,
        )
    return out


def evaluate(model, sets, device, chunk=None, left=None, keep=None):
    res = {}
    for name, items in sets.items():
        hyps = decode(model, items, device, chunk, left=left)
        if keep is not None:
            keep[name] = hyps
        errors = sum(word_errors(it[1], h) for it, (h, _) in zip(items, hyps))
        words = sum(len(it[1].split()) for it in items)
        lat = [(fr[-1] + 1) * FRAME_S - it[2] for it, (h, fr) in zip(items, hyps) if fr and h == it[1]]
        last = [(fr[-1] + 1) * FRAME_S for it, (h, fr) in zip(items, hyps) if fr and h == it[1]]
        by_voice = {}
        for it, (h, _) in zip(items, hyps):
            v = by_voice.setdefault(it[3], [0, 0])
            v[0] += word_errors(it[1], h)
            v[1] += len(it[1].split())
        res[name] = {
            "wer": errors / max(1, words),
            "errors": errors,
            "words": words,
            "utterances": len(items),
            "wer_by_voice": {v: e / max(1, n) for v, (e, n) in by_voice.items()},
            "mean_last_emission_s": float(np.mean(last)) if last else None,
            "last_minus_end_p50_s": float(np.percentile(lat, 50)) if lat else None,
            "last_minus_end_p90_s": float(np.percentile(lat, 90)) if lat else None,
            "mean_last_minus_end_s": float(np.mean(lat)) if lat else None,
            "errors_sample": [(it[1], h) for it, (h, _) in zip(items, hyps) if h != it[1]][:8],
        }
        print(
            f"  {name}: WER {100 * res[name]['wer']:.2f}% ({errors}/{words}), last-end p50 "
            f"{res[name]['last_minus_end_p50_s']} p90 {res[name]['last_minus_end_p90_s']}",
            flush=True,
        )
    return res


def plot_emissions(models, sets, device, path, n=4):
    """Token emission times of a few held-out utterances for each model (the BAT paper's Fig. 4)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    items = [sets["heldout"][i] for i in (0, 3, 7, 12)[:n]]
    fig, axes = plt.subplots(len(items), 1, figsize=(11, 2.3 * len(items)))
    for ax, it in zip(axes, items):
        t = np.arange(len(it[0])) / SR
        ax.plot(t, it[0] / (np.abs(it[0]).max() + 1e-9), color="0.8", lw=0.5)
        ax.axvline(it[2], color="k", ls="--", lw=1)
        for row, (name, model) in enumerate(models.items()):
            hyp, frames = decode(model, [it], device)[0]
            chars = [c for c in hyp.replace(" ", "\u2581")]
            xs = [(f + 1) * FRAME_S for f in frames]
            ax.scatter(xs, [0.6 - 0.5 * row] * len(xs), s=12, label=name)
            for x, c in zip(xs, chars):
                ax.text(x, 0.68 - 0.5 * row, c, fontsize=6, ha="center")
        ax.set_title(it[1], fontsize=8)
        ax.set_yticks([])
        ax.set_xlim(0, t[-1])
    axes[0].legend(loc="upper right", fontsize=7)
    axes[-1].set_xlabel("time (s); dashed: end of speech")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def dump_sets(sets: dict, folder: str) -> None:
    """Each item as <folder>/<set>/<n>.wav (16 kHz int16) and a row of <folder>/manifest.tsv:
    set, file, text, end of speech (s), speaker."""
    import wave

    rows = []
    for name, items in sets.items():
        os.makedirs(os.path.join(folder, name), exist_ok=True)
        for n, (y, text, end, speaker) in enumerate(items):
            rel = f"{name}/{n:04d}.wav"
            with wave.open(os.path.join(folder, rel), "wb") as w:
                w.setnchannels(1)
                w.setsampwidth(2)
                w.setframerate(SR)
                w.writeframes(np.clip(np.round(y * 32768), -32768, 32767).astype(np.int16).tobytes())
            rows.append(f"{name}\t{rel}\t{text}\t{end:.3f}\t{speaker}\n")
    with open(os.path.join(folder, "manifest.tsv"), "w", encoding="utf-8") as f:
        f.write("set\tfile\ttext\tend_s\tspeaker\n" + "".join(rows))
    print(f"{len(rows)} recordings in {len(sets)} sets -> {folder}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", action="append", default=[], help="name=checkpoint[:int4]")
    ap.add_argument("--data", default="/tmp/earshot_data", help="folder with dev_heldout.npz (synthetic voices)")
    ap.add_argument("--real", default="runs/real_dev", help="real_pack store with the dev rows")
    ap.add_argument("--out", default=None, help="results JSON (needed unless --dump)")
    ap.add_argument("--chunk", type=int, default=None, help="decoding chunk (default: the model's)")
    ap.add_argument("--left", type=int, default=None, help="attention left context (default: the model's)")
    ap.add_argument(
        "--dump",
        default=None,
        help="write the dev sets as WAV files + manifest.tsv to this folder "
        "(for the engine's figures: bench/dev_wer.ts) and exit",
    )
    ap.add_argument("--plot", default=None, help="PNG of emission times (first two models)")
    ap.add_argument("--sets", default="", help="comma-separated set names (default: all there are)")
    args = ap.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not args.dump and not args.out:
        ap.error("--out is needed (or --dump)")
    sets = {k: v for k, v in dev_sets(args.data, args.real).items() if not args.sets or k in args.sets.split(",")}
    if args.dump:
        dump_sets(sets, args.dump)
        return
    models, results, hyps = {}, {}, {}
    for spec in args.model:
        name, path = spec.split("=", 1)
        int4 = path.endswith(":int4")
        model = load_model(path[:-5] if int4 else path, device)
        model.set_qat(int4)
        models[name] = model
        print(f"[eval] {name} ({'int4 arithmetic' if int4 else 'float'})", flush=True)
        hyps[name] = {}
        results[name] = evaluate(model, sets, device, args.chunk, args.left, keep=hyps[name])
        results[name]["groups"] = group_table(results[name])
        for group, g in results[name]["groups"].items():
            print(f"  group {group}: WER {100 * g['wer']:.2f}% ({g['errors']}/{g['words']})", flush=True)
    if len(models) > 1:
        results["paired_latency"] = paired_latency(hyps, sets)
    json.dump(results, open(args.out, "w"), indent=1)
    if args.plot:
        plot_emissions(dict(list(models.items())[:2]), sets, device, args.plot)


if __name__ == "__main__":
    main()
