// `npm run bench:engine`: real-time factor (one engine thread) and memory of the shipped transducer
// over a fixed set of files (FSDD takes 0-4, the dev split, and the bundled sample), with the same
// measurements for baselines run in this process: an F32 export of the model if present, and beam
// search. Last line: one JSON object.
// The personal VAD and the speaker encoder, when their files exist, are measured too: the pVAD runs
// synchronously on the event loop, so its per-call time matters as much as its real-time factor.
// Issue 7's target: the encoder against onnxruntime's int8 streaming export of the same encoder, in
// this process, clip by clip alternately (machine noise hits both alike; --encoder-only runs just that).
//   npm run bench:engine -- [--model FILE] [--baseline FILE] [--pvad FILE] [--spkenc FILE] [--data DIR]
//                           [--onnx FILE] [--encoder-only]
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { SAMPLE_RATE } from '../daemon/frames.js';
import { readWav16kMono } from '../daemon/audio/wav.js';
import { native, type TransducerModel } from '../daemon/native.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? path.resolve(process.argv[i + 1]) : fallback;
}

const modelFile = arg('model', path.join(root, 'models', 'earshot-en-int4.gguf'));
const baselineFile = arg('baseline', path.join(root, 'models', 'earshot-en-f32.gguf'));
const dataDir = arg('data', path.resolve(root, '../shared/data'));
const pvadFile = arg('pvad', path.join(root, 'models', 'pvad.gguf'));
const spkencFile = arg('spkenc', path.join(root, 'models', 'spkenc.gguf'));
const onnxFile = arg('onnx', path.join(root, 'bench', 'onnx', 'encoder-stream-int8.onnx'));
const encoderOnly = process.argv.includes('--encoder-only');

interface Clip {
  name: string;
  samples: Float32Array;
  transcript?: string;
}

function loadClips(): Clip[] {
  const clips: Clip[] = [];
  const fsdd = path.join(dataDir, 'fsdd');
  const manifest = fs.readFileSync(path.join(fsdd, 'manifest.tsv'), 'utf8').trim().split('\n');
  const cols = manifest[0].split('\t');
  for (const line of manifest.slice(1)) {
    const row = Object.fromEntries(line.split('\t').map((v, i) => [cols[i], v]));
    const take = Number(/_(\d+)\.wav$/.exec(row.path)?.[1]);
    if (!(take >= 0 && take <= 4)) continue;
    clips.push({ name: row.path, samples: readWav16kMono(path.join(fsdd, row.path)).samples, transcript: row.transcript });
  }
  const sample = path.join(root, 'samples', 'sample.wav');
  if (fs.existsSync(sample)) clips.push({ name: 'samples/sample.wav', samples: readWav16kMono(sample).samples });
  return clips;
}

// finalize()'s default silence (RecognizerOptions.tailPaddingMs), decoded after every clip.
const TAIL_PADDING_S = 0.5;

const rssMiB = () => process.memoryUsage().rss / 2 ** 20;
const peakRssMiB = () => process.resourceUsage().maxRSS / 1024;

interface Run {
  file: string;
  beam: number;
  audio_s: number;
  cpu_s: number;
  wall_s: number;
  /** cpu seconds per second of audio the engine processed (each clip + the tail padding) */
  rtf: number;
  rtf_wall: number;
  /** cpu seconds per second of the clips themselves: short clips pay the padding */
  rtf_per_clip_audio: number;
  load_ms: number;
  model_rss_mib: number;
  event_loop_max_ms: number;
  /** synchronous addon calls (createStream, acceptWaveform, finalize's own call, dispose): the
   * longest, and the 99th percentile (the longest includes preemption on a loaded machine) */
  sync_call_max_ms: number;
  sync_call_p99_ms: number;
  digits_correct?: number;
  digits_total?: number;
}

