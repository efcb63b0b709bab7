"""The C++ engine (through the Node addon) against the PyTorch definitions on small random models.

Transducer (D=64, 2 blocks), exported F32 and Q4_0: encoder outputs chunk by chunk, joiner
log-probabilities, greedy tokens. The Q4_0 comparison runs the PyTorch model in QAT mode, which
computes exactly what the engine computes (Q4_0 weights, Q8_0 inputs), so the only differences left
are float summation order and the engine's float64 fbank; a Q8_0 rounding step can turn those into
one quantization step of a value, hence the looser Q4_0 tolerances.

Needs the addon (build/Release/earshot.node: `npm run build:native`) and espeak-ng + sox.
"""
import json
import os
import subprocess
import tempfile
import unittest

import numpy as np
import torch

from training.earshot import features
from training.earshot.gguf import GgufWriter
from training.earshot.model import Transducer, TransducerConfig
from training.earshot.tokens import TOKENS
from training.earshot.pvad import PersonalVad, SpeakerEncoder
from training.export import export_transducer

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ADDON = os.path.join(REPO, "build", "Release", "earshot.node")

# Runs in node: loads the model, decodes the audio, prints one JSON object.
ENGINE_SCRIPT = r"""
const { createRequire } = require('node:module');
const fs = require('node:fs');
const [addon, kind, model, audioFile, chunk, extra] = process.argv.slice(1);
const n = require(addon);
const buf = fs.readFileSync(audioFile);
const audio = new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4);
(async () => {
  if (kind === 'transducer') {
    const m = await n.loadTransducer(model);
    const enc = m.debugEncode(audio, Number(chunk));
    const D = m.info.metadata.d_model;
    const frames = enc.length / D;
    // joiner on a few engine frames and histories
    const hist = JSON.parse(extra);
    const joint = [];
    for (const [t, h] of hist) joint.push(Array.from(m.debugJoint(enc.slice(t * D, (t + 1) * D), Int32Array.from(h))));
    const s = m.createStream({ chunkFrames: Number(chunk) });
    for (let i = 0; i < audio.length; i += 1234) s.acceptWaveform(audio.subarray(i, i + 1234));
    const r = await s.finalize();
    console.log(JSON.stringify({ frames, enc: Array.from(enc), joint, tokens: r.tokens }));
  } else if (kind === 'pvad') {
    const m = await n.loadPvad(model);
    const e = extra === 'null' ? null : Float32Array.from(JSON.parse(extra));
    const s = m.createStream(e);
    const out = [];
    for (let i = 0; i < audio.length; i += 777) out.push(...s.accept(audio.subarray(i, i + 777)));
    console.log(JSON.stringify({ post: out }));
  } else {
    const m = await n.loadSpeakerEncoder(model);
    console.log(JSON.stringify({ emb: Array.from(await m.embed(audio)) }));
  }
})().catch((e) => { console.error(e.message); process.exit(1); });
"""


def run_engine(kind, model, audio_file, chunk=0, extra="null"):
    if not os.path.exists(ADDON):
        raise AssertionError(f"{ADDON} is missing: build the addon first (npm run build:native)")
    out = subprocess.run(["node", "-e", ENGINE_SCRIPT, ADDON, kind, model, audio_file, str(chunk), extra],
                         capture_output=True, text=True, check=False, timeout=120)
    if out.returncode:
        raise AssertionError(f"engine run failed: {out.stderr}")
    return json.loads(out.stdout)


def speech(text="turn on the kitchen light", voice="en") -> np.ndarray:
    with tempfile.TemporaryDirectory() as tmp:
        raw, wav = os.path.join(tmp, "a.wav"), os.path.join(tmp, "b.wav")
        subprocess.run(["espeak-ng", "-v", voice, "-w", raw, text], check=True)
        subprocess.run(["sox", "-D", raw, "-r", "16000", "-c", "1", "-b", "16", wav], check=True)
        import torchaudio
        wave, sr = torchaudio.load(wav)
    # int16-exact floats, as the daemon feeds
    return (np.round(wave[0].numpy() * 32768).clip(-32768, 32767) / 32768).astype(np.float32)


def cmvn_of(wave: np.ndarray):
    f = features.fbank(torch.from_numpy(wave))
    return f.mean(0), 1.0 / f.std(0).clamp(min=1e-3)


