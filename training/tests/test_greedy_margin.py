"""greedy_margin on hand-made joiner logits, where the answer is known."""
import math
import unittest

import torch

from training.tests.greedy_margin import greedy_deficit, path_deficit, path_margin


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


if __name__ == "__main__":
    unittest.main()
