"""The C++ engine (through the Node addon) against the PyTorch definitions on small random models.

Transducer (D=64, 2 blocks), exported F32 and Q4_0: encoder outputs chunk by chunk, joiner
log-probabilities, greedy decisions (each PyTorch's argmax within a tolerance); the encoder is fed
the engine's own fbank frames, so only the network's arithmetic is compared (the fbank is checked
against torchaudio separately). The Q4_0
comparison runs the PyTorch model in QAT mode, which computes what the engine computes (Q4_0
weights, Q8_0 inputs); float summation order still differs, and where it moves a value across a Q8_0
rounding boundary the value changes by one quantization step (seen: the encoder equal to 1e-6 up to
the first such flip, then ~1e-2), hence the looser Q4_0 tolerances. Speaker encoder and pVAD: see
SpeakerAndPvadParity. The shipped model: test_shipped_model_tokens, once models/ has it.

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
from training.earshot.model import Transducer, TransducerConfig
from training.earshot.tokens import TOKENS
from training.earshot.pvad import PersonalVad, SpeakerEncoder
from training import pvad_export
from training.export import export_transducer, read_transducer
from training.earshot.greedy_margin import logit_lattice, path_deficit

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
    const fbank = Array.from(m.debugFbank(audio));
    const s = m.createStream({ chunkFrames: Number(chunk), tailPaddingMs: 0 });
    for (let i = 0; i < audio.length; i += 1234) s.acceptWaveform(audio.subarray(i, i + 1234));
    const r = await s.finalize();
    console.log(JSON.stringify({ frames, enc: Array.from(enc), joint, tokens: r.tokens, fbank }));
  } else if (kind === 'batch') {
    // audioFile: several clips, concatenated; extra: their lengths. Greedy tokens of each.
    const m = await n.loadTransducer(model);
    const out = [];
    let at = 0;
    for (const len of JSON.parse(extra)) {
      const s = m.createStream({ chunkFrames: Number(chunk), tailPaddingMs: 0 });
      s.acceptWaveform(audio.subarray(at, at + len));
      out.push((await s.finalize()).tokens.map((t) => [t.text, Math.round(t.start / 0.04)]));
      s.dispose();
      at += len;
    }
    console.log(JSON.stringify({ tokens: out }));
  } else if (kind === 'texts') {
    // extra: { lengths, options }: the text of each clip decoded with those stream options.
    const m = await n.loadTransducer(model);
    const { lengths, options } = JSON.parse(extra);
    const out = [];
    let at = 0;
    for (const len of lengths) {
      const s = m.createStream(options);
      s.acceptWaveform(audio.subarray(at, at + len));
      out.push((await s.finalize()).text);
      s.dispose();
      at += len;
    }
    console.log(JSON.stringify({ texts: out }));
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
    out = subprocess.run(
        ["node", "-e", ENGINE_SCRIPT, ADDON, kind, model, audio_file, str(chunk), extra],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
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
    return features.cmvn_of([features.fbank(torch.from_numpy(wave))])


SHIPPED = os.path.join(REPO, "models", "earshot-en-int4.gguf")
FSDD = os.path.join(os.path.dirname(REPO), "shared", "data", "fsdd")


def transducer_from_gguf(path: str) -> Transducer:
    """The PyTorch model holding a file's weights (Q4_0 dequantized). Re-quantizing a dequantized
    Q4_0 block gives the same block, so in QAT mode it computes exactly the file's arithmetic."""
    m, meta, quantized = read_transducer(path)
    m.set_qat(quantized)
    return m, meta["earshot.tokens"]


# Each engine decision must be PyTorch's argmax within this many logits: engine and PyTorch sum
# floats in other orders (F32: logits differ in the 4th decimal), and with Q8_0 activations that
# can flip a quantization step, which moves a logit by up to a few hundredths.
ARGMAX_EPS_F32 = 1e-2
ARGMAX_EPS_Q8 = 0.1


def encode_clip(m: Transducer, wave: np.ndarray, chunk: int):
    with torch.no_grad():
        fb = features.fbank(torch.from_numpy(wave)).unsqueeze(0)
        return m.encode(fb, torch.tensor([fb.shape[1]]), chunk=chunk)


def greedy_tokens(m: Transducer, vocab, wave: np.ndarray, chunk: int):
    enc, lens = encode_clip(m, wave, chunk)
    return [[vocab[t].replace("\u2581", " "), f] for t, f in m.greedy(enc, lens)[0]]


