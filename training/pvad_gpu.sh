#!/usr/bin/env bash
# Speaker encoder + personal VAD on every train speaker of the shared store, on the GPU machine
# (repository root; carried: .carry/synth.tar.xz, .carry/pvad_aug/augment.npz; the store in $REAL).
# Detached, so it outlives the call that starts it:
#   setsid nohup bash training/pvad_gpu.sh > /tmp/earshot_pvad.log 2>&1 < /dev/null &
# Products in $OUT: spkenc.gguf, pvad.gguf, the checkpoints (saved every 2 minutes while training,
# so a run cut short by the time limit still leaves models, exported all the same) and log.
set -uo pipefail
export PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/earshot_pvad_out}
REAL=${REAL:-/tmp/earshot_real}
JOBS=${JOBS:-10}   # the recognizer's training shares the 16 cores
mkdir -p "$OUT"
for f in "$REAL/real.npz" "$REAL/real.tsv" .carry/synth.tar.xz .carry/pvad_aug/augment.npz; do
  test -f "$f" || { echo "missing $f" | tee -a "$OUT/log"; exit 2; }
done
# timeout: a run slowed by the machine's other work still ends; the exports then take the last checkpoints
timeout ${LIMIT:-14m} ${PY:-python3} -m training.pvad_train all --real "$REAL" --aug .carry/pvad_aug/augment.npz \
  --tools .carry/synth.tar.xz --work /tmp/earshot_pvad_work --out "$OUT" --jobs "$JOBS" --p-band 0.25 \
  --real-share 0.8 --steps 6000 --batch 256 --spk-minutes ${SPK_MIN:-3.5} --mixtures 16000 --enroll-draws 4 \
  --pvad-steps 4000 --pvad-batch 64 --pvad-lr 3e-3 --pvad-minutes ${PVAD_MIN:-3} --variants film:128 \
  "$@" >> "$OUT/log" 2>&1
echo "training exit $? $(date -u +%H:%M:%S)" >> "$OUT/log"
${PY:-python3} -m training.pvad_export --spkenc "$OUT/spkenc.pt" --pvad "$OUT/pvad_film.pt" \
  --out-spkenc "$OUT/spkenc.gguf" --out-pvad "$OUT/pvad.gguf" >> "$OUT/log" 2>&1
echo "done $(date -u +%H:%M:%S)" >> "$OUT/log"
