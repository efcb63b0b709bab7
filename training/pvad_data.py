"""Data for the speaker encoder and the personal VAD: audio loading, synthetic voices, frame labels,
noise / reverberation and speaker mixtures. Deterministic given a seed.

Runs on Debian's torch 1.13 here and on torch 2.11 on the GPU machine (which has no FLAC/OGG reader:
there `flac -d` from the carried Debian package decodes, and WAV is read with the stdlib).
"""
import hashlib
import os
import random
import shutil
import subprocess
import tempfile
import wave

import numpy as np
import torch
import torchaudio

from training.earshot.features import SAMPLE_RATE, fbank

# ---------------------------------------------------------------------------------------------
# Audio I/O


def read_wav(path: str) -> tuple:
    with wave.open(path, "rb") as w:
        if w.getsampwidth() != 2:
            raise ValueError(f"{path}: only 16-bit PCM WAV is supported, got {8 * w.getsampwidth()}-bit")
        ch, sr, n = w.getnchannels(), w.getframerate(), w.getnframes()
        x = np.frombuffer(w.readframes(n), dtype="<i2").astype(np.float32) / 32768.0
    return x.reshape(-1, ch).mean(1), sr


def write_wav(path: str, x: np.ndarray, sr: int = SAMPLE_RATE) -> None:
    q = np.clip(np.round(x * 32768.0), -32768, 32767).astype("<i2")
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes(q.tobytes())


def _single_thread():
    torch.set_num_threads(1)


def pool(jobs: int):
    """A process pool whose workers each use one torch thread (fbank per job)."""
    from multiprocessing import Pool

    return Pool(jobs, initializer=_single_thread)


def resample(x: np.ndarray, sr: int) -> np.ndarray:
    if sr == SAMPLE_RATE:
        return x.astype(np.float32)
    return torchaudio.functional.resample(torch.from_numpy(x).float(), sr, SAMPLE_RATE).numpy()


def speed_perturb(x: np.ndarray, factor: float) -> np.ndarray:
    """Plays x `factor` times faster (pitch and formants move with it): a new voice from a real one."""
    return resample(x, int(round(SAMPLE_RATE * factor)))


def load_audio(path: str) -> np.ndarray:
    """Mono float32 at 16 kHz from WAV, or FLAC/OGG (torchaudio, else the `flac` program)."""
    if path.endswith(".wav"):
        x, sr = read_wav(path)
        return resample(x, sr)
    try:
        w, sr = torchaudio.load(path)
        return resample(w.mean(0).numpy(), sr)
    except Exception:
        if not path.endswith(".flac") or not shutil.which("flac"):
            raise
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "x.wav")
        subprocess.run(["flac", "-s", "-d", "-f", "-o", out, path], check=True)
        x, sr = read_wav(out)
    return resample(x, sr)


def read_manifest(path: str) -> list:
    """Rows of a tab-separated manifest with a header, as dicts."""
    with open(path) as f:
        header = f.readline().rstrip("\n").split("\t")
        return [dict(zip(header, line.rstrip("\n").split("\t"))) for line in f if line.strip()]


def read_real_store(folder: str) -> list:
    """Rows (key, speaker, corpus) of the shared carry of real recordings (real.tsv beside real.npz:
    no header; key, sample_rate, text, split, speaker, corpus). Only `train` rows may be in it, and
    rows without a speaker id are left out (they cannot be a class or an enrolled target)."""
    path = os.path.join(folder, "real.tsv")
    rows = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            cols = line.rstrip("\n").split("\t")
            if len(cols) != 6:
                raise ValueError(f"{path}:{n}: expected 6 tab-separated columns, got {len(cols)}")
            key, sr, _, split, speaker, corpus = cols
            if split != "train":
                raise ValueError(f"{path}:{n}: split {split!r}: only train speakers may be trained on")
            if int(sr) != SAMPLE_RATE:
                raise ValueError(f"{path}:{n}: sample rate {sr}, expected {SAMPLE_RATE}")
            if speaker:
                # librispeech-train's readers also have a file in librispeech-speakers: one class each
                rows.append((key, speaker.replace("librispeech-train:", "librispeech-speakers:"), corpus))
    return rows