def engine_deficit(m: Transducer, vocab, enc: torch.Tensor, path) -> float:
    """How far the engine's decisions on one clip ([[text, frame]]) are from the argmaxes of PyTorch's
    logits on `enc` [T, D] (greedy_margin.path_deficit): 0 where PyTorch decodes the same."""
    ids = {t.replace("\u2581", " "): i for i, t in enumerate(vocab)}
    p = [(ids[t], f) for t, f in path]
    return path_deficit(logit_lattice(m, enc, [t for t, _ in p]), p)


def fsdd_clips(takes=(0,), limit=None, pad=0):
    """FSDD dev-split recordings (8 kHz) resampled to 16 kHz, int16-exact, with `pad` samples of
    silence on both sides (the recordings are cut tight around the word)."""
    import torchaudio

    clips = []
    for name in sorted(os.listdir(os.path.join(FSDD, "recordings"))):
        if int(name.rsplit("_", 1)[1].split(".")[0]) not in takes:
            continue
        wave, sr = torchaudio.load(os.path.join(FSDD, "recordings", name))
        wave = torchaudio.functional.resample(wave[0], sr, 16000)
        wave = (np.round(wave.numpy() * 32768).clip(-32768, 32767) / 32768).astype(np.float32)
        clips.append(np.concatenate([np.zeros(pad, np.float32), wave, np.zeros(pad, np.float32)]))
    return clips[:limit]


def engine_batch_tokens(tmp: str, model_file: str, clips, chunk: int):
    audio_file = os.path.join(tmp, "batch.f32")
    np.concatenate(clips).astype(np.float32).tofile(audio_file)
    return run_engine("batch", model_file, audio_file, chunk, json.dumps([len(c) for c in clips]))["tokens"]


