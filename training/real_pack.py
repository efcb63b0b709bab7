"""The transcribed real recordings of ../shared/data as one store for every recipe.

A store is <out>/real.npz (int16 at 16 kHz per key) and <out>/real.tsv, no header, tab-separated:
key, sample rate (16000), spoken-form text, split, speaker, corpus. `earshot.realdata.load_real`
reads it. The `split` column of the manifests is by speaker and is kept as it is: `dev` speakers
are for measuring only.

Here, straight from ../shared (for measuring on dev, or tests):

    /usr/bin/python3 -m training.real_pack pack --data ../shared/data --splits dev --out runs/real_dev

For the GPU machine, which cannot see ../shared and takes at most 64 MiB a call: the train rows
as one Opus stream at 16 kbps (3.3 h in about 24 MB; 100 ms of silence between recordings so the
codec does not smear one into the next), with opusdec's Debian packages beside it:

    /usr/bin/python3 -m training.real_pack pack --splits train --opus --out .carry/real
    python3 -m training.real_pack unpack --carry .carry/real --out /tmp/earshot_real    # there
"""
import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import wave

import numpy as np

SR = 16000
GAP = int(0.1 * SR)
# Folders of transcribed speech (augment/ holds noises and rooms).
CORPORA = [
    "speech-commands",
    "librispeech-speakers",
    "librispeech-train",
    "vctk",
    "common-voice-en",
    "cmu-arctic",
    "fsdd",
    "audiomnist",
    "klettres-en",
    "ktuberling-en",
]
# Phoneme drills of klettres are sounds, not words; ktuberling's sound ids as spoken.
SKIP = {"aw", "ch", "th"}
SPOKEN = {"palmtree": "palm tree", "fallingstar": "falling star", "brocolli": "broccoli", "sphynx": "sphinx"}
OPUS_DEBS = ["opus-tools", "libopusfile0", "libopus0", "libogg0", "libopusenc0", "libflac12"]


def spoken_form(text: str) -> str:
    """Lower case letters, apostrophes and single spaces (the model's characters). The manifests
    hold no digits; klettres' "letter A" is the letter's name."""
    text = text.lower().replace("-", " ")
    text = re.sub(r"^letter\s+", "", text)
    words = [SPOKEN.get(w, w) for w in re.sub(r"[^a-z' ]", " ", text).split()]
    return " ".join(w.strip("'") for w in words if w.strip("'"))


def read_manifest(path: str):
    with open(path, encoding="utf-8") as f:
        head = f.readline().rstrip("\n").split("\t")
        for line in f:
            yield dict(zip(head, line.rstrip("\n").split("\t")))


def manifest_rows(data: str, splits):
    """(corpus, audio path, speaker, spoken text, split) for each usable row."""
    for corpus in CORPORA:
        path = os.path.join(data, corpus, "manifest.tsv")
        if not os.path.exists(path):
            continue
        for i, r in enumerate(read_manifest(path)):
            if r["split"] not in splits or r["transcript"].lower() in SKIP:
                continue
            text = spoken_form(r["transcript"])
            if not text:
                continue
            # Rows without a speaker id are their own speaker (the README keeps them in train).
            speaker = f"{corpus}:{r['speaker_id'] or 'row%d' % i}"
            yield corpus, os.path.join(data, corpus, r["path"]), speaker, text, r["split"]


def load_16k(path: str) -> np.ndarray:
    """Mono float32 at 16 kHz, peak at 0.9 (AudioMNIST is recorded near -40 dBFS)."""
    import torchaudio

    w, sr = torchaudio.load(path)
    x = w.mean(0)
    if sr != SR:
        x = torchaudio.functional.resample(x, sr, SR)
    x = x.numpy().astype(np.float32)
    return x / (np.abs(x).max() + 1e-9) * 0.9


def to_int16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x * 32768), -32768, 32767).astype(np.int16)


def write_store(out: str, arrays: dict, rows, name: str = "real") -> None:
    os.makedirs(out, exist_ok=True)
    np.savez(os.path.join(out, f"{name}.npz"), **arrays)
    with open(os.path.join(out, f"{name}.tsv"), "w", encoding="utf-8") as f:
        f.writelines("\t".join(map(str, r)) + "\n" for r in rows)


def write_wav(path: str, x: np.ndarray) -> None:
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SR)
        w.writeframes(x.tobytes())


def read_wav_int16(path: str) -> np.ndarray:
    with wave.open(path, "rb") as w:
        if w.getframerate() != SR or w.getsampwidth() != 2 or w.getnchannels() != 1:
            raise ValueError(
                f"{path}: expected 16 kHz 16-bit mono, got {w.getframerate()} Hz, "
                f"{8 * w.getsampwidth()} bit, {w.getnchannels()} channels"
            )
        return np.frombuffer(w.readframes(w.getnframes()), np.int16)


