"""The shipped int4 model file transcribes the bundled sample (a voice it never heard in training)
with the engine's arithmetic (Q4_0 weights from the file, Q8_0 activations), segment by segment and
as one continuous stream.

"Transcribes" means: the expected text is a greedy decode when each argmax may go either way within
EPS logits (greedy_margin.py). A plain text comparison hangs on near-ties: "close the living room
curtains" wins one decision by 0.02 logits, which PyTorch on an AVX-512 Xeon rounds the other way."""
import json
import os
import unittest
import wave

import numpy as np
import torch

from training.earshot import tokens as tok
from training.earshot.features import fbank_batch
from training.export import load_gguf
from training.earshot.greedy_margin import greedy_deficit, logit_lattice

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODEL = os.path.join(ROOT, "models", "earshot-en-int4.gguf")
SAMPLE = os.path.join(ROOT, "samples", "sample.wav")
# Float noise between CPUs moves these logits by hundredths; 0.25 is a 56/44 choice at most.
EPS = 0.25


def transcribe(model, x: np.ndarray):
    """(greedy text, the deficit function of this audio: expected text -> eps it needs)."""
    feats, lens = fbank_batch(torch.from_numpy(x).unsqueeze(0), torch.tensor([len(x)]))
    with torch.no_grad():
        enc, enc_lens = model.encode(feats, lens)
        text = tok.decode([t for t, _ in model.greedy(enc, enc_lens)[0]])

    def needs(expected: str) -> float:
        ids = tok.encode(expected)
        return greedy_deficit(logit_lattice(model, enc[0], ids), ids)

    return text, needs


class ShippedModelTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.model = load_gguf(MODEL)
        cls.model.set_qat(True)  # activations to Q8_0 as the engine; weights are Q4_0 already
        with wave.open(SAMPLE) as w:
            assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (16000, 1, 2)
            cls.audio = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float32) / 32768
        with open(SAMPLE[:-4] + ".json") as f:
            cls.meta = json.load(f)

    def test_file_metadata(self):
        cfg = self.model.cfg
        self.assertLessEqual(os.path.getsize(MODEL), 8_000_000)
        self.assertEqual((cfg.vocab_size, cfg.stack, cfg.pred_context), (len(tok.TOKENS), 4, 2))

    def test_sample_is_10_to_20_seconds_of_commands(self):
        self.assertTrue(10 <= len(self.audio) / 16000 <= 20)
        self.assertGreaterEqual(len(self.meta["commands"]), 3)

    def test_each_command_segment(self):
        for c in self.meta["commands"]:
            with self.subTest(c["text"]):
                a = int(max(0.0, c["start_s"] - 0.3) * 16000)
                b = int(min(len(self.audio) / 16000, c["end_s"] + 0.6) * 16000)
                self.assert_decodes(self.audio[a:b], c["text"])

    def test_whole_stream(self):
        self.assert_decodes(self.audio, " ".join(self.meta["transcripts"]))

    def assert_decodes(self, audio, expected):
        text, needs = transcribe(self.model, audio)
        eps = needs(expected)
        print(f"\n{expected!r}: greedy {text!r}, needs eps {eps:.3f}")
        self.assertLessEqual(eps, EPS, f"greedy gives {text!r}; {expected!r} needs decisions {eps:.3f} logits off the argmax")


if __name__ == "__main__":
    unittest.main()
