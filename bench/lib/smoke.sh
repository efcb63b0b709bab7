#!/usr/bin/env bash
# Trial of `npm run bench` without the shipped transducer: a random one written by the recipe's
# exporter (F32 and Q4_0), the pVAD files of models/, and a sample made of held-out-voice
# utterances with known speech times. Quick mode (a few files, short end-to-end runs); everything
# goes to OUT (default /tmp/earshot-bench-smoke), not to bench/RESULTS.md.
#   bash bench/lib/smoke.sh [OUT] [STEPS]   e.g. STEPS=devsets,recognizer,e2e,training,plots
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=$(realpath -m "${1:-/tmp/earshot-bench-smoke}")
STEPS=${2:-devsets,recognizer,pocketsphinx,e2e,training,plots}
mkdir -p "$OUT/models"
for f in pvad.gguf spkenc.gguf; do
  test -f "models/$f" || { echo "models/$f is missing (the daemon needs it)" >&2; exit 1; }
  cp "models/$f" "$OUT/models/"
done
/usr/bin/python3 -m bench.lib.synth_devset >/dev/null
/usr/bin/python3 - "$OUT/models" <<'PY'
import json, sys, wave
import numpy as np
import torch
from training.earshot.model import Transducer, TransducerConfig
from training.export import export_transducer

out = sys.argv[1]
torch.manual_seed(0)
m = Transducer(TransducerConfig())
export_transducer(m, f"{out}/earshot-en-f32.gguf", "f32", "random")
export_transducer(m, f"{out}/earshot-en-int4.gguf", "q4_0", "random")
# Sample: 6 held-out-voice utterances with 1.5 s pauses, and their speech times.
man = json.load(open("runs/bench/synth/manifest.json"))["utterances"][:6]
sr, t, parts, segs = 16000, 1.0, [np.zeros(16000, np.int16)], []
for u in man:
    with wave.open(f"runs/bench/synth/{u['wav']}") as w:
        x = np.frombuffer(w.readframes(w.getnframes()), "<i2")
    segs.append({"start": round(t, 3), "end": round(t + len(x) / sr - 0.02, 3), "text": u["text"]})
    parts += [x, np.zeros(int(1.5 * sr), np.int16)]
    t += len(x) / sr + 1.5
with wave.open(f"{out}/sample.wav", "wb") as w:
    w.setnchannels(1); w.setsampwidth(2); w.setframerate(sr); w.writeframes(np.concatenate(parts).tobytes())
json.dump({"segments": segs}, open(f"{out}/sample.json", "w"), indent=1)
PY
EARSHOT_BENCH_QUICK=1 EARSHOT_BENCH_OUT="$OUT" EARSHOT_BENCH_MODELS="$OUT/models" EARSHOT_BENCH_SAMPLE="$OUT/models/sample.wav" \
  exec node --import=tsx bench/run-all.ts --only "$STEPS"