def check_model_tokens(test: unittest.TestCase, model_file: str, tmp: str):
    m, vocab = transducer_from_gguf(model_file)
    clips = fsdd_clips(pad=8000)
    chunk = m.cfg.chunk_frames
    got = engine_batch_tokens(tmp, model_file, clips, chunk)
    want = [greedy_tokens(m, vocab, c, chunk) for c in clips]
    same = sum(g == w for g, w in zip(got, want))
    # Where blank and a token tie within rounding (the shipped model had a clip with logits 7.960
    # vs 7.941), the engine may take the other branch: its decisions are compared, not its text.
    deficits = [engine_deficit(m, vocab, encode_clip(m, c, chunk)[0][0], g) for c, g in zip(clips, got)]
    print(
        f"\n{os.path.basename(model_file)}: {same}/{len(clips)} recordings with identical tokens and frames; "
        f"the engine's decisions at most {max(deficits):.3f} logits off PyTorch's argmax"
    )
    for g, w, d in zip(got, want, deficits):
        test.assertLessEqual(d, ARGMAX_EPS_Q8, f"engine {g} vs PyTorch {w}")
    test.assertGreaterEqual(same, len(clips) - 2)
    test.assertGreater(sum(bool(w) for w in want), len(clips) // 2, "the model should recognize most digits")


def check_hot_phrase(test: unittest.TestCase, model_file: str, tmp: str, boost: float = 4.0):
    """Four voices say the device name; four sentences close to it do not. Per-token boost 4 with
    4 paths: a character model spends six tokens on "hue go"; the shipped model, which never heard
    the name, brings it out for 3-4 of 4 voices at 4-6 and inserts it into "turn off the hallway
    lamp" at 6. "who goes there" is said too, unasserted: it is the phrase's own sounds ("who go"),
    which the boost is meant to favour (the model reads it "hey hue go" from 4 on)."""
    said = [speech("turn on the hue go lamp", v) for v in ("en-us", "en", "en-gb-x-rp", "en-us+f3")]
    other = [
        speech(text, v)
        for text, v in (
            ("turn on the kitchen light", "en-us"),
            ("turn on the kitchen light", "en"),
            ("turn off the hallway lamp", "en-us"),
            ("turn on the hug lamp", "en-us"),
            ("who goes there", "en-us"),
        )
    ]
    clips = said + other
    audio_file = os.path.join(tmp, "hot.f32")
    np.concatenate(clips).tofile(audio_file)

    def texts(options):
        extra = json.dumps({"lengths": [len(c) for c in clips], "options": options})
        return run_engine("texts", model_file, audio_file, 0, extra)["texts"]

    plain = texts({"beam": 4})
    boosted = texts({"beam": 4, "hotPhrases": [{"phrase": "Hue Go", "boost": boost}]})
    print(f"\nbeam 4: {plain}\nbeam 4 + hot phrase 'Hue Go' ({boost}): {boosted}")
    hits = lambda texts: sum("hue go" in t for t in texts[: len(said)])  # noqa: E731
    test.assertGreaterEqual(hits(boosted), 3, "the hot phrase should come out for at least 3 of 4 voices")
    test.assertGreater(hits(boosted), hits(plain), "the boost should be what brings it out")
    for text in boosted[len(said) : -1]:
        test.assertNotIn("hue go", text)


class TransducerParity(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        torch.manual_seed(0)
        cls.tmp = tempfile.TemporaryDirectory()
        cls.wave = speech()
        cls.audio_file = os.path.join(cls.tmp.name, "audio.f32")
        cls.wave.tofile(cls.audio_file)
        cfg = TransducerConfig(
            d_model=64,
            n_layers=2,
            n_heads=4,
            ff_dim=128,
            conv_kernel=5,
            pred_dim=32,
            joiner_dim=64,
            chunk_frames=4,
            left_context_frames=8,
            has_cif=True,
        )
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
                T = fb.shape[1] // m.cfg.stack
                hist = [[t, h] for t in (0, T // 3, T - 1) for h in ([0, 0], [5, 7], [1, 20])]
                out = run_engine("transducer", self.files[weights], self.audio_file, chunk, json.dumps(hist))
                # The engine's fbank (float64 inside) against torchaudio's float32 one; the float64
                # golden test (native/tests/test_fbank.cpp) is the precise check.
                efb = torch.tensor(out["fbank"]).view(1, -1, 80)
                self.assertEqual(efb.shape, fb.shape)
                fbank_err = (efb - fb).abs().max().item()
                self.assertLessEqual(fbank_err, 2e-3)
                # Encoder on the engine's own features: only the network's arithmetic is compared.
                enc, lens = m.encode(efb, torch.tensor([efb.shape[1]]), chunk=chunk)
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
                # engine's own encoder output; F32 compares PyTorch's whole decoding (from the
                # engine's features) with the engine's.
                ref_enc = enc[0] if weights == "f32" else e
                ref = m.greedy(ref_enc.unsqueeze(0), lens)[0]
                got = [(tok["text"], round(tok["start"] / 0.04)) for tok in out["tokens"]]
                deficit = engine_deficit(m, TOKENS, ref_enc, got)
        finally:
            m.set_qat(False)
        print(
            f"\n{weights} chunk {chunk}: fbank max |diff| {fbank_err:.2g}; {T} frames, max |enc diff| {enc_err:.3g} (mean {enc_mean_err:.2g}), "
            f"max |logp diff| {logp_err:.3g}, {len(ref)} tokens, engine decisions {deficit:.2g} off the argmax"
        )
        self.assertLessEqual(enc_err, enc_tol)
        self.assertLessEqual(enc_mean_err, enc_tol / 10)
        self.assertLessEqual(logp_err, logp_tol)
        self.assertGreater(len(ref), 3, "the random model should emit tokens")
        self.assertGreater(len(got), 3)
        self.assertLessEqual(deficit, ARGMAX_EPS_F32)

    def test_file_read_back_into_pytorch(self):
        """The reader used for the shipped model: a Q4_0 file read back computes what the original
        QAT model computes, and the engine decodes FSDD clips to its greedy tokens."""
        back, vocab = transducer_from_gguf(self.files["q4_0"])
        self.model.set_qat(True)
        try:
            with torch.no_grad():
                fb = features.fbank(torch.from_numpy(self.wave)).unsqueeze(0)
                lens = torch.tensor([fb.shape[1]])
                a, _ = self.model.encode(fb, lens)
                b, _ = back.encode(fb, lens)
        finally:
            self.model.set_qat(False)
        self.assertTrue(torch.equal(a, b))
        clips = fsdd_clips(limit=6)
        got = engine_batch_tokens(self.tmp.name, self.files["f32"], clips, 4)
        back_f32, _ = transducer_from_gguf(self.files["f32"])
        for c, g in zip(clips, got):
            enc = encode_clip(back_f32, c, 4)[0][0]
            self.assertLessEqual(engine_deficit(back_f32, vocab, enc, g), ARGMAX_EPS_F32, g)
        self.assertGreaterEqual(sum(bool(g) for g in got), len(clips) // 2, "the random model should emit tokens")

    def test_shipped_model_tokens(self):
        """The shipped model: each greedy decision of the engine is the PyTorch QAT model's argmax
        within ARGMAX_EPS_Q8 on FSDD take 0 (40 recordings of the dev split), decoded with the
        model's own chunk size, and at most 2 recordings decode differently."""
        check_model_tokens(self, SHIPPED, self.tmp.name)

    def test_shipped_model_hot_phrase(self):
        """Contextual biasing on the shipped model: a device name said in a command comes out when
        listed as a hot phrase, and a listed phrase that was not said is not inserted."""
        check_hot_phrase(self, SHIPPED, self.tmp.name)

    def test_f32(self):
        for chunk in (1, 4, 16):
            self.compare("f32", chunk, enc_tol=1e-4, logp_tol=1e-4)

    def test_q4_0(self):
        for chunk in (4, 16):
            self.compare("q4_0", chunk, enc_tol=0.05, logp_tol=1e-4)


def round_fp16_inputs(spk: SpeakerEncoder, pvad: PersonalVad):
    """The exporter stores the 80-input matrices as F16 (80 is no multiple of 32): round them in
    the PyTorch modules too, so an F32 export holds exactly the modules' weights."""
    with torch.no_grad():
        for w in (spk.lstm.weight_ih_l0, pvad.inp.weight):
            w.copy_(w.half().float())


class SpeakerAndPvadParity(unittest.TestCase):
    """F32 files (F16 where the input is 80) against the PyTorch modules; Q8_0 files, as shipped,
    against training/pvad_export.FileModel, the Python statement of the file's arithmetic (Q8_0
    activations). The Q8_0 tolerance allows a quantization step flipped by float-order noise."""

    @classmethod
    def setUpClass(cls):
        torch.manual_seed(1)
        cls.tmp = tempfile.TemporaryDirectory()
        # 2.6 s: longer than one 160-frame window, so the window averaging is exercised
        cls.wave = np.concatenate([speech("hello there, this is a speaker test", "en-us"), np.zeros(4000, np.float32)])
        cls.audio_file = os.path.join(cls.tmp.name, "audio.f32")
        cls.wave.tofile(cls.audio_file)
        mean, istd = cmvn_of(cls.wave)
        cls.fbank = features.fbank(torch.from_numpy(cls.wave))
        cls.spk = SpeakerEncoder(hidden=64, n_layers=3, embed_dim=32).eval()
        cls.spk.set_cmvn(mean, istd)
        cls.pvad = PersonalVad(hidden=64, embed_dim=32).eval()
        cls.pvad.set_cmvn(mean, istd)
        round_fp16_inputs(cls.spk, cls.pvad)
        cls.files = {}
        for wtype in ("F32", "Q8_0"):
            spk_file = os.path.join(cls.tmp.name, f"spk_{wtype}.gguf")
            pvad_file = os.path.join(cls.tmp.name, f"pvad_{wtype}.gguf")
            pvad_export.export_spkenc(cls.spk, spk_file, {}, wtype)
            pvad_export.export_pvad(cls.pvad, pvad_file, {}, wtype=wtype)
            cls.files[wtype] = (spk_file, pvad_file)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_speaker_embedding(self):
        self.assertGreater(self.fbank.shape[0], 160)
        with torch.no_grad():
            refs = {
                "F32": self.spk.embed_utterance(self.fbank),
                "Q8_0": pvad_export.FileModel(self.files["Q8_0"][0]).spk_utterance(self.fbank),
            }
        for wtype, tol in (("F32", 1e-4), ("Q8_0", 1e-3)):
            got = torch.tensor(run_engine("spkenc", self.files[wtype][0], self.audio_file)["emb"])
            err = (got - refs[wtype]).abs().max().item()
            print(f"\nspeaker embedding {wtype}: {self.fbank.shape[0]} frames, max |diff| {err:.3g}")
            self.assertLessEqual(err, tol)
            self.assertAlmostEqual(got.norm().item(), 1.0, places=5)

    def test_pvad_posteriors(self):
        e = torch.nn.functional.normalize(torch.randn(32), dim=0)
        file_model = pvad_export.FileModel(self.files["Q8_0"][1])
        for emb in (e, None):
            cond = (torch.zeros(32) if emb is None else emb).unsqueeze(0)
            with torch.no_grad():
                refs = {
                    "F32": self.pvad.posteriors(self.fbank.unsqueeze(0), cond)[0],
                    "Q8_0": file_model.pvad(self.fbank.unsqueeze(0), cond)[0][0],
                }
            extra = "null" if emb is None else json.dumps(emb.tolist())
            for wtype, tol in (("F32", 1e-4), ("Q8_0", 1e-3)):
                got = run_engine("pvad", self.files[wtype][1], self.audio_file, 0, extra)["post"]
                got = torch.tensor(got).view(-1, 3)
                self.assertEqual(got.shape, refs[wtype].shape)
                err = (got - refs[wtype]).abs().max().item()
                print(
                    f"\npvad {wtype} ({'enrolled' if emb is not None else 'nobody enrolled'}): "
                    f"{got.shape[0]} frames, max |posterior diff| {err:.3g}"
                )
                self.assertLessEqual(err, tol)


if __name__ == "__main__":
    unittest.main()
