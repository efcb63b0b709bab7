"""The measurement code behind the pVAD figures: AP, EER and the end-of-segment rule, on inputs whose
answers are known by hand."""
import unittest

import numpy as np

from bench import pvad_eval, pvad_segments


class ApTest(unittest.TestCase):
    def test_average_precision_by_hand(self):
        # Ranked: 1 (pos), 2 (neg), 3 (pos), 4 (neg): precision at the positives 1/1 and 2/3.
        y = np.array([1, 0, 1, 0])
        s = np.array([0.9, 0.8, 0.7, 0.1])
        self.assertAlmostEqual(pvad_eval.average_precision(y, s), (1 + 2 / 3) / 2)
        self.assertAlmostEqual(pvad_eval.average_precision(y, y.astype(float)), 1.0)
        # Tied scores count as one threshold: all tied -> precision = base rate.
        self.assertAlmostEqual(pvad_eval.average_precision(y, np.ones(4)), 0.5)

    def test_eer(self):
        scores = np.array([0.9, 0.8, 0.6, 0.4, 0.3, 0.1])
        labels = np.array([1, 1, 0, 1, 0, 0])
        self.assertAlmostEqual(pvad_eval.eer(scores, labels), 1 / 3)
        self.assertAlmostEqual(pvad_eval.eer(np.array([0.9, 0.1]), np.array([1, 0])), 0.0)

    def test_speech_ap_tolerance_skips_label_edges(self):
        lab = np.array([0] * 10 + [1] * 10 + [0] * 10)
        late = np.r_[np.zeros(12), np.ones(10), np.zeros(8)]  # a detector two frames late
        self.assertLess(pvad_eval.speech_ap([late], [lab]), 1.0)
        self.assertAlmostEqual(pvad_eval.speech_ap([late], [lab], tolerance=3), 1.0)


class SegmentRuleTest(unittest.TestCase):
    def post(self, target):
        p = np.zeros((len(target), 3))
        p[:, 1] = target
        p[:, 0] = 1 - np.asarray(target)
        return p

    def test_open_close_and_latency(self):
        # 10 frames silence, 40 frames target, 60 frames silence.
        tgt = np.r_[np.zeros(10), np.full(40, 0.9), np.zeros(60)]
        segs = pvad_segments.segments(tgt, 0.5, 0.3, 5, 30)
        self.assertEqual(segs, [(10, 79)])  # opens at the first target frame, closes 30 frames after
        meta = {"mixtures": [{"target": "x", "labels": [0] * 10 + [1] * 40 + [0] * 60, "spans": [(10, 50, True)]}]}
        r = pvad_segments.evaluate([self.post(tgt)], meta, 0.5, 0.3, 5, 30)
        self.assertEqual(r["latency_p50_ms"], 300.0)  # close frame 79 - last speech frame 49
        self.assertEqual((r["cut_commands"], r["missed_commands"], r["false_segments"]), (0, 0, 0))

    def test_bursts_pauses_and_other_speakers(self):
        # A 3-frame burst (ignored), a command with a 40-frame pause (cut by a 30-frame stretch),
        # then another speaker's speech, which must not open a segment.
        tgt = np.r_[
            np.zeros(5),
            np.full(3, 0.9),
            np.zeros(20),
            np.full(20, 0.9),
            np.zeros(40),
            np.full(20, 0.9),
            np.zeros(50),
            np.zeros(30),
        ]
        lab = np.r_[np.zeros(28), np.ones(20), np.zeros(40), np.ones(20), np.zeros(50), np.full(30, 2)].astype(int)
        meta = {"mixtures": [{"target": "x", "labels": lab.tolist(), "spans": [(28, 108, True), (158, 188, False)]}]}
        r = pvad_segments.evaluate([self.post(tgt)], meta, 0.5, 0.3, 5, 30)
        self.assertEqual((r["cut_commands"], r["cut_at_long_pause"], r["cut_mid_speech"]), (1, 1, 0))
        self.assertEqual(r["false_segments"], 0)
        r = pvad_segments.evaluate([self.post(tgt)], meta, 0.5, 0.3, 5, 45)
        self.assertEqual(r["cut_commands"], 0)
        self.assertEqual(r["latency_p50_ms"], 450.0)


if __name__ == "__main__":
    unittest.main()
