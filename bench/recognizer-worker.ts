// One recognizer engine in a process of its own, so that load time and peak RSS are its own.
// Started by bench/recognizer.ts; prints one JSON object as its last line.
//
//   earshot MODEL.gguf CLIPS.json [DUMP_PREFIX]  Earshot addon: fbank, encoder (debugEncode) and the
//       daemon's streaming decode per clip; with DUMP_PREFIX writes the engine's fbank and encoder
//       output (<prefix>.fbank.bin, <prefix>.enc.bin, <prefix>.index.json) for the ONNX runs.
//   onnx ENCODER.onnx FBANK_PREFIX DUMP_PREFIX   onnxruntime-node, one thread, on the same fbank:
//       the whole utterance at once, or chunk by chunk for a graph with caches (its .json says).
//   idle                                         node alone: the RSS every process starts with.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { SAMPLE_RATE } from '../daemon/frames.js';
import { native } from '../daemon/native.js';
import { cpuSeconds, loadAudio, peakRssMiB, rssMiB, type Clip } from './lib/common.js';

interface IndexEntry {
  id: string;
  samples: number;
  fbankFrames: number;
  fbankOffset: number; // in floats
  encFrames: number;
  encOffset: number;
}

const [mode, ...args] = process.argv.slice(2);
const now = () => performance.now();

/** The machine is shared: each timed call runs REPEATS times and the least CPU time counts
 * (interruptions only ever add time). */
const REPEATS = 2;
function bestOf<T>(fn: () => T): { value: T; cpu: number; wall: number } {
  let best = { value: undefined as T, cpu: Infinity, wall: Infinity };
  for (let i = 0; i < REPEATS; i++) {
    const c = cpuSeconds();
    const w = now();
    const value = fn();
    const cpu = cpuSeconds() - c;
    if (cpu < best.cpu) best = { value, cpu, wall: (now() - w) / 1000 };
  }
  return best;
}

