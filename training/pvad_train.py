"""Trains the speaker encoder and the personal VAD (FiLM, and the concatenation baseline).

On the GPU machine (see models/PVAD_CARD.md for the exact calls), both models from one synthesis:
    python3 -m training.pvad_train all --carry .carry/pvad --deb .carry/deb .carry/pvad --out $OUT
or one at a time (`spkenc`, then `pvad --spkenc spkenc.pt`). Several `--variants` train side by side.
Locally, as a smoke test: add --tiny (few speakers, few steps, CPU).
"""
import argparse
import glob
import json
import math
import os
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from training import pvad_data as d
from training import pvad_export as px
from training.earshot.features import cmvn_of, fbank
from training.earshot.pvad import PersonalVad, SpeakerEncoder, count_parameters

SPK_CFG = dict(hidden=256, n_layers=3, embed_dim=128, window_frames=160, window_hop=80)
VAD_CFG = dict(hidden=128, embed_dim=128)


def log(*a):
    print(f"[{time.strftime('%H:%M:%S')}]", *a, flush=True)


def setup_tools(deb_dirs, tools=None):
    """espeak-ng, its data and flite: from `tools` (a root the Debian packages were unpacked into, or
    a .tar.xz of one, unpacked to /tmp/r once), else the carried .deb folders, else the system's."""
    root = "/tmp/r"
    if tools and tools.endswith((".tar.xz", ".tar")):
        if not os.path.exists(f"{root}/usr/bin/espeak-ng"):
            os.makedirs(root, exist_ok=True)
            subprocess.run(["tar", "-C", root, "-xf", tools], check=True)
    elif tools:
        root = tools
    elif deb_dirs:
        os.makedirs(root, exist_ok=True)
        for dd in deb_dirs:
            for f in glob.glob(os.path.join(dd, "*.deb")):
                subprocess.run(["dpkg", "-x", f, root], check=True)
    else:
        return "espeak-ng", None, "flite"
    if not os.path.exists(f"{root}/usr/bin/espeak-ng"):
        raise SystemExit(f"no usr/bin/espeak-ng under {root} (from --tools {tools} / --deb {deb_dirs})")
    lib = [
        f"{root}/usr/lib/x86_64-linux-gnu",
        f"{root}/lib/x86_64-linux-gnu",
        f"{root}/usr/lib/x86_64-linux-gnu/pulseaudio",
    ]
    os.environ["LD_LIBRARY_PATH"] = ":".join(lib + [os.environ.get("LD_LIBRARY_PATH", "")])
    os.environ["PATH"] = f"{root}/usr/bin:" + os.environ["PATH"]
    return f"{root}/usr/bin/espeak-ng", f"{root}/usr/lib/x86_64-linux-gnu/espeak-ng-data", f"{root}/usr/bin/flite"


_REAL = {}


def _load_trimmed(job):
    """job: (path or (npz, key), speed factor). Real recordings are peak-normalized like the synthetic
    ones (some corpora are recorded 30 dB lower) before the mixtures set their levels."""
    src, factor = job
    if isinstance(src, tuple):
        npz, key = src
        if npz not in _REAL:  # each worker opens the store once and reads only its keys
            _REAL[npz] = np.load(npz)
        x = _REAL[npz][key].astype(np.float32) / 32768.0
        x = x / (np.abs(x).max() + 1e-9) * 0.7
    else:
        x = d.load_audio(src)
    return d.trim_silence(x if factor == 1.0 else d.speed_perturb(x, factor))


def real_rows(args):
    """(source, speaker, corpus) of the real recordings: the shared store (--real) or the old carry."""
    if args.real:
        npz = os.path.join(args.real, "real.npz")
        rows = [((npz, k), s, c) for k, s, c in d.read_real_store(args.real)]
    else:
        rows = [
            (os.path.join(args.carry, r["path"]), r["speaker"], r["source"])
            for r in d.read_manifest(os.path.join(args.carry, "manifest.tsv"))
        ]
    if args.tiny:
        keep = sorted({s for _, s, _ in rows})[: args.tiny]
        rows = [r for r in rows if r[1] in keep]
    return rows


