#!/usr/bin/env bash
# `npm run package:deb -- --arch arm64|armhf|amd64`: builds dist/earshot_<version>_<arch>.deb with
# dpkg-deb, then runs lintian on it.
#   /usr/lib/earshot   the daemon (dist/daemon, its run-time node_modules, the addon built for <arch>
#                      by cmake-js with cmake/<triplet>.cmake, the shipped models and samples)
#   /usr/bin/earshot   -> /usr/lib/earshot/bin/earshot
#   /etc/earshot       earshot.yaml (a conffile)
#   /lib/systemd/system  earshot.service, earshot@.service (DynamicUser: systemd makes /var/lib/earshot)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

ARCH=$(dpkg --print-architecture)
while (($#)); do
  case $1 in
    --arch) ARCH=$2; shift 2 ;;
    --arch=*) ARCH=${1#--arch=}; shift ;;
    *) echo "usage: $0 [--arch arm64|armhf|amd64]" >&2; exit 2 ;;
  esac
done

case $ARCH in
  arm64) ADDON_DIR=build-addon-arm64; CMAKE_JS_ARCH=arm64; TOOLCHAIN=aarch64-linux-gnu.cmake ;;
  armhf) ADDON_DIR=build-addon-armhf; CMAKE_JS_ARCH=arm; TOOLCHAIN=arm-linux-gnueabihf.cmake ;;
  amd64) ADDON_DIR=build-addon-amd64; CMAKE_JS_ARCH=x64; TOOLCHAIN= ;;
  *) echo "unsupported architecture $ARCH (arm64, armhf or amd64)" >&2; exit 2 ;;
esac

VERSION=$(node -p "require('./package.json').version")
STAGE=$ROOT/.deb/stage-$ARCH
OUT=$ROOT/dist/earshot_${VERSION}_${ARCH}.deb
APP=$STAGE/usr/lib/earshot

echo "== addon for $ARCH"
args=(compile --out "$ADDON_DIR" --arch "$CMAKE_JS_ARCH")
[[ -n $TOOLCHAIN ]] && args+=(--CDCMAKE_TOOLCHAIN_FILE="$ROOT/cmake/$TOOLCHAIN")
mkdir -p "$ADDON_DIR"
npx cmake-js "${args[@]}" >"$ADDON_DIR/cmake-js.log" 2>&1 || { tail -40 "$ADDON_DIR/cmake-js.log"; exit 1; }

echo "== daemon (tsc)"
npm run -s build:ts

echo "== staging $STAGE"
rm -rf "$STAGE"
mkdir -p "$APP/bin" "$APP/build/Release" "$APP/dist" "$APP/models" "$STAGE/usr/bin" "$STAGE/etc/earshot" \
  "$STAGE/lib/systemd/system" "$STAGE/usr/share/doc/earshot" "$STAGE/DEBIAN"
# package.json marks dist/ as ES modules and is how the daemon finds its installation root.
node -e '
  const p = require("./package.json");
  for (const k of ["scripts", "devDependencies", "ava", "binary"]) delete p[k];
  delete p.dependencies["cmake-js"]; delete p.dependencies["node-addon-api"];
  require("fs").writeFileSync(process.argv[1], JSON.stringify(p, null, 2) + "\n");' "$APP/package.json"
cp -r bin/. "$APP/bin/"  # the launcher and its bin/package.json (CommonJS for Node 18)
chmod 0755 "$APP/bin/earshot"
mkdir -p "$STAGE/usr/share/man/man1"
gzip -9n <packaging/earshot.1 >"$STAGE/usr/share/man/man1/earshot.1.gz"
cp -r dist/daemon "$APP/dist/daemon"
install -m 0644 "$ADDON_DIR/Release/earshot.node" "$APP/build/Release/earshot.node"
case $ARCH in
  arm64) aarch64-linux-gnu-strip --strip-unneeded --remove-section=.comment "$APP/build/Release/earshot.node" ;;
  armhf) arm-linux-gnueabihf-strip --strip-unneeded --remove-section=.comment "$APP/build/Release/earshot.node" ;;
  *) strip --strip-unneeded --remove-section=.comment "$APP/build/Release/earshot.node" ;;
