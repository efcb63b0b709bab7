"""The end-of-utterance head (training/eou.py): where commands are cut for a mid-command pause, the
queries and labels of an example, and the head's export (a file without it stays as it was)."""
import os
import random
import tempfile
import unittest

import numpy as np
import torch

from training.earshot.gguf import read_gguf
from training.earshot.model import Transducer, TransducerConfig
from training.eou import KIND_DONE, KIND_PAUSE, KIND_SPEECH, SR, Builder, split_command
from training.export import export_transducer, read_transducer


class EouDataTest(unittest.TestCase):
    def test_commands_are_cut_only_after_a_word_that_cannot_end_one(self):
        r = random.Random(0)
        for _ in range(50):
            head, tail = split_command("set a timer for ten minutes".split(), r)
            self.assertIn(head[-1], {"set", "a", "for"})
            self.assertEqual(head + tail, "set a timer for ten minutes".split())
        self.assertIsNone(split_command("lights off".split(), r))

    def test_queries_label_the_end_done_and_the_pause_not(self):
        b = Builder(seed=3)
        first, second = np.full(int(0.8 * SR), 0.1, np.float32), np.full(int(0.4 * SR), 0.1, np.float32)
        b.add([first, second], split=0, source="synth")
        q = np.array(b.queries)
        self.assertEqual(len(b.audio), 1)
        self.assertEqual(b.audio[0].dtype, np.int16)
        done, pause, speech = (q[q[:, 3] == k] for k in (KIND_DONE, KIND_PAUSE, KIND_SPEECH))
        self.assertEqual((len(done), len(pause), len(speech)), (3, 2, 1))  # the 0.4 s piece gets no speech query
        self.assertTrue((done[:, 2] == 1).all() and (pause[:, 2] == 0).all() and (speech[:, 2] == 0).all())
        self.assertTrue(((q[:, 4] >= int(0.04 * SR)) | (q[:, 3] == KIND_SPEECH)).all())
        self.assertTrue((pause[:, 1] < done[:, 1].min()).all())  # the pause comes before the end


class EouExportTest(unittest.TestCase):
    def test_head_round_trips_and_leaves_the_rest_unchanged(self):
        torch.manual_seed(0)
        cfg = TransducerConfig(d_model=64, n_layers=1, n_heads=2, ff_dim=64, pred_dim=32, joiner_dim=32)
        model = Transducer(cfg).eval()
        with tempfile.TemporaryDirectory() as d:
            plain, with_head = os.path.join(d, "a.gguf"), os.path.join(d, "b.gguf")
            export_transducer(model, plain, "q4_0")
            self.assertNotIn("earshot.eou_hidden", read_gguf(plain)[0])
            again, _, _ = read_transducer(plain)
            again.set_eou_head(8)
            export_transducer(again, with_head, "q4_0")
            meta, tensors = read_gguf(with_head)
            self.assertEqual(meta["earshot.eou_hidden"], 8)
            _, before = read_gguf(plain)
            for name, (t, ttype) in before.items():  # re-quantizing dequantized Q4_0 gives the same values
                self.assertEqual(tensors[name][1], ttype)
                self.assertTrue(torch.equal(tensors[name][0], t), name)
            back, _, _ = read_transducer(with_head)
            for a, b in zip(again.eou.parameters(), back.eou.parameters()):
                self.assertTrue(torch.equal(a, b))


if __name__ == "__main__":
    unittest.main()