def pack(args) -> None:
    splits = set(args.splits.split(","))
    arrays, rows = {}, []
    for n, (corpus, path, speaker, text, split) in enumerate(manifest_rows(args.data, splits)):
        key = f"{corpus}/{n:05d}"
        arrays[key] = to_int16(load_16k(path))
        rows.append((key, SR, text, split, speaker, corpus))
    seconds = sum(len(a) for a in arrays.values()) / SR
    if not args.opus:
        write_store(args.out, arrays, rows)
        if args.augment:
            pack_augment(args)
        print(f"{len(rows)} recordings, {seconds / 3600:.2f} h -> {args.out}")
        return
    write_opus(args.out, "real", arrays, rows, args.kbps)
    if args.augment:
        pack_augment(args)
    for deb in OPUS_DEBS:
        if not glob.glob(os.path.join(args.out, f"{deb}_*.deb")):
            subprocess.run(["apt-get", "download", deb], cwd=args.out, check=True, stdout=subprocess.DEVNULL)
    size = sum(os.path.getsize(f) for f in glob.glob(os.path.join(args.out, "*"))) / 2**20
    print(f"{len(rows)} recordings, {seconds / 3600:.2f} h, {size:.1f} MiB in all -> {args.out}")


def write_opus(out: str, name: str, arrays: dict, rows, kbps: int) -> None:
    """<out>/<name>.opus (the recordings one after another) and <out>/<name>.tsv (each row plus
    its offset and length in samples)."""
    os.makedirs(out, exist_ok=True)
    gap = np.zeros(GAP, np.int16)
    with open(os.path.join(out, f"{name}.tsv"), "w", encoding="utf-8") as f:
        offset = 0
        for r in rows:
            n = len(arrays[r[0]])
            f.write("\t".join(map(str, r)) + f"\t{offset}\t{n}\n")
            offset += n + GAP
    with tempfile.TemporaryDirectory() as tmp:
        wav = os.path.join(tmp, "all.wav")
        write_wav(wav, np.concatenate([x for r in rows for x in (arrays[r[0]], gap)]))
        subprocess.run(
            ["opusenc", "--quiet", "--bitrate", str(kbps), "--framesize", "20", wav, os.path.join(out, f"{name}.opus")],
            check=True,
        )


def pack_augment(args) -> None:
    """augment/: the noises (noise.opus: they are recordings like the speech) and the room
    impulse responses (rir.npz, float32 from the direct path on, at most 0.8 s, unit energy)."""
    arrays, rows, rirs = {}, [], {}
    for i, r in enumerate(read_manifest(os.path.join(args.data, "augment", "manifest.tsv"))):
        x = load_16k(os.path.join(args.data, "augment", r["path"]))
        if r["path"].startswith("rir/"):
            h = x[max(0, int(np.argmax(np.abs(x))) - 16) :][: int(0.8 * SR)]
            rirs[f"rir{i}"] = (h / np.sqrt(np.sum(h * h))).astype(np.float32)
        else:
            key = f"noise/{i:02d}"
            arrays[key] = to_int16(x)
            rows.append((key, SR, "", "noise", "", "augment"))
    if args.opus:
        write_opus(args.out, "noise", arrays, rows, args.kbps)
    else:
        write_store(args.out, arrays, rows, "noise")
    np.savez(os.path.join(args.out, "rir.npz"), **rirs)


def unpack(args) -> None:
    """The carried Opus streams back into stores (real.npz/.tsv, noise.npz/.tsv) and rir.npz."""
    opusdec, env = "opusdec", dict(os.environ)
    debs = glob.glob(os.path.join(args.carry, "*.deb"))
    if debs:  # the GPU machine has no opusdec: the carried packages, unpacked, not installed
        root = os.path.join(tempfile.gettempdir(), "opus_root")
        for deb in debs:
            subprocess.run(["dpkg", "-x", deb, root], check=True)
        opusdec = f"{root}/usr/bin/opusdec"
        env["LD_LIBRARY_PATH"] = f"{root}/usr/lib/x86_64-linux-gnu:{root}/lib/x86_64-linux-gnu"
    for opus in sorted(glob.glob(os.path.join(args.carry, "*.opus"))):
        name = os.path.basename(opus)[:-5]
        with tempfile.TemporaryDirectory() as tmp:
            wav = os.path.join(tmp, "all.wav")
            subprocess.run([opusdec, "--quiet", "--rate", str(SR), "--force-wav", opus, wav], check=True, env=env)
            audio = read_wav_int16(wav)
        arrays, rows = {}, []
        for line in open(os.path.join(args.carry, f"{name}.tsv"), encoding="utf-8"):
            *row, offset, n = line.rstrip("\n").split("\t")
            arrays[row[0]] = audio[int(offset) : int(offset) + int(n)]
            rows.append(row)
        write_store(args.out, arrays, rows, name)
        print(f"{name}: {len(rows)} recordings, {len(audio) / SR / 3600:.2f} h -> {args.out}")
    if os.path.exists(os.path.join(args.carry, "rir.npz")):
        shutil.copy(os.path.join(args.carry, "rir.npz"), args.out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("pack")
    p.add_argument("--data", default="../shared/data")
    p.add_argument("--splits", default="train", help="comma-separated: train, dev")
    p.add_argument("--out", required=True)
    p.add_argument("--opus", action="store_true", help="one Opus stream and opusdec's packages (for the GPU machine)")
    p.add_argument("--kbps", type=int, default=16)
    p.add_argument("--augment", action="store_true", help="also augment/'s noises and room responses")
    u = sub.add_parser("unpack")
    u.add_argument("--carry", default=".carry/real")
    u.add_argument("--out", default="/tmp/earshot_real")
    args = ap.parse_args(argv)
    {"pack": pack, "unpack": unpack}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