async function measure(file: string, clips: Clip[], beam: number, model?: TransducerModel): Promise<[Run, TransducerModel]> {
  const before = rssMiB();
  const t0 = performance.now();
  const m = model ?? (await native().loadTransducer(file));
  const loadMs = performance.now() - t0;
  const modelRss = rssMiB() - before;
  const delay = monitorEventLoopDelay({ resolution: 1 });
  let audio = 0;
  let processed = 0;
  let correct = 0;
  let total = 0;
  delay.enable();
  const cpu0 = process.cpuUsage();
  const w0 = performance.now();
  const calls: number[] = [];
  const timed = <T>(f: () => T): T => {
    const a = performance.now();
    const v = f();
    calls.push(performance.now() - a);
    return v;
  };
  for (const clip of clips) {
    const s = timed(() => m.createStream({ beam, tailPaddingMs: TAIL_PADDING_S * 1000 }));
    // 100 ms pieces, as the daemon's capture delivers them
    for (let i = 0; i < clip.samples.length; i += 1600) timed(() => s.acceptWaveform(clip.samples.subarray(i, i + 1600)));
    const r = await timed(() => s.finalize());
    timed(() => s.dispose());
    audio += clip.samples.length / SAMPLE_RATE;
    processed += clip.samples.length / SAMPLE_RATE + TAIL_PADDING_S;
    if (clip.transcript) {
      total++;
      if (r.text === clip.transcript) correct++;
    }
  }
  const wall = (performance.now() - w0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  delay.disable();
  const cpuS = (cpu.user + cpu.system) / 1e6;
  const run: Run = {
    file: path.relative(root, file),
    beam,
    audio_s: +audio.toFixed(2),
    cpu_s: +cpuS.toFixed(3),
    wall_s: +wall.toFixed(3),
    rtf: +(cpuS / processed).toFixed(4),
    rtf_wall: +(wall / processed).toFixed(4),
    rtf_per_clip_audio: +(cpuS / audio).toFixed(4),
    load_ms: +loadMs.toFixed(1),
    model_rss_mib: +modelRss.toFixed(1),
    event_loop_max_ms: +(delay.max / 1e6).toFixed(2),
    sync_call_max_ms: +Math.max(...calls).toFixed(3),
    sync_call_p99_ms: +calls.sort((a, b) => a - b)[Math.floor(calls.length * 0.99)].toFixed(3),
  };
  if (total) Object.assign(run, { digits_correct: correct, digits_total: total });
  return [run, m];
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))];
}

async function measurePvad(clips: Clip[]) {
  const m = await native().loadPvad(pvadFile);
  const calls: number[] = [];
  let audio = 0;
  const cpu0 = process.cpuUsage();
  for (const clip of clips) {
    const s = m.createStream(null);
    for (let i = 0; i < clip.samples.length; i += 1600) {
      const a = performance.now();
      s.accept(clip.samples.subarray(i, i + 1600));
      calls.push(performance.now() - a);
    }
    audio += clip.samples.length / SAMPLE_RATE;
  }
  const cpu = process.cpuUsage(cpu0);
  m.dispose();
  return {
    file: path.relative(root, pvadFile),
    rtf: +((cpu.user + cpu.system) / 1e6 / audio).toFixed(4),
    accept_100ms_p99_ms: +percentile(calls, 0.99).toFixed(3),
    accept_100ms_max_ms: +Math.max(...calls).toFixed(3),
  };
}

async function measureSpkenc(clips: Clip[]) {
  const m = await native().loadSpeakerEncoder(spkencFile);
  // enrollment-sized input: the clips joined into one 10 s utterance
  const joined = new Float32Array(10 * SAMPLE_RATE);
  let at = 0;
  for (const c of clips) {
    if (at >= joined.length) break;
    joined.set(c.samples.subarray(0, joined.length - at), at);
    at += c.samples.length;
  }
  const a = performance.now();
  await m.embed(joined);
  const ms = performance.now() - a;
  m.dispose();
  return { file: path.relative(root, spkencFile), embed_10s_ms: +ms.toFixed(1), rtf: +(ms / 10000).toFixed(4) };
}

const cpuSeconds = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

/** Encoder CPU time per audio second: the engine's debugEncode (chunk by chunk with its caches, the
 * model's chunk size) minus its debugFbank, against onnxruntime (one thread) running the streaming
 * export chunk by chunk on the same fbank, as bench/recognizer-worker.ts times them, but here in one
 * process, each clip's calls alternating; per clip the least of `repeats` CPU times counts (the
 * machine is shared: interruptions only add time). Clips get the daemon's 300 ms of silence around. */
