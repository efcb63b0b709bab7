"""BAT pruned loss: equals torchaudio's full RNN-T loss with a full band, valid bands for short
targets, and the pruned loss bounds the full one from above."""
import itertools
import unittest

import torch
import torchaudio

from training.earshot import bat


def random_lattice(b, t, u, j=8, v=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    enc = torch.randn(b, t, j, generator=g, requires_grad=True)
    pred = torch.randn(b, u + 1, j, generator=g, requires_grad=True)
    out = torch.nn.Linear(j, v)
    with torch.no_grad():
        out.weight.copy_(torch.randn(v, j, generator=g))
        out.bias.copy_(torch.randn(v, generator=g))
    targets = torch.randint(1, v, (b, max(u, 1)), generator=g)
    return enc, pred, out, targets


def check_bands(test, starts, width, enc_lens, target_lens):
    for b in range(starts.shape[0]):
        s = starts[b, : int(enc_lens[b])]
        hi = max(0, int(target_lens[b]) + 1 - width)
        test.assertEqual(int(s[0]), 0)
        test.assertEqual(int(s[-1]), hi)
        d = s[1:] - s[:-1]
        test.assertTrue(bool((d >= 0).all()), f"not monotone: {s.tolist()}")
        test.assertTrue(bool((d <= width - 1).all()), f"not connected: {s.tolist()}")
        test.assertTrue(bool((s <= hi).all()))


class BatLossTest(unittest.TestCase):
    def test_full_band_equals_torchaudio_loss_and_gradients(self):
        enc, pred, out, targets = random_lattice(4, 9, 6)
        enc_lens = torch.tensor([9, 7, 4, 1])
        target_lens = torch.tensor([6, 3, 1, 0])
        alphas = torch.rand(4, 9)
        starts, width = bat.band_starts(alphas, enc_lens, target_lens, 7, 7, 6)
        self.assertEqual(width, 7)
        self.assertTrue(bool((starts == 0).all()))
        ours = bat.banded_rnnt_loss(enc, pred, out, targets, enc_lens, target_lens, starts, width)
        g_ours = torch.autograd.grad(ours, [enc, pred])
        logits = out(torch.tanh(enc.unsqueeze(2) + pred.unsqueeze(1)))
        ref = torchaudio.functional.rnnt_loss(
            logits, targets.int(), enc_lens.int(), target_lens.int(), blank=0, reduction="sum"
        )
        g_ref = torch.autograd.grad(ref, [enc, pred])
        self.assertTrue(torch.isfinite(ours))
        self.assertAlmostEqual(ours.item(), ref.item(), delta=1e-4 * max(1.0, abs(ref.item())))
        for a, r in zip(g_ours, g_ref):
            torch.testing.assert_close(a, r, atol=1e-4, rtol=1e-4)

    def test_bands_valid_and_loss_finite_for_short_targets(self):
        cases = [(1, 0), (1, 1), (1, 3), (2, 1), (5, 1), (3, 2), (6, 9), (12, 30), (40, 12), (8, 5)]
        for (t, u), (r_down, r_up), seed in itertools.product(cases, [(1, 2), (2, 3), (4, 6)], [0, 1]):
            width = min(r_down + r_up, u + 1)
            if u > t * (width - 1) and u > 0:
                continue  # infeasible for any band of this width (more than W-1 tokens a frame)
            with self.subTest(T=t, U=u, band=(r_down, r_up), seed=seed):
                enc, pred, out, targets = random_lattice(2, t, u, seed=seed)
                enc_lens = torch.tensor([t, max(1, t - 1)])
                target_lens = torch.tensor([u, min(u, max(0, (max(1, t - 1)) * (width - 1)))])
                alphas = torch.rand(2, t, generator=torch.Generator().manual_seed(seed)) * 3
                starts, w = bat.band_starts(alphas, enc_lens, target_lens, r_down, r_up, u)
                check_bands(self, starts, w, enc_lens, target_lens)
                loss = bat.banded_rnnt_loss(enc, pred, out, targets, enc_lens, target_lens, starts, w)
                self.assertTrue(torch.isfinite(loss), f"loss {loss}")
                grads = torch.autograd.grad(loss, [enc, pred])
                self.assertTrue(all(bool(torch.isfinite(g).all()) for g in grads))

    def test_pruned_band_equals_cell_by_cell_recursion(self):
        # The tree of log-semiring products against the textbook recursion over the lattice cells,
        # with cells outside the band at log 0: bands that rise, stall and end early.
        enc, pred, out, targets = random_lattice(3, 14, 9, seed=5)
        enc_lens, target_lens = torch.tensor([14, 11, 6]), torch.tensor([9, 7, 2])
        starts, w = bat.band_starts(
            torch.rand(3, 14, generator=torch.Generator().manual_seed(5)) * 2, enc_lens, target_lens, 2, 2, 9
        )
        self.assertGreater(int(starts.max()), 0)
        ours = bat.banded_rnnt_loss(enc, pred, out, targets, enc_lens, target_lens, starts, w)
        logp = torch.log_softmax(out(torch.tanh(enc.unsqueeze(2) + pred.unsqueeze(1))), -1)
        total = 0.0
        for b in range(3):
            t_len, u_len = int(enc_lens[b]), int(target_lens[b])
            alpha = [[float("-inf")] * (u_len + 1) for _ in range(t_len)]
            for t in range(t_len):
                lo = int(starts[b, t])
                for u in range(lo, min(lo + w, u_len + 1)):
                    terms = [torch.tensor(0.0)] if t == 0 and u == 0 else []
                    if t > 0 and alpha[t - 1][u] != float("-inf"):
                        terms.append(alpha[t - 1][u] + logp[b, t - 1, u, 0])
                    if u > lo and alpha[t][u - 1] != float("-inf"):
                        terms.append(alpha[t][u - 1] + logp[b, t, u - 1, targets[b, u - 1]])
                    if terms:
                        alpha[t][u] = torch.logsumexp(torch.stack(terms), 0)
            total = total - (alpha[t_len - 1][u_len] + logp[b, t_len - 1, u_len, 0])
        self.assertAlmostEqual(ours.item(), total.item(), delta=1e-4 * abs(total.item()))
        g_ours = torch.autograd.grad(ours, [enc, pred], retain_graph=True)
        g_ref = torch.autograd.grad(total, [enc, pred])
        for a, r in zip(g_ours, g_ref):
            torch.testing.assert_close(a, r, atol=1e-4, rtol=1e-4)

    def test_pruned_loss_bounds_full_loss(self):
        enc, pred, out, targets = random_lattice(3, 20, 10, seed=3)
        enc_lens, target_lens = torch.tensor([20, 16, 12]), torch.tensor([10, 8, 2])
        starts, w = bat.band_starts(torch.rand(3, 20), enc_lens, target_lens, 2, 3, 10)
        pruned = bat.banded_rnnt_loss(enc, pred, out, targets, enc_lens, target_lens, starts, w)
        full_s, full_w = bat.band_starts(torch.rand(3, 20), enc_lens, target_lens, 11, 11, 10)
        full = bat.banded_rnnt_loss(enc, pred, out, targets, enc_lens, target_lens, full_s, full_w)
        self.assertGreaterEqual(pruned.item(), full.item() - 1e-4)

    def test_band_follows_cif_weights(self):
        # All the weight on the last frames: the band stays at u = 0 early and climbs at the end.
        alphas = torch.zeros(1, 20)
        alphas[0, 15:] = 1.0
        starts, w = bat.band_starts(alphas, torch.tensor([20]), torch.tensor([10]), 1, 2, 10)
        self.assertEqual(starts[0, :12].tolist(), [0] * 12)
        self.assertEqual(int(starts[0, -1]), 8)
        self.assertGreater(int(starts[0, 17]), int(starts[0, 14]))

    def test_quantity_loss(self):
        alphas = torch.tensor([[0.5, 0.5, 0.5, 0.9], [1.0, 1.0, 0.0, 0.0]])
        q = bat.cif_quantity_loss(alphas, torch.tensor([3, 2]), torch.tensor([2, 2]))
        self.assertAlmostEqual(q.item(), 0.5, places=6)


if __name__ == "__main__":
    unittest.main()
