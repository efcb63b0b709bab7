"""Packs the transducer's real recordings for the GPU machine (which cannot see ../shared):
<out>/real.npz (int16, FSDD at its 8 kHz, the rest at 16 kHz) and <out>/real.tsv
(key, sample rate, spoken-form text, split), read by `earshot.realdata.load_real`.

FSDD takes 0-4 are the `dev` split, never trained on; takes 5 .. 5+N-1 are `train`.

    /usr/bin/python3 training/real_carry.py --data ../shared/data --out .carry/data
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pvad_data as d  # noqa: E402

# Phoneme drills of klettres are sounds, not words: no spelling to learn from them.
SKIP = {"aw", "ch", "th"}
# ktuberling's sound ids written as the words a speaker says.
SPOKEN = {"palmtree": "palm tree", "fallingstar": "falling star", "brocolli": "broccoli", "sphynx": "sphinx"}


def spoken(text: str) -> str:
    words = " ".join(SPOKEN.get(w, w) for w in text.lower().split())
    return "".join(c for c in words if c.isalpha() or c in " '")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="../shared/data")
    ap.add_argument("--out", default=".carry/data")
    ap.add_argument("--fsdd-train-takes", type=int, default=15)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    arrays, rows = {}, []
    for r in d.read_manifest(os.path.join(args.data, "fsdd", "manifest.tsv")):
        take = int(r["path"].rsplit("_", 1)[1].split(".")[0])
        split = "dev" if take < 5 else "train" if take < 5 + args.fsdd_train_takes else None
        if split:
            x, sr = d.read_wav(os.path.join(args.data, "fsdd", r["path"]))
            key = "fsdd/" + os.path.basename(r["path"])[:-4]
            arrays[key] = np.clip(np.round(x * 32768), -32768, 32767).astype(np.int16)
            rows.append((key, sr, spoken(r["transcript"]), split))
    for corpus in ("klettres-en", "ktuberling-en"):
        for i, r in enumerate(d.read_manifest(os.path.join(args.data, corpus, "manifest.tsv"))):
            if r["transcript"].lower() in SKIP:
                continue
            x = d.load_audio(os.path.join(args.data, corpus, r["path"]))  # mono, 16 kHz
            key = f"{corpus}/{i:03d}"
            arrays[key] = np.clip(np.round(x * 32768), -32768, 32767).astype(np.int16)
            rows.append((key, 16000, spoken(r["transcript"]), "train"))
    np.savez_compressed(os.path.join(args.out, "real.npz"), **arrays)
    with open(os.path.join(args.out, "real.tsv"), "w") as f:
        f.writelines(f"{k}\t{sr}\t{t}\t{s}\n" for k, sr, t, s in rows)
    n_dev = sum(1 for r in rows if r[3] == "dev")
    print(f"{len(rows)} recordings ({n_dev} dev) -> {args.out}")


if __name__ == "__main__":
    main()