async function measureEncoderVsOnnx(clips: Clip[], repeats = 3) {
  const require = createRequire(import.meta.url);
  const ort = require('onnxruntime-node');
  const session = await ort.InferenceSession.create(onnxFile, {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const info = JSON.parse(fs.readFileSync(`${onnxFile}.json`, 'utf8')) as {
    n_layers: number;
    left_context_frames: number;
    d_model: number;
    conv_kernel: number;
    stack: number;
    chunk_frames: number;
  };
  const { n_layers: N, left_context_frames: L, d_model: D, conv_kernel: K, stack: S, chunk_frames: C } = info;
  const m = await native().loadTransducer(modelFile);
  const onnxEncode = async (fbank: Float32Array) => {
    let caches: Record<string, unknown> = {
      k_cache: new ort.Tensor('float32', new Float32Array(N * L * D), [N, L, D]),
      v_cache: new ort.Tensor('float32', new Float32Array(N * L * D), [N, L, D]),
      conv_cache: new ort.Tensor('float32', new Float32Array(N * (K - 1) * D), [N, K - 1, D]),
      cached: new ort.Tensor('int64', new BigInt64Array(1), [1]),
    };
    const total = Math.floor(fbank.length / 80 / S);
    for (let t = 0; t < total; t += C) {
      const n = Math.min(C, total - t);
      const out = await session.run({
        fbank: new ort.Tensor('float32', fbank.subarray(t * S * 80, (t + n) * S * 80), [1, n * S, 80]),
        ...caches,
      });
      caches = { k_cache: out.k_cache_out, v_cache: out.v_cache_out, conv_cache: out.conv_cache_out, cached: out.cached_out };
    }
  };
  const pad = (x: Float32Array) => {
    const out = new Float32Array(x.length + 9600);
    out.set(x, 4800);
    return out;
  };
  const best = async (f: () => unknown) => {
    let b = Infinity;
    for (let i = 0; i < repeats; i++) {
      const c = cpuSeconds();
      await f();
      b = Math.min(b, cpuSeconds() - c);
    }
    return b;
  };
  const warm = pad(clips[0].samples);
  m.debugEncode(warm);
  await onnxEncode(m.debugFbank(warm));
  let audio = 0,
    fbank = 0,
    encode = 0,
    onnx = 0;
  for (const clip of clips) {
    const x = pad(clip.samples);
    audio += x.length / SAMPLE_RATE;
    const feats = m.debugFbank(x);
    fbank += await best(() => m.debugFbank(x));
    encode += await best(() => m.debugEncode(x));
    onnx += await best(() => onnxEncode(feats));
  }
  m.dispose();
  const earshotMs = (1000 * (encode - fbank)) / audio;
  const onnxMs = (1000 * onnx) / audio;
  return {
    model: path.relative(root, modelFile),
    onnx: path.relative(root, onnxFile),
    audio_s: +audio.toFixed(2),
    earshot_ms_per_audio_s: +earshotMs.toFixed(3),
    onnx_ms_per_audio_s: +onnxMs.toFixed(3),
    fbank_ms_per_audio_s: +((1000 * fbank) / audio).toFixed(3),
    /** onnxruntime's time over Earshot's: above 1, Earshot is faster */
    onnx_over_earshot: +(onnxMs / earshotMs).toFixed(3),
  };
}

async function main(): Promise<void> {
  if (!fs.existsSync(modelFile)) {
    throw new Error(`${modelFile} does not exist: export the shipped model first (training/export.py) or pass --model FILE`);
  }
  const clips = loadClips();
  const encoderVsOnnx = fs.existsSync(onnxFile) ? await measureEncoderVsOnnx(clips) : null;
  if (encoderVsOnnx) {
    console.log(
      `encoder, streaming, 1 thread: ${encoderVsOnnx.model} ${encoderVsOnnx.earshot_ms_per_audio_s} ms per audio s, ${encoderVsOnnx.onnx} ${encoderVsOnnx.onnx_ms_per_audio_s} (onnxruntime / Earshot ${encoderVsOnnx.onnx_over_earshot}x)`,
    );
  }
  if (encoderOnly) {
    console.log(JSON.stringify({ bench: 'engine', kernel: native().kernelName(), encoder_vs_onnx: encoderVsOnnx }));
    return;
  }
  const rssStart = rssMiB();
  const [ship, model] = await measure(modelFile, clips, 1);
  const peakShipped = peakRssMiB();
  const [beam] = await measure(modelFile, clips, 4, model);
  const runs: Run[] = [ship, beam];
  // The portable C++ kernels as a baseline for the SIMD ones, same model, same process.
  const kernel = native().kernelName();
  let scalar: Run | undefined;
  if (kernel !== 'scalar' && native().useKernel('scalar')) {
    [scalar] = await measure(modelFile, clips, 1, model);
    native().useKernel(kernel);
    runs.push({ ...scalar, file: `${scalar.file} (scalar kernels)` });
  }
  console.log(`kernel ${kernel}, ${clips.length} files, ${ship.audio_s} s of audio, node RSS before loading ${rssStart.toFixed(1)} MiB`);
  let baseline: Run | undefined;
  if (fs.existsSync(baselineFile) && baselineFile !== modelFile) {
    [baseline] = await measure(baselineFile, clips, 1);
    runs.push(baseline);
  }
  const pvad = fs.existsSync(pvadFile) ? await measurePvad(clips) : null;
  const spkenc = fs.existsSync(spkencFile) ? await measureSpkenc(clips) : null;
  if (pvad)
    console.log(
      `${pvad.file}: RTF ${pvad.rtf} (cpu); accept() of 100 ms on the event loop p99 ${pvad.accept_100ms_p99_ms} ms, max ${pvad.accept_100ms_max_ms} ms`,
    );
  if (spkenc) console.log(`${spkenc.file}: 10 s embedded in ${spkenc.embed_10s_ms} ms`);
  for (const r of runs) {
    const acc = r.digits_total ? `, digits ${r.digits_correct}/${r.digits_total}` : '';
    console.log(
      `${r.file} beam ${r.beam}: RTF ${r.rtf} (cpu), ${r.rtf_wall} (wall), ${r.rtf_per_clip_audio} per second of clip; load ${r.load_ms} ms, +${r.model_rss_mib} MiB RSS; event loop max ${r.event_loop_max_ms} ms, addon calls p99 ${r.sync_call_p99_ms} ms, max ${r.sync_call_max_ms} ms${acc}`,
    );
  }
  const summary = {
    bench: 'engine',
    kernel: native().kernelName(),
    files: clips.length,
    audio_s: ship.audio_s,
    model: ship.file,
    rtf: ship.rtf,
    rtf_wall: ship.rtf_wall,
    rtf_per_clip_audio: ship.rtf_per_clip_audio,
    peak_rss_mib: +peakShipped.toFixed(1),
    model_rss_mib: ship.model_rss_mib,
    event_loop_max_ms: Math.max(...runs.map((r) => r.event_loop_max_ms)),
    sync_call_max_ms: Math.max(...runs.map((r) => r.sync_call_max_ms)),
    sync_call_p99_ms: Math.max(...runs.map((r) => r.sync_call_p99_ms)),
    beam4_rtf: beam.rtf,
    beam4_over_greedy: +(beam.rtf / ship.rtf).toFixed(2),
    scalar_rtf: scalar ? scalar.rtf : null,
    scalar_over_simd: scalar ? +(scalar.rtf / ship.rtf).toFixed(2) : null,
    baseline: baseline ? { model: baseline.file, rtf: baseline.rtf, model_rss_mib: baseline.model_rss_mib } : null,
    baseline_over_model_rtf: baseline ? +(baseline.rtf / ship.rtf).toFixed(2) : null,
    encoder_vs_onnx: encoderVsOnnx,
    pvad,
    spkenc,
    runs,
  };
  console.log(JSON.stringify(summary));
}

main().catch((err) => {
  console.error(`bench:engine: ${(err as Error).message}`);
  process.exit(1);
});
