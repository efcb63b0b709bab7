"""ggml-exact Q4_0 / Q8_0 quantization and the fake-quant ops QAT uses (docs/model-format.md).

One place for the arithmetic: the GGUF exporter packs what `quantize_q4_0` / `quantize_q8_0`
return, and QAT's forward uses `fake_q4_0` / `fake_q8_0`, which are exactly dequantize(quantize(x)).
All blocks are 32 consecutive values along the last dimension (a linear layer's input dimension).
"""
import torch

BLOCK = 32


def _blocks(x: torch.Tensor) -> torch.Tensor:
    if x.shape[-1] % BLOCK:
        raise ValueError(f"last dimension {x.shape[-1]} is not a multiple of {BLOCK}")
    return x.reshape(*x.shape[:-1], x.shape[-1] // BLOCK, BLOCK)


def fp16_round(x: torch.Tensor) -> torch.Tensor:
    """fp32 -> fp16 (round to nearest even, as ggml's F16C path and its scalar fallback) -> fp32."""
    return x.half().float()


def _round_half_away(v: torch.Tensor) -> torch.Tensor:
    """C's roundf. torch.round rounds half to even, and floor(|v| + 0.5) is off for 0.49999997."""
    t = torch.trunc(v)
    return t + torch.sign(v) * ((v - t).abs() >= 0.5).to(v.dtype)


def quantize_q4_0(x: torch.Tensor):
    """Returns (q uint8 in 0..15 [..., nb, 32], d fp16 [..., nb]) as ggml's quantize_row_q4_0_ref."""
    xb = _blocks(x.detach().float())
    idx = xb.abs().argmax(dim=-1, keepdim=True)  # argmax returns the first index on ties
    m = xb.gather(-1, idx)
    d = m / -8.0
    inv = torch.where(d != 0, 1.0 / torch.where(d != 0, d, torch.ones_like(d)), torch.zeros_like(d))
    # (int8_t)(x*id + 8.5f) truncates toward zero; then MIN(15, .). Values are >= 0.5 here.
    q = torch.trunc(xb * inv + 8.5).clamp(max=15).to(torch.uint8)
    return q, d.squeeze(-1).half()


def dequantize_q4_0(q: torch.Tensor, d: torch.Tensor, shape) -> torch.Tensor:
    return ((q.float() - 8.0) * d.float().unsqueeze(-1)).reshape(shape)


def quantize_q8_0(x: torch.Tensor):
    """Returns (q int8 [..., nb, 32], d fp16 [..., nb]) as ggml's quantize_row_q8_0_ref."""
    xb = _blocks(x.detach().float())
    amax = xb.abs().amax(dim=-1, keepdim=True)
    d = amax / 127.0
    inv = torch.where(d != 0, 1.0 / torch.where(d != 0, d, torch.ones_like(d)), torch.zeros_like(d))
    q = _round_half_away(xb * inv).to(torch.int8)
    return q, d.squeeze(-1).half()


def dequantize_q8_0(q: torch.Tensor, d: torch.Tensor, shape) -> torch.Tensor:
    return (q.float() * d.float().unsqueeze(-1)).reshape(shape)


def _fake_q4_0_values(x: torch.Tensor) -> torch.Tensor:
    q, d = quantize_q4_0(x)
    return dequantize_q4_0(q, d, x.shape).to(x.dtype)


def _fake_q8_0_values(x: torch.Tensor) -> torch.Tensor:
    q, d = quantize_q8_0(x)
    return dequantize_q8_0(q, d, x.shape).to(x.dtype)


class _StraightThrough(torch.autograd.Function):
    """Forward returns the quantized values exactly (x + (fq - x).detach() would round);
    backward passes the gradient through unchanged."""

    @staticmethod
    def forward(ctx, x, values):
        return values

    @staticmethod
    def backward(ctx, grad):
        return grad, None


def fake_q4_0(x: torch.Tensor) -> torch.Tensor:
    """Q4_0 round trip in the forward, identity gradient (straight-through estimator)."""
    return _StraightThrough.apply(x, _fake_q4_0_values(x))


def fake_q8_0(x: torch.Tensor) -> torch.Tensor:
    """Q8_0 round trip in the forward, identity gradient (straight-through estimator)."""
    return _StraightThrough.apply(x, _fake_q8_0_values(x))


def pack_q4_0(x: torch.Tensor) -> bytes:
    """ggml block_q4_0 bytes of a [rows, cols] weight: per block fp16 d, then byte j = q[j] | q[j+16] << 4."""
    q, d = quantize_q4_0(x.reshape(-1, x.shape[-1]))
    q = q.reshape(-1, BLOCK).to(torch.int32)
    nib = (q[:, :16] | (q[:, 16:] << 4)).to(torch.uint8)
    d16 = d.reshape(-1, 1).contiguous().view(torch.uint8).reshape(-1, 2)
    return torch.cat([d16, nib], dim=1).contiguous().numpy().tobytes()


def pack_q8_0(x: torch.Tensor) -> bytes:
    """ggml block_q8_0 bytes: per block fp16 d, then 32 int8."""
    q, d = quantize_q8_0(x.reshape(-1, x.shape[-1]))
    q = q.reshape(-1, BLOCK).view(torch.uint8)
    d16 = d.reshape(-1, 1).contiguous().view(torch.uint8).reshape(-1, 2)
    return torch.cat([d16, q], dim=1).contiguous().numpy().tobytes()


def unpack_q4_0(data: bytes, rows: int, cols: int) -> torch.Tensor:
    """Inverse of pack_q4_0 (dequantized float32 [rows, cols])."""
    raw = torch.frombuffer(bytearray(data), dtype=torch.uint8).reshape(-1, 18)
    d = raw[:, :2].contiguous().view(torch.float16).float()
    nib = raw[:, 2:].to(torch.int32)
    q = torch.cat([nib & 15, nib >> 4], dim=1).float()
    return ((q - 8.0) * d).reshape(rows, cols)


def unpack_q8_0(data: bytes, rows: int, cols: int) -> torch.Tensor:
    raw = torch.frombuffer(bytearray(data), dtype=torch.uint8).reshape(-1, 34)
    d = raw[:, :2].contiguous().view(torch.float16).float()
    q = raw[:, 2:].contiguous().view(torch.int8).float()
    return (q * d).reshape(rows, cols)
