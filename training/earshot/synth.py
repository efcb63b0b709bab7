"""Speech synthesis with espeak-ng and flite (Debian binaries unpacked with dpkg -x, see
../shared/gpu-synthesis.md), run on the GPU machine's 16 cores.

A voice is `espeak:<accent>+<variant>` or `flite:<name>`. Two voices are held out of training
entirely (HELD_OUT) and make the synthetic development set.
"""
import os
import random
import subprocess
import tempfile
import wave
from multiprocessing import Pool

import numpy as np
import torch
import torchaudio

ESPEAK_ACCENTS = ["en-us", "en", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-rp", "en-gb-x-gbcwmd", "en-029"]
ESPEAK_VARIANTS = [
    "m1",
    "m2",
    "m3",
    "m4",
    "m5",
    "m6",
    "m7",
    "m8",
    "f1",
    "f2",
    "f4",
    "f5",
    "Alex",
    "Alicia",
    "Andrea",
    "Andy",
    "Annie",
    "Denis",
    "Gene",
    "Henrique",
    "Hugo",
    "Jacky",
    "Lee",
    "Marco",
    "Mario",
    "Michael",
    "Mike",
    "Storm",
    "adam",
    "anika",
    "announcer",
    "antonio",
    "aunty",
    "belinda",
    "benjamin",
    "boris",
    "caleb",
    "david",
    "ed",
    "edward",
    "grandma",
    "grandpa",
    "iven",
    "john",
    "linda",
    "max",
    "michel",
    "norbert",
    "paul",
    "pedro",
    "quincy",
    "rob",
    "robert",
    "sandro",
    "shelby",
    "steph",
    "travis",
    "victor",
    "zac",
    "klatt",
    "klatt2",
    "klatt3",
    "croak",
]
FLITE_VOICES = ["kal", "kal16", "awb", "slt"]
# Never in training: a flite voice and an espeak variant (with every accent).
HELD_OUT = ["flite:rms", "espeak:en-us+f3"]

TARGET_SR = 16000


class Synthesizer:
    def __init__(self, root: str):
        """root: the folder the .deb files were unpacked into (has usr/bin/espeak-ng)."""
        self.root = root
        lib = f"{root}/usr/lib/x86_64-linux-gnu"
        self.env = dict(os.environ, LD_LIBRARY_PATH=f"{lib}:{root}/lib/x86_64-linux-gnu:{lib}/pulseaudio")
        self.espeak = [f"{root}/usr/bin/espeak-ng", f"--path={lib}"]
        self.flite = f"{root}/usr/bin/flite"

    def say(self, text: str, voice: str, rate: float, pitch: float) -> np.ndarray:
        """float32 waveform at 16 kHz. rate and pitch are relative (1.0 = the voice's default)."""
        with tempfile.NamedTemporaryFile(suffix=".wav", dir="/dev/shm") as f:
            if voice.startswith("espeak:"):
                cmd = self.espeak + [
                    "-v",
                    voice[7:],
                    "-s",
                    str(int(170 * rate)),
                    "-p",
                    str(int(50 * pitch)),
                    "-w",
                    f.name,
                    text,
                ]
            else:
                cmd = [
                    self.flite,
                    "-voice",
                    voice[6:],
                    "--setf",
                    f"duration_stretch={1.0 / rate:.3f}",
                    "--setf",
                    f"int_f0_target_mean={(110 if voice in ('flite:slt',) else 95) * pitch:.1f}",
                    "-t",
                    text,
                    "-o",
                    f.name,
                ]
            subprocess.run(cmd, env=self.env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            with wave.open(f.name) as w:
                sr = w.getframerate()
                x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0
        if sr != TARGET_SR:
            x = torchaudio.functional.resample(torch.from_numpy(x), sr, TARGET_SR).numpy()
        return trim(x)


def trim(x: np.ndarray, margin_s: float = 0.02) -> np.ndarray:
    """Cut leading/trailing silence (10 ms frames under 2% of the peak frame's RMS), keep a margin."""
    hop = TARGET_SR // 100
    n = len(x) // hop
    if n == 0:
        return x
    rms = np.sqrt((x[: n * hop].reshape(n, hop) ** 2).mean(1) + 1e-12)
    on = np.nonzero(rms > 0.02 * rms.max())[0]
    if len(on) == 0:
        return x
    m = int(margin_s * TARGET_SR)
    return x[max(0, on[0] * hop - m) : min(len(x), (on[-1] + 1) * hop + m)]


def training_voices():
    v = [f"espeak:{a}+{var}" for a in ESPEAK_ACCENTS for var in ESPEAK_VARIANTS]
    v += [f"espeak:{a}" for a in ESPEAK_ACCENTS]
    return [x for x in v if x not in HELD_OUT] + [f"flite:{x}" for x in FLITE_VOICES]


_SYNTH = None


def _init(root):
    global _SYNTH
    torch.set_num_threads(1)
    _SYNTH = Synthesizer(root)


def _job(args):
    text, voice, rate, pitch = args
    try:
        x = _SYNTH.say(text, voice, rate, pitch)
    except (subprocess.CalledProcessError, OSError, wave.Error):
        return None
    return (np.clip(x * 32768.0, -32768, 32767).astype(np.int16), text, voice)


def synthesize(root: str, jobs, processes: int = 16):
    """jobs: (text, voice, rate, pitch) -> list of (int16 audio, text, voice); failures dropped."""
    with Pool(processes, initializer=_init, initargs=(root,)) as pool:
        return [r for r in pool.imap(_job, jobs, chunksize=32) if r is not None]


def make_jobs(texts, voices, seed: int, flite_share: float = 0.3):
    """Pairs each text with a voice (flite voices get `flite_share` of the texts), rate and pitch."""
    r = random.Random(seed)
    esp = [v for v in voices if v.startswith("espeak:")]
    fl = [v for v in voices if v.startswith("flite:")]
    jobs = []
    for t in texts:
        v = r.choice(fl) if fl and (not esp or r.random() < flite_share) else r.choice(esp)
        jobs.append((t, v, r.uniform(0.8, 1.25), r.uniform(0.75, 1.3)))
    return jobs
