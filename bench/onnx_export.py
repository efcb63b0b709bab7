"""Exports the encoder of an Earshot transducer file to ONNX, for the onnxruntime comparison.

    /usr/bin/python3 -m bench.onnx_export --gguf models/earshot-en-f32.gguf --out bench/onnx/encoder-fp32.onnx

The graph takes the raw fbank [1, T, 80] (as the engine's debugFbank gives it), applies the model's
CMVN, and runs the whole utterance at once with the streaming chunk mask (chunk_frames,
left_context_frames): docs/model-format.md says this equals chunk-by-chunk decoding, so its output
is comparable to the engine's debugEncode frame for frame. With --stream-out, also a graph of one
chunk with explicit attention and convolution caches, run chunk by chunk as a live stream is (both
checked against the model before export). A sidecar <out>.json names the source
file and its SHA-256 so the benchmark can tell a stale export.
"""
import argparse
import hashlib
import json
import math
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

from training.earshot.features import apply_cmvn
from training.earshot.model import Transducer, chunk_mask
from training.export import read_transducer

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


class OnnxAttention(nn.Module):
    """ChunkedSelfAttention with an additive mask: same maths, but without the -inf fill and
    nan_to_num (no padded rows here), which exports to plain MatMul/Softmax."""

    def __init__(self, attn):
        super().__init__()
        self.a = attn

    def forward(self, x, bias):
        b, t, d = x.shape
        h = self.a.h
        q, k, v = self.a.qkv(self.a.norm(x)).view(b, t, 3, h, d // h).permute(2, 0, 3, 1, 4)
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(d // h) + bias
        y = torch.matmul(torch.softmax(scores, dim=-1), v).transpose(1, 2).reshape(b, t, d)
        return self.a.out(y)


class EncoderGraph(nn.Module):
    def __init__(self, model: Transducer):
        super().__init__()
        self.m = model
        self.attn = nn.ModuleList([OnnxAttention(blk.attn) for blk in model.encoder.blocks])

    def forward(self, fbank):
        cfg = self.m.cfg
        x = apply_cmvn(fbank, self.m.feat_mean, self.m.feat_istd)
        t_out = x.shape[1] // cfg.stack
        x = self.m.encoder.input(x[:, : t_out * cfg.stack].reshape(1, t_out, cfg.stack * cfg.num_mel_bins))
        allowed = chunk_mask(t_out, cfg.chunk_frames, cfg.left_context_frames)
        bias = torch.zeros(t_out, t_out).masked_fill(~allowed, -1e9)
        pad = torch.ones(1, t_out, dtype=torch.bool)
        for blk, attn in zip(self.m.encoder.blocks, self.attn):
            x = x + 0.5 * blk.ff1(x)
            x = x + attn(x, bias)
            x = x + blk.conv(x, pad)
            x = x + 0.5 * blk.ff2(x)
            x = blk.out_norm(x)
        return x


class StreamingEncoderGraph(nn.Module):
    """One decoding chunk with explicit caches, as a streaming engine runs the encoder: the keys and
    values of the last L frames per layer (attention), the last K-1 GLU outputs per layer (causal
    depthwise convolution), and how many cached frames are real (the stream's start has none).
    Inputs fbank [1, C*S, 80] (raw), k_cache/v_cache [N, L, D], conv_cache [N, K-1, D], cached [1]
    (int64); outputs enc [1, C, D] and the updated caches."""

    def __init__(self, model: Transducer):
        super().__init__()
        self.m = model

    def forward(self, fbank, k_cache, v_cache, conv_cache, cached):
        cfg = self.m.cfg
        d, h, L = cfg.d_model, cfg.n_heads, cfg.left_context_frames
        x = apply_cmvn(fbank, self.m.feat_mean, self.m.feat_istd)
        c = x.shape[1] // cfg.stack
        x = self.m.encoder.input(x[:, : c * cfg.stack].reshape(1, c, cfg.stack * cfg.num_mel_bins))
        # Cache slot j (0..L-1, oldest first) holds a real frame iff j >= L - cached.
        slot = torch.arange(L)
        bias = torch.cat([torch.zeros(L).masked_fill(slot < L - cached, -1e9), torch.zeros(c)]).view(1, 1, 1, L + c)
        new_k, new_v, new_conv = [], [], []
        for i, blk in enumerate(self.m.encoder.blocks):
            x = x + 0.5 * blk.ff1(x)
            a = blk.attn
            q, k, v = a.qkv(a.norm(x)).view(1, c, 3, d).unbind(2)
            keys = torch.cat([k_cache[i].unsqueeze(0), k], 1)
            vals = torch.cat([v_cache[i].unsqueeze(0), v], 1)
            new_k.append(keys[0, -L:])
            new_v.append(vals[0, -L:])
            qh = q.view(1, c, h, d // h).transpose(1, 2)
            kh = keys.view(1, L + c, h, d // h).transpose(1, 2)
            vh = vals.view(1, L + c, h, d // h).transpose(1, 2)
            att = torch.softmax(torch.matmul(qh, kh.transpose(-1, -2)) / math.sqrt(d // h) + bias, dim=-1)
            x = x + a.out(torch.matmul(att, vh).transpose(1, 2).reshape(1, c, d))
            cv = blk.conv
            y = torch.cat([conv_cache[i].unsqueeze(0), F.glu(cv.pw1(cv.norm(x)), dim=-1)], 1)
            new_conv.append(y[0, -(cv.k - 1) :])
            y = cv.dw(y.transpose(1, 2)).transpose(1, 2)  # valid convolution: the cache is the causal pad
            x = x + cv.pw2(F.silu(cv.dwnorm(y)))
            x = x + 0.5 * blk.ff2(x)
            x = blk.out_norm(x)
        return x, torch.stack(new_k), torch.stack(new_v), torch.stack(new_conv), torch.clamp(cached + c, max=L)


def empty_caches(cfg):
    n, L, d, k = cfg.n_layers, cfg.left_context_frames, cfg.d_model, cfg.conv_kernel
    return torch.zeros(n, L, d), torch.zeros(n, L, d), torch.zeros(n, k - 1, d), torch.zeros(1, dtype=torch.long)


def stream_encode(graph, fbank, chunk):
    """The streaming graph over a whole utterance, chunk by chunk (for the equality check)."""
    cfg = graph.m.cfg
    caches = empty_caches(cfg)
    out = []
    t = fbank.shape[1] // cfg.stack
    for start in range(0, t, chunk):
        n = min(chunk, t - start)
        enc, *caches = graph(fbank[:, start * cfg.stack : (start + n) * cfg.stack], *caches)
        out.append(enc)
    return torch.cat(out, 1)


def sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gguf", default="models/earshot-en-f32.gguf")
    ap.add_argument("--out", default="bench/onnx/encoder-fp32.onnx")
    ap.add_argument("--stream-out", default=None, help="also the chunk-by-chunk graph with explicit caches")
    ap.add_argument("--opset", type=int, default=14)
    args = ap.parse_args()
    torch.set_num_threads(1)
    model, meta, _ = read_transducer(args.gguf)
    graph = EncoderGraph(model).eval()
    fb = torch.randn(1, 203, model.cfg.num_mel_bins) * 3 + 10
    with torch.no_grad():
        ref, _ = model.encode(fb, torch.tensor([fb.shape[1]]))
        mine = graph(fb)
    err = float((ref - mine).abs().max())
    if err > 1e-4:
        raise SystemExit(f"the ONNX graph differs from the model by {err}")
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with torch.no_grad():
        torch.onnx.export(
            graph,
            (fb,),
            args.out,
            input_names=["fbank"],
            output_names=["enc"],
            dynamic_axes={"fbank": {1: "frames"}, "enc": {1: "enc_frames"}},
            opset_version=args.opset,
            do_constant_folding=True,
        )
    if args.stream_out:
        stream = StreamingEncoderGraph(model).eval()
        with torch.no_grad():
            serr = float((stream_encode(stream, fb, model.cfg.chunk_frames) - ref).abs().max())
        if serr > 1e-4:
            raise SystemExit(f"the streaming graph differs from the model by {serr}")
        caches = empty_caches(model.cfg)
        chunk = fb[:, : model.cfg.chunk_frames * model.cfg.stack]
        with torch.no_grad():
            torch.onnx.export(
                stream,
                (chunk, *caches),
                args.stream_out,
                input_names=["fbank", "k_cache", "v_cache", "conv_cache", "cached"],
                output_names=["enc", "k_cache_out", "v_cache_out", "conv_cache_out", "cached_out"],
                dynamic_axes={"fbank": {1: "frames"}, "enc": {1: "enc_frames"}},
                opset_version=args.opset,
                do_constant_folding=True,
            )
    info = {
        "source": os.path.relpath(os.path.abspath(args.gguf), ROOT),
        "source_sha256": sha256(args.gguf),
        "chunk_frames": model.cfg.chunk_frames,
        "left_context_frames": model.cfg.left_context_frames,
        "d_model": model.cfg.d_model,
        "encoder_parameters": sum(p.numel() for p in model.encoder.parameters()),
        "opset": args.opset,
        "torch": torch.__version__,
        "max_abs_diff_vs_model": err,
        "tokens": meta["earshot.tokens"],
        "pred_context": model.cfg.pred_context,
    }
    with open(args.out + ".json", "w") as f:
        json.dump(info, f, indent=1)
    if args.stream_out:
        with open(args.stream_out + ".json", "w") as f:
            json.dump(
                {
                    **info,
                    "streaming": True,
                    "n_layers": model.cfg.n_layers,
                    "conv_kernel": model.cfg.conv_kernel,
                    "stack": model.cfg.stack,
                    "max_abs_diff_vs_model": serr,
                },
                f,
                indent=1,
            )
    print(
        json.dumps(
            {"onnx": args.out, "bytes": os.path.getsize(args.out), **{k: v for k, v in info.items() if k != "tokens"}}
        )
    )


if __name__ == "__main__":
    main()