/** Appends Float32 arrays to a file without keeping them in memory (RSS is being measured). */
class Dump {
  private fd: number;
  floats = 0;
  constructor(file: string) {
    this.fd = fs.openSync(file, 'w');
  }
  write(a: Float32Array): number {
    const at = this.floats;
    fs.writeSync(this.fd, new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
    this.floats += a.length;
    return at;
  }
  close(): void {
    fs.closeSync(this.fd);
  }
}

async function earshot(modelFile: string, clipsFile: string, dumpPrefix?: string) {
  const clips = JSON.parse(fs.readFileSync(clipsFile, 'utf8')) as Clip[];
  const rss0 = rssMiB();
  const t0 = now();
  const model = await native().loadTransducer(modelFile);
  const loadMs = now() - t0;
  const modelRss = rssMiB() - rss0;
  const D = Number(model.info.metadata.d_model);
  // Warm-up (first-touch of the weights, caches), not timed.
  const warm = loadAudio(clips[0]);
  model.debugEncode(warm);
  await decode(model, warm);
  const fb = dumpPrefix ? new Dump(`${dumpPrefix}.fbank.bin`) : undefined;
  const en = dumpPrefix ? new Dump(`${dumpPrefix}.enc.bin`) : undefined;
  const index: IndexEntry[] = [];
  const utts = [];
  let audioS = 0;
  let fbankCpu = 0;
  let encodeCpu = 0;
  let encodeWall = 0;
  let wholeCpu = 0;
  let decodeCpu = 0;
  let decodeWall = 0;
  for (const clip of clips) {
    const samples = loadAudio(clip);
    audioS += samples.length / SAMPLE_RATE;
    const feats = bestOf(() => model.debugFbank(samples));
    fbankCpu += feats.cpu;
    const enc = bestOf(() => model.debugEncode(samples)); // includes its own fbank, subtracted below
    encodeWall += enc.wall;
    encodeCpu += enc.cpu;
    // The same audio as one chunk: the batching onnxruntime gets from the whole-utterance graph
    // (a different attention mask, so the output differs; only the time is kept).
    wholeCpu += bestOf(() => model.debugEncode(samples, 1 << 20)).cpu;
    if (fb && en) {
      index.push({
        id: clip.id,
        samples: samples.length,
        fbankFrames: feats.value.length / 80,
        fbankOffset: fb.write(feats.value),
        encFrames: enc.value.length / D,
        encOffset: en.write(enc.value),
      });
    }
    const c = cpuSeconds();
    const w = now();
    const r = await decode(model, samples);
    decodeWall += now() - w;
    decodeCpu += cpuSeconds() - c; // process-wide: includes the native decoding thread
    utts.push({
      id: clip.id,
      set: clip.set,
      ref: clip.text,
      hyp: r.text,
      seconds: samples.length / SAMPLE_RATE,
      tokens: r.tokens.map((t) => [t.text, t.start]),
    });
  }
  fb?.close();
  en?.close();
  if (dumpPrefix) fs.writeFileSync(`${dumpPrefix}.index.json`, JSON.stringify({ d_model: D, clips: index }));
  return {
    engine: 'earshot',
    model: modelFile,
    kernel: model.info.kernel,
    tensor_types: model.info.tensorTypes,
    file_bytes: fs.statSync(modelFile).size,
    load_ms: loadMs,
    model_rss_mib: modelRss,
    peak_rss_mib: peakRssMiB(),
    audio_s: audioS,
    fbank_cpu_s: fbankCpu,
    encoder_cpu_s: encodeCpu - fbankCpu,
    encoder_wall_s: encodeWall - fbankCpu,
    encoder_one_chunk_cpu_s: wholeCpu - fbankCpu,
    decode_cpu_s: decodeCpu,
    decode_wall_s: decodeWall / 1000,
    utterances: utts,
  };
}

/** The daemon's way: a stream fed 100 ms pieces, then finalize (greedy, the model's chunk size). */
async function decode(model: Awaited<ReturnType<ReturnType<typeof native>['loadTransducer']>>, samples: Float32Array) {
  const s = model.createStream({ beam: 1 });
  for (let i = 0; i < samples.length; i += 1600) s.acceptWaveform(samples.subarray(i, i + 1600));
  const r = await s.finalize();
  s.dispose();
  return r;
}

async function onnx(onnxFile: string, fbankPrefix: string, dumpPrefix: string) {
  const require = createRequire(import.meta.url);
  const rss0 = rssMiB();
  const t0 = now();
  const ort = require('onnxruntime-node');
  // Single thread, as the engine: no intra-op pool, sequential execution.
  const session = await ort.InferenceSession.create(onnxFile, {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const loadMs = now() - t0;
  const modelRss = rssMiB() - rss0;
  const index = JSON.parse(fs.readFileSync(`${fbankPrefix}.index.json`, 'utf8')) as { clips: IndexEntry[] };
  const fd = fs.openSync(`${fbankPrefix}.fbank.bin`, 'r');
  const readFbank = (e: IndexEntry) => {
    const a = new Float32Array(e.fbankFrames * 80);
    fs.readSync(fd, new Uint8Array(a.buffer), 0, a.byteLength, e.fbankOffset * 4);
    return a;
  };
  // The whole utterance in one call, or (a graph with caches) chunk by chunk as a live stream.
  const info = JSON.parse(fs.readFileSync(`${onnxFile}.json`, 'utf8')) as {
    streaming?: boolean;
    n_layers: number;
    left_context_frames: number;
    d_model: number;
    conv_kernel: number;
    stack: number;
    chunk_frames: number;
  };
  const encodeClip = async (fbank: Float32Array, frames: number): Promise<{ enc: Float32Array; frames: number }> => {
    if (!info.streaming) {
      const out = await session.run({ fbank: new ort.Tensor('float32', fbank, [1, frames, 80]) });
      return { enc: out.enc.data as Float32Array, frames: Number(out.enc.dims[1]) };
    }
    const { n_layers: N, left_context_frames: L, d_model: D, conv_kernel: K, stack: S, chunk_frames: C } = info;
    let caches: Record<string, unknown> = {
      k_cache: new ort.Tensor('float32', new Float32Array(N * L * D), [N, L, D]),
      v_cache: new ort.Tensor('float32', new Float32Array(N * L * D), [N, L, D]),
      conv_cache: new ort.Tensor('float32', new Float32Array(N * (K - 1) * D), [N, K - 1, D]),
      cached: new ort.Tensor('int64', new BigInt64Array(1), [1]),
    };
    const total = Math.floor(frames / S);
    const enc = new Float32Array(total * D);
    for (let t = 0; t < total; t += C) {
      const n = Math.min(C, total - t);
      const out = await session.run({
        fbank: new ort.Tensor('float32', fbank.subarray(t * S * 80, (t + n) * S * 80), [1, n * S, 80]),
        ...caches,
      });
      enc.set(out.enc.data as Float32Array, t * D);
      caches = { k_cache: out.k_cache_out, v_cache: out.v_cache_out, conv_cache: out.conv_cache_out, cached: out.cached_out };
    }
    return { enc, frames: total };
  };
  const runOne = async (e: IndexEntry) => {
    const fbank = readFbank(e);
    let best: { enc: Float32Array; frames: number; cpu: number; wall: number } = {
      enc: new Float32Array(0),
      frames: 0,
      cpu: Infinity,
      wall: Infinity,
    };
    for (let i = 0; i < REPEATS; i++) {
      const c = cpuSeconds();
      const w = now();
      const out = await encodeClip(fbank, e.fbankFrames);
      const cpu = cpuSeconds() - c;
      if (cpu < best.cpu) best = { ...out, cpu, wall: (now() - w) / 1000 };
    }
    return best;
  };
  await runOne(index.clips[0]); // warm-up, not timed
  const en = new Dump(`${dumpPrefix}.enc.bin`);
  const clips: IndexEntry[] = [];
  let cpu = 0;
  let wall = 0;
  let audioS = 0;
  for (const e of index.clips) {
    const r = await runOne(e);
    cpu += r.cpu;
    wall += r.wall;
    audioS += e.samples / SAMPLE_RATE;
    clips.push({ ...e, encFrames: r.frames, encOffset: en.write(r.enc) });
  }
  en.close();
  fs.closeSync(fd);
  fs.writeFileSync(`${dumpPrefix}.index.json`, JSON.stringify({ clips }));
  return {
    engine: 'onnxruntime-node',
    streaming: !!info.streaming,
    model: onnxFile,
    file_bytes: fs.statSync(onnxFile).size,
    load_ms: loadMs,
    model_rss_mib: modelRss,
    peak_rss_mib: peakRssMiB(),
    audio_s: audioS,
    encoder_cpu_s: cpu,
    encoder_wall_s: wall,
  };
}

async function main() {
  let result: unknown;
  if (mode === 'earshot') result = await earshot(args[0], args[1], args[2]);
  else if (mode === 'onnx') result = await onnx(args[0], args[1], args[2]);
  else if (mode === 'idle') result = { engine: 'node', peak_rss_mib: peakRssMiB() };
  else throw new Error(`unknown mode ${mode} (earshot | onnx | idle)`);
  console.log(JSON.stringify(result));
}

main().catch((err) => {
  console.error(`recognizer-worker: ${(err as Error).stack ?? err}`);
  process.exit(1);
});