def load_speakers(args, split="train"):
    """{speaker: [utterances]} from the real recordings and freshly synthesized voices."""
    espeak, espeak_data, flite = setup_tools(args.deb, args.tools)
    if args.aug:
        d.load_augment_bank(args.aug)
        log(f"augmentation bank {args.aug}: {len(d.BANK['rirs'])} rooms, {len(d.BANK['noises'])} noises")
    rows = real_rows(args)
    espeak_dir = espeak_data or "/usr/lib/x86_64-linux-gnu/espeak-ng-data"
    variants = d.espeak_variants(espeak_dir)
    n_es, n_fl, per = (
        (args.tiny, min(2, args.n_flite), 3) if args.tiny else (args.n_espeak, args.n_flite, args.per_voice)
    )
    syn = d.synthetic_speakers(split, n_es, n_fl, variants, args.seed, espeak_dir)
    log(f"espeak voices: {sorted({s['voice'] for s in syn if s['engine'] == 'espeak'})}")
    t = time.time()
    made = d.synthesize(syn, per, os.path.join(args.work, "synth"), args.seed, args.jobs, espeak, espeak_data, flite)
    log(f"synthesized {len(made)} utterances of {len(syn)} voices in {time.time() - t:.1f}s")
    # --speed-perturb: each real speaker also at these speeds, as new speakers (more real-sounding voices)
    paths = [
        (src, s + (f"@{f:g}" if f != 1.0 else ""), corpus, f)
        for f in [1.0] + list(args.speed_perturb)
        for src, s, corpus in rows
    ]
    paths += [(p, s, "synth", 1.0) for s, p, _ in made]
    t = time.time()
    with d.pool(args.jobs) as pool:
        audio = pool.map(_load_trimmed, [(p, f) for p, _, _, f in paths], chunksize=8)
    speakers, source = {}, {}
    for (p, s, src, _), x in zip(paths, audio):
        if len(x) >= d.WIN * 2:
            speakers.setdefault(s, []).append(x)
            source[s] = src
    n_real = sum(1 for s in speakers if source[s] != "synth")
    log(
        f"{len(speakers)} speakers ({n_real} real), "
        f"{sum(len(x) for v in speakers.values() for x in v) / 16000 / 3600:.2f} h, loaded in {time.time() - t:.1f}s"
    )
    return speakers, source


class Budget:
    """Training progress 0..1: the larger of steps done and wall time used (--*-minutes), so a run
    on a busy machine still finishes its cosine schedule in time."""

    def __init__(self, steps, minutes):
        self.steps, self.seconds, self.t0 = steps, (minutes or 0) * 60, time.time()

    def progress(self, step):
        p = step / self.steps
        if self.seconds:
            p = max(p, (time.time() - self.t0) / self.seconds)
        return min(p, 1.0)


# ---------------------------------------------------------------------------------------------
# Speaker encoder


def _spk_feature_job(job):
    utts, seed, augment_it, p_band = job
    rng = np.random.default_rng(seed)
    x = np.concatenate(utts)
    while len(x) < 28000:  # at least 1.75 s so a 160-frame window fits
        x = np.concatenate([x, x])
    if augment_it:
        x = d.augment(x, rng, p_band=p_band)
    return d.features(x).numpy().astype(np.float16)


class AamSoftmax(nn.Module):
    def __init__(self, dim, n_classes, margin=0.2, scale=30.0):
        super().__init__()
        self.w = nn.Parameter(torch.randn(n_classes, dim) * 0.01)
        self.margin, self.scale = margin, scale

    def forward(self, emb, y, margin):
        cos = F.linear(F.normalize(emb, dim=-1), F.normalize(self.w, dim=-1)).clamp(-1 + 1e-6, 1 - 1e-6)
        theta = torch.acos(cos)
        target = torch.cos(theta + margin)
        onehot = F.one_hot(y, cos.shape[1]).bool()
        logits = torch.where(onehot, target, cos) * self.scale
        return F.cross_entropy(logits, y), (cos.argmax(1) == y).float().mean()


