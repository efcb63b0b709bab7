"""Synthesize the training and development speech on the GPU machine.

    python3 -m training.prepare_data --root /tmp/r --out /tmp/earshot_data --train 36000

Writes synth_train<tag>.npz (training voices; training reads every synth_train*.npz) and
dev_heldout.npz (the two held-out voices).
"""
import argparse
import os
import time

from training.earshot.data import Corpus
from training.earshot.synth import HELD_OUT, make_jobs, synthesize, training_voices
from training.earshot.textgen import TextGenerator


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", required=True, help="folder the espeak-ng/flite .debs were unpacked into")
    ap.add_argument("--out", required=True)
    ap.add_argument("--train", type=int, default=36000)
    ap.add_argument("--dev-per-voice", type=int, default=200)
    ap.add_argument("--processes", type=int, default=16)
    ap.add_argument("--engine", default="", help="only voices of this engine (espeak or flite)")
    ap.add_argument("--tag", default="", help="suffix of the training file (synth_train<tag>.npz)")
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    t0 = time.time()
    gen = TextGenerator(seed=args.seed)
    voices = [v for v in training_voices() if v.startswith(args.engine)]
    jobs = make_jobs([gen.sentence() for _ in range(args.train)], voices, seed=args.seed + 1)
    items = synthesize(args.root, jobs, args.processes)
    Corpus.from_items(items).save(os.path.join(args.out, f"synth_train{args.tag}.npz"))
    hours = sum(len(a) for a, _, _ in items) / 16000 / 3600
    print(
        f"[prepare] {len(items)}/{len(jobs)} training utterances, {hours:.1f} h, {time.time() - t0:.0f} s", flush=True
    )
    dev_gen = TextGenerator(seed=99)
    dev_jobs = []
    for i, voice in enumerate(HELD_OUT):
        dev_jobs += make_jobs([dev_gen.sentence() for _ in range(args.dev_per_voice)], [voice], seed=100 + i)
    dev = synthesize(args.root, dev_jobs, args.processes)
    Corpus.from_items(dev).save(os.path.join(args.out, "dev_heldout.npz"))
    print(
        f"[prepare] {len(dev)} held-out development utterances ({', '.join(HELD_OUT)}), " f"{time.time() - t0:.0f} s",
        flush=True,
    )


if __name__ == "__main__":
    main()