def librispeech_dev_speakers(speakers: list, n: int = 30) -> set:
    """The held-out development speakers: a fixed draw, the same everywhere."""
    return set(random.Random(1234).sample(sorted(speakers), n))


# ---------------------------------------------------------------------------------------------
# Text for synthetic speech

_COMMANDS = [
    "turn on the {room} lights",
    "turn off the {room} lights",
    "dim the {room} lights to {num} percent",
    "set the thermostat to {num} degrees",
    "what is the weather {when}",
    "play some {genre} music",
    "stop the music",
    "open the {thing}",
    "close the {thing}",
    "set a timer for {num} minutes",
    "remind me to {verb} the {thing} {when}",
    "is the {thing} locked",
    "lock the {thing}",
    "start the {appliance}",
    "how long until the {appliance} is done",
    "add {food} to the shopping list",
    "call {name}",
    "what time is it",
    "volume {updown}",
    "next song",
    "turn the {appliance} off",
]
_FILL = {
    "room": ["kitchen", "bedroom", "living room", "hallway", "garage", "bathroom", "office", "garden"],
    "num": ["five", "ten", "twenty", "thirty", "forty five", "sixty", "seventy two", "a hundred"],
    "when": ["today", "tomorrow", "tonight", "this weekend", "at noon", "in the morning"],
    "genre": ["jazz", "rock", "classical", "quiet", "dance", "folk"],
    "thing": ["front door", "back door", "window", "garage door", "curtains", "blinds", "gate"],
    "verb": ["check", "clean", "water", "fix", "open", "feed"],
    "appliance": ["dishwasher", "washing machine", "oven", "fan", "heater", "coffee machine", "vacuum"],
    "food": ["milk", "bread", "eggs", "apples", "coffee", "rice", "butter", "cheese"],
    "name": ["mom", "dad", "Alice", "Bob", "the office", "grandma", "Sam"],
    "updown": ["up", "down"],
}
_WORDS = (
    "the a of and to in is was he she it that for on with as his her they at be this from "
    "have or by one had not but what all were when we there can an your which their said if do "
    "will each about how up out them then many some so these would other into has more two "
    "time could no way people my than first water been call who oil now find long down day did "
    "get come made may part over new sound take only little work know place year live me back "
    "give most very after thing our just name good sentence man think say great where help "
    "through much before line right too mean old any same tell boy follow came want show also "
    "around form three small set put end does another well large must big even such because "
    "turn here why ask went men read need land different home us move try kind hand picture "
    "again change off play spell air away animal house point page letter mother answer found "
    "study still learn should world high every near add food between own below country plant "
    "last school father keep tree never start city earth eye light thought head under story "
    "saw left few while along might close something seem next hard open example begin life "
    "always those both paper together got group often run important until children side feet "
    "car mile night walk white sea began grow took river four carry state once book hear stop "
    "without second later miss idea enough eat face watch far indian really almost let above "
    "girl sometimes mountain cut young talk soon list song being leave family"
).split()


def random_text(rng: random.Random) -> str:
    if rng.random() < 0.5:
        t = rng.choice(_COMMANDS)
        for k, v in _FILL.items():
            while "{" + k + "}" in t:
                t = t.replace("{" + k + "}", rng.choice(v), 1)
        return t
    return " ".join(rng.choice(_WORDS) for _ in range(rng.randint(3, 12)))


# ---------------------------------------------------------------------------------------------
# Synthetic voices