def train_spkenc(args, dev, speakers=None, source=None):
    if speakers is None:
        speakers, source = load_speakers(args)
    names = sorted(speakers)
    # Chunks of at most ~20 s per feature job; copies: one clean, args.copies-1 augmented.
    jobs, owner = [], []
    for si, s in enumerate(names):
        utts, cur, chunks = speakers[s], [], []
        for x in utts:
            cur.append(x)
            if sum(len(u) for u in cur) > 20 * 16000:
                chunks.append(cur)
                cur = []
        if cur:
            chunks.append(cur)
        for ci, ch in enumerate(chunks):
            for k in range(args.copies):
                jobs.append((ch, d.stable_seed(args.seed, s, ci, k), k > 0, args.p_band))
                owner.append(si)
    t = time.time()
    with d.pool(args.jobs) as pool:
        feats = pool.map(_spk_feature_job, jobs, chunksize=4)
    log(f"speaker features: {len(feats)} chunks in {time.time() - t:.1f}s")
    mean, istd = cmvn_of(f for f, (_, _, aug, _) in zip(feats, jobs) if not aug)
    lens = [len(f) for f in feats]
    starts = np.concatenate([[0], np.cumsum(lens)[:-1]])
    allf = torch.from_numpy(np.concatenate(feats)).to(dev)
    ranges = {}
    for (a, n), si in zip(zip(starts, lens), owner):
        ranges.setdefault(si, []).append((int(a), int(n)))
    real = [si for si, s in enumerate(names) if source[s] != "synth"]
    synth = [si for si, s in enumerate(names) if source[s] == "synth"]
    model = SpeakerEncoder(**SPK_CFG).to(dev)
    model.set_cmvn(mean.to(dev), istd.to(dev))
    head = AamSoftmax(SPK_CFG["embed_dim"], len(names)).to(dev)
    log(
        f"speaker encoder: {count_parameters(model)} parameters, {len(names)} classes "
        f"({len(real)} real, {len(synth)} synthetic)"
    )
    opt = torch.optim.AdamW(list(model.parameters()) + list(head.parameters()), lr=args.lr, weight_decay=1e-4)
    steps, B, max_w = args.steps, args.batch, SPK_CFG["window_frames"]
    rng = np.random.default_rng(args.seed)
    t = last_save = time.time()
    budget = Budget(steps, args.spk_minutes)
    info = dict(
        cfg=SPK_CFG,
        classes=len(names),
        real=len(real),
        synthetic=len(synth),
        steps=steps,
        batch=B,
        min_window=args.min_window,
        hours=float(sum(lens) / 100 / 3600),
        seed=args.seed,
        p_band=args.p_band,
        aug=os.path.basename(args.aug) if args.aug else None,
    )
    path = os.path.join(args.out, "spkenc.pt")
    step = 0
    while budget.progress(step) < 1.0:
        lr = args.lr * min(1.0, (step + 1) / 200) * 0.5 * (1 + math.cos(math.pi * budget.progress(step)))
        for g in opt.param_groups:
            g["lr"] = lr
        # --min-window below the full window: windows of every length (the speaker check embeds pieces
        # of 0.3 s on); measured worse on the dev set (models/PVAD_CARD.md), so off by default.
        W = int(rng.integers(args.min_window, max_w + 1)) if args.min_window < max_w else max_w
        ar = torch.arange(W, device=dev)
        n_real = int(B * args.real_share) if synth else B
        ys = list(rng.choice(real, n_real)) + (list(rng.choice(synth, B - n_real)) if synth else [])
        st = []
        for si in ys:
            a, n = ranges[si][int(rng.integers(len(ranges[si])))]
            st.append(a + int(rng.integers(0, n - W + 1)))
        idx = torch.tensor(st, device=dev)[:, None] + ar
        x = allf[idx].float()
        y = torch.tensor(ys, device=dev)
        margin = args.margin * min(1.0, step / (0.3 * steps))
        loss, acc = head(model.embed_windows(x), y, margin)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 3.0)
        opt.step()
        if step % 200 == 0:
            log(f"spk step {step} loss {loss.item():.3f} acc {acc.item():.3f} lr {lr:.2e} ({time.time() - t:.0f}s)")
        step += 1
        if time.time() - last_save > args.save_seconds:  # a usable model if the run is cut short
            save_checkpoint(model, dict(info, steps=step, partial=True), path)
            last_save = time.time()
    log(f"spk step {step} loss {loss.item():.3f} acc {acc.item():.3f} ({time.time() - t:.0f}s)")
    info["steps"] = step
    save_checkpoint(model, info, path)
    log("saved spkenc.pt", json.dumps(info))
    return path


