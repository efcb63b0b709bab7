"""The real recordings as training.real_pack writes them: <folder>/real.npz + real.tsv (key, sample
rate, spoken-form text, split, speaker, corpus), and the augmentation material beside them
(noise.npz + noise.tsv: real background noises; rir.npz: real room impulse responses)."""
import os

import numpy as np

from .data import Corpus, resample

TARGET_SR = 16000


def read_index(path: str):
    """Rows of a store's .tsv as dicts (older 4-column stores have no speaker or corpus)."""
    names = ["key", "sr", "text", "split", "speaker", "corpus"]
    with open(path, encoding="utf-8") as f:
        for line in f:
            row = dict(zip(names, line.rstrip("\n").split("\t")))
            row.setdefault("corpus", row["key"].split("/")[0])
            row.setdefault("speaker", row["corpus"])
            yield row


def load_real(folder: str, split: str, corpora=None) -> Corpus:
    """The store's rows of one split as a Corpus whose voices are the speakers."""
    z = np.load(os.path.join(folder, "real.npz"))
    items = []
    for row in read_index(os.path.join(folder, "real.tsv")):
        if row["split"] != split or (corpora and row["corpus"] not in corpora):
            continue
        a = z[row["key"]]
        if int(row["sr"]) != TARGET_SR:
            a = np.clip(
                resample(a.astype(np.float32) / 32768.0, int(row["sr"]), TARGET_SR) * 32768.0, -32768, 32767
            ).astype(np.int16)
        items.append((a, row["text"], row["speaker"]))
    return Corpus.from_items(items)


def corpus_of(folder: str, split: str):
    """Each row's corpus, in load_real's order."""
    return [r["corpus"] for r in read_index(os.path.join(folder, "real.tsv")) if r["split"] == split]


def load_augment(folder: str):
    """(noises, rirs): float32 arrays at 16 kHz; empty lists when the store has none."""
    noises, rirs = [], []
    if os.path.exists(os.path.join(folder, "noise.npz")):
        z = np.load(os.path.join(folder, "noise.npz"))
        noises = [z[k].astype(np.float32) / 32768.0 for k in z.files]
    if os.path.exists(os.path.join(folder, "rir.npz")):
        z = np.load(os.path.join(folder, "rir.npz"))
        rirs = [z[k].astype(np.float32) for k in z.files]
    return noises, rirs
