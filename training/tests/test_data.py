"""Features for batches equal the per-utterance fbank; the text generator's output is spoken form
that the token set covers; augmentation keeps its text and yields int16-valued audio."""
import random
import unittest

import numpy as np
import torch

from training.earshot import data
from training.earshot import tokens as tok
from training.earshot.data import Augmenter, Corpus, collate
from training.earshot.features import fbank, fbank_batch, num_frames
from training.earshot.textgen import TextGenerator, number_words


class FeaturesTest(unittest.TestCase):
    def test_batch_features_equal_single_utterance_features(self):
        g = torch.Generator().manual_seed(0)
        lens = [16000, 7777, 401, 399, 400, 12345]
        waves = torch.zeros(len(lens), max(lens))
        for i, n in enumerate(lens):
            waves[i, :n] = torch.randn(n, generator=g) * 0.1
        feats, frames = fbank_batch(waves, torch.tensor(lens))
        for i, n in enumerate(lens):
            single = fbank(waves[i, :n])
            self.assertEqual(int(frames[i]), single.shape[0])
            self.assertEqual(single.shape[0], num_frames(n))
            # same maths; only the batched FFT may round differently
            torch.testing.assert_close(feats[i, : single.shape[0]], single, atol=1e-4, rtol=1e-5)
            self.assertTrue(bool((feats[i, single.shape[0] :] == 0).all()))

    def test_rejects_multichannel(self):
        with self.assertRaisesRegex(ValueError, "1-D waveform"):
            fbank(torch.zeros(2, 800))

    def test_spec_augment(self):
        from training.earshot.features import spec_augment

        g = torch.Generator().manual_seed(0)
        feats = torch.randn(3, 50, 80)
        lens = torch.tensor([50, 30, 10])
        fill = torch.full((80,), 7.0)
        same = spec_augment(feats, lens, fill, g, warp=0.0, freq_masks=0, time_masks=0)
        torch.testing.assert_close(same, feats)
        out = spec_augment(feats, lens, fill, g, warp=0.0, freq_masks=2, freq_width=10, time_masks=2, time_share=0.1)
        masked = out == 7.0
        changed = out != feats
        self.assertTrue(bool((changed <= masked).all()), "only masked cells change without a warp")
        for i, n in enumerate(lens.tolist()):
            full_bins = masked[i].all(0).sum().item()
            self.assertLessEqual(full_bins, 20)
            full_frames = masked[i].all(1)
            self.assertLessEqual(int(full_frames.sum()) - (80 == full_bins), int(2 * 0.1 * n))
            self.assertFalse(bool(full_frames[n:].any()) and full_bins < 80, "time masks stay inside the utterance")
        # A warp moves energy along the frequency axis: a peak at bin 40 lands within 40 * 0.12 bins.
        peak = torch.zeros(1, 5, 80)
        peak[..., 40] = 1.0
        warped = spec_augment(peak, torch.tensor([5]), torch.zeros(80), g, warp=0.12, freq_masks=0, time_masks=0)
        where = int(warped[0, 0].argmax())
        self.assertLessEqual(abs(where - 40), 40 * 0.12 / (1 - 0.12) + 1)
        self.assertAlmostEqual(float(warped[0, 0].sum()), 1.0 / 1.0, delta=0.2)


class TextTest(unittest.TestCase):
    def test_numbers_spelled_out(self):
        self.assertEqual(number_words(0), "zero")
        self.assertEqual(number_words(21), "twenty one")
        self.assertEqual(number_words(1234), "one thousand two hundred thirty four")
        self.assertEqual(number_words(100000), "one hundred thousand")

    def test_sentences_are_spoken_form_and_varied(self):
        gen = TextGenerator(seed=3)
        sents = [gen.sentence() for _ in range(3000)]
        for s in sents:
            self.assertEqual(s, " ".join(s.split()))
            self.assertFalse(any(c.isdigit() or c.isupper() for c in s), s)
            self.assertEqual(tok.decode(tok.encode(s)), s)
        self.assertGreater(len(set(sents)), 2000)
        words = set(" ".join(sents).split())
        for w in ("kitchen", "thermostat", "timer", "percent", "degrees", "navigate", "wipers", "yes"):
            self.assertIn(w, words)

    def test_token_set_rejects_unknown_characters(self):
        with self.assertRaisesRegex(ValueError, "not in the token set"):
            tok.encode("turn on light 2")