ESPEAK_TRAIN_VOICES = [
    "en-us",
    "en-gb",
    "en-gb-scotland",
    "en-gb-x-gbclan",
    "en-gb-x-gbcwmd",
    "en-us-nyc",
    "de",
    "fr-fr",
    "es",
    "it",
    "nl",
    "pl",
    "sv",
    "hi",
    "pt-br",
    "ru",
    "cs",
    "fi",
]
ESPEAK_DEV_VOICES = ["en-gb-x-rp", "en-029", "da", "ro"]
FLITE_TRAIN_VOICES = ["kal", "kal16", "awb", "slt"]
FLITE_DEV_VOICES = ["rms"]


def espeak_variants(data_dir: str) -> list:
    return sorted(os.listdir(os.path.join(data_dir, "voices", "!v")))


def espeak_voices_with_dict(voices: list, data_dir: str) -> list:
    """The voices whose language dictionary is installed (a trimmed espeak-ng-data may hold only en)."""
    return [v for v in voices if os.path.exists(os.path.join(data_dir, v.split("-")[0] + "_dict"))]


def synthetic_speakers(
    split: str, n_espeak: int, n_flite: int, variants: list, seed: int, espeak_data: str = None
) -> list:
    """Speaker definitions; train and dev share neither voice nor espeak variant. With espeak_data,
    only voices whose dictionary it holds."""
    rng = random.Random(f"{seed}-{split}")
    dev_variants = set(variants[::5])
    vs = [v for v in variants if (v in dev_variants) == (split == "dev")]
    voices = ESPEAK_DEV_VOICES if split == "dev" else ESPEAK_TRAIN_VOICES
    if espeak_data:
        voices = espeak_voices_with_dict(voices, espeak_data)
        if not voices:
            raise ValueError(f"{espeak_data} has no dictionary for any of the {split} voices")
    fvoices = FLITE_DEV_VOICES if split == "dev" else FLITE_TRAIN_VOICES
    speakers = []
    for i in range(n_espeak):
        speakers.append(
            {
                "id": f"espeak-{split}-{i:04d}",
                "engine": "espeak",
                "voice": rng.choice(voices),
                "variant": rng.choice(vs),
                "pitch": rng.randint(15, 85),
                "speed": rng.randint(120, 210),
            }
        )
    for i in range(n_flite):
        v = rng.choice(fvoices)
        f0 = rng.uniform(150, 240) if v == "slt" else rng.uniform(75, 150)
        speakers.append(
            {"id": f"flite-{split}-{i:04d}", "engine": "flite", "voice": v, "f0": f0, "stretch": rng.uniform(0.8, 1.3)}
        )
    return speakers


def _synth_one(job):
    spk, text, idx, out_dir, espeak_bin, espeak_data, flite_bin, seed = job
    rng = random.Random(f"{seed}-{spk['id']}-{idx}")
    path = os.path.join(out_dir, f"{spk['id']}-{idx:02d}.wav")
    raw = path + ".raw.wav"
    if spk["engine"] == "espeak":
        cmd = [espeak_bin] + (["--path=" + os.path.dirname(espeak_data)] if espeak_data else [])
        cmd += [
            "-v",
            f"{spk['voice']}+{spk['variant']}",
            "-p",
            str(max(0, min(99, spk["pitch"] + rng.randint(-5, 5)))),
            "-s",
            str(int(spk["speed"] * rng.uniform(0.9, 1.1))),
            "-w",
            raw,
            text,
        ]
    else:
        cmd = [
            flite_bin,
            "-voice",
            spk["voice"],
            "--setf",
            f"int_f0_target_mean={spk['f0'] * rng.uniform(0.95, 1.05):.1f}",
            "--setf",
            f"duration_stretch={spk['stretch'] * rng.uniform(0.92, 1.08):.3f}",
            "-t",
            text,
            "-o",
            raw,
        ]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    x, sr = read_wav(raw)
    os.remove(raw)
    x = resample(x, sr)
    peak = np.abs(x).max() + 1e-9
    write_wav(path, x / peak * 0.7)
    return spk["id"], path, text


