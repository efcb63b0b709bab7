"""Speaker encoder and personal VAD: shapes, streaming, the zero-embedding path, mixture labels and
the GGUF round trip (docs/model-format.md, earshot-spkenc / earshot-pvad)."""
import argparse
import os
import tempfile
import unittest

import numpy as np
import torch

from training import pvad_data, pvad_export, pvad_train
from training.earshot.gguf import read_gguf
from training.earshot.pvad import PersonalVad, SpeakerEncoder, count_parameters

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared", "data")


def small_models(seed=0):
    torch.manual_seed(seed)
    spk = SpeakerEncoder(hidden=32, n_layers=3, embed_dim=32, window_frames=40, window_hop=20).eval()
    vad = PersonalVad(hidden=32, embed_dim=32).eval()
    for m in (spk, vad):
        m.set_cmvn(torch.randn(80) * 2 + 5, torch.rand(80) + 0.5)
    return spk, vad


class ModuleTest(unittest.TestCase):
    def test_shipped_sizes_fit_the_budgets(self):
        self.assertLessEqual(count_parameters(SpeakerEncoder()), 1_500_000)
        self.assertLess(count_parameters(PersonalVad()), 1_000_000 // 1.0625)  # Q8_0: 34 bytes per 32

    def test_speaker_encoder_shapes_and_windows(self):
        spk, _ = small_models()
        f = torch.randn(130, 80) * 3 + 5
        self.assertEqual(spk.window_starts(130), [0, 20, 40, 60, 80])
        self.assertEqual(spk.window_starts(25), [0])
        e = spk.embed_utterance(f)
        self.assertEqual(tuple(e.shape), (32,))
        self.assertAlmostEqual(e.norm().item(), 1.0, places=5)
        # The utterance embedding is the normalized mean of independent windows.
        w = spk.embed_windows(torch.stack([f[s : s + 40] for s in spk.window_starts(130)]))
        torch.testing.assert_close(e, torch.nn.functional.normalize(w.mean(0), dim=-1))
        self.assertEqual(tuple(spk.embed_utterance(f[:10]).shape), (32,))

    def test_pvad_streaming_equals_whole_sequence(self):
        _, vad = small_models()
        x, e = torch.randn(2, 57, 80) * 3 + 5, torch.nn.functional.normalize(torch.randn(2, 32), dim=-1)
        with torch.no_grad():
            whole, _ = vad(x, e)
            state, parts = None, []
            for t in range(57):  # frame by frame, as the engine runs
                y, state = vad(x[:, t : t + 1], e, state)
                parts.append(y)
        self.assertEqual(tuple(whole.shape), (2, 57, 3))
        torch.testing.assert_close(torch.cat(parts, 1), whole, atol=1e-5, rtol=1e-5)

    def test_zero_embedding_is_film_of_the_biases(self):
        _, vad = small_models()
        x = torch.randn(1, 20, 80) * 3 + 5
        with torch.no_grad():
            got, _ = vad(x, torch.zeros(1, 32))
            h0 = torch.relu(vad.inp(vad.normalize(x)))
            h1, _ = vad.lstm0(h0)
            h2, _ = vad.lstm1(h1 * (1 + vad.film_gamma.bias) + vad.film_beta.bias)
            torch.testing.assert_close(got, vad.out(h2))
            p = vad.posteriors(x, torch.zeros(1, 32))
        torch.testing.assert_close(p.sum(-1), torch.ones(1, 20))

    def test_concat_variant_reads_the_embedding(self):
        torch.manual_seed(1)
        vad = PersonalVad(hidden=16, embed_dim=8, conditioning="concat").eval()
        x = torch.randn(1, 10, 80)
        with torch.no_grad():
            a, _ = vad(x, torch.zeros(1, 8))
            b, _ = vad(x, torch.ones(1, 8))
        self.assertEqual(vad.lstm1.input_size, 24)
        self.assertGreater((a - b).abs().max().item(), 1e-4)
        with self.assertRaises(ValueError):
            PersonalVad(conditioning="bogus")


class MixtureTest(unittest.TestCase):
    def tone(self, seconds, f0, rng):
        t = np.arange(int(seconds * 16000)) / 16000
        x = 0.3 * np.sin(2 * np.pi * f0 * t) * (1 + 0.3 * np.sin(2 * np.pi * 3 * t))
        x = np.concatenate([np.zeros(4000), x, np.zeros(4000)]) + 1e-4 * rng.standard_normal(len(x) + 8000)
        return x.astype(np.float32)

    def test_energy_labels_find_the_burst(self):
        rng = np.random.default_rng(0)
        s = pvad_data.speech_frames(self.tone(1.0, 200, rng))
        on = np.flatnonzero(s)
        # 0.25 s of silence first (25 frames; frame k covers 160k..160k+400), 1 s of "speech".
        self.assertTrue(21 <= on[0] <= 25, on[0])
        self.assertTrue(120 <= on[-1] <= 125, on[-1])
        self.assertEqual(len(on), on[-1] - on[0] + 1)

    def test_mixture_labels_follow_the_sources(self):
        rng = np.random.default_rng(3)
        target = [self.tone(1.0, 150, rng)]
        others = [[self.tone(0.8, 300, rng)]]
        w, lab, spans = pvad_data.make_mixture(target, others, rng, p_noise=0.0, p_reverb=0.0)
        self.assertEqual(len(lab), pvad_data.frame_count(len(w)))
        self.assertIn(1, lab)
        for a, b, is_target in spans:
            self.assertTrue(np.all(lab[a:b] == (1 if is_target else 2)))
        # Label 0 where the mixture is silent (no noise added here).
        quiet = lab == 0
        idx = np.arange(len(lab))[quiet]
        energy = np.array([np.abs(w[160 * k : 160 * k + 400]).max() for k in idx])
        self.assertLess(np.median(energy), 0.01)

    def test_short_gaps_place_the_next_speech_within_300_ms(self):
        rng = np.random.default_rng(5)
        target = [pvad_data.trim_silence(self.tone(1.0, 150, rng)) for _ in range(3)]
        others = [[pvad_data.trim_silence(self.tone(0.8, 300, rng)) for _ in range(3)]]
        gaps = {}
        for p in (0.0, 1.0):
            gaps[p] = []
            for seed in range(6):
                w, lab, spans = pvad_data.make_mixture(
                    target, others, np.random.default_rng(seed), p_noise=0.0, p_reverb=0.0, p_short_gap=p
                )
                self.assertEqual(len(lab), pvad_data.frame_count(len(w)))
                gaps[p] += [b[0] - a[1] for a, b in zip(spans, spans[1:])]
        self.assertTrue(gaps[0.0] and gaps[1.0])
        self.assertGreaterEqual(min(gaps[0.0]), 10)  # frames: the usual 0.1-1.2 s silences
        self.assertLessEqual(max(gaps[1.0]), 32)
        self.assertLess(np.mean(gaps[1.0]), np.mean(gaps[0.0]))


class TrainingTest(unittest.TestCase):
    def test_shared_mixtures_come_back_as_written(self):
        rng = np.random.default_rng(0)
        mix = [
            (rng.standard_normal((n, 80)).astype(np.float16), rng.integers(0, 3, n).astype(np.int8), ti)
            for n, ti in ((30, 2), (7, 0), (51, 1))
        ]
        val = mix[:1]
        embeds = [torch.randn(6, 32) for _ in range(3)]
        with tempfile.TemporaryDirectory() as d:
            pvad_train.share(
                d,
                mix,
                val,
                embeds,
                torch.zeros(80),
                torch.ones(80),
                {"steps": 1},
                argparse.Namespace(steps=3, variants=["film"]),
            )
            mix2, val2, embeds2, mean, istd, info, run_args = pvad_train.load_shared(d)
            self.assertEqual(len(mix2), 3)
            self.assertEqual(len(val2), 1)
            for (f, lab, ti), (f2, lab2, ti2) in zip(mix, mix2):
                np.testing.assert_array_equal(f, f2)
                np.testing.assert_array_equal(lab, lab2)
                self.assertEqual(ti, ti2)
        torch.testing.assert_close(embeds2[1], embeds[1])
        self.assertEqual(info, {"steps": 1})
        self.assertEqual(run_args["steps"], 3)
        self.assertEqual(pvad_train.parse_variant("concat:192"), ("concat", 192))
        self.assertEqual(pvad_train.parse_variant("film"), ("film", 128))


class ExportTest(unittest.TestCase):
    def test_float_model_from_a_file_matches_the_file(self):
        spk, vad = small_models(1)
        with tempfile.TemporaryDirectory() as d:
            p1, p2 = os.path.join(d, "spk.gguf"), os.path.join(d, "pvad.gguf")
            pvad_export.export_spkenc(spk, p1, {"test": True})
            pvad_export.export_pvad(vad, p2, {"test": True})
            spk2, info = pvad_export.load_checkpoint(p1)
            vad2, info2 = pvad_export.load_checkpoint(p2)
        self.assertEqual(info["cfg"]["n_layers"], 3)
        self.assertEqual(info2["cfg"], {"hidden": 32, "embed_dim": 32, "conditioning": "film"})
        torch.testing.assert_close(vad2.feat_mean, vad.feat_mean)
        x = torch.randn(1, 60, 80) * 3 + 5
        e = torch.nn.functional.normalize(torch.randn(1, 32), dim=-1)
        with torch.no_grad():
            self.assertLess((vad2.posteriors(x, e) - vad.posteriors(x, e)).abs().max().item(), 0.02)
            f = torch.randn(90, 80) * 3 + 5
            self.assertGreater(torch.dot(spk.embed_utterance(f), spk2.embed_utterance(f)).item(), 0.999)
        with tempfile.NamedTemporaryFile(suffix=".gguf") as tmp:
            tmp.write(b"not a model")
            tmp.flush()
            with self.assertRaises(ValueError):
                pvad_export.load_checkpoint(tmp.name)

    def test_round_trip_names_shapes_and_arithmetic(self):
        spk, vad = small_models()
        with tempfile.TemporaryDirectory() as d:
            p1, p2 = os.path.join(d, "spk.gguf"), os.path.join(d, "pvad.gguf")
            pvad_export.export_spkenc(spk, p1, {"test": True})
            pvad_export.export_pvad(vad, p2, {"test": True})
            m1, m2 = pvad_export.FileModel(p1), pvad_export.FileModel(p2)
            meta, t = m1.meta, m1.tensors
            self.assertEqual(meta["general.architecture"], "earshot-spkenc")
            self.assertEqual((meta["earshot.hidden"], meta["earshot.n_layers"], meta["earshot.embed_dim"]), (32, 3, 32))
            self.assertEqual(t["spk.lstm.0.w_ih"][0].shape, (128, 80))
            self.assertEqual(t["spk.lstm.0.w_ih"][1], "F16")  # in = 80 is no multiple of 32
            self.assertEqual(t["spk.lstm.1.w_ih"][0].shape, (128, 32))
            self.assertEqual(t["spk.lstm.2.w_hh"][1], "Q8_0")
            self.assertEqual(t["spk.proj.weight"][0].shape, (32, 32))
            torch.testing.assert_close(t["spk.lstm.1.bias"][0], spk.lstm.bias_ih_l1 + spk.lstm.bias_hh_l1)
            names = {
                "feat.mean",
                "feat.istd",
                "pvad.in.weight",
                "pvad.in.bias",
                "pvad.lstm.0.w_ih",
                "pvad.lstm.0.w_hh",
                "pvad.lstm.0.bias",
                "pvad.film.gamma.weight",
                "pvad.film.gamma.bias",
                "pvad.film.beta.weight",
                "pvad.film.beta.bias",
                "pvad.lstm.1.w_ih",
                "pvad.lstm.1.w_hh",
                "pvad.lstm.1.bias",
                "pvad.out.weight",
                "pvad.out.bias",
            }
            self.assertEqual(set(m2.tensors), names)
            self.assertEqual(m2.meta["general.architecture"], "earshot-pvad")
            self.assertEqual(m2.meta["earshot.embed_dim"], 32)
            self.assertEqual(m2.meta["earshot.spkenc_name"], pvad_export.SPKENC_NAME)
            self.assertEqual(m2.tensors["pvad.film.gamma.weight"][0].shape, (32, 32))
            self.assertEqual(m2.tensors["pvad.out.weight"][0].shape, (3, 32))
            # The file's arithmetic (Q8_0) stays close to the float module.
            x = torch.randn(1, 50, 80) * 3 + 5
            e = torch.nn.functional.normalize(torch.randn(1, 32), dim=-1)
            with torch.no_grad():
                ref = vad.posteriors(x, e)
                got, _ = m2.pvad(x, e)
                self.assertLess((ref - got).abs().max().item(), 0.02)
                # The file arithmetic streams exactly too: chunks of any size, state carried.
                state, parts = None, []
                for a, b in ((0, 1), (1, 8), (8, 31), (31, 50)):
                    y, state = m2.pvad(x[:, a:b], e, state)
                    parts.append(y)
                torch.testing.assert_close(torch.cat(parts, 1), got)
                f = torch.randn(90, 80) * 3 + 5
                cos = torch.dot(spk.embed_utterance(f), m1.spk_utterance(f)).item()
            self.assertGreater(cos, 0.999)
            # A corrupted byte in the tensor data is refused.
            with open(p2, "rb") as f:
                blob = bytearray(f.read())
            blob[-5] ^= 0xFF
            with open(p2, "wb") as f:
                f.write(bytes(blob))
            with self.assertRaisesRegex(ValueError, "CRC"):
                read_gguf(p2)


class RealDataTest(unittest.TestCase):
    """The shared store of train recordings, the real rooms and noises, and the telephone channel."""

    def write_store(self, folder, lines):
        np.savez(os.path.join(folder, "real.npz"), a=np.zeros(1600, np.int16))
        with open(os.path.join(folder, "real.tsv"), "w") as f:
            f.write("".join(line + "\n" for line in lines))

    def test_store_rows_keep_speakers_and_refuse_dev_rows(self):
        with tempfile.TemporaryDirectory() as d:
            self.write_store(
                d, ["a\t16000\tyes\ttrain\tsc_1\tspeech-commands", "b\t16000\thello there\ttrain\t\tcommon-voice-en"]
            )
            self.assertEqual(pvad_data.read_real_store(d), [("a", "sc_1", "speech-commands")])
            self.write_store(d, ["a\t16000\tyes\tdev\tsc_1\tspeech-commands"])
            with self.assertRaisesRegex(ValueError, "real.tsv:1: split 'dev'"):
                pvad_data.read_real_store(d)
            self.write_store(d, ["a\t16000\tyes\ttrain\tsc_1"])
            with self.assertRaisesRegex(ValueError, "6 tab-separated columns"):
                pvad_data.read_real_store(d)

    def test_training_reads_the_store_peak_normalized(self):
        with tempfile.TemporaryDirectory() as d:
            x = (0.01 * np.sin(np.arange(16000) / 5.0) * 32767).astype(np.int16)
            np.savez(os.path.join(d, "real.npz"), k=x)
            with open(os.path.join(d, "real.tsv"), "w") as f:
                f.write("k\t16000\tyes\ttrain\tsc_1\tspeech-commands\n")
            args = argparse.Namespace(real=d, carry=None, tiny=0)
            rows = pvad_train.real_rows(args)
            self.assertEqual(rows, [((os.path.join(d, "real.npz"), "k"), "sc_1", "speech-commands")])
            y = pvad_train._load_trimmed((rows[0][0], 1.0))
            self.assertAlmostEqual(float(np.abs(y).max()), 0.7, places=2)  # a quiet corpus is raised

    def tearDown(self):
        pvad_data.BANK.update(rirs=[], noises=[])

    def test_bank_noise_and_rooms_are_drawn(self):
        tone = (np.sin(2 * np.pi * 1000 * np.arange(16000) / 16000) * 3000).astype(np.int16)
        rir = np.zeros(800, np.int16)
        rir[100], rir[300] = 20000, 5000
        pvad_data.load_augment_bank({"noise/tone.ogg": tone, "rir/room.flac": rir})
        self.assertEqual(len(pvad_data.BANK["rirs"][0]), 800 - 100 + 16)  # starts at the direct path
        rng = np.random.default_rng(0)
        tonal = 0
        for _ in range(40):
            w = pvad_data.pick_noise(40000, rng)  # longer than the recording: looped
            self.assertAlmostEqual(float(np.sqrt((w**2).mean())), 1.0, places=3)
            spec = np.abs(np.fft.rfft(w))
            tonal += np.argmax(spec) * 16000 / len(w) == 1000
        self.assertTrue(8 <= tonal <= 32, tonal)  # about P_REAL_NOISE of the draws
        with self.assertRaisesRegex(ValueError, "neither rir/ nor noise/"):
            pvad_data.load_augment_bank({"music/x": tone})
        with self.assertRaisesRegex(ValueError, "empty"):
            pvad_data.load_augment_bank({})

    def test_band_limit_removes_the_top_band(self):
        rng = np.random.default_rng(1)
        x = rng.standard_normal(32000).astype(np.float32)
        for _ in range(6):
            y = pvad_data.band_limit(x, rng)
            self.assertEqual(len(y), len(x))
            spec = np.abs(np.fft.rfft(y)) ** 2
            f = np.fft.rfftfreq(len(y), 1 / 16000)
            self.assertLess(spec[f > 7100].sum() / spec.sum(), 1e-3)
            self.assertGreater(spec[(f > 500) & (f < 3000)].sum() / spec.sum(), 0.3)

    @unittest.skipUnless(os.path.isdir(os.path.join(DATA, "augment")), "needs ../shared/data")
    def test_train_and_dev_banks_share_no_file(self):
        train = pvad_data.pack_augment_bank(DATA, "train")
        dev = pvad_data.pack_augment_bank(DATA, "dev")
        self.assertEqual(set(dev), pvad_data.AUG_DEV_FILES)
        self.assertFalse(set(train) & set(dev))
        self.assertTrue(any(k.startswith("rir/") for k in train) and any(k.startswith("noise/") for k in train))
        with self.assertRaisesRegex(ValueError, "split must be"):
            pvad_data.pack_augment_bank(DATA, "test")

    def test_only_voices_with_a_dictionary(self):
        with tempfile.TemporaryDirectory() as d:
            os.makedirs(os.path.join(d, "voices", "!v"))
            open(os.path.join(d, "en_dict"), "w").close()
            self.assertEqual(
                pvad_data.espeak_voices_with_dict(["en-us", "de", "en-gb-scotland"], d), ["en-us", "en-gb-scotland"]
            )
            syn = pvad_data.synthetic_speakers("train", 20, 0, ["m1", "m2", "m3", "m4", "m5", "m6"], 0, d)
            self.assertTrue(all(s["voice"].startswith("en") for s in syn))
            with self.assertRaisesRegex(ValueError, "no dictionary"):
                pvad_data.synthetic_speakers("dev", 2, 0, ["m1"], 0, d + "/voices")

    def test_budget_ends_on_time_or_steps(self):
        b = pvad_train.Budget(100, 0)
        self.assertEqual(b.progress(50), 0.5)
        b = pvad_train.Budget(100, 1.0)
        b.t0 -= 45  # 45 s of a 60 s budget gone
        self.assertAlmostEqual(b.progress(10), 0.75, places=2)
        self.assertEqual(b.progress(100), 1.0)


if __name__ == "__main__":
    unittest.main()
