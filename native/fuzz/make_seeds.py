"""Seed corpus for fuzz_gguf, written with training/earshot/gguf.py: small valid Earshot files covering
every metadata type and tensor type. Usage: /usr/bin/python3 native/fuzz/make_seeds.py OUT_DIR"""
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
from training.earshot import gguf  # noqa: E402

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
torch.manual_seed(0)


def save(name, writer):
    writer.write(os.path.join(out, name + ".gguf"))


w = gguf.GgufWriter()
save("empty", w)

w = gguf.GgufWriter()
w.add("general.architecture", "earshot-transducer")
w.add("earshot.tokens", ["<blk>", "\u2581", "a", "b"])
w.add("earshot.has_cif", True)
w.add_f32("earshot.feat.frame_shift_ms", 10.0)
w.add_u32("earshot.d_model", 32)
w.add_tensor("feat.mean", torch.randn(80))
w.add_tensor("enc.in.weight", torch.randn(3, 64), "Q4_0")
w.add_tensor("q8.weight", torch.randn(2, 32), "Q8_0")
w.add_tensor("h.weight", torch.randn(3, 5), "F16")
save("small-model", w)

w = gguf.GgufWriter()
for i, (vtype, value) in enumerate(
    [
        (gguf.UINT8, 7),
        (gguf.INT8, -7),
        (gguf.UINT16, 700),
        (gguf.INT16, -700),
        (gguf.INT32, -70000),
        (gguf.UINT64, 1 << 40),
        (gguf.INT64, -(1 << 40)),
        (gguf.FLOAT64, 0.25),
        (gguf.BOOL, False),
    ]
):
    w.add_typed(f"k.{i}", vtype, value)
w.add_typed("k.u8s", gguf.ARRAY, [1, 2, 3], gguf.UINT8)
w.add_typed("k.bools", gguf.ARRAY, [True, False], gguf.BOOL)
w.add_typed("k.f32s", gguf.ARRAY, [0.5, -1.5], gguf.FLOAT32)
w.add_tensor("v", torch.randn(32), "Q8_0")
save("all-types", w)
