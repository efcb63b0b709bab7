"""Write a trained transducer as the engine's GGUF file (docs/model-format.md).

    python3 -m training.export --ckpt runs/bat/last.pt --out models/earshot-en-int4.gguf --weights q4_0
"""
import argparse
import json

import torch

from training.earshot import tokens as tok
from training.earshot.checkpoint import expand_state
from training.earshot.features import FRAME_LENGTH_MS, FRAME_SHIFT_MS, NUM_MEL_BINS, SAMPLE_RATE
from training.earshot.gguf import GgufWriter, read_gguf
from training.earshot.model import Transducer, TransducerConfig

FORMAT_VERSION = 1
WEIGHT_TYPES = {"q4_0": "Q4_0", "q8_0": "Q8_0", "f16": "F16", "f32": "F32"}


def transducer_tensors(model: Transducer):
    """(gguf name, tensor, quantizable) for every tensor of the file, in file order.
    Quantizable = the weights the contract marks Q4_0 (all linear layers but the CIF head)."""
    enc = model.encoder
    out = [
        ("feat.mean", model.feat_mean, False),
        ("feat.istd", model.feat_istd, False),
        ("enc.in.weight", enc.input.weight, True),
        ("enc.in.bias", enc.input.bias, False),
    ]

    def lin(name, m):
        out.extend([(f"{name}.weight", m.weight, True), (f"{name}.bias", m.bias, False)])

    def norm(name, m):
        out.extend([(f"{name}.weight", m.weight, False), (f"{name}.bias", m.bias, False)])

    for i, blk in enumerate(enc.blocks):
        p = f"enc.blk.{i}"
        for ff_name, ff in (("ff1", blk.ff1), ("ff2", blk.ff2)):
            norm(f"{p}.{ff_name}.norm", ff.norm)
            lin(f"{p}.{ff_name}.up", ff.up)
            lin(f"{p}.{ff_name}.down", ff.down)
        norm(f"{p}.attn.norm", blk.attn.norm)
        lin(f"{p}.attn.qkv", blk.attn.qkv)
        lin(f"{p}.attn.out", blk.attn.out)
        norm(f"{p}.conv.norm", blk.conv.norm)
        lin(f"{p}.conv.pw1", blk.conv.pw1)
        # Conv1d weight [D, 1, K]: column k multiplies input t-K+1+k (k = K-1 is the current frame).
        out.append((f"{p}.conv.dw.weight", blk.conv.dw.weight.squeeze(1), False))
        out.append((f"{p}.conv.dw.bias", blk.conv.dw.bias, False))
        norm(f"{p}.conv.dwnorm", blk.conv.dwnorm)
        lin(f"{p}.conv.pw2", blk.conv.pw2)
        norm(f"{p}.out_norm", blk.out_norm)
    out.append(("pred.embed.weight", model.predictor.embed.weight, False))
    lin("pred.ctx", model.predictor.ctx)
    lin("join.enc", model.joiner.enc)
    lin("join.pred", model.joiner.pred)
    lin("join.out", model.joiner.out)
    if model.cif is not None:
        out.extend([("cif.weight", model.cif.weight, False), ("cif.bias", model.cif.bias, False)])
    if model.eou is not None:
        for layer in ("fc1", "fc2"):
            lin = getattr(model.eou, layer)
            out.extend([(f"eou.{layer}.weight", lin.weight, False), (f"eou.{layer}.bias", lin.bias, False)])
    return out


