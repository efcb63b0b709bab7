#!/usr/bin/env bash
# `npm run bench:kernels`: builds bench/kernels_bench.cpp (Release, with the engine) into build-bench/
# and runs it single-threaded on the shipped models' encoder shapes. Extra arguments are passed on
# (e.g. EARSHOT_KERNEL=scalar to pin a kernel family). Last line: one JSON object.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p build-bench
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DEARSHOT_BENCH=ON >build-bench/configure.log 2>&1 ||
  { cat build-bench/configure.log; exit 1; }
cmake --build build-bench -j2 --target kernels_bench >build-bench/build.log 2>&1 ||
  { tail -40 build-bench/build.log; exit 1; }
shopt -s nullglob
exec ./build-bench/kernels_bench models/*.gguf "$@"
