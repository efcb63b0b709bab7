"""The real recordings carried to the GPU machine (.carry/data: real.npz + real.tsv, built from
../shared/data: FSDD, klettres, ktuberling). FSDD takes 0-4 are the `dev` split, never trained on."""
import os

import numpy as np

from .data import Corpus, resample

TARGET_SR = 16000


def load_real(folder: str, split: str) -> Corpus:
    z = np.load(os.path.join(folder, "real.npz"))
    items = []
    for line in open(os.path.join(folder, "real.tsv")):
        key, sr, text, sp = line.rstrip("\n").split("\t")
        if sp != split:
            continue
        a = z[key]
        if int(sr) != TARGET_SR:
            a = np.clip(resample(a.astype(np.float32) / 32768.0, int(sr), TARGET_SR) * 32768.0,
                        -32768, 32767).astype(np.int16)
        items.append((a, text, key.split("/")[0]))
    return Corpus.from_items(items)
