"""Exports the speaker encoder and the personal VAD to GGUF (docs/model-format.md), reads them back,
and runs the file's arithmetic (Q8_0 weights times Q8_0-quantized activations) for measurements.

    /usr/bin/python3 -m training.pvad_export --spkenc runs/pvad/spkenc.pt --pvad runs/pvad/pvad_film.pt \
        --out-spkenc models/spkenc.gguf --out-pvad models/pvad.gguf
"""
import argparse
import json
import os
import subprocess
import time

import torch
import torch.nn.functional as F

from training.earshot import quant
from training.earshot.features import FRAME_LENGTH_MS, FRAME_SHIFT_MS, NUM_MEL_BINS, SAMPLE_RATE, apply_cmvn
from training.earshot.gguf import GgufWriter, read_gguf
from training.earshot.pvad import PersonalVad, SpeakerEncoder

FORMAT_VERSION = 1
SPKENC_NAME = "earshot-spkenc-v1"
PVAD_NAME = "earshot-pvad-v1"


def _weight_type(w: torch.Tensor, wanted: str) -> str:
    """Quantized where the input dimension allows it (blocks of 32), else F16."""
    return wanted if w.shape[-1] % quant.BLOCK == 0 else "F16"


def _common(w: GgufWriter, arch: str, name: str, provenance: dict, mean, istd) -> None:
    w.add("general.architecture", arch)
    w.add("general.name", name)
    w.add_u32("earshot.format_version", FORMAT_VERSION)
    w.add("earshot.provenance", json.dumps(provenance, sort_keys=True))
    w.add_u32("earshot.feat.sample_rate", SAMPLE_RATE)
    w.add_u32("earshot.feat.num_mel_bins", NUM_MEL_BINS)
    w.add_f32("earshot.feat.frame_length_ms", FRAME_LENGTH_MS)
    w.add_f32("earshot.feat.frame_shift_ms", FRAME_SHIFT_MS)
    w.add_tensor("feat.mean", mean, "F32")
    w.add_tensor("feat.istd", istd, "F32")


def _add_lstm(w: GgufWriter, prefix: str, lstm: torch.nn.LSTM, layer: int, wtype: str) -> None:
    w_ih = getattr(lstm, f"weight_ih_l{layer}")
    w_hh = getattr(lstm, f"weight_hh_l{layer}")
    bias = getattr(lstm, f"bias_ih_l{layer}") + getattr(lstm, f"bias_hh_l{layer}")
    w.add_tensor(f"{prefix}.w_ih", w_ih, _weight_type(w_ih, wtype))
    w.add_tensor(f"{prefix}.w_hh", w_hh, _weight_type(w_hh, wtype))
    w.add_tensor(f"{prefix}.bias", bias, "F32")


def _linear(w: GgufWriter, name: str, lin: torch.nn.Linear, wtype: str) -> None:
    w.add_tensor(f"{name}.weight", lin.weight, _weight_type(lin.weight, wtype))
    w.add_tensor(f"{name}.bias", lin.bias, "F32")


def git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=os.path.dirname(os.path.abspath(__file__))
        ).stdout.strip()
    except OSError:
        return "unknown"


def export_spkenc(model: SpeakerEncoder, path: str, provenance: dict, wtype: str = "Q8_0") -> int:
    w = GgufWriter()
    _common(w, "earshot-spkenc", SPKENC_NAME, provenance, model.feat_mean, model.feat_istd)
    w.add_u32("earshot.hidden", model.hidden)
    w.add_u32("earshot.n_layers", model.n_layers)
    w.add_u32("earshot.embed_dim", model.embed_dim)
    w.add_u32("earshot.window_frames", model.window_frames)
    w.add_u32("earshot.window_hop", model.window_hop)
    for layer in range(model.n_layers):
        _add_lstm(w, f"spk.lstm.{layer}", model.lstm, layer, wtype)
    _linear(w, "spk.proj", model.proj, wtype)
    return w.write(path)


