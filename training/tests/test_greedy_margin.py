"""greedy_margin on hand-made joiner logits, where the answer is known."""
import math
import unittest

import torch

from training.earshot.greedy_margin import greedy_deficit, logit_lattice, path_deficit, path_margin, texts_within
from training.earshot.model import Transducer, TransducerConfig


def lattice(rows):
    """rows[t][u] = {token: logit} over vocabulary {0: blank, 1, 2}; missing entries are -10."""
    out = torch.full((len(rows), len(rows[0]), 3), -10.0)
    for t, row in enumerate(rows):
        for u, cell in enumerate(row):
            for k, v in cell.items():
                out[t, u, k] = v
    return out


class GreedyMarginTest(unittest.TestCase):
    def test_plain_greedy_needs_nothing(self):
        # frame 0 emits 1 then blank; frame 1 emits 2 then blank; targets [1, 2], rows u = 0, 1, 2
        lg = lattice([[{1: 2.0}, {0: 1.0}, {0: 1.0}], [{0: 1.0}, {2: 3.0}, {0: 1.0}]])
        self.assertEqual(greedy_deficit(lg, [1, 2]), 0.0)
        self.assertEqual(path_deficit(lg, [(1, 0), (2, 1)]), 0.0)

    def test_near_tie_costs_its_margin(self):
        # at (frame 1, u 1) blank beats token 2 by 0.02: [1, 2] needs 0.02, [1] is the greedy answer
        lg = lattice([[{1: 2.0}, {0: 1.0}, {0: 1.0}], [{0: 1.0}, {0: 3.02, 2: 3.0}, {0: 1.0}]])
        self.assertAlmostEqual(greedy_deficit(lg, [1, 2]), 0.02, places=5)
        self.assertEqual(greedy_deficit(lg[:, :2], [1]), 0.0)
        self.assertAlmostEqual(path_deficit(lg, [(1, 0), (2, 1)]), 0.02, places=5)
        # the same tokens at another frame: at (frame 0, u 1) blank leads token 2 by 11
        self.assertAlmostEqual(path_deficit(lg, [(1, 0), (2, 0)]), 11.0, places=5)
        # the greedy path [1] wins its closest decision (blank over token 2) by 0.02
        self.assertAlmostEqual(path_margin(lg[:, :2], [(1, 0)]), 0.02, places=5)
        self.assertAlmostEqual(path_margin(lg, [(1, 0), (2, 1)]), -0.02, places=5)

    def test_max_symbols_and_impossible_paths(self):
        lg = lattice([[{1: 5.0}] * 4])  # one frame that always wants token 1
        self.assertEqual(greedy_deficit(lg, [1, 1, 1], max_symbols=3), 0.0)  # then moves on unasked
        self.assertTrue(math.isinf(greedy_deficit(lg[:, :3], [1, 1], max_symbols=1)))
        with self.assertRaisesRegex(ValueError, "at most 1"):
            path_deficit(lg[:, :3], [(1, 0), (1, 0)], max_symbols=1)
        with self.assertRaisesRegex(ValueError, "non-decreasing"):
            path_deficit(lg[:, :2], [(1, 3)])


class TextsWithinTest(unittest.TestCase):
    """texts_within on a small random model whose decisions include near-ties."""

    @classmethod
    def setUpClass(cls):
        torch.manual_seed(0)
        cfg = TransducerConfig(
            d_model=32,
            n_layers=1,
            n_heads=2,
            ff_dim=64,
            conv_kernel=3,
            pred_dim=16,
            joiner_dim=32,
            chunk_frames=4,
            left_context_frames=8,
            has_cif=False,
        )
        cls.model = Transducer(cfg).eval()
        with torch.no_grad():  # logits spread out, tokens as well as blanks, a few near-ties
            cls.model.joiner.out.weight.mul_(12.0)
            cls.model.joiner.out.bias.mul_(12.0)
            cls.model.joiner.out.bias[0] += 4.0
            cls.enc = torch.randn(1, 40, 32)
            cls.greedy = tuple(t for t, _ in cls.model.greedy(cls.enc, torch.tensor([40]))[0])

    def test_eps_zero_is_greedy(self):
        self.assertGreater(len(self.greedy), 3)
        self.assertEqual(texts_within(self.model, self.enc[0], 0.0), {self.greedy})

    def test_every_text_needs_at_most_eps_and_the_set_grows(self):
        small, large = texts_within(self.model, self.enc[0], 0.05), texts_within(self.model, self.enc[0], 0.15)
        self.assertIn(self.greedy, small)
        self.assertLessEqual(small, large)
        self.assertGreater(len(large), 1)
        for text in large:
            need = greedy_deficit(logit_lattice(self.model, self.enc[0], text), text)
            self.assertLessEqual(need, 0.15 + 1e-6)
            if text not in small:
                self.assertGreater(need, 0.05 - 1e-6)

    def test_a_blow_up_is_refused(self):
        with self.assertRaisesRegex(ValueError, "more than 3 texts"):
            texts_within(self.model, self.enc[0], 1.0, max_texts=3)


if __name__ == "__main__":
    unittest.main()