class AugmentTest(unittest.TestCase):
    def test_augmented_examples_keep_text_and_are_int16_audio(self):
        nr = np.random.default_rng(0)
        items = [
            ((np.sin(np.arange(8000 + 800 * i) * 0.05) * 8000).astype(np.int16), t, "v")
            for i, t in enumerate(["yes", "turn on the fan", "seven"])
        ]
        corpus = Corpus.from_items(items)
        aug = Augmenter(corpus)
        r = random.Random(0)
        examples = [aug(r, nr) for _ in range(40)]
        texts = {t for _, t in examples}
        self.assertTrue(
            texts
            <= {"yes", "turn on the fan", "seven"}
            | {a + " " + b for a in ["yes", "turn on the fan", "seven"] for b in ["yes", "turn on the fan", "seven"]}
        )
        for x, _ in examples:
            self.assertLess(np.abs(x).max(), 1.0)
            self.assertTrue(np.allclose(x * 32768, np.round(x * 32768)))
        waves, wave_lens, targets, target_lens = collate(examples[:4])
        self.assertEqual(waves.dtype, torch.int16)
        self.assertEqual(targets.shape[0], 4)
        self.assertEqual(tok.decode(targets[0, : target_lens[0]].tolist()), examples[0][1])

    def test_real_speech_share_rooms_noises_and_colouring(self):
        nr = np.random.default_rng(1)
        synth = Corpus.from_items([((np.sin(np.arange(8000) * 0.05) * 8000).astype(np.int16), "turn on the fan", "s")])
        real = Corpus.from_items([((np.sin(np.arange(6000) * 0.07) * 8000).astype(np.int16), "yes", "spk")])
        room = np.zeros(800, np.float32)
        room[0], room[400] = 1.0, 0.5
        noise = (nr.standard_normal(16000) * 0.1).astype(np.float32)
        aug = Augmenter(synth, real, real_share=0.7, noises=[noise], rirs=[room])
        r = random.Random(3)
        examples = [aug(r, nr) for _ in range(200)]
        real_count = sum(t == "yes" for _, t in examples)
        self.assertTrue(110 <= real_count <= 170, real_count)  # about 70 % real speech
        for x, _ in examples:
            self.assertTrue(np.isfinite(x).all())
            self.assertLess(np.abs(x).max(), 1.0)
        h = data.real_room(random.Random(0), [room])
        self.assertAlmostEqual(float(np.sum(h * h)), 1.0, places=5)
        x = np.sin(np.arange(16000) * 0.3).astype(np.float32)
        y = data.microphone_colour(random.Random(0), x)
        self.assertEqual(y.shape, x.shape)
        self.assertLess(abs(20 * np.log10(data.rms(y) / data.rms(x))), 8.5)  # at most the bumps' +-8 dB

    def test_real_words_power_draws_connected_speech_more_often(self):
        word = (np.ones(1600) * 100).astype(np.int16)
        real = Corpus.from_items(
            [(word, "yes", "a")] * 9 + [(word, "one two three four five six seven eight nine", "b")]
        )
        synth = Corpus.from_items([(word, "turn on", "s")])
        for power, expected in ((0.0, 0.1), (1.0, 0.5)):
            aug = Augmenter(synth, real, real_share=1.0, real_words_power=power)
            r = random.Random(5)
            share = sum(aug.clean(r)[1].startswith("one") for _ in range(4000)) / 4000
            self.assertAlmostEqual(share, expected, delta=0.03)


class LearningRateTest(unittest.TestCase):
    def test_clock_anneal_reaches_the_floor_at_the_end_of_the_budget(self):
        from training.train import lr_at, parse_args

        args = parse_args(["--run", "x", "--minutes", "10", "--lr", "4e-4", "--warmup", "100"])
        args.anneal_minutes, args.lr_floor = 3.0, 3e-5
        self.assertAlmostEqual(lr_at(1000, args, 0.0), 4e-4 * (100 / 1001) ** 0.5)
        self.assertAlmostEqual(lr_at(1000, args, 7 * 60), 4e-4 * (100 / 1001) ** 0.5)  # anneal starts here
        self.assertAlmostEqual(lr_at(1000, args, 10 * 60), 3e-5)


if __name__ == "__main__":
    unittest.main()