def synthesize(
    speakers: list,
    per_speaker: int,
    out_dir: str,
    seed: int,
    jobs: int,
    espeak_bin="espeak-ng",
    espeak_data=None,
    flite_bin="flite",
) -> list:
    """Synthesizes per_speaker utterances per speaker into out_dir; returns (speaker, path, text)."""
    os.makedirs(out_dir, exist_ok=True)
    work = []
    for spk in speakers:
        rng = random.Random(f"{seed}-text-{spk['id']}")
        for i in range(per_speaker):
            work.append((spk, random_text(rng), i, out_dir, espeak_bin, espeak_data, flite_bin, seed))
    with pool(jobs) as p:
        return p.map(_synth_one, work, chunksize=4)


# ---------------------------------------------------------------------------------------------
# Frame labels from a clean source

HOP, WIN = 160, 400


def frame_count(n_samples: int) -> int:
    return 0 if n_samples < WIN else 1 + (n_samples - WIN) // HOP


def speech_frames(x: np.ndarray, rel_db: float = 35.0, fill_gap: int = 15, min_run: int = 5) -> np.ndarray:
    """Energy-based speech/non-speech per fbank frame (frame k covers samples [160k, 160k+400)).

    Speech is above both (peak - rel_db) and (noise floor + 10 dB); pauses shorter than fill_gap
    frames inside speech count as speech, runs shorter than min_run frames do not.
    """
    n = frame_count(len(x))
    if n == 0:
        return np.zeros(0, dtype=bool)
    idx = np.arange(n)[:, None] * HOP + np.arange(WIN)[None, :]
    e = 10 * np.log10((x[idx] ** 2).mean(1) + 1e-10)
    thr = max(e.max() - rel_db, np.percentile(e, 10) + 10.0, -70.0)
    s = e > thr
    return _min_runs(_fill_gaps(s, fill_gap), min_run)


def _runs(s: np.ndarray):
    d = np.diff(np.concatenate([[0], s.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1)))


def _fill_gaps(s, gap):
    s = s.copy()
    r = _runs(s)
    for (a0, a1), (b0, _) in zip(r, r[1:]):
        if b0 - a1 < gap:
            s[a1:b0] = True
    return s


def _min_runs(s, n):
    s = s.copy()
    for a, b in _runs(s):
        if b - a < n:
            s[a:b] = False
    return s


def trim_silence(x: np.ndarray, margin_frames: int = 10) -> np.ndarray:
    s = speech_frames(x)
    if not s.any():
        return x
    on = np.flatnonzero(s)
    a = max(0, (on[0] - margin_frames) * HOP)
    b = min(len(x), (on[-1] + margin_frames) * HOP + WIN)
    return x[a:b]


