#!/usr/bin/env bash
# Native tests (`npm run test:native`): every native/tests/test_*.cpp program, built and run
#   1. natively (Release)                       build-tests/
#      and again under qemu-x86_64 as a CPU without AVX (Nehalem): the same binary must fall back
#      to the scalar kernels and never execute an AVX2 instruction outside quant_avx2.cpp
#   2. under AddressSanitizer + UBSan (clang)   build-asan/
#   3. for aarch64 under qemu-aarch64, as Cortex-A72 (NEON) and Cortex-A76 (NEON + dotprod)
#                                               build-aarch64/
#   4. for armhf (armv7 + NEON) under qemu-arm  build-armhf/
#   5. a short libFuzzer run over the GGUF loader (native/fuzz/run.sh)
# Each program exits non-zero on failure and prints one summary line. EARSHOT_NATIVE_STAGES picks
# stages (default "native asan aarch64 armhf fuzz").
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
STAGES=${EARSHOT_NATIVE_STAGES:-native asan aarch64 armhf fuzz}
JOBS=${EARSHOT_JOBS:-2}
failures=()

log() { printf '\n== %s\n' "$*"; }

configure_build() {  # dir, cmake args...
  local dir=$1
  shift
  mkdir -p "$dir"
  cmake -S "$ROOT" -B "$dir" -DEARSHOT_TESTS=ON "$@" >"$dir/configure.log" 2>&1 ||
    { cat "$dir/configure.log"; return 1; }
  cmake --build "$dir" -j"$JOBS" >"$dir/build.log" 2>&1 || { tail -50 "$dir/build.log"; return 1; }
}

# A GGUF written by the Python exporter's writer: test_gguf checks it loads and that its quantized
# bytes equal the engine's quantizers'.
PY_GGUF=$ROOT/build-tests/python-writer.gguf

run_tests() {  # label, build dir, runner words...
  local label=$1 dir=$2
  shift 2
  local t name out status
  for t in "$dir"/test_*; do
    [[ -x $t && -f $t ]] || continue
    name=$(basename "$t")
    local args=()
    [[ $name == test_gguf ]] && args=("$PY_GGUF")
    status=0
    out=$("$@" "$t" "${args[@]}" 2>&1) || status=$?
    if ((status != 0)); then
      printf '%s\n' "$out" | tail -40
      echo "FAILED [$label] $name (exit $status)"
      failures+=("$label:$name")
    else
      printf '[%s] %s\n' "$label" "$(printf '%s\n' "$out" | tail -1)"
    fi
    [[ $name == test_kernels ]] && LAST_KERNEL=$(printf '%s\n' "$out" | sed -n 's/^kernel: //p' | head -1)
  done
  return 0
}

expect_kernel() {  # label, expected
  if [[ ${LAST_KERNEL:-} != "$2" ]]; then
    echo "FAILED [$1] default kernel is '${LAST_KERNEL:-?}', expected '$2'"
    failures+=("$1:kernel")
  else
    echo "[$1] default kernel: $2"
  fi
}

SECONDS=0
mkdir -p build-tests
/usr/bin/python3 native/tests/make_python_gguf.py "$PY_GGUF"

for stage in $STAGES; do
  case $stage in
    native)
      log "native (Release, $(uname -m))"
      configure_build build-tests -DCMAKE_BUILD_TYPE=Release
      run_tests native build-tests
      log "the same x86 binaries on a CPU without AVX (qemu-x86_64 -cpu Nehalem)"
      run_tests x86-noavx build-tests qemu-x86_64 -cpu Nehalem
      expect_kernel x86-noavx scalar
      ;;
    asan)
      log "AddressSanitizer + UBSan (clang)"
      san="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
      CC=clang CXX=clang++ configure_build build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DCMAKE_C_FLAGS="$san" -DCMAKE_CXX_FLAGS="$san" -DCMAKE_EXE_LINKER_FLAGS="$san"
      ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 run_tests asan build-asan
      ;;
    aarch64)
      log "aarch64 cross build under qemu-aarch64"
      configure_build build-aarch64 -DCMAKE_BUILD_TYPE=Release -DCMAKE_TOOLCHAIN_FILE="$ROOT/cmake/aarch64-linux-gnu.cmake"
      QEMU_CPU=cortex-a72 run_tests aarch64-a72 build-aarch64 qemu-aarch64 -L /usr/aarch64-linux-gnu
      expect_kernel aarch64-a72 neon
      QEMU_CPU=cortex-a76 run_tests aarch64-a76 build-aarch64 qemu-aarch64 -L /usr/aarch64-linux-gnu
      expect_kernel aarch64-a76 neon-dotprod
      ;;
    armhf)
      log "armhf cross build under qemu-arm"
      configure_build build-armhf -DCMAKE_BUILD_TYPE=Release -DCMAKE_TOOLCHAIN_FILE="$ROOT/cmake/arm-linux-gnueabihf.cmake"
      run_tests armhf build-armhf qemu-arm -L /usr/arm-linux-gnueabihf
      expect_kernel armhf neon-armv7
      ;;
    fuzz)
      log "libFuzzer over the GGUF loader (20 s)"
      if bash native/fuzz/run.sh 20; then echo "[fuzz] clean"; else failures+=("fuzz"); fi
      ;;
    *)
      echo "unknown stage $stage" >&2
      exit 2
      ;;
  esac
done

log "native tests done in ${SECONDS}s"
if ((${#failures[@]})); then
  echo "FAILED: ${failures[*]}"
  exit 1
fi
echo "all native tests passed"
