#!/usr/bin/env bash
# Builds .carry/synth.tar.xz for the GPU machine (no espeak-ng or flite there): the Debian packages of
# ../shared/gpu-synthesis.md unpacked into one folder (run here, on Debian, from the repository root).
# espeak-ng's non-English dictionaries go (size); every libflite*.so stays: flite links them all.
set -euo pipefail
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && apt-get download -q espeak-ng espeak-ng-data flite libasound2 libasound2-data libasyncns0 libbsd0 \
  libcap2 libdbus-1-3 libespeak-ng1 libflac12 libflite1 libgcrypt20 libgpg-error0 liblz4-1 libmd0 libmp3lame0 \
  libmpg123-0 libogg0 libopus0 libpcaudio0 libpulse0 libsndfile1 libsonic0 libvorbis0a libvorbisenc2 libx11-6 \
  libx11-data libx11-xcb1 libxau6 libxcb1 libxdmcp6 libsystemd0)
for deb in "$work"/*.deb; do dpkg -x "$deb" "$work/root"; done
find "$work/root/usr/lib/x86_64-linux-gnu/espeak-ng-data" -maxdepth 1 -name '*_dict' ! -name 'en_dict' -delete
rm -rf "$work/root/usr/share/doc" "$work/root/usr/share/man"
mkdir -p .carry
tar -C "$work/root" -cJf .carry/synth.tar.xz .
ls -l .carry/synth.tar.xz