class TransducerParity(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        torch.manual_seed(0)
        cls.tmp = tempfile.TemporaryDirectory()
        cls.wave = speech()
        cls.audio_file = os.path.join(cls.tmp.name, "audio.f32")
        cls.wave.tofile(cls.audio_file)
        cfg = TransducerConfig(d_model=64, n_layers=2, n_heads=4, ff_dim=128, conv_kernel=5, pred_dim=32,
                               joiner_dim=64, chunk_frames=4, left_context_frames=8, has_cif=True)
        m = Transducer(cfg).eval()
        mean, istd = cmvn_of(cls.wave)
        m.feat_mean.copy_(mean)
        m.feat_istd.copy_(istd)
        with torch.no_grad():  # a random model that emits tokens instead of only blanks
            m.joiner.out.bias.mul_(4.0)
            m.joiner.out.bias[0] += 1.0
        cls.model = m
        cls.files = {}
        for w in ("f32", "q4_0"):
            cls.files[w] = os.path.join(cls.tmp.name, f"t_{w}.gguf")
            export_transducer(m, cls.files[w], w, name="parity")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def compare(self, weights, chunk, enc_tol, logp_tol):
        m = self.model
        m.set_qat(weights == "q4_0")
        try:
            with torch.no_grad():
                fb = features.fbank(torch.from_numpy(self.wave)).unsqueeze(0)
                enc, lens = m.encode(fb, torch.tensor([fb.shape[1]]), chunk=chunk)
                T = int(lens[0])
                hist = [[t, h] for t in (0, T // 3, T - 1) for h in ([0, 0], [5, 7], [1, 20])]
                out = run_engine("transducer", self.files[weights], self.audio_file, chunk, json.dumps(hist))
                self.assertEqual(out["frames"], T)
                e = torch.tensor(out["enc"]).view(T, -1)
                enc_err = (e - enc[0]).abs().max().item()
                enc_mean_err = (e - enc[0]).abs().mean().item()
                # joiner on the engine's own frames, so only the joiner and predictor are compared
                logp_err = 0.0
                for (t, h), got in zip(hist, out["joint"]):
                    p = m.predictor(torch.tensor([[h]]))
                    want = m.joiner(m.joiner.enc(e[t]), m.joiner.pred(p)[0, 0]).log_softmax(-1)
                    logp_err = max(logp_err, (torch.tensor(got) - want).abs().max().item())
                # Q4_0: Q8_0 rounding turns float-order noise into quantization steps, enough to
                # flip a near-tie argmax of a random model, so the search is checked on the
                # engine's own encoder output; F32 goes end to end.
                ref = m.greedy(enc if weights == "f32" else e.unsqueeze(0), lens)[0]
        finally:
            m.set_qat(False)
        print(f"\n{weights} chunk {chunk}: {T} frames, max |enc diff| {enc_err:.3g} (mean {enc_mean_err:.2g}), "
              f"max |logp diff| {logp_err:.3g}, {len(ref)} tokens")
        self.assertLessEqual(enc_err, enc_tol)
        self.assertLessEqual(enc_mean_err, enc_tol / 10)
        self.assertLessEqual(logp_err, logp_tol)
        self.assertGreater(len(ref), 3, "the random model should emit tokens")
        got = [(tok["text"], round(tok["start"] / 0.04)) for tok in out["tokens"]]
        tokens = [t.replace("\u2581", " ") for t in TOKENS]
        want = [(tokens[tok], frame) for tok, frame in ref]
        self.assertEqual(got, want)

    def test_f32(self):
        for chunk in (1, 4, 16):
            self.compare("f32", chunk, enc_tol=2e-3, logp_tol=1e-4)

    def test_q4_0(self):
        for chunk in (4, 16):
            self.compare("q4_0", chunk, enc_tol=0.1, logp_tol=1e-3)


def common_meta(w: GgufWriter, arch: str, mean, istd):
    w.add("general.architecture", arch)
    w.add("general.name", "parity-" + arch)
    w.add_u32("earshot.format_version", 1)
    w.add_u32("earshot.feat.sample_rate", 16000)
    w.add_u32("earshot.feat.num_mel_bins", 80)
    w.add_f32("earshot.feat.frame_length_ms", 25.0)
    w.add_f32("earshot.feat.frame_shift_ms", 10.0)
    w.add_tensor("feat.mean", mean)
    w.add_tensor("feat.istd", istd)


def add_lstm(w: GgufWriter, prefix: str, lstm, layer: int, weights: str):
    w_ih = getattr(lstm, f"weight_ih_l{layer}")
    # an input of 80 is no multiple of 32: that matrix stays F32 (docs/model-format.md)
    w.add_tensor(f"{prefix}.w_ih", w_ih, weights if w_ih.shape[1] % 32 == 0 else "F32")
    w.add_tensor(f"{prefix}.w_hh", getattr(lstm, f"weight_hh_l{layer}"), weights)
    w.add_tensor(f"{prefix}.bias", getattr(lstm, f"bias_ih_l{layer}") + getattr(lstm, f"bias_hh_l{layer}"))


# Written here from the contract's tensor table until training/ has an exporter for these two.
def export_spkenc(m: SpeakerEncoder, path: str, weights: str):
    w = GgufWriter()
    common_meta(w, "earshot-spkenc", m.feat_mean, m.feat_istd)
    for key, v in (("hidden", m.hidden), ("n_layers", m.n_layers), ("embed_dim", m.embed_dim),
                   ("window_frames", m.window_frames), ("window_hop", m.window_hop)):
        w.add_u32(f"earshot.{key}", v)
    for layer in range(m.n_layers):
        add_lstm(w, f"spk.lstm.{layer}", m.lstm, layer, weights)
    w.add_tensor("spk.proj.weight", m.proj.weight, weights)
    w.add_tensor("spk.proj.bias", m.proj.bias)
    w.write(path)


def export_pvad(m: PersonalVad, path: str, weights: str):
    w = GgufWriter()
    common_meta(w, "earshot-pvad", m.feat_mean, m.feat_istd)
    w.add_u32("earshot.hidden", m.hidden)
    w.add_u32("earshot.embed_dim", m.embed_dim)
    w.add("earshot.spkenc_name", "parity-earshot-spkenc")
    w.add_tensor("pvad.in.weight", m.inp.weight)  # 80 inputs: F32
    w.add_tensor("pvad.in.bias", m.inp.bias)
    add_lstm(w, "pvad.lstm.0", m.lstm0, 0, weights)
    for name, lin in (("pvad.film.gamma", m.film_gamma), ("pvad.film.beta", m.film_beta), ("pvad.out", m.out)):
        w.add_tensor(f"{name}.weight", lin.weight, weights)
        w.add_tensor(f"{name}.bias", lin.bias)
    add_lstm(w, "pvad.lstm.1", m.lstm1, 0, weights)
    w.write(path)


class SpeakerAndPvadParity(unittest.TestCase):
    """F32 files: the engine's LSTM/FiLM arithmetic against PyTorch's, same fbank up to the float64
    difference. (These models have no QAT path, so Q4_0 would differ from PyTorch by design.)"""

    @classmethod
    def setUpClass(cls):
        torch.manual_seed(1)
        cls.tmp = tempfile.TemporaryDirectory()
        # 2.6 s: longer than one 160-frame window, so the window averaging is exercised
        cls.wave = np.concatenate([speech("hello there, this is a speaker test", "en-us"),
                                   np.zeros(4000, np.float32)])
        cls.audio_file = os.path.join(cls.tmp.name, "audio.f32")
        cls.wave.tofile(cls.audio_file)
        mean, istd = cmvn_of(cls.wave)
        cls.fbank = features.fbank(torch.from_numpy(cls.wave))
        cls.spk = SpeakerEncoder(hidden=64, n_layers=3, embed_dim=32).eval()
        cls.spk.set_cmvn(mean, istd)
        cls.pvad = PersonalVad(hidden=64, embed_dim=32).eval()
        cls.pvad.set_cmvn(mean, istd)
        cls.spk_file = os.path.join(cls.tmp.name, "spk.gguf")
        cls.pvad_file = os.path.join(cls.tmp.name, "pvad.gguf")
        export_spkenc(cls.spk, cls.spk_file, "F32")
        export_pvad(cls.pvad, cls.pvad_file, "F32")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_speaker_embedding(self):
        self.assertGreater(self.fbank.shape[0], 160)
        with torch.no_grad():
            want = self.spk.embed_utterance(self.fbank)
        got = torch.tensor(run_engine("spkenc", self.spk_file, self.audio_file)["emb"])
        err = (got - want).abs().max().item()
        print(f"\nspeaker embedding: {self.fbank.shape[0]} frames, max |diff| {err:.3g}")
        self.assertLessEqual(err, 1e-4)
        self.assertAlmostEqual(got.norm().item(), 1.0, places=5)

    def test_pvad_posteriors(self):
        e = torch.nn.functional.normalize(torch.randn(32), dim=0)
        for emb in (e, None):
            with torch.no_grad():
                cond = torch.zeros(32) if emb is None else emb
                want = self.pvad.posteriors(self.fbank.unsqueeze(0), cond.unsqueeze(0))[0]
            extra = "null" if emb is None else json.dumps(emb.tolist())
            got = torch.tensor(run_engine("pvad", self.pvad_file, self.audio_file, 0, extra)["post"]).view(-1, 3)
            self.assertEqual(got.shape, want.shape)
            err = (got - want).abs().max().item()
            print(f"\npvad ({'enrolled' if emb is not None else 'nobody enrolled'}): {got.shape[0]} frames, "
                  f"max |posterior diff| {err:.3g}")
            self.assertLessEqual(err, 1e-4)


if __name__ == "__main__":
    unittest.main()
