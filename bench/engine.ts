// `npm run bench:engine`: real-time factor (one engine thread) and memory of the shipped transducer
// over a fixed set of files (FSDD takes 0-4, the dev split, and the bundled sample), with the same
// measurements for baselines run in this process: an F32 export of the model if present, and beam
// search. Last line: one JSON object.
// The personal VAD and the speaker encoder, when their files exist, are measured too: the pVAD runs
// synchronously on the event loop, so its per-call time matters as much as its real-time factor.
//   npm run bench:engine -- [--model FILE] [--baseline FILE] [--pvad FILE] [--spkenc FILE] [--data DIR]
import fs from 'node:fs';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
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
    audio += clip.samples.length / 16000;
    processed += clip.samples.length / 16000 + TAIL_PADDING_S;
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
    audio += clip.samples.length / 16000;
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
  const joined = new Float32Array(160000);
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

async function main(): Promise<void> {
  if (!fs.existsSync(modelFile)) {
    throw new Error(`${modelFile} does not exist: export the shipped model first (training/export.py) or pass --model FILE`);
  }
  const clips = loadClips();
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
  if (pvad) console.log(`${pvad.file}: RTF ${pvad.rtf} (cpu); accept() of 100 ms on the event loop p99 ${pvad.accept_100ms_p99_ms} ms, max ${pvad.accept_100ms_max_ms} ms`);
  if (spkenc) console.log(`${spkenc.file}: 10 s embedded in ${spkenc.embed_10s_ms} ms`);
  for (const r of runs) {
    const acc = r.digits_total ? `, digits ${r.digits_correct}/${r.digits_total}` : '';
    console.log(`${r.file} beam ${r.beam}: RTF ${r.rtf} (cpu), ${r.rtf_wall} (wall), ${r.rtf_per_clip_audio} per second of clip; load ${r.load_ms} ms, +${r.model_rss_mib} MiB RSS; event loop max ${r.event_loop_max_ms} ms, addon calls p99 ${r.sync_call_p99_ms} ms, max ${r.sync_call_max_ms} ms${acc}`);
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
