#!/usr/bin/env bash
# ARM checks under emulation (`npm run test:arm`):
#   1. cross-builds the addon with cmake-js for arm64 (one build: Cortex-A72 and A76 kernels picked at
#      run time) and armhf (armv7 + NEON), with the toolchain files in cmake/;
#   2. fetches Debian bookworm's arm64 and armhf nodejs 18 (+ libnode108 and its libraries) with
#      apt-get download (cached in .arm/debs) and unpacks them with dpkg -x into .arm/root-<arch>;
#   3. loads each addon in that Node under qemu (QEMU_CPU=cortex-a72 and cortex-a76 for arm64, qemu-arm
#      for armhf), checks the kernel family, and decodes the same audio with a small Q4_0 transducer
#      exported by training/export.py: the tokens and times must equal the x86 addon's;
#   4. builds the .deb for both (packaging/build-deb.sh, with lintian), unpacks each into its Node root
#      with dpkg -x and runs the installed `earshot` from there under qemu: --version, check-config,
#      `earshot transcribe` with the shipped personal VAD and the small transducer and, once they
#      exist, the shipped transducer on samples/sample.wav: the texts must equal x86's.
# EARSHOT_ARM_STAGES picks stages (default "decode package").
# Needs root once for `dpkg --add-architecture` (CI runs as root).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
ARM=$ROOT/.arm
STAGES=${EARSHOT_ARM_STAGES:-decode package}
mkdir -p "$ARM"
failures=()
log() { printf '\n== %s\n' "$*"; }

# ---- Debian's Node for arm64 and armhf ---------------------------------------------------------------
LIBS="libc6 libgcc-s1 libstdc++6 libbrotli1 libc-ares2 libicu72 libnghttp2-14 libssl3 libuv1 zlib1g libnode108 nodejs"
JS_DEPS="node-acorn node-cjs-module-lexer node-undici node-busboy node-xtend"  # libnode108's arch-all deps

