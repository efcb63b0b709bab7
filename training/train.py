"""Train the streaming transducer (BAT or full RNN-T loss) on the GPU machine, resumable.

    python3 -m training.train --run bat --loss bat --minutes 9 --data /tmp/earshot_data --out $OUT

Several GPUs of one host (DistributedDataParallel; each process its own data stream, gradients
averaged, so the global batch is --batch x GPUs):

    torchrun --standalone --nproc_per_node 4 -m training.train --run bat --loss bat --minutes 60

Checkpoints: <run-dir>/last.pt (fp32 + optimizer, the machine's /tmp) every --save-min minutes
and at the end, and <out>/<run>.pt (fp16 weights, small enough to bring back) for resuming on a
fresh machine (--init).
"""
import argparse
import glob
import json
import math
import os
import random
import sys
import time

import torch

from training.earshot import bat
from training.earshot.checkpoint import expand_state
from training.earshot.data import Augmenter, BatchStream, Corpus, waves_to_float
from training.earshot.features import cmvn_of, fbank_batch, spec_augment
from training.earshot.model import Transducer, TransducerConfig, count_parameters
from training.earshot.realdata import load_augment, load_real


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", required=True, help="run name")
    ap.add_argument("--loss", choices=["bat", "rnnt"], default="bat")
    ap.add_argument("--data", default="/tmp/earshot_data")
    ap.add_argument("--real", default="/tmp/earshot_real", help="store of training.real_pack (unpacked)")
    ap.add_argument("--real-share", type=float, default=0.5, help="share of examples that are real speech")
    ap.add_argument(
        "--real-words-power",
        type=float,
        default=0.0,
        help="draw real utterances with weight (words in it) ** power (0: uniform)",
    )
    ap.add_argument("--runs-dir", default="/tmp/earshot_runs")
    ap.add_argument("--out", default=os.environ.get("OUT", "/tmp/earshot_out"))
    ap.add_argument(
        "--init",
        default=None,
        help="weights to start from when the run has no last.pt "
        "(a checkpoint, or a shipped .gguf: its F32 weights, config and CMVN)",
    )
    ap.add_argument("--minutes", type=float, default=9.0)
    ap.add_argument("--max-steps", type=int, default=10**9)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--workers", type=int, default=14)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--warmup", type=int, default=600)
    ap.add_argument("--lr-floor", type=float, default=0.0, help="anneal linearly to this by --anneal-to")
    ap.add_argument("--anneal-from", type=int, default=0)
    ap.add_argument("--anneal-to", type=int, default=0)
    ap.add_argument(
        "--anneal-minutes",
        type=float,
        default=0.0,
        help="anneal linearly to --lr-floor over the last MINUTES of --minutes (by the clock: the step rate of a "
        "machine shared with other jobs is not known in advance)",
    )
    ap.add_argument("--qat", action="store_true")
    ap.add_argument("--chunks", default="1,2,4,4,8,8,8,16,16,32")
    ap.add_argument("--left", type=int, default=64)
    ap.add_argument("--r-down", type=int, default=4)
    ap.add_argument("--r-up", type=int, default=6)
    ap.add_argument("--cif-weight", type=float, default=1.0)
    ap.add_argument("--specaug", action="store_true", help="frequency warp + SpecAugment masks on the features")
    ap.add_argument("--config", default="{}", help="JSON overrides of TransducerConfig")
    ap.add_argument("--save-min", type=float, default=2.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--save-at", default="", help="comma-separated steps at which to keep <out>/<run>_<step>.pt")
    return ap.parse_args(argv)


def load_init(path):
    """A checkpoint dict from a checkpoint, or from an exported .gguf (dequantized weights)."""
    if not path.endswith(".gguf"):
        return torch.load(path, map_location="cpu")
    from training.export import load_gguf

    model = load_gguf(path)
    return {"model": model.state_dict(), "config": model.cfg.to_dict()}


def lr_at(step, args, elapsed_s=0.0):
    lr = args.lr * min((step + 1) / args.warmup, math.sqrt(args.warmup / (step + 1)))
    frac = 0.0
    if args.anneal_to > args.anneal_from and step >= args.anneal_from:
        frac = min(1.0, (step - args.anneal_from) / (args.anneal_to - args.anneal_from))
    if args.anneal_minutes > 0:
        left_s = args.minutes * 60 - elapsed_s
        frac = max(frac, min(1.0, 1 - left_s / (args.anneal_minutes * 60)))
    return lr * (1 - frac) + args.lr_floor * frac


def save(path, model, opt, step, history, args, fp16=False):
    state = {k: (v.half() if fp16 and v.is_floating_point() else v) for k, v in model.state_dict().items()}
    ckpt = {
        "model": state,
        "config": model.cfg.to_dict(),
        "step": step,
        "history": history,
        "args": vars(args),
        "provenance": {
            "run": args.run,
            "loss": args.loss,
            "steps": step,
            "qat": args.qat,
            "date": time.strftime("%Y-%m-%d"),
        },
    }
    if opt is not None:
        ckpt["optimizer"] = opt.state_dict()
    tmp = path + ".tmp"
    torch.save(ckpt, tmp)
    os.replace(tmp, path)


class TransducerLoss(torch.nn.Module):
    """The model and its training loss as one forward(), so DistributedDataParallel sees every
    parameter the step uses (it prepares its gradient all-reduce in forward)."""

    def __init__(self, model, args):
        super().__init__()
        self.model, self.args = model, args

    def forward(self, feats, feat_lens, targets, target_lens, chunk: int):
        model, args = self.model, self.args
        with torch.autocast(device_type=feats.device.type, dtype=torch.bfloat16, enabled=feats.device.type == "cuda"):
            enc, enc_lens = model.encode(feats, feat_lens, chunk=chunk, left=args.left)
        enc = enc.float()
        if args.loss == "bat":
            return bat.bat_loss(model, enc, enc_lens, targets, target_lens, args.r_down, args.r_up)
        trans = bat.full_rnnt_loss(model, enc, enc_lens, targets, target_lens)
        cif = bat.cif_quantity_loss(model.cif_alphas(enc), enc_lens, target_lens) if model.cif else enc.new_zeros(())
        return trans, cif


def main(argv=None):
    args = parse_args(argv)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    if world > 1:  # started by torchrun
        import torch.distributed as dist

        local = int(os.environ.get("LOCAL_RANK", "0"))
        if torch.cuda.is_available():
            torch.cuda.set_device(local)
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
        dev = torch.device(f"cuda:{local}" if torch.cuda.is_available() else "cpu")
    else:
        dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    main_process = rank == 0
    torch.manual_seed(args.seed)
    run_dir = os.path.join(args.runs_dir, args.run)
    os.makedirs(run_dir, exist_ok=True)
    os.makedirs(args.out, exist_ok=True)
    last = os.path.join(run_dir, "last.pt")

    corpus = Corpus.concat([Corpus.load(p) for p in sorted(glob.glob(os.path.join(args.data, "synth_train*.npz")))])
    real = load_real(args.real, split="train")
    noises, rirs = load_augment(args.real)
    if main_process:
        print(
            f"[data] {len(corpus)} synthetic + {len(real)} real training utterances ({len(set(real.voices))} "
            f"speakers, {args.real_share:.0%} of examples); {len(noises)} real noises, {len(rirs)} real rooms",
            flush=True,
        )

    source = last if os.path.exists(last) else args.init
    ckpt = load_init(source) if source else None
    cfg = TransducerConfig(**(ckpt["config"] if ckpt else {}))
    for k, v in json.loads(args.config).items():
        setattr(cfg, k, v)
    cfg.left_context_frames = args.left  # the file's L is the one the model was trained with
    model = Transducer(cfg)
    if ckpt:
        model.load_state_dict(expand_state(ckpt["model"]))
    model.to(dev)
    model.set_qat(args.qat)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.98), weight_decay=1e-3)
    step, history = 0, []
    if ckpt and source == last:
        opt.load_state_dict(ckpt["optimizer"])
        step, history = ckpt["step"], ckpt["history"]
    elif ckpt:
        step, history = ckpt.get("step", 0), ckpt.get("history", [])
    if main_process:
        print(
            f"[model] {count_parameters(model) / 1e6:.2f} M parameters, from {source or 'scratch'} at step {step}, "
            f"qat={args.qat}, loss={args.loss}, {world} process(es)",
            flush=True,
        )

    own_data = 104729 * rank  # each process its own augmentation and batches
    stream = BatchStream(
        Augmenter(corpus, real, args.real_share, noises=noises, rirs=rirs, real_words_power=args.real_words_power),
        args.batch,
        seed=args.seed * 7919 + step + own_data,
    )
    loader = torch.utils.data.DataLoader(
        stream, batch_size=None, num_workers=args.workers, **({"prefetch_factor": 4} if args.workers else {})
    )
    chunks = [int(c) for c in args.chunks.split(",")]
    rng = random.Random(args.seed + step)  # the same chunk sizes on every process: equal step times
    aug_gen = torch.Generator().manual_seed(args.seed + step + own_data)

    def features(batch):
        waves, wave_lens, targets, target_lens = (t.to(dev, non_blocking=True) for t in batch)
        feats, feat_lens = fbank_batch(waves_to_float(waves), wave_lens.cpu())
        return feats, feat_lens.to(dev), targets, target_lens

    it = iter(loader)
    if not ckpt:  # global CMVN from the augmented training distribution
        first = (features(next(it)) for _ in range(8))
        mean, istd = cmvn_of(f[: int(n)].cpu() for feats, feat_lens, _, _ in first for f, n in zip(feats, feat_lens))
        model.feat_mean.copy_(mean.to(dev))
        model.feat_istd.copy_(istd.to(dev))
    step_fn = TransducerLoss(model, args)
    if world > 1:  # rank 0's weights and CMVN go to every process here
        step_fn = torch.nn.parallel.DistributedDataParallel(
            step_fn, device_ids=[dev.index] if dev.type == "cuda" else None
        )

    def out_of_time(mine: bool) -> bool:
        """Every process stops at the same step (the clocks differ a little)."""
        if world == 1:
            return mine
        flag = torch.tensor([float(mine)], device=dev)
        torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
        return bool(flag.item())

    start = time.time()
    last_save = start
    budget = args.minutes * 60
    run_loss = run_cif = 0.0
    n_run = 0
    t_log = time.time()
    while step < args.max_steps and not out_of_time(time.time() - start > budget):
        feats, feat_lens, targets, target_lens = features(next(it))
        if args.specaug:
            feats = spec_augment(feats, feat_lens, model.feat_mean, aug_gen)
        lr = lr_at(step, args, time.time() - start)
        for g in opt.param_groups:
            g["lr"] = lr
        trans, cif = step_fn(feats, feat_lens, targets, target_lens, rng.choice(chunks))
        bsz = feats.shape[0]
        loss = (trans + args.cif_weight * cif) / bsz
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        if torch.isfinite(gnorm):
            opt.step()
        step += 1
        run_loss += float(trans.detach()) / bsz
        run_cif += float(cif.detach()) / bsz
        n_run += 1
        if step % 50 == 0 and main_process:
            el = time.time() - start
            frac = min(1.0, el / budget)
            bar = "#" * int(frac * 30) + "." * (30 - int(frac * 30))
            sps = 50 / (time.time() - t_log)
            t_log = time.time()
            history.append([step, run_loss / n_run, run_cif / n_run, lr, el])
            print(
                f"[{bar}] {args.run} step {step} loss {run_loss / n_run:.3f} cif {run_cif / n_run:.3f} "
                f"lr {lr:.2e} {sps:.1f} steps/s T={feats.shape[1]} U={targets.shape[1]} "
                f"{el / 60:.1f}/{args.minutes:.1f} min",
                flush=True,
            )
            run_loss = run_cif = 0.0
            n_run = 0
        if str(step) in args.save_at.split(",") and main_process:
            save(os.path.join(args.out, f"{args.run}_{step}.pt"), model, None, step, history, args, fp16=True)
        if time.time() - last_save > args.save_min * 60 and main_process:
            save(last, model, opt, step, history, args)
            save(os.path.join(args.out, f"{args.run}.pt"), model, None, step, history, args, fp16=True)
            last_save = time.time()
    if main_process:
        save(last, model, opt, step, history, args)
        save(os.path.join(args.out, f"{args.run}.pt"), model, None, step, history, args, fp16=True)
    checksum = sum(float(p.detach().double().sum()) for p in model.parameters())
    print(f"[done] {args.run} at step {step} (process {rank} of {world}, weights checksum {checksum:.9e})", flush=True)
    sys.stdout.flush()
    os._exit(0)  # do not wait for the endless loader workers


if __name__ == "__main__":
    main()
