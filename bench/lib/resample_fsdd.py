"""FSDD development takes (0-4) resampled to 16 kHz by torchaudio, as the recipe's training data
was (training/earshot/realdata.py), for bench/recognizer.ts's resampler check: the daemon reads
8 kHz WAV through its own resampler, and the two differ above 4 kHz.

    /usr/bin/python3 bench/lib/resample_fsdd.py --data ../shared/data/fsdd --out runs/bench/fsdd-torchaudio
"""
import argparse
import glob
import os
import wave

import numpy as np
import torchaudio


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    n = 0
    for path in sorted(glob.glob(os.path.join(args.data, "recordings", "*_[0-4].wav"))):
        dst = os.path.join(args.out, os.path.basename(path))
        if os.path.exists(dst):
            continue
        w, sr = torchaudio.load(path)
        x = torchaudio.functional.resample(w[0], sr, 16000).numpy()
        with wave.open(dst, "wb") as f:
            f.setnchannels(1)
            f.setsampwidth(2)
            f.setframerate(16000)
            f.writeframes(np.clip(np.round(x * 32768), -32768, 32767).astype("<i2").tobytes())
        n += 1
    print(f'{{"written": {n}}}')


if __name__ == "__main__":
    main()
