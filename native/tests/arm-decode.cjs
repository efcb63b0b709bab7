// Decodes raw little-endian float32 audio with an Earshot addon and prints one JSON line: what
// native/tests/arm.sh compares between x86 and the emulated ARM builds. CommonJS and no dependencies,
// so Debian's Node 18 runs it as is.
// Usage: node arm-decode.cjs ADDON.node MODEL.gguf AUDIO.f32
'use strict';
const fs = require('fs');

async function main() {
  const [addonPath, modelPath, audioPath] = process.argv.slice(2);
  const addon = require(addonPath);
  const raw = fs.readFileSync(audioPath);
  const audio = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length));
  const model = await addon.loadTransducer(modelPath);
  const stream = model.createStream({});
  for (let i = 0; i < audio.length; i += 1600) stream.acceptWaveform(audio.subarray(i, i + 1600));
  const result = await stream.finalize();
  stream.dispose();
  model.dispose();
  const tokens = result.tokens.map((t) => [t.text, Math.round(t.start / 0.04)]);
  console.log(JSON.stringify({ node: process.version, arch: process.arch, kernel: addon.kernelName(), text: result.text, tokens }));
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : String(e));
  process.exit(1);
});
