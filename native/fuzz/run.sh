#!/usr/bin/env bash
# Builds fuzz_gguf (clang libFuzzer + ASan + UBSan) into build-fuzz/, makes the seed corpus with the
# Python writer, and fuzzes validate_gguf_buffer for $1 seconds (default 120). Prints libFuzzer's
# final stats (executions); a crash leaves its input in build-fuzz/ and exits non-zero.
set -euo pipefail
cd "$(dirname "$0")/../.."
SECS=${1:-120}
OUT=build-fuzz
mkdir -p "$OUT/corpus" "$OUT/seeds"
clang++ -std=c++17 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
  -Inative/engine native/fuzz/fuzz_gguf.cpp native/engine/gguf.cpp -o "$OUT/fuzz_gguf"
/usr/bin/python3 native/fuzz/make_seeds.py "$OUT/seeds"
cd "$OUT"
./fuzz_gguf -max_total_time="$SECS" -max_len=4096 -print_final_stats=1 -artifact_prefix=./crash- \
  -dict=../native/fuzz/gguf.dict corpus seeds 2>fuzz.log || { tail -60 fuzz.log; exit 1; }
grep -E '^stat::(number_of_executed_units|peak_rss_mb)|^#[0-9]+ +DONE' fuzz.log