def export_pvad(
    model: PersonalVad, path: str, provenance: dict, spkenc_name: str = SPKENC_NAME, wtype: str = "Q8_0"
) -> int:
    if model.conditioning != "film":
        raise ValueError("only the FiLM personal VAD has a file format")
    w = GgufWriter()
    _common(w, "earshot-pvad", PVAD_NAME, provenance, model.feat_mean, model.feat_istd)
    w.add_u32("earshot.hidden", model.hidden)
    w.add_u32("earshot.embed_dim", model.embed_dim)
    w.add("earshot.spkenc_name", spkenc_name)
    _linear(w, "pvad.in", model.inp, wtype)
    _add_lstm(w, "pvad.lstm.0", model.lstm0, 0, wtype)
    _linear(w, "pvad.film.gamma", model.film_gamma, wtype)
    _linear(w, "pvad.film.beta", model.film_beta, wtype)
    _add_lstm(w, "pvad.lstm.1", model.lstm1, 0, wtype)
    _linear(w, "pvad.out", model.out, "F32")
    return w.write(path)


class FileModel:
    """The arithmetic of a model file: weights as stored, activations quantized to Q8_0 before
    every quantized weight (docs/model-format.md), so metrics describe what the engine runs."""

    def __init__(self, path: str):
        self.meta, self.tensors = read_gguf(path)
        self.arch = self.meta["general.architecture"]
        self.mean = self.tensors["feat.mean"][0]
        self.istd = self.tensors["feat.istd"][0]

    def linear(self, name: str, x: torch.Tensor, bias: torch.Tensor = None) -> torch.Tensor:
        w, t = self.tensors[name]
        if t in ("Q8_0", "Q4_0"):
            x = quant._fake_q8_0_values(x)
        y = x @ w.t()
        return y if bias is None else y + bias

    def lstm(self, prefix: str, x: torch.Tensor, state=None):
        """x [B, T, in] -> ([B, T, H], (h, c)); exactly the recurrence of the doc."""
        B, T, _ = x.shape
        H = self.tensors[f"{prefix}.w_hh"][0].shape[1]
        h, c = state if state is not None else (x.new_zeros(B, H), x.new_zeros(B, H))
        xi = self.linear(f"{prefix}.w_ih", x, self.tensors[f"{prefix}.bias"][0])
        out = []
        for t in range(T):
            g = xi[:, t] + self.linear(f"{prefix}.w_hh", h)
            i, f, gg, o = g.chunk(4, dim=-1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(gg)
            h = torch.sigmoid(o) * torch.tanh(c)
            out.append(h)
        return torch.stack(out, 1), (h, c)

    def pvad(self, fbank: torch.Tensor, e: torch.Tensor, state=None):
        """fbank [B, T, 80], e [B, E] -> (posteriors [B, T, 3], state)."""
        s0, s1 = (None, None) if state is None else state
        x = apply_cmvn(fbank, self.mean, self.istd)
        T = self.tensors
        h0 = F.relu(self.linear("pvad.in.weight", x, T["pvad.in.bias"][0]))
        h1, s0 = self.lstm("pvad.lstm.0", h0, s0)
        gamma = self.linear("pvad.film.gamma.weight", e, T["pvad.film.gamma.bias"][0]).unsqueeze(1)
        beta = self.linear("pvad.film.beta.weight", e, T["pvad.film.beta.bias"][0]).unsqueeze(1)
        h2, s1 = self.lstm("pvad.lstm.1", h1 * (1 + gamma) + beta, s1)
        return self.linear("pvad.out.weight", h2, T["pvad.out.bias"][0]).softmax(-1), (s0, s1)

    def spk_windows(self, fbank: torch.Tensor) -> torch.Tensor:
        x = apply_cmvn(fbank, self.mean, self.istd)
        for layer in range(self.meta["earshot.n_layers"]):
            x, _ = self.lstm(f"spk.lstm.{layer}", x)
        T = self.tensors
        return F.normalize(self.linear("spk.proj.weight", x[:, -1], T["spk.proj.bias"][0]), dim=-1)

    def spk_utterance(self, fbank: torch.Tensor) -> torch.Tensor:
        wf, hop = self.meta["earshot.window_frames"], self.meta["earshot.window_hop"]
        n = fbank.shape[0]
        starts = [0] if n <= wf else list(range(0, n - wf + 1, hop))
        length = min(wf, n)
        return F.normalize(self.spk_windows(torch.stack([fbank[s : s + length] for s in starts])).mean(0), dim=-1)


def model_from_file(path: str):
    """The float model a file stores (weights dequantized; an LSTM's two biases come back as one),
    so a shipped model can be fine-tuned. Returns (model, info) like load_checkpoint."""
    fm = FileModel(path)
    meta, t = fm.meta, {k: v[0] for k, v in fm.tensors.items()}

    def lstm(dst: torch.nn.LSTM, layer: int, prefix: str):
        getattr(dst, f"weight_ih_l{layer}").copy_(t[f"{prefix}.w_ih"])
        getattr(dst, f"weight_hh_l{layer}").copy_(t[f"{prefix}.w_hh"])
        getattr(dst, f"bias_ih_l{layer}").copy_(t[f"{prefix}.bias"])
        getattr(dst, f"bias_hh_l{layer}").zero_()

    def linear(dst: torch.nn.Linear, name: str):
        dst.weight.copy_(t[f"{name}.weight"])
        dst.bias.copy_(t[f"{name}.bias"])

    if fm.arch == "earshot-pvad":
        cfg = dict(hidden=meta["earshot.hidden"], embed_dim=meta["earshot.embed_dim"], conditioning="film")
        m = PersonalVad(**cfg)
        with torch.no_grad():
            linear(m.inp, "pvad.in")
            lstm(m.lstm0, 0, "pvad.lstm.0")
            linear(m.film_gamma, "pvad.film.gamma")
            linear(m.film_beta, "pvad.film.beta")
            lstm(m.lstm1, 0, "pvad.lstm.1")
            linear(m.out, "pvad.out")
    elif fm.arch == "earshot-spkenc":
        cfg = {k: meta[f"earshot.{k}"] for k in ("hidden", "n_layers", "embed_dim", "window_frames", "window_hop")}
        m = SpeakerEncoder(**cfg)
        with torch.no_grad():
            for layer in range(cfg["n_layers"]):
                lstm(m.lstm, layer, f"spk.lstm.{layer}")
            linear(m.proj, "spk.proj")
    else:
        raise ValueError(f"{path}: not a speaker encoder or personal VAD file ({fm.arch})")
    m.set_cmvn(fm.mean, fm.istd)
    return m.eval(), dict(
        cfg=cfg, from_file=os.path.basename(path), file_provenance=json.loads(meta["earshot.provenance"])
    )


def load_checkpoint(path: str):
    """A training checkpoint (.pt) or, for a .gguf, the float model the file stores."""
    if path.endswith(".gguf"):
        return model_from_file(path)
    ck = torch.load(path, map_location="cpu")
    cfg = dict(ck["info"]["cfg"])
    if "conditioning" in cfg:
        m = PersonalVad(**cfg)
    else:
        m = SpeakerEncoder(**cfg)
    m.load_state_dict(ck["state"])
    return m.eval(), ck["info"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--spkenc", required=True)
    ap.add_argument("--pvad", required=True)
    ap.add_argument("--out-spkenc", default="models/spkenc.gguf")
    ap.add_argument("--out-pvad", default="models/pvad.gguf")
    ap.add_argument("--metrics", default=None, help="bench/pvad_eval.py's metrics.json, recorded in provenance")
    args = ap.parse_args()
    spk, spk_info = load_checkpoint(args.spkenc)
    vad, vad_info = load_checkpoint(args.pvad)
    metrics = {}
    if args.metrics:
        with open(args.metrics) as f:
            m = json.load(f)
        keep = ("ap_non_speech", "ap_target", "ap_other", "map_micro", "speech_ap_zero_embedding")
        metrics = {
            "spkenc": {"dev_eer": m["spkenc_eer"]},
            "pvad": dict(
                {k: m["file"][k] for k in keep},
                dev=m["dev"],
                silero_speech_ap=m.get("silero", {}).get("speech_ap"),
                end_of_segment_300ms=m["file"]["end_of_segment"]["300ms"],
            ),
        }
    base = dict(commit=git_commit(), date=time.strftime("%Y-%m-%d"))
    n1 = export_spkenc(spk, args.out_spkenc, dict(base, train=spk_info, metrics=metrics.get("spkenc", {})))
    vad_info = {k: v for k, v in vad_info.items() if k != "spkenc"}
    n2 = export_pvad(vad, args.out_pvad, dict(base, train=vad_info, metrics=metrics.get("pvad", {})))
    print(f"{args.out_spkenc}: {n1} bytes; {args.out_pvad}: {n2} bytes")


if __name__ == "__main__":
    main()