def split_at_pauses(x: np.ndarray, rng, min_s: float = 1.0, max_s: float = 4.0, pause_frames: int = 8) -> list:
    """Cuts a long recording into pieces of about min_s..max_s seconds, at pauses where possible
    (so pieces start and end like utterances); pieces longer than max_s * 1.5 are cut hard."""
    s = speech_frames(x, fill_gap=pause_frames)
    cuts = [(a + b) // 2 * HOP for a, b in _runs(~s) if b - a >= pause_frames]
    pieces, start = [], 0
    goal = rng.uniform(min_s, max_s) * SAMPLE_RATE
    for c in cuts + [len(x)]:
        while c - start > 1.5 * max_s * SAMPLE_RATE:
            pieces.append(x[start : start + int(goal)])
            start += int(goal)
            goal = rng.uniform(min_s, max_s) * SAMPLE_RATE
        if c - start >= goal or c == len(x):
            if c - start >= 0.5 * SAMPLE_RATE:
                pieces.append(x[start:c])
            start = c
            goal = rng.uniform(min_s, max_s) * SAMPLE_RATE
    return [trim_silence(p) for p in pieces]


# ---------------------------------------------------------------------------------------------
# Noise and reverberation


def make_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    kind = rng.integers(0, 5)
    w = rng.standard_normal(n).astype(np.float32)
    if kind in (1, 2):  # pink / brown: shape the spectrum
        spec = np.fft.rfft(w)
        f = np.arange(len(spec)) + 1.0
        spec /= f ** (0.5 if kind == 1 else 1.0)
        w = np.fft.irfft(spec, n).astype(np.float32)
    elif kind == 3:  # mains hum with harmonics plus a little hiss
        t = np.arange(n) / SAMPLE_RATE
        f0 = rng.choice([50.0, 60.0])
        w = sum(np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 6.3)) / k for k in range(1, 8)).astype(np.float32)
        w += 0.05 * rng.standard_normal(n).astype(np.float32)
    elif kind == 4:  # band-limited bursts (knocks, clatter) over a low floor
        env = np.full(n, 0.05, dtype=np.float32)
        for _ in range(rng.integers(1, 6)):
            a = rng.integers(0, max(1, n - 1600))
            ln = int(rng.integers(400, 4000))
            env[a : a + ln] += np.exp(-np.arange(min(ln, n - a)) / (ln / 4)).astype(np.float32)
        spec = np.fft.rfft(w)
        lo, hi = sorted(rng.integers(1, len(spec), 2))
        spec[:lo] *= 0.1
        spec[hi:] *= 0.1
        w = np.fft.irfft(spec, n).astype(np.float32) * env
    return w / (np.sqrt((w**2).mean()) + 1e-9)


