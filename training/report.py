"""Loss curves (PNG) of the recipe's runs from the histories kept in their checkpoints.

    python3 -m training.report --run bat=runs/bat_float.pt --run bat_qat=runs/bat_qat.pt \
        --run cmp_bat=runs/cmp_bat.pt --run cmp_rnnt=runs/cmp_rnnt.pt --out training/reports/loss_curves.png
"""
import argparse

import torch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", action="append", required=True, help="name=checkpoint")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4))
    for spec in args.run:
        name, path = spec.split("=", 1)
        hist = torch.load(path, map_location="cpu")["history"]  # [step, transducer loss, cif loss, lr, s]
        steps = [h[0] for h in hist]
        ax1.plot(steps, [h[1] for h in hist], label=name, lw=1)
        ax2.plot(steps, [h[2] for h in hist], label=name, lw=1)
    ax1.set_yscale("log")
    ax1.set_title("transducer loss per utterance (BAT: banded; RNN-T: full lattice)", fontsize=9)
    ax2.set_title("CIF quantity loss |sum(alpha) - U| per utterance", fontsize=9)
    for ax in (ax1, ax2):
        ax.set_xlabel("step")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)


if __name__ == "__main__":
    main()
