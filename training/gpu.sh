#!/usr/bin/env bash
# Stages of the recipe on the GPU machine (run from the repository root, with .carry/synth.tar.xz
# and .carry/real carried: training.real_pack). Usage: bash training/gpu.sh STAGE [args]; logs go to $OUT.
set -uo pipefail
export PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/earshot_out}
DATA=/tmp/earshot_data
LOGS=/tmp/earshot_logs
CKPT=/tmp/earshot_ckpt
CMP='{"d_model":144,"n_layers":6,"ff_dim":576,"pred_dim":192,"joiner_dim":192}'
case "$1" in
  prepare)  # espeak-ng + flite speech, about 1 minute on 16 cores; kept in /tmp while the machine stays.
            # .carry/synth.tar.xz: the Debian packages of ../shared/gpu-synthesis.md unpacked into one folder
            # (espeak-ng's non-English dictionaries may go; every libflite*.so must stay: flite links them all)
            # SEEDS="espeak flite flite2" picks the texts (a later run: new seeds, new sentences); FLITE=utterances each
    mkdir -p /tmp/r && tar -C /tmp/r -xJf .carry/synth.tar.xz
    read -r S_ESPEAK S_FLITE S_FLITE2 <<< "${SEEDS:-11 21 31}"
    test -f $DATA/synth_train.npz || python3 -m training.prepare_data --root /tmp/r --out $DATA --train 26000 --engine espeak --seed $S_ESPEAK --processes 6 &
    test -f $DATA/synth_train_flite.npz || python3 -m training.prepare_data --root /tmp/r --out $DATA --train ${FLITE:-8000} --engine flite --tag _flite --seed $S_FLITE --processes 5 &
    test -f $DATA/synth_train_flite2.npz || python3 -m training.prepare_data --root /tmp/r --out $DATA --train ${FLITE:-8000} --engine flite --tag _flite2 --seed $S_FLITE2 --processes 5 &
    wait
    touch $DATA/synth.done
    ;;
  main)     # the float BAT run (resumes /tmp/earshot_runs/bat, else starts from a carried
            # .carry/ckpt/bat.pt if there is one, else from scratch): bash training/gpu.sh main MINUTES [args]
    INIT=(); test -f .carry/ckpt/bat.pt && INIT=(--init .carry/ckpt/bat.pt)
    python3 -m training.train --run bat --minutes "$2" "${INIT[@]}" "${@:3}" 2>&1 | tee $OUT/log_bat
    ;;
  compare)  # BAT vs RNN-T latency models: same smaller model, same data, same steps, concurrently
    python3 -m training.train --run cmp_rnnt --loss rnnt --config "$CMP" --batch 64 --workers 3 --minutes "$2" \
      --max-steps 1500 --save-at 1000 > $OUT/log_cmp_rnnt 2>&1 &
    python3 -m training.train --run cmp_bat --loss bat --config "$CMP" --batch 64 --workers 3 --minutes "$2" \
      --max-steps 1500 --save-at 1000 > $OUT/log_cmp_bat 2>&1 &
    ;;
  qat)      # int4 quantization-aware fine-tuning from the float model: bash training/gpu.sh qat MINUTES INIT
    python3 -m training.train --run bat_qat --qat --minutes "$2" --init "$3" --lr 5e-4 --warmup 1 "${@:4}" 2>&1 | tee $OUT/log_qat
    ;;
  prepare2) # the fine-tuning data: new texts (other seeds), a larger flite share (~3 minutes)
    mkdir -p /tmp/r && tar -C /tmp/r -xJf .carry/synth.tar.xz
    test -f $DATA/synth_train.npz || python3 -m training.prepare_data --root /tmp/r --out $DATA --train 24000 --engine espeak --seed 41
    for s in 51 61; do
      test -f $DATA/synth_train_flite$s.npz || python3 -m training.prepare_data --root /tmp/r --out $DATA --train 11000 --engine flite --tag _flite$s --seed $s
    done
    ;;
  launch)   # detached (setsid) so training outlives the call that starts it; logs in $LOGS, weights in $CKPT:
            # the comparison pair (same model, data, steps; RNN-T vs BAT) and the int4 fine-tune of the shipped model
    mkdir -p $LOGS $CKPT
    for loss in rnnt bat; do
      setsid nohup python3 -m training.train --run cmp2_$loss --loss $loss --config "$CMP" --batch 64 --workers 3 \
        --minutes "$2" --max-steps "$3" --save-at 1000,1500,2000,2500,3000,3500,4000 --out $CKPT > $LOGS/cmp2_$loss.log 2>&1 < /dev/null &
    done
    setsid nohup python3 -m training.train --run bat_ft --qat --specaug --init .carry/ckpt/bat.pt --minutes "$2" \
      --workers 8 --lr 4e-4 --warmup 9591 --anneal-from 11000 --anneal-to 13000 --lr-floor 3e-5 --max-steps 13000 \
      --out $CKPT > $LOGS/bat_ft.log 2>&1 < /dev/null &
    sleep 5
    ;;
  watch)    # wait SECONDS, then bring back the logs and the latest weights (fp16)
    sleep "$2"
    for f in $LOGS/*.log; do echo "== $f"; tr '\r' '\n' < $f | grep -v '^$' | tail -n 4; done
    cp $LOGS/*.log $OUT/ 2>/dev/null; nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv
    for f in $CKPT/*.pt; do test -f "$f" && cp "$f" $OUT/; done
    if test -d $CKPT/pvad; then  # the pVAD run's log, checkpoints and exported models (real2)
      mkdir -p $OUT/pvad && cp $CKPT/pvad/log $CKPT/pvad/*.pt $CKPT/pvad/*.gguf $OUT/pvad/ 2>/dev/null; tail -n 5 $CKPT/pvad/log
    fi
    ;;
  synth)    # detached: the synthetic command sentences (prepare), so the call returns while it runs
    mkdir -p $LOGS && setsid nohup bash training/gpu.sh prepare > $LOGS/prepare.log 2>&1 < /dev/null &
    sleep 2
    ;;
  real)     # the real-voices run (issue 15), detached: unpack the real speech, wait for the synthesis,
            # then QAT fine-tuning of the shipped model on real + synthetic speech: bash training/gpu.sh real MINUTES
    mkdir -p $LOGS $CKPT
    test -f /tmp/earshot_real/real.npz || python3 -m training.real_pack unpack --carry .carry/real --out /tmp/earshot_real
    setsid nohup bash -c "while ! test -f $DATA/synth.done; do sleep 5; done; python3 -m training.train \
      --run real_ft --qat --specaug --init models/earshot-en-f32.gguf --real /tmp/earshot_real --real-share 0.5 \
      --minutes $2 --workers 11 --lr 5e-4 --warmup 300 --anneal-from 1800 --anneal-to 3300 --lr-floor 3e-5 \
      --max-steps 4000 --save-min 1.5 --out $CKPT" > $LOGS/real_ft.log 2>&1 < /dev/null &
    sleep 2
    ;;
  real2)    # issue 15, second real-voices run, detached: from the shipped weights, two runs side by side that
            # differ only in how real utterances are drawn (uniform; weight words ** 0.5, connected speech
            # 19 -> 46 % of real examples), and the pVAD retraining (issue 16) beside them:
            # bash training/gpu.sh real2 MINUTES   (after synth; carried .carry/real, .carry/pvad_aug)
    mkdir -p $LOGS $CKPT
    test -f /tmp/earshot_real/real.npz || python3 -m training.real_pack unpack --carry .carry/real --out /tmp/earshot_real
    minutes=$2
    for run in real2_uniform:0 real2_words:0.5; do
      setsid nohup bash -c "while ! test -f $DATA/synth.done; do sleep 5; done; python3 -m training.train \
        --run ${run%:*} --qat --specaug --init models/earshot-en-f32.gguf --real /tmp/earshot_real --real-share 0.5 \
        --real-words-power ${run#*:} --minutes $minutes --workers 6 --lr 4e-4 --warmup 300 \
        --anneal-minutes $((minutes / 3)) --lr-floor 3e-5 --save-min 1.5 --out $CKPT" > $LOGS/${run%:*}.log 2>&1 < /dev/null &
    done
    setsid nohup env OUT=$CKPT/pvad JOBS=6 bash training/pvad_gpu.sh > $LOGS/pvad.log 2>&1 < /dev/null &
    sleep 2
    ;;
  table1)
    python3 -m training.measure_loss --out $OUT/loss_table.json 2>&1 | tee $OUT/log_table1
    ;;
esac
