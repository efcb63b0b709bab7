"""Checkpoint weights: plain (fp32/fp16) or compact (int8 rows) for carrying to a fresh GPU machine."""
import torch


def compact_state(state):
    """Smaller checkpoint for carrying to a fresh GPU machine: 2-D+ float tensors as int8 with a
    per-row scale (nearly lossless for continuing training), the rest fp16."""
    out = {}
    for k, v in state.items():
        if v.is_floating_point() and v.dim() >= 2:
            rows = v.float().reshape(v.shape[0], -1)
            scale = rows.abs().amax(1, keepdim=True).clamp(min=1e-12) / 127
            out[k] = {"q": torch.round(rows / scale).to(torch.int8), "scale": scale, "shape": list(v.shape)}
        else:
            out[k] = v.half() if v.is_floating_point() else v
    return out


def expand_state(state):
    return {
        k: (v["q"].float() * v["scale"]).reshape(v["shape"])
        if isinstance(v, dict)
        else (v.float() if v.is_floating_point() else v)
        for k, v in state.items()
    }


if __name__ == "__main__":
    # python3 -m training.earshot.checkpoint runs/bat_qat.pt .carry/ckpt/bat_qat.pt
    import sys

    ckpt = torch.load(sys.argv[1], map_location="cpu")
    ckpt["model"] = compact_state(expand_state(ckpt["model"]))
    ckpt.pop("optimizer", None)
    torch.save(ckpt, sys.argv[2])