def save_checkpoint(model, info, path):
    """Atomically (a reader never sees half a file), CPU tensors."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    torch.save({"state": state, "info": info}, path + ".tmp")
    os.replace(path + ".tmp", path)


# ---------------------------------------------------------------------------------------------
# Personal VAD

_POOL = {}


def _mix_job(job):
    seed, ti, others = job
    rng = np.random.default_rng(seed)
    names, utts = _POOL["names"], _POOL["utts"]
    w, lab, _ = d.make_mixture(
        utts[names[ti]], [utts[names[o]] for o in others], rng, p_short_gap=_POOL["p_short_gap"], p_band=_POOL["p_band"]
    )
    return d.features(w).numpy().astype(np.float16), lab.astype(np.int8)


def _pieces(utts, rng):
    """Long recordings cut at pauses into 1-4 s pieces (commands are short); short ones kept whole."""
    out = []
    for x in utts:
        out.extend([x] if len(x) <= 4 * 16000 else d.split_at_pauses(x, rng) or [x])
    return out


def enrollment_embeddings(model, utts, rng, n, dev):
    """n embeddings per speaker, each from a random 4-10 s draw of its speech."""
    out = []
    for _ in range(n):
        order = rng.permutation(len(utts))
        x, total = [], 0
        for i in order:
            u = utts[i]
            if len(u) > 10 * 16000:
                a = int(rng.integers(0, len(u) - 4 * 16000))
                u = u[a : a + int(rng.uniform(4, 10) * 16000)]
            x.append(u)
            total += len(u)
            if total > 4 * 16000:
                break
        # fbank on the model's device: thousands of speakers make this loop long on one CPU thread
        f = fbank(torch.from_numpy(np.concatenate(x)).to(dev))
        with torch.no_grad():
            out.append(model.embed_utterance(f).cpu())
    return torch.stack(out)


def _mixture_jobs(names, source, n, seed):
    rng = np.random.default_rng(seed)
    real = [i for i, s in enumerate(names) if source[s] != "synth"]
    work = []
    for k in range(n):
        ti = int(rng.choice(real)) if rng.random() < 0.5 else int(rng.integers(len(names)))
        others = [int(o) for o in rng.choice(len(names), int(rng.integers(1, 3)))]
        others = [o for o in others if o != ti] or [(ti + 1) % len(names)]
        work.append((d.stable_seed(seed, k), ti, others))
    return work


def start_mixtures(args, speakers, source):
    """Starts building the training and validation mixtures in a process pool; returns a getter.

    The pool forks before CUDA is touched, and works while the speaker encoder trains."""
    names = sorted(speakers)
    _POOL.update(
        names=names,
        p_short_gap=args.p_short_gap,
        p_band=args.p_band,
        utts={s: _pieces(speakers[s], np.random.default_rng(d.stable_seed(args.seed, s))) for s in names},
    )
    sets = [
        _mixture_jobs(names, source, args.mixtures, args.seed),
        _mixture_jobs(names, source, max(64, args.mixtures // 50), args.seed + 1),
    ]
    pool = d.pool(args.jobs)
    pending = [pool.map_async(_mix_job, work, chunksize=16) for work in sets]
    t = time.time()

    def get():
        out = [[(f, lab, ti) for (f, lab), (_, ti, _) in zip(p.get(), work)] for p, work in zip(pending, sets)]
        pool.close()
        log(
            f"{len(out[0])} mixtures ({sum(len(m[0]) for m in out[0]) / 360000:.1f} h), ready "
            f"{time.time() - t:.1f}s after the start"
        )
        return out

    return get


def batches(mix, bs, rng):
    order = rng.permutation(len(mix))
    for i in range(0, len(order) - bs + 1, bs):
        yield [mix[j] for j in order[i : i + bs]]


def collate(batch, embeds, p_zero, rng, dev):
    T = max(len(f) for f, _, _ in batch)
    x = torch.zeros(len(batch), T, 80)
    y = torch.full((len(batch), T), -100, dtype=torch.long)
    e = torch.zeros(len(batch), embeds[0].shape[-1])
    for b, (f, lab, ti) in enumerate(batch):
        x[b, : len(f)] = torch.from_numpy(f.astype(np.float32))
        lab = torch.from_numpy(lab.astype(np.int64))
        if rng.random() < p_zero:
            lab = torch.where(lab == 2, torch.ones_like(lab), lab)  # nobody enrolled: all speech is target
        else:
            e[b] = embeds[ti][int(rng.integers(len(embeds[ti])))]
        y[b, : len(lab)] = lab
    return x.to(dev), e.to(dev), y.to(dev)


def parse_variant(v):
    """'film:192' -> ('film', 192): conditioning and LSTM width."""
    cond, _, hidden = v.partition(":")
    return cond, int(hidden or VAD_CFG["hidden"])


def checkpoint_stem(variant):
    """pvad_film (the shipped width keeps the old name), pvad_film_h192."""
    cond, hidden = parse_variant(variant)
    return f"pvad_{cond}" if hidden == VAD_CFG["hidden"] else f"pvad_{cond}_h{hidden}"


def fit_variant(args, dev, variant, mix, val, embeds, mean, istd, spk_info):
    cond, hidden = parse_variant(variant)
    cfg = dict(VAD_CFG, hidden=hidden)
    torch.manual_seed(args.seed)
    if args.init:  # fine-tune: the starting model keeps its own CMVN
        model, _ = px.load_checkpoint(args.init)
        if (model.conditioning, model.hidden) != (cond, hidden):
            raise SystemExit(f"--init {args.init} is {model.conditioning}:{model.hidden}, not {variant}")
        model.train().to(dev)
    else:
        model = PersonalVad(conditioning=cond, **cfg).to(dev)
        model.set_cmvn(mean.to(dev), istd.to(dev))
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    brng = np.random.default_rng(args.seed)
    step, t = 0, time.time()
    last_save = t
    budget = Budget(args.steps, getattr(args, "pvad_minutes", 0))
    info = dict(
        cfg=dict(cfg, conditioning=cond),
        steps=args.steps,
        batch=args.batch,
        mixtures=len(mix),
        p_zero=args.p_zero,
        p_short_gap=args.p_short_gap,
        p_band=getattr(args, "p_band", 0.0),
        speed_perturb=list(args.speed_perturb),
        seed=args.seed,
        spkenc=spk_info,
        init=os.path.basename(args.init) if args.init else None,
    )
    path = os.path.join(args.out, checkpoint_stem(variant) + ".pt")
    while budget.progress(step) < 1.0:
        for batch in batches(mix, args.batch, brng):
            if budget.progress(step) >= 1.0:
                break
            lr = args.lr * min(1.0, (step + 1) / 100) * 0.5 * (1 + math.cos(math.pi * budget.progress(step)))
            for g in opt.param_groups:
                g["lr"] = lr
            x, e, y = collate(batch, embeds, args.p_zero, brng, dev)
            logits, _ = model(x, e)
            loss = F.cross_entropy(logits.reshape(-1, 3), y.reshape(-1), ignore_index=-100)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 3.0)
            opt.step()
            if step % 200 == 0:
                log(f"pvad[{variant}] step {step} loss {loss.item():.4f} lr {lr:.2e} ({time.time() - t:.0f}s)")
            step += 1
            if time.time() - last_save > getattr(args, "save_seconds", 120):  # usable if the run is cut short
                save_checkpoint(model, dict(info, steps=step, partial=True), path)
                last_save = time.time()
    log(f"pvad[{variant}] stopped after {step} steps ({time.time() - t:.0f}s)")
    info["steps"] = step
    model.eval()
    vrng = np.random.default_rng(7)
    correct = total = 0
    with torch.no_grad():
        for batch in batches(val, min(64, len(val)), vrng):
            x, e, y = collate(batch, embeds, 0.0, vrng, dev)
            pred = model(x, e)[0].argmax(-1)
            m = y >= 0
            correct += (pred[m] == y[m]).sum().item()
            total += m.sum().item()
    result = dict(val_frame_acc=correct / max(1, total), params=count_parameters(model))
    log(f"pvad[{variant}] validation frame accuracy {result['val_frame_acc']:.4f}")
    save_checkpoint(model, dict(info, **result), path)
    log("saved", os.path.basename(path), json.dumps(result))


def share(folder, mix, val, embeds, mean, istd, spk_info, args):
    """Writes the mixtures as flat arrays so that parallel `fit` processes map them instead of copying,
    with the run's arguments (each process takes them and its own variant)."""
    os.makedirs(folder, exist_ok=True)
    for name, ms in (("mix", mix), ("val", val)):
        np.save(os.path.join(folder, f"{name}_feats.npy"), np.concatenate([f for f, _, _ in ms]))
        np.save(os.path.join(folder, f"{name}_labels.npy"), np.concatenate([lab for _, lab, _ in ms]))
        np.save(os.path.join(folder, f"{name}_index.npy"), np.array([(len(f), ti) for f, _, ti in ms]))
    torch.save(
        dict(embeds=embeds, mean=mean, istd=istd, spkenc=spk_info, args=vars(args)), os.path.join(folder, "cond.pt")
    )


