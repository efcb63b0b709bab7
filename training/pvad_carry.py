"""Packs the training speakers' recordings for the GPU machine (which cannot see ../shared).

Writes <out>/audio/*.flac and <out>/manifest.tsv (path, speaker, source). Recordings are peak
normalized and rounded to 10 bits, which FLAC stores in about half the bytes (SNR stays above
40 dB, below the noise the mixtures add). The development speakers are left out. The `flac`
Debian package is downloaded beside them (the GPU machine decodes with it).

    /usr/bin/python3 -m training.pvad_carry --data ../shared/data --out .carry/pvad

Also writes <out>/augment.npz: the training share of the real rooms and noises (pvad_data.AUG_DEV_FILES
stay for the development set), int16; with --aug-only nothing else (the recordings then travel in the
shared store of the train split, pvad_train.py --real).
"""
import argparse
import os
import subprocess

import numpy as np

from training import pvad_data as d


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="../shared/data")
    ap.add_argument("--out", default=".carry/pvad")
    ap.add_argument("--bits", type=int, default=10)
    ap.add_argument("--fsdd-takes", type=int, default=15, help="takes 5.. per digit and speaker (0-4 are dev)")
    ap.add_argument("--aug-only", action="store_true", help="write only <out>/augment.npz")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    bank = d.pack_augment_bank(args.data, "train")
    np.savez_compressed(os.path.join(args.out, "augment.npz"), **bank)
    print(f"{len(bank)} rooms and noises -> {args.out}/augment.npz")
    if args.aug_only:
        return
    os.makedirs(os.path.join(args.out, "audio"), exist_ok=True)
    rows = []
    libri = d.read_manifest(os.path.join(args.data, "librispeech-speakers", "manifest.tsv"))
    dev = d.librispeech_dev_speakers([r["speaker_id"] for r in libri])
    for r in libri:
        if r["speaker_id"] not in dev:
            rows.append(
                (os.path.join(args.data, "librispeech-speakers", r["path"]), "libri-" + r["speaker_id"], "libri")
            )
    for r in d.read_manifest(os.path.join(args.data, "fsdd", "manifest.tsv")):
        take = int(r["path"].rsplit("_", 1)[1].split(".")[0])
        if 5 <= take < 5 + args.fsdd_takes:
            rows.append((os.path.join(args.data, "fsdd", r["path"]), "fsdd-" + r["speaker_id"], "fsdd"))
    for corpus in ("klettres-en", "ktuberling-en"):
        for r in d.read_manifest(os.path.join(args.data, corpus, "manifest.tsv")):
            rows.append((os.path.join(args.data, corpus, r["path"]), r["speaker_id"], corpus))
    step = 2 ** (16 - args.bits)
    out_rows = []
    for i, (src, spk, corpus) in enumerate(rows):
        x = d.load_audio(src)
        q = np.round(x / (np.abs(x).max() + 1e-9) * 0.9 * 32767 / step) * step / 32768
        name = f"{i:05d}.flac"
        tmp = os.path.join(args.out, "audio", f"{i:05d}.wav")
        d.write_wav(tmp, q)
        subprocess.run(["sox", tmp, os.path.join(args.out, "audio", name)], check=True)
        os.remove(tmp)
        out_rows.append(f"audio/{name}\t{spk}\t{corpus}")
    with open(os.path.join(args.out, "manifest.tsv"), "w") as f:
        f.write("path\tspeaker\tsource\n" + "\n".join(out_rows) + "\n")
    # The GPU machine has no FLAC reader: the `flac` program travels as a Debian package.
    if not any(f.startswith("flac_") and f.endswith(".deb") for f in os.listdir(args.out)):
        subprocess.run(["apt-get", "download", "flac"], cwd=args.out, check=True)
    print(f"{len(out_rows)} recordings of {len(set(r[1] for r in rows))} speakers -> {args.out}")


if __name__ == "__main__":
    main()
