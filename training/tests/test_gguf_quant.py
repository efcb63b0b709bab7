"""GGUF writer round trip (through an independent reader) and ggml-exact quantization."""
import io
import math
import struct
import tempfile
import unittest
import zlib

import numpy as np
import torch

from training.earshot import quant
from training.earshot.gguf import GgufWriter
from training.earshot.model import Transducer, TransducerConfig
from training.export import export_transducer, transducer_tensors


def read_gguf(blob: bytes):
    """Minimal GGUF v3 reader written from the spec, independent of the writer."""
    f = io.BytesIO(blob)

    def rd(fmt):
        return struct.unpack(fmt, f.read(struct.calcsize(fmt)))[0]

    def rstr():
        return f.read(rd("<Q")).decode("utf-8")

    scalar = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}

    def rval(t):
        if t == 8:
            return rstr()
        if t == 9:
            et, n = rd("<I"), rd("<Q")
            return [rval(et) for _ in range(n)]
        return rd(scalar[t])

    assert f.read(4) == b"GGUF"
    assert rd("<I") == 3
    n_tensors, n_kv = rd("<Q"), rd("<Q")
    meta, types = {}, {}
    for _ in range(n_kv):
        key = rstr()
        t = rd("<I")
        types[key] = t
        meta[key] = rval(t)
    infos = []
    for _ in range(n_tensors):
        name = rstr()
        nd = rd("<I")
        ne = [rd("<Q") for _ in range(nd)]
        infos.append((name, ne, rd("<I"), rd("<Q")))
    align = meta.get("general.alignment", 32)
    start = (f.tell() + align - 1) // align * align
    data = blob[start:]
    sizes = {0: lambda n: 4 * n, 1: lambda n: 2 * n, 2: lambda n: n // 32 * 18, 8: lambda n: n // 32 * 34}
    tensors = {}
    for name, ne, t, off in infos:
        assert off % align == 0, name
        n = math.prod(ne)
        tensors[name] = (ne, t, data[off : off + sizes[t](n)])
    return meta, types, tensors, data


def ggml_dequant_q4_0(raw: bytes, n: int):
    """Scalar dequantization as ggml's dequantize_row_q4_0."""
    out = []
    for b in range(n // 32):
        blk = raw[b * 18 : (b + 1) * 18]
        d = float(np.frombuffer(blk[:2], dtype="<f2")[0])
        vals = [0.0] * 32
        for j in range(16):
            vals[j] = ((blk[2 + j] & 15) - 8) * d
            vals[j + 16] = ((blk[2 + j] >> 4) - 8) * d
        out.extend(vals)
    return np.array(out, dtype=np.float32)


def ggml_quant_q4_0_scalar(x):
    """Transcription of ggml's quantize_row_q4_0_ref for one block, in float32."""
    x = np.asarray(x, dtype=np.float32)
    amax, m = np.float32(0), np.float32(0)
    for v in x:
        if abs(v) > amax:
            amax, m = abs(v), v
    d = np.float32(m / np.float32(-8))
    inv = np.float32(1) / d if d != 0 else np.float32(0)
    q = [min(15, int(np.float32(np.float32(v * inv) + np.float32(8.5)))) for v in x]
    return q, np.float16(d)


def ggml_quant_q8_0_scalar(x):
    x = np.asarray(x, dtype=np.float32)
    amax = np.float32(max(abs(v) for v in x))
    d = np.float32(amax / np.float32(127))
    inv = np.float32(1) / d if d != 0 else np.float32(0)
    # roundf, half away from zero; exact in double for float32 values
    q = [int(math.copysign(math.floor(abs(p) + 0.5), p)) for p in (float(np.float32(v * inv)) for v in x)]
    return q, np.float16(d)


class QuantTest(unittest.TestCase):
    def blocks(self):
        g = torch.Generator().manual_seed(0)
        x = torch.randn(6, 64, generator=g) * 0.1
        x[0, :32] = 0.0  # all-zero block
        x[1, 3], x[1, 9] = 0.5, -0.5  # tie of |max| with opposite signs
        x[2, :32] = torch.linspace(-1, 1, 32)  # exact half steps
        x[3, 32:] = 1e-6 * torch.randn(32, generator=g)  # tiny scale
        return x

    def test_q4_0_matches_ggml_reference(self):
        x = self.blocks()
        q, d = quant.quantize_q4_0(x)
        for r in range(x.shape[0]):
            for b in range(2):
                ref_q, ref_d = ggml_quant_q4_0_scalar(x[r, b * 32 : (b + 1) * 32].numpy())
                self.assertEqual(q[r, b].tolist(), ref_q, f"row {r} block {b}")
                self.assertEqual(d[r, b].numpy().tobytes(), ref_d.tobytes())

    def test_q8_0_matches_ggml_reference(self):
        x = self.blocks()
        x[4, :4] = torch.tensor([0.5, 1.5, -2.5, 127.0])  # d = 1: exact halves
        q, d = quant.quantize_q8_0(x)
        for r in range(x.shape[0]):
            for b in range(2):
                ref_q, ref_d = ggml_quant_q8_0_scalar(x[r, b * 32 : (b + 1) * 32].numpy())
                self.assertEqual(q[r, b].tolist(), ref_q, f"row {r} block {b}")
                self.assertEqual(d[r, b].numpy().tobytes(), ref_d.tobytes())

    def test_fake_quant_is_writer_round_trip_bit_for_bit(self):
        x = self.blocks()
        w = GgufWriter()
        w.add_tensor("w4", x, "Q4_0")
        w.add_tensor("w8", x, "Q8_0")
        _, _, tensors, _ = read_gguf(w.to_bytes())
        deq4 = ggml_dequant_q4_0(tensors["w4"][2], x.numel()).reshape(x.shape)
        self.assertEqual(quant.fake_q4_0(x).numpy().tobytes(), deq4.tobytes())
        raw8 = tensors["w8"][2]
        deq8 = []
        for b in range(x.numel() // 32):
            blk = raw8[b * 34 : (b + 1) * 34]
            dd = np.float32(np.frombuffer(blk[:2], dtype="<f2")[0])
            deq8.append(np.frombuffer(blk[2:], dtype=np.int8).astype(np.float32) * dd)
        self.assertEqual(quant.fake_q8_0(x).numpy().tobytes(), np.concatenate(deq8).reshape(x.shape).tobytes())

    def test_straight_through_gradient(self):
        x = torch.randn(3, 32, requires_grad=True)
        (quant.fake_q4_0(x) * torch.arange(32.0)).sum().backward()
        self.assertTrue(torch.equal(x.grad, torch.arange(32.0).expand(3, 32)))
        y = torch.randn(3, 32, requires_grad=True)
        quant.fake_q8_0(y).sum().backward()
        self.assertTrue(torch.equal(y.grad, torch.ones(3, 32)))

    def test_rejects_columns_not_multiple_of_32(self):
        with self.assertRaisesRegex(ValueError, "multiple of 32"):
            quant.quantize_q4_0(torch.zeros(2, 40))


class GgufTest(unittest.TestCase):
    def test_metadata_and_tensors_round_trip(self):
        w = GgufWriter()
        w.add("general.architecture", "earshot-test")
        w.add("flag", True)
        w.add("neg", -3)
        w.add_u32("u", 7)
        w.add_f32("f", 2.5)
        w.add("tokens", ["<blk>", "\u2581", "a"])
        a = torch.arange(6.0).reshape(2, 3)
        b = torch.randn(5)
        w.add_tensor("a", a, "F32")
        w.add_tensor("b", b, "F16")
        w.add_tensor("c", torch.randn(3, 64), "Q4_0")
        blob = w.to_bytes()
        meta, types, tensors, data = read_gguf(blob)
        self.assertEqual(meta["general.architecture"], "earshot-test")
        self.assertEqual(meta["general.alignment"], 32)
        self.assertIs(meta["flag"], True)
        self.assertEqual((meta["neg"], types["neg"]), (-3, 5))
        self.assertEqual((meta["u"], types["u"]), (7, 4))
        self.assertEqual(meta["f"], 2.5)
        self.assertEqual(meta["tokens"], ["<blk>", "\u2581", "a"])
        self.assertEqual(meta["earshot.data_crc32"], zlib.crc32(data))
        self.assertEqual(types["earshot.data_crc32"], 4)
        ne, t, raw = tensors["a"]
        self.assertEqual((ne, t), ([3, 2], 0))
        self.assertEqual(np.frombuffer(raw, "<f4").tolist(), a.flatten().tolist())
        ne, t, raw = tensors["b"]
        self.assertEqual((ne, t), ([5], 1))
        self.assertEqual(np.frombuffer(raw, "<f2").tobytes(), b.numpy().astype("<f2").tobytes())
        self.assertEqual(tensors["c"][:2], ([64, 3], 2))
        self.assertEqual(len(blob) % 32, 0)

    def test_duplicate_and_bad_input_rejected(self):
        w = GgufWriter()
        w.add("k", 1)
        with self.assertRaisesRegex(ValueError, "duplicate metadata key"):
            w.add("k", 2)
        with self.assertRaisesRegex(ValueError, "columns divisible by 32"):
            w.add_tensor("x", torch.zeros(2, 33), "Q4_0")
        with self.assertRaisesRegex(TypeError, "no GGUF type"):
            w.add("d", {"a": 1})

    def test_exported_transducer_is_complete_and_consistent(self):
        cfg = TransducerConfig(d_model=64, n_layers=2, n_heads=2, ff_dim=128, pred_dim=64, joiner_dim=64)
        model = Transducer(cfg)
        with tempfile.NamedTemporaryFile(suffix=".gguf") as f:
            export_transducer(model, f.name, "q4_0", provenance={"test": True})
            meta, _, tensors, data = read_gguf(open(f.name, "rb").read())
        self.assertEqual(meta["general.architecture"], "earshot-transducer")
        self.assertEqual(meta["earshot.d_model"], 64)
        self.assertEqual(meta["earshot.tokens"][0], "<blk>")
        self.assertEqual(meta["earshot.data_crc32"], zlib.crc32(data))
        expected = transducer_tensors(model)
        self.assertEqual(sorted(tensors), sorted(n for n, _, _ in expected))
        for name, tensor, quantizable in expected:
            ne, t, raw = tensors[name]
            self.assertEqual(ne, list(reversed(tensor.shape)), name)
            self.assertEqual(t, 2 if quantizable else 0, name)
        qkv = model.encoder.blocks[1].attn.qkv.weight
        deq = ggml_dequant_q4_0(tensors["enc.blk.1.attn.qkv.weight"][2], qkv.numel()).reshape(qkv.shape)
        self.assertEqual(quant.fake_q4_0(qkv.detach()).numpy().tobytes(), deq.tobytes())


if __name__ == "__main__":
    unittest.main()