def load_shared(folder):
    out = []
    for name in ("mix", "val"):
        feats = np.load(os.path.join(folder, f"{name}_feats.npy"), mmap_mode="r")
        labels = np.load(os.path.join(folder, f"{name}_labels.npy"), mmap_mode="r")
        ms, a = [], 0
        for n, ti in np.load(os.path.join(folder, f"{name}_index.npy")):
            ms.append((feats[a : a + n], labels[a : a + n], int(ti)))
            a += n
        out.append(ms)
    c = torch.load(os.path.join(folder, "cond.pt"))
    return out[0], out[1], c["embeds"], c["mean"], c["istd"], c["spkenc"], c["args"]


def train_pvad(args, dev, speakers=None, source=None, mixtures=None):
    if speakers is None:
        speakers, source = load_speakers(args)
    if mixtures is None:
        mixtures = start_mixtures(args, speakers, source)
    names = sorted(speakers)
    spk, spk_info = px.load_checkpoint(args.spkenc)
    spk.to(dev)
    rng = np.random.default_rng(args.seed)
    t = time.time()
    embeds = [enrollment_embeddings(spk, speakers[s], rng, args.enroll_draws, dev) for s in names]
    log(f"enrollment embeddings for {len(names)} speakers in {time.time() - t:.1f}s")
    mix, val = mixtures()
    mean, istd = cmvn_of(f for f, _, _ in mix[:2000])
    if len(args.variants) == 1:
        fit_variant(args, dev, args.variants[0], mix, val, embeds, mean, istd, spk_info)
        return
    # Small LSTMs leave the GPU mostly idle: the variants train side by side, one process each.
    folder = os.path.join(args.work, "shared")
    share(folder, mix, val, embeds, mean, istd, spk_info, args)
    del mix, val
    procs = []
    for v in args.variants:
        logf = open(os.path.join(args.out, f"fit_{checkpoint_stem(v)}.log"), "w")
        procs.append(
            (
                v,
                subprocess.Popen(
                    [sys.executable, "-m", "training.pvad_train", "fit", "--work", args.work, "--variants", v],
                    stdout=logf,
                    stderr=subprocess.STDOUT,
                ),
            )
        )
    failed = [v for v, p in procs if p.wait() != 0]
    if failed:
        raise SystemExit(f"variants failed: {failed} (see {args.out}/fit_*.log)")
    log("all variants done")


