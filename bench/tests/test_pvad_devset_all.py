"""The all-corpus personal-VAD dev set (bench/pvad_devset.py --all-corpora) holds dev speakers only,
on the real data set's manifests."""
import os
import unittest

import numpy as np

from bench import pvad_devset

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared", "data")


def speakers_by_split(corpus):
    rows = pvad_devset.d.read_manifest(os.path.join(DATA, corpus, "manifest.tsv"))
    out = {"dev": set(), "train": set()}
    for r in rows:
        if r["speaker_id"]:
            out[r["split"]].add(r["speaker_id"])
    return out


class AllCorporaDevSetTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.enroll, cls.pieces = pvad_devset.real_dev_speakers(DATA, np.random.default_rng(2026))

    def test_only_dev_speakers_of_every_corpus(self):
        prefixes = {p: c for c, p in pvad_devset.REAL_CORPORA.items()}
        seen = {c: set() for c in pvad_devset.REAL_CORPORA}
        for name in self.pieces:
            prefix, spk = name.split("-", 1)
            seen[prefixes[prefix]].add(spk)
        for corpus, got in seen.items():
            split = speakers_by_split(corpus)
            # names drop the corpus's own prefix (sc_, vctk_, arctic_): put it back to compare
            ids = {s for s in split["dev"] | split["train"] if s.split("_", 1)[-1] in got or s in got}
            self.assertTrue(got, f"{corpus}: no dev speaker at all")
            self.assertFalse(ids & split["train"], f"{corpus}: a train speaker is in the dev set")
            self.assertEqual(len(ids), len(got), corpus)
        self.assertEqual(len(seen["librispeech-speakers"]), 30)
        self.assertEqual(seen["cmu-arctic"], {"axb"})
        self.assertEqual(seen["fsdd"], {"lucas"})

    def test_targets_enroll_and_keep_pieces_others_do_not(self):
        targets = [n for n, e in self.enroll.items() if e is not None]
        self.assertFalse([n for n in targets if n.startswith("sc-")], "Speech Commands speakers cannot enroll")
        for n in targets:
            self.assertGreaterEqual(len(self.enroll[n]), 16000, n)
            self.assertGreaterEqual(len(self.pieces[n]), 2 if not n.startswith("libri-") else 1, n)
        self.assertGreaterEqual(len(targets), 35)

    def test_others_never_include_the_target(self):
        names = sorted(n for n in self.pieces if not n.startswith("sc-"))
        short = sorted(n for n in self.pieces if n.startswith("sc-"))
        rng = np.random.default_rng(1)
        picks = [pvad_devset.pick_others(names, short, i % len(names), rng, 2) for i in range(400)]
        for i, p in enumerate(picks):
            self.assertNotIn(names[i % len(names)], p)
        share = np.mean([o.startswith("sc-") for p in picks for o in p])
        self.assertGreater(share, 0.2)
        self.assertLess(share, 0.4)


if __name__ == "__main__":
    unittest.main()
