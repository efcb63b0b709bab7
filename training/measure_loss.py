"""BAT vs full RNN-T loss on the same model and batch: peak GPU memory and step time
(forward + backward of encoder, joiner and loss), as the BAT paper's Table 1.

    python3 -m training.measure_loss --out $OUT/loss_table.json
"""
import argparse
import json
import time

import torch

from training.earshot import bat
from training.earshot.model import Transducer, TransducerConfig


def loss_of(model, enc, enc_lens, targets, target_lens, kind, r_down, r_up):
    if kind == "bat":
        trans, cif = bat.bat_loss(model, enc, enc_lens, targets, target_lens, r_down, r_up)
        return trans + cif
    return bat.full_rnnt_loss(model, enc, enc_lens, targets, target_lens)


def timed(step, dev, repeats=10):
    """Mean time and peak memory above the starting allocation of `step`, after one warm-up."""
    step()
    torch.cuda.synchronize(dev)
    torch.cuda.reset_peak_memory_stats(dev)
    base = torch.cuda.memory_allocated(dev)
    t0 = time.time()
    for _ in range(repeats):
        step()
    torch.cuda.synchronize(dev)
    return {
        "step_ms": (time.time() - t0) / repeats * 1000,
        "peak_mib": (torch.cuda.max_memory_allocated(dev) - base) / 2**20,
    }


def measure(model, feats, feat_lens, targets, target_lens, kind, r_down, r_up):
    """The whole step: encoder, joiner and loss, forward and backward."""

    def step():
        model.zero_grad(set_to_none=True)
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16):
            enc, enc_lens = model.encode(feats, feat_lens, chunk=8)
        loss_of(model, enc.float(), enc_lens, targets, target_lens, kind, r_down, r_up).backward()

    return timed(step, feats.device)


def measure_loss_only(model, enc, enc_lens, targets, target_lens, kind, r_down, r_up):
    """The loss alone (joiner + lattice, forward and backward) from a fixed encoder output: what
    the paper's Table 1 compares, without the encoder's cost that both share."""
    enc = enc.detach().requires_grad_(True)
    return timed(lambda: loss_of(model, enc, enc_lens, targets, target_lens, kind, r_down, r_up).backward(), enc.device)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--r-down", type=int, default=4)
    ap.add_argument("--r-up", type=int, default=6)
    args = ap.parse_args()
    dev = torch.device("cuda")
    torch.manual_seed(0)
    model = Transducer(TransducerConfig()).to(dev)
    rows = []
    # Fixed-size synthetic batches: seconds of audio and characters per utterance as in our data
    # (about 13 characters per second), at several batch sizes and utterance lengths.
    for batch, seconds in ((64, 3), (128, 3), (64, 6), (32, 12)):
        frames = seconds * 100
        chars = int(seconds * 13)
        feats = torch.randn(batch, frames, 80, device=dev)
        feat_lens = torch.full((batch,), frames, device=dev)
        targets = torch.randint(1, 29, (batch, chars), device=dev)
        target_lens = torch.full((batch,), chars, device=dev)
        row = {"batch": batch, "seconds": seconds, "T": frames // 4, "U": chars}
        for kind in ("rnnt", "bat"):
            torch.cuda.empty_cache()
            row[kind] = measure(model, feats, feat_lens, targets, target_lens, kind, args.r_down, args.r_up)
        with torch.no_grad(), torch.autocast(device_type="cuda", dtype=torch.bfloat16):
            enc, enc_lens = model.encode(feats, feat_lens, chunk=8)
        for kind in ("rnnt", "bat"):
            torch.cuda.empty_cache()
            row[kind + "_loss_only"] = measure_loss_only(
                model, enc.float(), enc_lens, targets, target_lens, kind, args.r_down, args.r_up
            )
        print(json.dumps(row), flush=True)
        rows.append(row)
    json.dump(
        {"device": torch.cuda.get_device_name(dev), "band": args.r_down + args.r_up, "rows": rows},
        open(args.out, "w"),
        indent=1,
    )


if __name__ == "__main__":
    main()