def fit_shared(args, dev):
    mix, val, embeds, mean, istd, spk_info, run_args = load_shared(os.path.join(args.work, "shared"))
    fit_variant(argparse.Namespace(**run_args), dev, args.variants[0], mix, val, embeds, mean, istd, spk_info)


def train_all(args, dev):
    """Speaker encoder, then the personal VAD on its embeddings, sharing one synthesis."""
    speakers, source = load_speakers(args)
    mixtures = start_mixtures(args, speakers, source)
    args.spkenc = train_spkenc(args, dev, speakers, source)
    args.lr = args.pvad_lr
    args.steps, args.batch = args.pvad_steps, args.pvad_batch
    train_pvad(args, dev, speakers, source, mixtures)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["spkenc", "pvad", "all", "fit"])
    ap.add_argument("--carry", default=".carry/pvad", help="old carry (manifest.tsv + audio/); unused with --real")
    ap.add_argument("--real", default=None, help="shared store of the train split: real.npz + real.tsv")
    ap.add_argument("--aug", default=None, help="real rooms and noises (.npz from pvad_carry.py --aug-only)")
    ap.add_argument("--tools", default=None, help="espeak-ng/flite: unpacked root or its .tar.xz")
    ap.add_argument("--p-band", type=float, default=0.0, help="share of 8 kHz / low-passed copies and mixtures")
    ap.add_argument("--spk-minutes", type=float, default=0, help="speaker encoder: wall-time cap (0: none)")
    ap.add_argument("--pvad-minutes", type=float, default=0, help="personal VAD: wall-time cap per variant")
    ap.add_argument("--save-seconds", type=float, default=120, help="checkpoint interval while training")
    ap.add_argument("--deb", nargs="*", default=None, help="folders of .deb files to unpack for espeak-ng/flite/flac")
    ap.add_argument("--work", default="/tmp/pvad-work")
    ap.add_argument("--out", default="/tmp/pvad-out")
    ap.add_argument("--spkenc", default=".carry/pvad/spkenc.pt", help="speaker encoder: checkpoint or .gguf")
    ap.add_argument("--init", default=None, help="personal VAD to fine-tune from: checkpoint or .gguf")
    ap.add_argument("--tiny", type=int, default=0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=os.cpu_count())
    ap.add_argument("--n-espeak", type=int, default=600)
    ap.add_argument("--n-flite", type=int, default=60)
    ap.add_argument("--per-voice", type=int, default=10)
    ap.add_argument("--copies", type=int, default=3)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--margin", type=float, default=0.2)
    ap.add_argument("--real-share", type=float, default=0.6)
    ap.add_argument(
        "--speed-perturb",
        type=float,
        nargs="*",
        default=[],
        help="speeds (e.g. 0.9 1.1) at which every real speaker is added again as a new speaker",
    )
    ap.add_argument(
        "--min-window",
        type=int,
        default=SPK_CFG["window_frames"],
        help="speaker encoder: shortest training window in frames (the full one is 160)",
    )
    ap.add_argument("--mixtures", type=int, default=12000)
    ap.add_argument("--enroll-draws", type=int, default=6)
    ap.add_argument("--p-zero", type=float, default=0.2)
    ap.add_argument(
        "--p-short-gap",
        type=float,
        default=0.0,
        help="share of gaps of 0-300 ms between utterances in the mixtures (speaker turns)",
    )
    ap.add_argument(
        "--variants",
        nargs="+",
        default=["film:128", "concat:128"],
        help="personal VADs to train: conditioning:LSTM width",
    )
    ap.add_argument("--pvad-steps", type=int, default=4000, help="'all': personal VAD steps")
    ap.add_argument("--pvad-batch", type=int, default=64, help="'all': personal VAD batch")
    ap.add_argument("--pvad-lr", type=float, default=3e-3, help="'all': personal VAD learning rate")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    os.makedirs(args.work, exist_ok=True)
    torch.set_num_threads(max(1, min(8, args.jobs)))
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    log(f"device {dev}, torch {torch.__version__}, {args.jobs} jobs")
    dict(spkenc=train_spkenc, pvad=train_pvad, all=train_all, fit=fit_shared)[args.what](args, dev)


if __name__ == "__main__":
    main()
