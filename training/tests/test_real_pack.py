"""The real-speech store: spoken form, pack (plain and Opus) and unpack, and a training step that
reads it (with real noises and rooms) starting from a shipped .gguf."""
import os
import subprocess
import sys
import tempfile
import unittest
import wave

import numpy as np

from training import real_pack
from training.earshot.realdata import corpus_of, load_augment, load_real

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MANIFEST_HEAD = "path\tduration_s\tsample_rate\tchannels\tspeaker_id\ttranscript\tlicense\tnotes\tsplit\n"


def write_wav(path, x, sr):
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes(x.astype(np.int16).tobytes())


def tone(seconds, sr, hz):
    t = np.arange(int(seconds * sr)) / sr
    return np.sin(2 * np.pi * hz * t) * 8000


def fake_data(root):
    """A ../shared/data-like tree: two corpora (one at 8 kHz) and augment/."""
    rows = {
        "fsdd": [("a.wav", "george", "seven", "train", 8000), ("b.wav", "lucas", "three", "dev", 8000)],
        "vctk": [
            ("c.wav", "vctk_p225", "Well-known Things, said he.", "train", 16000),
            ("d.wav", "vctk_p226", "letter A", "train", 16000),
        ],
    }
    for corpus, items in rows.items():
        os.makedirs(os.path.join(root, corpus))
        with open(os.path.join(root, corpus, "manifest.tsv"), "w") as f:
            f.write(MANIFEST_HEAD)
            for i, (name, spk, text, split, sr) in enumerate(items):
                write_wav(os.path.join(root, corpus, name), tone(0.5 + 0.25 * i, sr, 300 + 100 * i), sr)
                f.write(f"{name}\t1\t{sr}\t1\t{spk}\t{text}\tx\t\t{split}\n")
    os.makedirs(os.path.join(root, "augment", "rir"))
    os.makedirs(os.path.join(root, "augment", "noise"))
    rir = np.zeros(4000)
    rir[100], rir[900] = 20000, 5000
    write_wav(os.path.join(root, "augment", "rir", "room.wav"), rir, 16000)
    write_wav(os.path.join(root, "augment", "noise", "hum.wav"), tone(2.0, 16000, 120), 16000)
    with open(os.path.join(root, "augment", "manifest.tsv"), "w") as f:
        f.write(MANIFEST_HEAD + "rir/room.wav\t\t\t\t\t\t\t\t\nnoise/hum.wav\t\t\t\t\t\t\t\t\n")


class RealPackTest(unittest.TestCase):
    def test_spoken_form(self):
        self.assertEqual(real_pack.spoken_form("Well-known Things, said he."), "well known things said he")
        self.assertEqual(real_pack.spoken_form("letter A"), "a")
        self.assertEqual(real_pack.spoken_form("'tis the dog's bone"), "tis the dog's bone")
        self.assertEqual(real_pack.spoken_form("palmtree"), "palm tree")

    def test_plain_store_keeps_split_and_speakers(self):
        with tempfile.TemporaryDirectory() as tmp:
            data = os.path.join(tmp, "data")
            fake_data(data)
            real_pack.main(["pack", "--data", data, "--splits", "train,dev", "--out", os.path.join(tmp, "s")])
            train = load_real(os.path.join(tmp, "s"), "train")
            dev = load_real(os.path.join(tmp, "s"), "dev")
            self.assertEqual(train.texts, ["well known things said he", "a", "seven"])
            self.assertEqual(dev.voices, ["fsdd:lucas"])
            self.assertEqual(corpus_of(os.path.join(tmp, "s"), "train"), ["vctk", "vctk", "fsdd"])
            self.assertEqual(len(dev.wave(0)), 16000 * 3 // 4)  # 8 kHz resampled to 16 kHz

    def test_opus_round_trip_then_a_training_step(self):
        with tempfile.TemporaryDirectory() as tmp:
            data = os.path.join(tmp, "data")
            fake_data(data)
            carry, store = os.path.join(tmp, "carry"), os.path.join(tmp, "store")
            plain = os.path.join(tmp, "plain")
            real_pack.main(["pack", "--data", data, "--splits", "train", "--out", plain])
            subprocess.run(
                [
                    sys.executable,
                    "-c",
                    "import sys; from training import real_pack as p; " "p.OPUS_DEBS.clear(); p.main(sys.argv[1:])",
                    "pack",
                    "--data",
                    data,
                    "--splits",
                    "train",
                    "--opus",
                    "--augment",
                    "--out",
                    carry,
                ],
                cwd=ROOT,
                check=True,
            )
            real_pack.main(["unpack", "--carry", carry, "--out", store])
            a, b = load_real(plain, "train"), load_real(store, "train")
            self.assertEqual(a.texts, b.texts)
            for i in range(len(a)):
                x, y = a.wave(i), b.wave(i)
                self.assertEqual(len(x), len(y))
                snr = 10 * np.log10(np.sum(x * x) / np.sum((x - y) ** 2))
                self.assertGreater(snr, 10.0, f"row {i}: the codec kept too little ({snr:.1f} dB)")
            noises, rirs = load_augment(store)
            self.assertEqual((len(noises), len(rirs)), (1, 1))
            self.assertAlmostEqual(float(np.sum(rirs[0] ** 2)), 1.0, places=4)
            self.assertEqual(int(np.argmax(np.abs(rirs[0]))), 16)  # starts just before the direct path
            synth = os.path.join(tmp, "synth")
            os.makedirs(synth)
            from training.earshot.data import Corpus

            Corpus.from_items([(tone(1.0, 16000, 200).astype(np.int16), "yes", "v")] * 4).save(
                os.path.join(synth, "synth_train.npz")
            )
            out = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "training.train",
                    "--run",
                    "t",
                    "--data",
                    synth,
                    "--real",
                    store,
                    "--real-share",
                    "0.5",
                    "--init",
                    os.path.join(ROOT, "models", "earshot-en-int4.gguf"),
                    "--runs-dir",
                    os.path.join(tmp, "runs"),
                    "--out",
                    os.path.join(tmp, "out"),
                    "--batch",
                    "2",
                    "--workers",
                    "0",
                    "--max-steps",
                    "2",
                    "--qat",
                ],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=600,
                env=dict(os.environ, OMP_NUM_THREADS="1"),
            )
            self.assertEqual(out.returncode, 0, out.stdout[-3000:])
            self.assertIn(
                "3 real training utterances (3 speakers, 50% of examples); 1 real noises, 1 real rooms", out.stdout
            )
            self.assertIn("from " + os.path.join(ROOT, "models", "earshot-en-int4.gguf") + " at step 0", out.stdout)
            self.assertTrue(os.path.exists(os.path.join(tmp, "out", "t.pt")))


if __name__ == "__main__":
    unittest.main()