def make_rir(rng: np.random.Generator) -> np.ndarray:
    rt60 = rng.uniform(0.15, 0.8)
    n = int(rt60 * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    h = rng.standard_normal(n) * np.exp(-6.9 * t / rt60)
    d = int(rng.integers(16, 160))  # direct path after a short delay
    h[:d] = 0
    h[d] = np.abs(h[d:]).max() * rng.uniform(1.5, 4.0)
    return (h / np.sqrt((h**2).sum())).astype(np.float32)


def reverberate(x: np.ndarray, rir: np.ndarray) -> np.ndarray:
    m = len(x) + len(rir) - 1
    nfft = 1 << (m - 1).bit_length()
    y = np.fft.irfft(np.fft.rfft(x, nfft) * np.fft.rfft(rir, nfft), nfft)[: len(x)]
    return y.astype(np.float32)


def add_noise(x: np.ndarray, snr_db: float, rng: np.random.Generator, speech_rms: float) -> np.ndarray:
    return x + pick_noise(len(x), rng) * speech_rms * 10 ** (-snr_db / 20)


# Real measured rooms and background recordings (../shared/data/augment), split by file so that the
# development mixtures hear a room and noises that training never did. Empty until load_augment_bank.
AUG_DEV_FILES = {
    "rir/spatialaudio_seminar_room_clap.flac",
    "noise/usc_sse_water_urban_background.ogg",
    "noise/freesound_cc0_city.ogg",
}
BANK = {"rirs": [], "noises": []}
P_REAL_RIR, P_REAL_NOISE = 0.4, 0.4  # shares of the reverberated / noisy copies that use the real material


def pack_augment_bank(data_dir: str, split: str) -> dict:
    """{"rir/..": int16 array, "noise/..": int16 array} of the split's augmentation files (16 kHz)."""
    if split not in ("train", "dev"):
        raise ValueError(f"split must be train or dev, not {split!r}")
    out = {}
    for r in read_manifest(os.path.join(data_dir, "augment", "manifest.tsv")):
        if (r["path"] in AUG_DEV_FILES) == (split == "dev"):
            x = load_audio(os.path.join(data_dir, "augment", r["path"]))
            out[r["path"]] = np.clip(np.round(x / (np.abs(x).max() + 1e-9) * 32767), -32768, 32767).astype(np.int16)
    return out


def load_augment_bank(source) -> None:
    """Fills BANK from pack_augment_bank's dict or an .npz of it (forked workers inherit it).
    RIRs start at their direct path (the measurements' leading silence would only delay speech)."""
    items = dict(np.load(source)) if isinstance(source, str) else source
    if not items:
        raise ValueError(f"augmentation bank {source if isinstance(source, str) else ''} is empty")
    BANK["rirs"], BANK["noises"] = [], []
    for k in sorted(items):
        x = items[k].astype(np.float32) / 32768.0
        if k.startswith("rir/"):
            x = x[max(0, int(np.argmax(np.abs(x))) - 16) :]
            BANK["rirs"].append(x / np.sqrt((x**2).sum() + 1e-12))
        elif k.startswith("noise/"):
            BANK["noises"].append(x / (np.sqrt((x**2).mean()) + 1e-9))
        else:
            raise ValueError(f"augmentation bank entry {k!r} is neither rir/ nor noise/")


def pick_rir(rng: np.random.Generator) -> np.ndarray:
    if BANK["rirs"] and rng.random() < P_REAL_RIR:
        return BANK["rirs"][int(rng.integers(len(BANK["rirs"])))]
    return make_rir(rng)


def pick_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """Unit-RMS noise: a random stretch of a real recording (looped if short) or a synthetic one."""
    if BANK["noises"] and rng.random() < P_REAL_NOISE:
        w = BANK["noises"][int(rng.integers(len(BANK["noises"])))]
        w = np.roll(np.tile(w, n // len(w) + 1), -int(rng.integers(len(w))))[:n]
        return (w / (np.sqrt((w**2).mean()) + 1e-9)).astype(np.float32)
    return make_noise(n, rng)


def band_limit(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A telephone-grade channel, as in the recognizer's recipe: an 8 kHz round trip, or a
    low-pass at 3.4-7 kHz (sometimes with a 300 Hz high-pass: small loudspeaker microphones)."""
    if rng.random() < 0.5:
        y = torchaudio.functional.resample(torch.from_numpy(x).float(), SAMPLE_RATE, 8000)
        return torchaudio.functional.resample(y, 8000, SAMPLE_RATE).numpy()[: len(x)]
    spec = np.fft.rfft(x)
    f = np.fft.rfftfreq(len(x), 1.0 / SAMPLE_RATE)
    spec[(f > rng.uniform(3400, 7000)) | (f < (300.0 if rng.random() < 0.3 else 0.0))] = 0
    return np.fft.irfft(spec, len(x)).astype(np.float32)


def augment(x: np.ndarray, rng: np.random.Generator, p_reverb=0.3, p_noise=0.6, p_band=0.0) -> np.ndarray:
    """Reverberation, band limiting and noise for speaker-encoder training copies."""
    rms = np.sqrt((x**2).mean()) + 1e-9
    if rng.random() < p_reverb:
        x = reverberate(x, pick_rir(rng))
    if p_band and rng.random() < p_band:
        x = band_limit(x, rng)
    if rng.random() < p_noise:
        x = add_noise(x, rng.uniform(5, 30), rng, rms)
    return (x / (np.abs(x).max() + 1e-9) * rng.uniform(0.1, 0.9)).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Personal VAD mixtures


def make_mixture(
    target: list,
    others: list,
    rng: np.random.Generator,
    max_seconds: float = 10.0,
    segments=(2, 5),
    p_noise=0.7,
    p_reverb=0.3,
    snr=(3.0, 30.0),
    info: dict = None,
    p_short_gap: float = 0.0,
    p_band: float = 0.0,
):
    """Concatenates utterances of the target and of other speakers with silences.

    target / others: lists of clean float32 utterances (others: a list per other speaker).
    Returns (wave, labels per fbank frame: 0 non-speech, 1 target, 2 other, spans) where spans are
    (first frame, end frame, is_target) of each placed utterance's labelled speech. `info`, if given,
    receives the conditions drawn (reverb, snr_db: None without noise, band: band-limited). Rooms
    and noises come from BANK when it is loaded; p_band draws a telephone-grade channel. With p_short_gap, a gap is
    instead -0.2 to 0.1 s: the pieces keep about 100 ms of silence at each end, so the next speech
    starts 0-300 ms after the last (speaker turns; draws are unchanged when it is 0).
    """
    n_seg = int(rng.integers(segments[0], segments[1] + 1))
    pieces, owners = [], []
    for i in range(n_seg):
        is_target = (i == 0 and rng.random() < 0.5) or rng.random() < 0.5 or not others
        pool = target if is_target else others[int(rng.integers(len(others)))]
        pieces.append(pool[int(rng.integers(len(pool)))])
        owners.append(is_target)
    if not any(owners):  # every mixture has some target speech
        j = int(rng.integers(n_seg))
        pieces[j], owners[j] = target[int(rng.integers(len(target)))], True
    max_n = int(max_seconds * SAMPLE_RATE)
    lab_src, placed = [], []
    # Every placement starts on a frame boundary so source frames map exactly onto mixture frames.
    pos = int(rng.uniform(0.0, 1.0) * SAMPLE_RATE) // HOP * HOP
    end = pos
    for x, own in zip(pieces, owners):
        gap = int(rng.uniform(0.1, 1.2) * SAMPLE_RATE) // HOP * HOP
        if p_short_gap and rng.random() < p_short_gap:
            gap = int(round(rng.uniform(-0.2, 0.1) * SAMPLE_RATE / HOP)) * HOP
        x = x[: len(x) // HOP * HOP]
        gain = 10 ** (rng.uniform(-6, 6) / 20)
        if pos + len(x) > max_n:
            if pos + SAMPLE_RATE > max_n:
                break
            x = x[: (max_n - pos) // HOP * HOP]
        placed.append((pos, x * gain))
        lab_src.append((pos, x, own))
        end = pos + len(x)
        pos = max(end + gap, pos + HOP)
    wave_ = np.zeros(max(pos, end), np.float32)
    for start, x in placed:
        wave_[start : start + len(x)] += x
    n_frames = frame_count(len(wave_))
    labels = np.zeros(n_frames, dtype=np.int64)
    spans = []
    for start, x, own in lab_src:
        s = speech_frames(x)
        off = start // HOP
        k = np.flatnonzero(s) + off
        k = k[k < n_frames]
        labels[k] = 1 if own else 2
        if len(k):
            spans.append((int(k[0]), int(k[-1]) + 1, bool(own)))
    active = np.zeros(len(wave_), dtype=bool)
    active[: len(labels) * HOP] = labels.repeat(HOP) > 0
    rms = np.sqrt((wave_[active] ** 2).mean()) if active.any() else 0.05
    reverb = rng.random() < p_reverb
    if reverb:
        wave_ = reverberate(wave_, pick_rir(rng))
    band = bool(p_band) and rng.random() < p_band
    if band:
        wave_ = band_limit(wave_, rng)
    snr_db = None
    if rng.random() < p_noise:
        snr_db = float(rng.uniform(*snr))
        wave_ = add_noise(wave_, snr_db, rng, rms)
    wave_ = wave_ / (np.abs(wave_).max() + 1e-9) * rng.uniform(0.05, 0.9)
    if info is not None:
        info.update(reverb=bool(reverb), snr_db=snr_db, band=band)
    return wave_.astype(np.float32), labels, spans


def features(x: np.ndarray) -> torch.Tensor:
    return fbank(torch.from_numpy(x))


def stable_seed(*parts) -> int:
    return int(hashlib.sha1("-".join(map(str, parts)).encode()).hexdigest()[:8], 16)
