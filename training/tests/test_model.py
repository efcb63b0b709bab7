"""Transducer model: streaming contract of the chunk mask, QAT arithmetic, greedy search, and a
tiny model that overfits a few real (espeak-ng) utterances with the BAT loss."""
import subprocess
import tempfile
import unittest
import wave

import numpy as np
import torch
import torchaudio

from training.earshot import bat, quant
from training.earshot import tokens as tok
from training.earshot.features import fbank, fbank_batch
from training.earshot.model import QLinear, Transducer, TransducerConfig, chunk_mask

TINY = dict(
    d_model=64,
    n_layers=2,
    n_heads=2,
    ff_dim=128,
    conv_kernel=5,
    pred_dim=64,
    joiner_dim=64,
    chunk_frames=4,
    left_context_frames=8,
)


class ModelTest(unittest.TestCase):
    def test_chunk_mask(self):
        m = chunk_mask(10, 4, 4)
        self.assertEqual(m[5].nonzero().flatten().tolist(), [0, 1, 2, 3, 4, 5, 6, 7])
        self.assertEqual(m[9].nonzero().flatten().tolist(), [4, 5, 6, 7, 8, 9])
        self.assertEqual(m[0].nonzero().flatten().tolist(), [0, 1, 2, 3])

    def test_streaming_prefix_is_exact(self):
        # The output of the first chunks must not change when later audio arrives: the engine
        # decodes chunk by chunk with an attention cache of L frames and a causal conv.
        torch.manual_seed(0)
        model = Transducer(TransducerConfig(**TINY)).eval()
        feats = torch.randn(1, 4 * 24, 80)
        with torch.no_grad():
            full, _ = model.encode(feats, torch.tensor([96]))
            for chunks in (1, 2, 5):
                n = chunks * 4 * 4
                part, _ = model.encode(feats[:, :n], torch.tensor([n]))
                torch.testing.assert_close(part, full[:, : n // 4], atol=1e-5, rtol=1e-5)

    def test_padding_does_not_change_outputs(self):
        torch.manual_seed(1)
        model = Transducer(TransducerConfig(**TINY)).eval()
        a, b = torch.randn(1, 40, 80), torch.randn(1, 64, 80)
        batch = torch.zeros(2, 64, 80)
        batch[0, :40], batch[1] = a[0], b[0]
        with torch.no_grad():
            both, lens = model.encode(batch, torch.tensor([40, 64]))
            alone, _ = model.encode(a, torch.tensor([40]))
        self.assertEqual(lens.tolist(), [10, 16])
        torch.testing.assert_close(both[0, :10], alone[0], atol=1e-5, rtol=1e-5)

    def test_qat_forward_is_quantized_arithmetic(self):
        torch.manual_seed(2)
        lin = QLinear(64, 8)
        lin.qat = True
        x = torch.randn(3, 64)
        wq = quant.dequantize_q4_0(*quant.quantize_q4_0(lin.weight), lin.weight.shape)
        xq = quant.dequantize_q8_0(*quant.quantize_q8_0(x), x.shape)
        torch.testing.assert_close(lin(x), xq @ wq.t() + lin.bias, atol=1e-6, rtol=1e-6)

    def test_qat_switch_covers_every_quantized_linear(self):
        model = Transducer(TransducerConfig(**TINY))
        model.set_qat(True)
        qlinears = [m for m in model.modules() if isinstance(m, QLinear)]
        self.assertEqual(len(qlinears), 1 + 2 * 8 + 4)  # enc.in, 8 per block, pred.ctx, 3 joiner
        self.assertTrue(all(m.qat for m in qlinears))


def espeak(text: str) -> torch.Tensor:
    with tempfile.NamedTemporaryFile(suffix=".wav") as f:
        subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", f.name, text], check=True)
        with wave.open(f.name) as w:
            sr = w.getframerate()
            x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768
    return torchaudio.functional.resample(torch.from_numpy(x), sr, 16000)


class OverfitTest(unittest.TestCase):
    def test_tiny_model_overfits_a_few_utterances(self):
        torch.manual_seed(0)
        # first letters differ: a stateless predictor cannot tell "stop" from "seven" after "s",
        # and a tiny model that has to learn that from 3 utterances needs far more steps
        texts = ["turn on the lights", "cancel", "seven two"]
        # with some silence around the speech, as the recipe trains and the engine hears
        g = torch.Generator().manual_seed(0)
        waves = [torch.cat([torch.zeros(1600), espeak(t), torch.zeros(4800)]) for t in texts]
        waves = [w + 1e-4 * torch.randn(len(w), generator=g) for w in waves]  # a microphone's floor
        lens = torch.tensor([len(w) for w in waves])
        padded = torch.zeros(len(waves), int(lens.max()))
        for i, w in enumerate(waves):
            padded[i, : len(w)] = w
        feats, feat_lens = fbank_batch(padded, lens)
        torch.testing.assert_close(feats[1, : feat_lens[1]], fbank(waves[1]), atol=1e-4, rtol=1e-5)
        ids = [tok.encode(t) for t in texts]
        targets = torch.zeros(len(ids), max(map(len, ids)), dtype=torch.long)
        for i, y in enumerate(ids):
            targets[i, : len(y)] = torch.tensor(y)
        target_lens = torch.tensor([len(y) for y in ids])

        model = Transducer(TransducerConfig(**TINY))
        valid = torch.cat([feats[i, : feat_lens[i]] for i in range(len(texts))])
        model.feat_mean.copy_(valid.mean(0))
        model.feat_istd.copy_(valid.std(0).clamp(min=1e-3).reciprocal())
        opt = torch.optim.Adam(model.parameters(), lr=3e-3)
        first = None
        for step in range(600):
            enc, enc_lens = model.encode(feats, feat_lens, chunk=4, left=8)
            # a narrow band that never lags the CIF position (a tiny model otherwise learns to
            # spread emissions over many frames, which a greedy search cannot follow)
            trans, cif = bat.bat_loss(model, enc, enc_lens, targets, target_lens, r_down=0, r_up=3)
            loss = (trans + cif) / len(texts)
            opt.zero_grad()
            loss.backward()
            opt.step()
            first = loss.item() if first is None else first
            if step >= 150 and step % 20 == 0:
                model.eval()
                with torch.no_grad():
                    enc, enc_lens = model.encode(feats, feat_lens)
                    hyps = [tok.decode([t for t, _ in h]) for h in model.greedy(enc, enc_lens)]
                model.train()
                if hyps == texts:
                    break
        self.assertLess(loss.item(), first / 5)
        self.assertEqual(hyps, texts)


if __name__ == "__main__":
    unittest.main()