def export_transducer(
    model: Transducer,
    path: str,
    weights: str = "q4_0",
    name: str = "earshot-en",
    token_list=None,
    provenance: dict = None,
) -> int:
    """Writes the file; returns its size in bytes."""
    if weights not in WEIGHT_TYPES:
        raise ValueError(f"unknown weight type {weights!r} (choose from {sorted(WEIGHT_TYPES)})")
    cfg = model.cfg
    token_list = list(token_list or tok.TOKENS)
    if len(token_list) != cfg.vocab_size:
        raise ValueError(f"{len(token_list)} tokens for a vocabulary of {cfg.vocab_size}")
    w = GgufWriter()
    w.add("general.architecture", "earshot-transducer")
    w.add("general.name", name)
    w.add_u32("earshot.format_version", FORMAT_VERSION)
    w.add("earshot.provenance", json.dumps(provenance or {}, sort_keys=True))
    w.add_u32("earshot.feat.sample_rate", SAMPLE_RATE)
    w.add_u32("earshot.feat.num_mel_bins", NUM_MEL_BINS)
    w.add_f32("earshot.feat.frame_length_ms", FRAME_LENGTH_MS)
    w.add_f32("earshot.feat.frame_shift_ms", FRAME_SHIFT_MS)
    for key, value in (
        ("vocab_size", cfg.vocab_size),
        ("blank_id", model.blank),
        ("d_model", cfg.d_model),
        ("n_layers", cfg.n_layers),
        ("n_heads", cfg.n_heads),
        ("ff_dim", cfg.ff_dim),
        ("conv_kernel", cfg.conv_kernel),
        ("stack", cfg.stack),
        ("pred_dim", cfg.pred_dim),
        ("pred_context", cfg.pred_context),
        ("joiner_dim", cfg.joiner_dim),
        ("chunk_frames", cfg.chunk_frames),
        ("left_context_frames", cfg.left_context_frames),
    ):
        w.add_u32(f"earshot.{key}", value)
    w.add("earshot.has_cif", bool(cfg.has_cif))
    if cfg.eou_hidden:
        w.add_u32("earshot.eou_hidden", cfg.eou_hidden)
    w.add("earshot.tokens", token_list)
    for tname, tensor, quantizable in transducer_tensors(model):
        w.add_tensor(tname, tensor, WEIGHT_TYPES[weights] if quantizable else "F32")
    return w.write(path)


def read_transducer(path: str):
    """(the PyTorch model of an exported file, quantized weights dequantized; the file's metadata;
    whether any weight is stored quantized, i.e. whether QAT mode computes the file's arithmetic)."""
    meta, tensors = read_gguf(path)
    if meta.get("general.architecture") != "earshot-transducer":
        raise ValueError(f"{path}: not an earshot-transducer file ({meta.get('general.architecture')})")
    cfg = TransducerConfig(
        **{
            k: meta[f"earshot.{k}"]
            for k in (
                "vocab_size",
                "d_model",
                "n_layers",
                "n_heads",
                "ff_dim",
                "conv_kernel",
                "stack",
                "pred_dim",
                "pred_context",
                "joiner_dim",
                "chunk_frames",
                "left_context_frames",
                "has_cif",
            )
        },
        num_mel_bins=meta["earshot.feat.num_mel_bins"],
        eou_hidden=meta.get("earshot.eou_hidden", 0),
    )
    model = Transducer(cfg)
    with torch.no_grad():
        # The exporter's own name list, so the two directions cannot drift apart.
        for name, param, _ in transducer_tensors(model):
            if name not in tensors:
                raise ValueError(f"{path}: tensor {name} missing")
            param.copy_(tensors[name][0].reshape(param.shape))
    return model.eval(), meta, any(t in ("Q4_0", "Q8_0") for _, t in tensors.values())


def load_gguf(path: str) -> Transducer:
    """The PyTorch model of an exported file (quantized weights dequantized): for checking that a
    shipped file decodes as its checkpoint did."""
    return read_transducer(path)[0]


def load_checkpoint(path: str, map_location="cpu") -> Transducer:
    ckpt = torch.load(path, map_location=map_location)
    model = Transducer(TransducerConfig(**ckpt["config"]))
    model.load_state_dict(expand_state(ckpt["model"]))
    return model


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", required=True, help="checkpoint written by training/train.py")
    ap.add_argument("--out", required=True)
    ap.add_argument("--weights", default="q4_0", choices=sorted(WEIGHT_TYPES))
    ap.add_argument("--name", default="earshot-en")
    args = ap.parse_args()
    ckpt = torch.load(args.ckpt, map_location="cpu")
    model = load_checkpoint(args.ckpt)
    size = export_transducer(model, args.out, args.weights, args.name, provenance=ckpt.get("provenance"))
    print(f"wrote {args.out}: {size} bytes, {args.weights} weights")


if __name__ == "__main__":
    main()
