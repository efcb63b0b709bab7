// Recognizer benchmark, single thread: Earshot int4 and F32 (addon) against the same encoder in
// ONNX run by onnxruntime-node in fp32 and int8. Each engine runs in its own process (load time,
// peak RSS); encoder time is compared on equal inputs (the engine's fbank); WER on the development
// sets. The ONNX encoder's output is decoded greedily with the F32 model's joiner (debugJoint), as
// the engine decodes. Writes runs/bench/results/recognizer.json; last stdout line: JSON summary.
//
//   node --import=tsx bench/recognizer.ts [--int4 F] [--f32 F] [--onnx-dir DIR] [--limit N]
import fs from 'node:fs';
import path from 'node:path';
import { SAMPLE_RATE } from '../daemon/frames.js';
import { native } from '../daemon/native.js';
import {
  devClips,
  ensureSynthDevset,
  isTrial,
  loadAudio,
  models,
  nodeChild,
  percentile,
  python,
  quick,
  segmentPadding,
  sharedData,
  wer,
  repoRoot,
  requireFile,
  run,
  werBySet,
  workDir,
  writeResult,
  type Clip,
} from './lib/common.js';

function opt(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? path.resolve(process.argv[i + 1]) : fallback;
}

const int4File = opt('int4', models.int4);
const f32File = opt('f32', models.f32);
// The exports are generated, not committed: made here when missing or made from another model.
// A trial run (EARSHOT_BENCH_OUT) keeps its own, apart from the regular run's bench/onnx/.
const onnxDir = opt('onnx-dir', isTrial ? path.join(workDir, 'onnx') : path.join(repoRoot, 'bench', 'onnx'));
const limit = Number(
  opt('limit', quick ? '10' : '0')
    .split('/')
    .pop(),
);
const worker = path.join(repoRoot, 'bench', 'recognizer-worker.ts');
const scratch = path.join(workDir, 'recognizer');

interface OnnxInfo {
  source_sha256: string;
  tokens: string[];
  pred_context: number;
  quantized?: Record<string, unknown>;
}

function readInfo(file: string): OnnxInfo | undefined {
  return fs.existsSync(`${file}.json`) ? (JSON.parse(fs.readFileSync(`${file}.json`, 'utf8')) as OnnxInfo) : undefined;
}

function sha256(file: string): string {
  return run('sha256sum', [file]).split(' ')[0];
}

/** The fp32 exports (whole utterance, and chunk by chunk with caches), redone when missing or made
 * from another F32 file. */
function ensureFp32Exports(sha: string): { whole: string; stream: string } {
  const whole = path.join(onnxDir, 'encoder-fp32.onnx');
  const stream = path.join(onnxDir, 'encoder-stream-fp32.onnx');
  if (![whole, stream].every((f) => fs.existsSync(f) && readInfo(f)?.source_sha256 === sha)) {
    process.stderr.write(`exporting ${path.relative(repoRoot, f32File)} to ONNX...\n`);
    run(python, ['-m', 'bench.onnx_export', '--gguf', f32File, '--out', whole, '--stream-out', stream]);
  }
  return { whole, stream };
}

/** int8 from an fp32 export, redone when that was made from another model (python3-onnx does it;
 * bench/onnx/quantize.py does the same with onnxruntime's own tool where that is installed). */
function ensureInt8(fp32: string, sha: string, notes: string[]): string | undefined {
  const int8 = fp32.replace('-fp32.onnx', '-int8.onnx');
  if (!fs.existsSync(int8) || readInfo(int8)?.source_sha256 !== sha) {
    try {
      run(python, [path.join(repoRoot, 'bench', 'onnx', 'quantize_int8.py'), fp32, int8]);
    } catch (err) {
      notes.push(`${path.basename(int8)} left out: ${(err as Error).message.slice(0, 300)} (apt-get install -y python3-onnx)`);
      return undefined;
    }
  }
  return int8;
}

interface Index {
  d_model?: number;
  clips: { id: string; samples: number; encFrames: number; encOffset: number }[];
}

function readEnc(prefix: string): { index: Index; data: Float32Array } {
  const index = JSON.parse(fs.readFileSync(`${prefix}.index.json`, 'utf8')) as Index;
  const buf = fs.readFileSync(`${prefix}.enc.bin`);
  return { index, data: new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4) };
}

/** Greedy transducer search over stored encoder frames, with the engine's joiner; at most 3
 * symbols per frame, as docs/model-format.md fixes it. Returns text and emission times. */