esac
shopt -s nullglob
models=(models/*.gguf models/*.txt) # the transducer's LM text (models.lm_text) beside the weights
((${#models[@]})) && install -m 0644 "${models[@]}" "$APP/models/" || echo "note: no models/*.gguf to ship yet"
samples=(samples/*.wav)
((${#samples[@]})) && install -D -m 0644 -t "$APP/samples" "${samples[@]}"
node packaging/runtime-modules.cjs | while read -r dir; do
  mkdir -p "$APP/$(dirname "$dir")"
  cp -r "$dir" "$APP/$dir"
done
# Tests, docs, type declarations, source maps and VCS files of the npm packages are not run.
find "$APP/node_modules" \( -name '.npmignore' -o -name '.eslintrc*' -o -name '.travis.yml' -o -name '.github' \
  -o -name '.gitattributes' -o -name '*.md' -o -name '*.markdown' -o -name 'CHANGELOG*' -o -name '*.map' \
  -o -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.html' -o -name 'test' -o -name 'tests' \
  -o -name 'test.js' -o -name '__tests__' -o -name 'docs' -o -name 'example' -o -name 'examples' -o -name 'benchmarks' \
  -o -name 'tsconfig*.json' -o -name '.taprc' -o -name '.nycrc*' -o -name '.editorconfig' -o -name '.husky' \) \
  -prune -exec rm -rf {} +
rm -rf "$APP/node_modules/@types"  # type declarations only
# Documentation and pictures of the npm packages (their LICENSE files stay).
find "$APP/node_modules" -type f \( -iname 'README*' -o -iname '*.txt' -o -iname '*.png' -o -iname '*.jpg' \
  -o -iname '*.gif' -o -iname '*.svg' \) ! -iname 'LICENSE*' -delete
find "$APP/node_modules" -type d -empty -delete
# npm leaves arbitrary modes: plain files 0644, scripts with a #! line 0755.
find "$APP" -type d -exec chmod 0755 {} +
find "$APP" -type f -exec chmod 0644 {} +
find "$APP" -type f -exec sh -c 'for f; do [ "$(head -c2 "$f")" = "#!" ] && chmod 0755 "$f"; done; true' sh {} +
ln -s ../lib/earshot/bin/earshot "$STAGE/usr/bin/earshot"
install -m 0644 config/earshot.yaml "$STAGE/etc/earshot/earshot.yaml"
install -m 0644 systemd/earshot.service systemd/earshot@.service "$STAGE/lib/systemd/system/"

DOC=$STAGE/usr/share/doc/earshot
# the drop-in for a broker on another machine or the Wyoming server (README: Running under systemd)
install -m 0644 systemd/earshot-network.conf "$DOC/earshot-network.conf"
cat >"$DOC/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: earshot
Comment: /usr/lib/earshot/node_modules holds the npm packages the daemon uses at run time, each
 under its own license as stated in its folder.

Files: *
Copyright: $(date +%Y) The Earshot developers
License: MIT

License: MIT
 Permission is hereby granted, free of charge, to any person obtaining a copy of this software and
 associated documentation files (the "Software"), to deal in the Software without restriction,
 including without limitation the rights to use, copy, modify, merge, publish, distribute,
 sublicense, and/or sell copies of the Software, and to permit persons to whom the Software is
 furnished to do so, subject to the following conditions:
 .
 The above copyright notice and this permission notice shall be included in all copies or
 substantial portions of the Software.
 .
 THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT
 NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
 NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES
 OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN
 CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
EOF
{
  echo "earshot ($VERSION) unstable; urgency=medium"
  echo
  echo "  * Package built from git $(git rev-parse --short HEAD 2>/dev/null || echo unknown)."
  echo
  echo " -- The Earshot developers <earshot@users.noreply.github.com>  $(date -R)"
} | gzip -9n >"$DOC/changelog.gz"

cat >"$STAGE/DEBIAN/conffiles" <<EOF
/etc/earshot/earshot.yaml
EOF

# The unit has DynamicUser=yes and StateDirectory=earshot: no user, group or folder to create here.
# Installed but not enabled: it needs a broker and a microphone configured first.
cat >"$STAGE/DEBIAN/postinst" <<'EOF'
#!/bin/sh
set -e
if [ "$1" = "configure" ] || [ "$1" = "abort-upgrade" ]; then
  deb-systemd-helper update-state earshot.service >/dev/null || true
  if [ -d /run/systemd/system ]; then
    systemctl --system daemon-reload >/dev/null || true
    deb-systemd-invoke try-restart earshot.service >/dev/null || true
  fi
fi
EOF
cat >"$STAGE/DEBIAN/prerm" <<'EOF'
#!/bin/sh
set -e
if [ "$1" = "remove" ] && [ -d /run/systemd/system ]; then
  deb-systemd-invoke stop 'earshot.service' 'earshot@*.service' >/dev/null || true
fi
EOF
cat >"$STAGE/DEBIAN/postrm" <<'EOF'
#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then
  systemctl --system daemon-reload >/dev/null || true
fi
if [ "$1" = "purge" ]; then
  deb-systemd-helper purge earshot.service >/dev/null || true
  # What systemd made for the dynamic user: the outbox journal and enrolled profiles.
  rm -rf /var/lib/private/earshot /var/lib/earshot
fi
EOF
chmod 0755 "$STAGE/DEBIAN/postinst" "$STAGE/DEBIAN/prerm" "$STAGE/DEBIAN/postrm"

(cd "$STAGE" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum >DEBIAN/md5sums)
chmod 0644 "$STAGE/DEBIAN/md5sums"
SIZE=$(du -sk --exclude=DEBIAN "$STAGE" | cut -f1)
cat >"$STAGE/DEBIAN/control" <<EOF
Package: earshot
Version: $VERSION
Architecture: $ARCH
Maintainer: The Earshot developers <earshot@users.noreply.github.com>
Installed-Size: $SIZE
Depends: nodejs (>= 18.18), libc6 (>= 2.34), libstdc++6 (>= 12), libgcc-s1, alsa-utils, init-system-helpers (>= 1.52)
Section: sound
Priority: optional
Homepage: https://github.com/earshot/earshot
Description: voice front-end: personal VAD, 4-bit streaming speech recognition, MQTT
 Earshot listens to an ALSA microphone, keeps only the enrolled speaker's
 speech (personal voice activity detection), transcribes it with a 4-bit
 quantized streaming transducer running in a native Node.js addon (NEON or
 AVX2 kernels), and publishes one transcript per utterance over MQTT for
 Home Assistant or Node-RED. It runs as a hardened systemd service with a
 dynamic user.
EOF

mkdir -p "$(dirname "$OUT")"
dpkg-deb --root-owner-group -Zxz --build "$STAGE" "$OUT" >/dev/null
echo "== built $OUT ($(du -h "$OUT" | cut -f1))"
if command -v lintian >/dev/null; then
  echo "== lintian"
  lintian --tag-display-limit 0 "$OUT" 2>&1 | grep -v 'running with root privileges' || true
fi