fetch_node() {  # debian arch
  local arch=$1 dir=$ARM/debs/$1 root=$ARM/root-$1
  if [[ ! -x $root/usr/bin/node ]]; then
    if ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
      dpkg --add-architecture "$arch"
      NEED_UPDATE=1
    fi
    if [[ ${NEED_UPDATE:-0} == 1 ]] || ! apt-cache show "nodejs:$arch" >/dev/null 2>&1; then
      apt-get update -qq || echo "(apt-get update reported errors; using what it fetched)"
      NEED_UPDATE=0
    fi
    mkdir -p "$dir" "$root"
    local pkgs=()
    for p in $LIBS; do pkgs+=("$p:$arch"); done
    (cd "$dir" && apt-get download -q "${pkgs[@]}" $JS_DEPS 2>&1 | grep -v '^W: Download is performed unsandboxed' || true)
    for deb in "$dir"/*.deb; do dpkg -x "$deb" "$root"; done
  fi
  [[ -x $root/usr/bin/node ]] || { echo "no Debian node for $arch in $root"; return 1; }
}

# ---- addons ------------------------------------------------------------------------------------------
build_addon() {  # cmake-js arch, toolchain file, out dir
  mkdir -p "$3"
  npx cmake-js compile --out "$3" --arch "$1" --CDCMAKE_TOOLCHAIN_FILE="$ROOT/cmake/$2" >"$3/cmake-js.log" 2>&1 ||
    { tail -40 "$3/cmake-js.log"; return 1; }
}

log "cross-building the addon (cmake-js)"
if [[ ! -f build/Release/earshot.node ]]; then
  mkdir -p build
  npx cmake-js compile --out build >build/cmake-js.log 2>&1 || { tail -40 build/cmake-js.log; exit 1; }
fi
build_addon arm64 aarch64-linux-gnu.cmake build-addon-arm64
build_addon arm arm-linux-gnueabihf.cmake build-addon-armhf
! command -v file >/dev/null || file -b build-addon-arm64/Release/earshot.node build-addon-armhf/Release/earshot.node | cut -d, -f1-2

log "Debian bookworm nodejs for arm64 and armhf"
fetch_node arm64
fetch_node armhf

# ---- a small Q4_0 model and audio, from the training code --------------------------------------------
FIX=$ARM/fixture
mkdir -p "$FIX"
printf 'recognizer:\n  beam: 1\n  lm: null\n' >"$FIX/greedy.yaml"
/usr/bin/python3 - "$ROOT" "$FIX" <<'PY'
import sys
import torch
sys.path.insert(0, sys.argv[1])
from training.export import export_transducer
from training.earshot.model import Transducer, TransducerConfig
from training.tests.test_engine_parity import cmvn_of, speech
out = sys.argv[2]
torch.manual_seed(0)
wave = speech()
wave.astype('<f4').tofile(out + '/audio.f32')
import wave as wavmod
import numpy as np
with wavmod.open(out + '/audio.wav', 'wb') as w:  # the same audio for `earshot transcribe`
    w.setnchannels(1); w.setsampwidth(2); w.setframerate(16000)
    w.writeframes(np.round(np.clip(wave, -1, 32767 / 32768) * 32768).astype('<i2').tobytes())
mean, istd = cmvn_of(wave)
cfg = TransducerConfig(d_model=64, n_layers=2, n_heads=4, ff_dim=128, conv_kernel=5, pred_dim=32,
                       joiner_dim=64, chunk_frames=4, left_context_frames=8, has_cif=True)
m = Transducer(cfg).eval()
m.feat_mean.copy_(mean); m.feat_istd.copy_(istd)
with torch.no_grad():  # a random model that emits tokens, so the comparison means something
    m.joiner.out.bias.mul_(4.0); m.joiner.out.bias[0] += 1.0
export_transducer(m, out + '/tiny-q4_0.gguf', 'q4_0', name='tiny')
PY

# ---- decode everywhere and compare -------------------------------------------------------------------
decode() {  # label, expected kernel, runner words... ; compares with $REF
  local label=$1 want=$2 out
  shift 2
  local addon=$1
  shift
  if ! out=$("$@" "$ROOT/native/tests/arm-decode.cjs" "$addon" "$FIX/tiny-q4_0.gguf" "$FIX/audio.f32" 2>&1); then
    printf '%s\n' "$out" | tail -20
    echo "FAILED [$label] decode"
    failures+=("$label")
    return
  fi
  out=$(printf '%s\n' "$out" | tail -1)
  local kernel tokens
  kernel=$(node -e 'console.log(JSON.parse(process.argv[1]).kernel)' "$out")
  tokens=$(node -e 'const r=JSON.parse(process.argv[1]);console.log(JSON.stringify(r.tokens))' "$out")
  printf '[%s] %s\n' "$label" "$out" | cut -c1-220
  [[ -z $want || $kernel == "$want" ]] || { echo "FAILED [$label] kernel $kernel, expected $want"; failures+=("$label:kernel"); }
  if [[ -n ${REF:-} && $tokens != "$REF" ]]; then
    echo "FAILED [$label] tokens differ from x86"
    failures+=("$label:tokens")
  fi
  [[ -n ${REF:-} ]] || REF=$tokens
}

R64=$ARM/root-arm64
R32=$ARM/root-armhf
log "decoding: x86 reference"
REF=
decode x86 "" "$ROOT/build/Release/earshot.node" node
[[ $REF != "[]" ]] || { echo "FAILED: the reference decode emitted no tokens"; failures+=("x86:empty"); }
if [[ " $STAGES " == *" decode "* ]]; then
  log "decoding under emulated ARM (addons from the build folders)"
  QEMU_CPU=cortex-a72 decode arm64-a72 neon "$ROOT/build-addon-arm64/Release/earshot.node" qemu-aarch64 -L "$R64" "$R64/usr/bin/node"
  QEMU_CPU=cortex-a76 decode arm64-a76 neon-dotprod "$ROOT/build-addon-arm64/Release/earshot.node" qemu-aarch64 -L "$R64" "$R64/usr/bin/node"
  decode armhf neon-armv7 "$ROOT/build-addon-armhf/Release/earshot.node" qemu-arm -L "$R32" "$R32/usr/bin/node"
fi

# ---- the Debian package, installed with dpkg -x and run under emulation ------------------------------
check() {  # label, expected substring, command words...
  local label=$1 want=$2 out status=0
  shift 2
  out=$("$@" 2>&1) || status=$?
  if ((status != 0)) || [[ $out != *"$want"* ]]; then
    printf '%s\n' "$out" | tail -15
    echo "FAILED [$label] (exit $status)"
    failures+=("$label")
  else
    echo "[$label] ok"
  fi
}

if [[ " $STAGES " == *" package "* ]]; then
  VERSION=$(node -p "require('./package.json').version")
  # The segments' texts, one a line, from `earshot transcribe`'s JSON lines (times and other fields
  # are not compared).
  texts_of() { node -e 'for (const l of require("fs").readFileSync(0, "utf8").split("\n")) if (l.trim()) console.log(JSON.parse(l).text)'; }
  # Kernel families differ by float rounding (native/engine/quant.h), which can flip a decision at a
  # near-tie: the texts may differ by one word in ten (at least one), no more; a broken kernel gives
  # other text altogether. Prints the word edits; fails past the allowance.
  close_texts() {  # reference, other
    node -e '
const [a, b] = process.argv.slice(1).map((s) => s.split(/\s+/).filter(Boolean));
const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array(b.length).fill(0)]);
for (let j = 1; j <= b.length; j++) d[0][j] = j;
for (let i = 1; i <= a.length; i++)
  for (let j = 1; j <= b.length; j++) d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
const edits = d[a.length][b.length];
console.log(edits);
process.exit(edits <= Math.max(1, Math.floor(a.length / 10)) ? 0 : 1);' "$1" "$2"
  }
  # What `earshot transcribe` is run on: the shipped personal VAD with the small fixture transducer,
  # and, once they exist, the shipped transducer on the bundled sample.
  JOBS=()
  [[ -f models/pvad.gguf ]] && JOBS+=("fixture")
  [[ -f models/pvad.gguf && -f models/earshot-en-int4.gguf && -f samples/sample.wav ]] && JOBS+=("shipped")
  job_args() {  # job -> transcribe arguments
    # the random fixture model is compared greedy and without the shipped LM (its text is noise an LM would remove)
    if [[ $1 == fixture ]]; then echo "--config $FIX/greedy.yaml --model $FIX/tiny-q4_0.gguf $FIX/audio.wav"; else echo "$ROOT/samples/sample.wav"; fi
  }
  declare -A X86_TEXT
  for job in "${JOBS[@]}"; do
    # shellcheck disable=SC2046
    X86_TEXT[$job]=$(node bin/earshot transcribe $(job_args "$job") | texts_of)
    [[ -n ${X86_TEXT[$job]} ]] || { echo "FAILED: x86 earshot transcribe ($job) gave no text"; failures+=("x86:transcribe-$job"); }
    printf '[x86] earshot transcribe (%s): %s\n' "$job" "${X86_TEXT[$job]}" | head -3
  done
  for arch in arm64 armhf; do
    log "earshot_${VERSION}_${arch}.deb under emulation"
    bash packaging/build-deb.sh --arch "$arch"
    inst=$ARM/installed-$arch
    rm -rf "$inst"
    cp -a "$ARM/root-$arch" "$inst"
    dpkg -x "dist/earshot_${VERSION}_${arch}.deb" "$inst"
    if [[ $arch == arm64 ]]; then run=(qemu-aarch64 -L "$inst" "$inst/usr/bin/node"); cpus=(cortex-a72 cortex-a76)
    else run=(qemu-arm -L "$inst" "$inst/usr/bin/node"); cpus=(default); fi
    # Paths inside the unpacked root are given in full: qemu's -L prefix covers the dynamic loader and
    # libraries, not every file lookup Node makes.
    check "$arch earshot --version" "$VERSION" "${run[@]}" "$inst/usr/lib/earshot/bin/earshot" --version
    check "$arch earshot check-config" '"site"' "${run[@]}" "$inst/usr/lib/earshot/bin/earshot" check-config \
      "$inst/etc/earshot/earshot.yaml"
    for cpu in "${cpus[@]}"; do
      [[ $cpu == default ]] && unset QEMU_CPU || export QEMU_CPU=$cpu
      want=neon-armv7
      [[ $cpu == cortex-a72 ]] && want=neon
      [[ $cpu == cortex-a76 ]] && want=neon-dotprod
      decode "$arch/$cpu installed addon" "$want" "$inst/usr/lib/earshot/build/Release/earshot.node" "${run[@]}"
      for job in "${JOBS[@]}"; do
        # shellcheck disable=SC2046
        got=$("${run[@]}" "$inst/usr/lib/earshot/bin/earshot" transcribe $(job_args "$job") | texts_of) || got="(failed)"
        if [[ -n $got && $got == "${X86_TEXT[$job]}" ]]; then
          echo "[$arch/$cpu earshot transcribe ($job)] same text as x86"
        elif [[ -n $got && $got != "(failed)" ]] && edits=$(close_texts "${X86_TEXT[$job]}" "$got"); then
          printf '[%s/%s earshot transcribe (%s)] %s word(s) from x86 (a near-tie rounded the other way):\n%s\n' \
            "$arch" "$cpu" "$job" "$edits" "$got"
        else
          printf 'FAILED [%s/%s earshot transcribe (%s)]:\n%s\n' "$arch" "$cpu" "$job" "$got"
          failures+=("$arch/$cpu:transcribe-$job")
        fi
      done
    done
    unset QEMU_CPU
  done
  log "systemd-analyze security --offline=true (installed unit)"
  systemd-analyze security --offline=true "$ARM/installed-arm64/lib/systemd/system/earshot.service" 2>&1 | tail -1
  [[ " ${JOBS[*]} " == *" shipped "* ]] ||
    echo "NOT RUN: earshot transcribe of the shipped model (models/earshot-en-int4.gguf, models/pvad.gguf, samples/sample.wav not all there yet)"
fi

if ((${#failures[@]})); then
  echo "FAILED: ${failures[*]}"
  exit 1
fi
echo "ARM emulation checks passed"
