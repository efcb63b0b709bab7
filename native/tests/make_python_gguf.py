"""Writes a small GGUF with training/earshot/gguf.py for test_gguf: one float weight stored as F32,
F16, Q4_0 and Q8_0, so the C++ side can check it reads the file and quantizes to the same bytes.
Usage: /usr/bin/python3 native/tests/make_python_gguf.py OUT.gguf (from the repository root)."""
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
from training.earshot.gguf import GgufWriter  # noqa: E402

torch.manual_seed(3)
w = torch.randn(7, 96)
w[0, :32] = 0.0  # an all-zero block
w[1, 5], w[1, 9] = -2.5, 2.5  # equal magnitudes: the first sets the sign
w[2, :32] = torch.arange(32.0) - 16  # ties at x * id + 8.5
writer = GgufWriter()
writer.add("general.architecture", "earshot-test")
writer.add_u32("earshot.format_version", 1)
writer.add("earshot.tokens", ["<blk>", "\u2581", "a"])
for name, ttype in (("w.f32", "F32"), ("w.f16", "F16"), ("w.q4_0", "Q4_0"), ("w.q8_0", "Q8_0")):
    writer.add_tensor(name, w, ttype)
writer.write(sys.argv[1])