function greedy(
  joint: (enc: Float32Array, hist: Int32Array) => Float32Array,
  enc: Float32Array,
  frames: number,
  d: number,
  tokens: string[],
  context: number,
) {
  const hist = new Int32Array(context); // blank (0) where there is no history yet
  const emitted: [string, number][] = [];
  for (let t = 0; t < frames; t++) {
    const frame = enc.subarray(t * d, (t + 1) * d);
    for (let n = 0; n < 3; n++) {
      const logp = joint(frame, hist);
      let best = 0;
      for (let k = 1; k < logp.length; k++) if (logp[k] > logp[best]) best = k;
      if (best === 0) break;
      emitted.push([tokens[best], +(t * 0.04).toFixed(2)]);
      hist.copyWithin(0, 1);
      hist[context - 1] = best;
    }
  }
  const text = emitted
    .map(([s]) => s)
    .join('')
    .replace(/\u2581/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return { text, tokens: emitted };
}

function maxAbsDiff(
  a: { index: Index; data: Float32Array },
  b: { index: Index; data: Float32Array },
  d: number,
): { max_abs: number; rel_rms: number } {
  let maxAbs = 0;
  let num = 0;
  let den = 0;
  a.index.clips.forEach((ca, i) => {
    const cb = b.index.clips[i];
    const n = Math.min(ca.encFrames, cb.encFrames) * d;
    for (let k = 0; k < n; k++) {
      const x = a.data[ca.encOffset + k];
      const diff = x - b.data[cb.encOffset + k];
      maxAbs = Math.max(maxAbs, Math.abs(diff));
      num += diff * diff;
      den += x * x;
    }
  });
  return { max_abs: maxAbs, rel_rms: Math.sqrt(num / (den || 1)) };
}

/** Last token's emission minus end of speech on the held-out voices, utterances decoded without
 * error, as training/evaluate.py measures it: a token counts at the end of the 40 ms frame that
 * emits it (the engine reports the frame's start). The synthesizer trims to 20 ms after speech. */
function emissionLatency(utts: { set: string; ref: string; hyp: string; seconds: number; tokens: [string, number][] }[], chunk: number) {
  // u.seconds includes the segment padding after the clip
  const ms = utts
    .filter((u) => u.set === 'synth' && u.hyp === u.ref && u.tokens.length)
    .map((u) => (u.tokens[u.tokens.length - 1][1] + 0.04 - (u.seconds - segmentPadding.trail_s - 0.02)) * 1000);
  return {
    utterances: ms.length,
    p50_ms: percentile(ms, 50),
    p90_ms: percentile(ms, 90),
    mean_ms: ms.length ? ms.reduce((a, b) => a + b, 0) / ms.length : null,
    chunk_frames: chunk,
  };
}

async function main() {
  requireFile(int4File, 'the shipped int4 model; pass --int4 FILE to use another');
  requireFile(f32File, 'the F32 export of the same model; pass --f32 FILE');
  ensureSynthDevset();
  let clips: Clip[] = devClips();
  if (limit > 0)
    clips = [...clips.filter((c) => c.set === 'fsdd').slice(0, limit), ...clips.filter((c) => c.set === 'synth').slice(0, limit)];
  fs.mkdirSync(scratch, { recursive: true });
  const clipsFile = path.join(scratch, 'clips.json');
  fs.writeFileSync(clipsFile, JSON.stringify(clips));

  const f32Sha = sha256(f32File);
  const fp32 = ensureFp32Exports(f32Sha);
  const info = readInfo(fp32.whole)!;
  const notes: string[] = [];
  // Streaming (chunk by chunk with caches) is the engine's way; "whole" gives onnxruntime the
  // whole utterance per call, a batching a live stream does not have.
  const onnxRuns: [string, string][] = [
    ['onnx-fp32', fp32.stream],
    ['onnx-fp32-whole', fp32.whole],
  ];
  for (const [name, file] of [
    ['onnx-int8', fp32.stream],
    ['onnx-int8-whole', fp32.whole],
  ]) {
    const int8 = ensureInt8(file, f32Sha, notes);
    if (int8) onnxRuns.push([name, int8]);
  }
  const int8Info = readInfo(fp32.stream.replace('-fp32.onnx', '-int8.onnx'));
  const rows: Record<string, any> = {};
  const idle = await nodeChild<{ peak_rss_mib: number }>(worker, ['idle']);
  const f32Prefix = path.join(scratch, 'earshot-f32');
  rows['earshot-f32'] = await nodeChild(worker, ['earshot', f32File, clipsFile, f32Prefix]);
  rows['earshot-int4'] = await nodeChild(worker, ['earshot', int4File, clipsFile, path.join(scratch, 'earshot-int4')]);
  for (const [name, file] of onnxRuns) rows[name] = await nodeChild(worker, ['onnx', file, f32Prefix, path.join(scratch, name)]);

  // Decode the ONNX encoders' output with the F32 model's joiner.
  const joiner = await native().loadTransducer(f32File);
  const d = Number(joiner.info.metadata.d_model);
  const chunkFrames = Number(joiner.info.metadata.chunk_frames);
  const joint = (e: Float32Array, h: Int32Array) => joiner.debugJoint(e, h);
  const engineEnc = readEnc(f32Prefix);
  const int4Enc = readEnc(path.join(scratch, 'earshot-int4'));
  rows['earshot-int4'].encoder_vs_f32 = maxAbsDiff(engineEnc, int4Enc, d);
  for (const [name] of onnxRuns) {
    const enc = readEnc(path.join(scratch, name));
    rows[name].encoder_vs_f32 = maxAbsDiff(engineEnc, enc, d);
    rows[name].utterances = enc.index.clips.map((c, i) => {
      const g = greedy(joint, enc.data.subarray(c.encOffset), c.encFrames, d, info.tokens, info.pred_context ?? 2);
      return { id: clips[i].id, set: clips[i].set, ref: clips[i].text, hyp: g.text, seconds: c.samples / SAMPLE_RATE, tokens: g.tokens };
    });
  }
  // Resampler check: the int4 model on FSDD resampled by torchaudio (the training data's resampler)
  // instead of the daemon's; the same stream decode, the same margins.
  const taDir = path.join(workDir, 'fsdd-torchaudio');
  run(python, [path.join(repoRoot, 'bench', 'lib', 'resample_fsdd.py'), '--data', path.join(sharedData, 'fsdd'), '--out', taDir]);
  const int4 = await native().loadTransducer(int4File);
  const taRows = [];
  for (const c of clips.filter((x) => x.set === 'fsdd')) {
    const s = int4.createStream({ beam: 1 });
    s.acceptWaveform(loadAudio({ ...c, file: path.join(taDir, path.basename(c.file)) }));
    taRows.push({ ref: c.text, hyp: (await s.finalize()).text });
    s.dispose();
  }
  const resamplerCheck = { daemon: (werBySet(rows['earshot-int4'].utterances) as any).fsdd, torchaudio: wer(taRows) };
  const sameAsF32 = (name: string) => {
    const base = rows['earshot-f32'].utterances as { hyp: string }[];
    const u = rows[name].utterances as { hyp: string }[];
    return u.filter((x, i) => x.hyp === base[i].hyp).length / u.length;
  };
  const table = Object.entries(rows).map(([name, r]) => {
    const fbank = rows['earshot-f32'].fbank_cpu_s as number;
    return {
      name,
      file_mib: r.file_bytes / 2 ** 20,
      load_ms: r.load_ms,
      peak_rss_mib: r.peak_rss_mib,
      model_rss_mib: r.model_rss_mib,
      encoder_ms_per_audio_s: (1000 * r.encoder_cpu_s) / r.audio_s,
      encoder_one_chunk_ms_per_audio_s: r.encoder_one_chunk_cpu_s !== undefined ? (1000 * r.encoder_one_chunk_cpu_s) / r.audio_s : null,
      // fbank (the engine's, the same for all) + encoder: the work ONNX and Earshot both do
      rtf_fbank_encoder: (fbank + r.encoder_cpu_s) / r.audio_s,
      rtf_streaming_decode: r.decode_cpu_s !== undefined ? r.decode_cpu_s / r.audio_s : null,
      wer: werBySet(r.utterances),
      // the held-out voices apart (ids are "<voice>/<file>")
      wer_by_voice: werBySet(
        (r.utterances as { id: string; set: string; ref: string; hyp: string }[])
          .filter((u) => u.set === 'synth')
          .map((u) => ({ ...u, set: u.id.split('/')[0] })),
      ),
      same_text_as_f32: sameAsF32(name),
      encoder_vs_f32: r.encoder_vs_f32 ?? null,
    };
  });
  const result = {
    bench: 'recognizer',
    emission_latency: Object.fromEntries(Object.entries(rows).map(([k, r]) => [k, emissionLatency(r.utterances, chunkFrames)])),
    audio_s: rows['earshot-f32'].audio_s,
    padding: segmentPadding,
    fsdd_resampler_check: resamplerCheck,
    clips: { fsdd: clips.filter((c) => c.set === 'fsdd').length, synth: clips.filter((c) => c.set === 'synth').length },
    node_idle_peak_rss_mib: idle.peak_rss_mib,
    fbank_ms_per_audio_s: (1000 * rows['earshot-f32'].fbank_cpu_s) / rows['earshot-f32'].audio_s,
    kernel: rows['earshot-int4'].kernel,
    int8_quantization: int8Info?.quantized ?? null,
    models: {
      int4: path.relative(repoRoot, int4File),
      f32: path.relative(repoRoot, f32File),
      ...Object.fromEntries(onnxRuns.map(([n, f]) => [n, path.relative(repoRoot, f)])),
    },
    table,
    notes,
    utterances: Object.fromEntries(Object.entries(rows).map(([k, r]) => [k, r.utterances])),
  };
  writeResult('recognizer', result);
  const brief = table.map((t) => ({
    name: t.name,
    enc_ms_per_s: +t.encoder_ms_per_audio_s.toFixed(2),
    rss: +t.peak_rss_mib.toFixed(1),
    wer: Object.fromEntries(Object.entries(t.wer).map(([k, v]) => [k, +v.wer.toFixed(4)])),
  }));
  console.log(JSON.stringify({ bench: 'recognizer', audio_s: result.audio_s, table: brief, notes }));
}

main().catch((err) => {
  console.error(`bench/recognizer: ${(err as Error).stack ?? err}`);
  process.exit(1);
});
