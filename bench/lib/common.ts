// Shared pieces of `npm run bench`: paths, the development sets, WER, child processes, machine
// description. Every benchmark writes its figures to runs/bench/results/<name>.json (ignored) and
// prints them as its last stdout line; bench/run-all.ts renders bench/RESULTS.md from those files.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SAMPLE_RATE } from '../../daemon/frames.js';
import { readWav16kMono } from '../../daemon/audio/wav.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const sharedData = path.join(path.resolve(repoRoot, '../shared'), 'data');
/** EARSHOT_BENCH_OUT=DIR puts scratch files, results, RESULTS.md and the plots there instead of
 * runs/bench/ and bench/ (a trial run, e.g. bench/lib/smoke.sh, must not overwrite the real ones). */
const trialOut = process.env.EARSHOT_BENCH_OUT ? path.resolve(process.env.EARSHOT_BENCH_OUT) : undefined;
/** EARSHOT_BENCH_QUICK=1: a few files per set and short end-to-end runs, to try the plumbing. */
export const quick = process.env.EARSHOT_BENCH_QUICK === '1';
/** Caches and raw results; runs/ is ignored by git. */
export const workDir = trialOut ?? path.join(repoRoot, 'runs', 'bench');
export const resultsDir = path.join(workDir, 'results');
export const isTrial = trialOut !== undefined;
/** Where RESULTS.md and plots/ go. */
export const reportDir = trialOut ?? path.join(repoRoot, 'bench');
export const python = '/usr/bin/python3'; // Debian's, with torch (the first python3 on PATH has none)

/** EARSHOT_BENCH_MODELS=DIR runs the whole bench on other model files (e.g. a small random model
 * from training/export.py while the shipped ones are not there), same file names. */
export const modelsDir = path.resolve(process.env.EARSHOT_BENCH_MODELS ?? path.join(repoRoot, 'models'));
export const models = {
  int4: path.join(modelsDir, 'earshot-en-int4.gguf'),
  f32: path.join(modelsDir, 'earshot-en-f32.gguf'),
  pvad: path.join(modelsDir, 'pvad.gguf'),
  spkenc: path.join(modelsDir, 'spkenc.gguf'),
};
/** EARSHOT_BENCH_SAMPLE=FILE.wav (with FILE.json beside it) replaces the bundled sample. */
export const sampleWav = path.resolve(process.env.EARSHOT_BENCH_SAMPLE ?? path.join(repoRoot, 'samples', 'sample.wav'));

export interface Clip {
  set: 'fsdd' | 'synth';
  id: string;
  file: string;
  text: string;
}

/** FSDD takes 0-4 (the dataset's test split, kept out of training). */
export function fsddClips(): Clip[] {
  const dir = path.join(sharedData, 'fsdd');
  const lines = fs.readFileSync(path.join(dir, 'manifest.tsv'), 'utf8').trim().split('\n');
  const cols = lines[0].split('\t');
  const clips: Clip[] = [];
  for (const line of lines.slice(1)) {
    const row = Object.fromEntries(line.split('\t').map((v, i) => [cols[i], v]));
    const take = Number(/_(\d+)\.wav$/.exec(row.path)?.[1]);
    if (take >= 0 && take <= 4) clips.push({ set: 'fsdd', id: row.path, file: path.join(dir, row.path), text: row.transcript });
  }
  return clips;
}

/** A cache keyed by its own arguments, shared by trial runs. */
export const synthDir = path.join(repoRoot, 'runs', 'bench', 'synth');

/** The two held-out synthetic voices, synthesized (once, cached) by bench/lib/synth_devset.py. */
export function synthClips(): Clip[] {
  const manifest = path.join(synthDir, 'manifest.json');
  if (!fs.existsSync(manifest)) throw new Error(`${manifest} is missing: run ${python} -m bench.lib.synth_devset first`);
  const m = JSON.parse(fs.readFileSync(manifest, 'utf8')) as { utterances: { wav: string; text: string; voice: string }[] };
  return m.utterances.map((u) => ({ set: 'synth', id: `${u.voice}/${u.wav}`, file: path.join(synthDir, u.wav), text: u.text }));
}

export function ensureSynthDevset(): void {
  run(python, ['-m', 'bench.lib.synth_devset', '--out', synthDir]);
}

export function devClips(): Clip[] {
  return [...fsddClips(), ...synthClips()];
}

/** The silence the daemon's recognizer gets around speech: the segmenter's pre-roll before it and
 * the trailing stretch that closes the segment after it (config/earshot.yaml's defaults). A
 * transducer emits the last token a little after the speech ends, so a clip cut at the last
 * sample loses it; the dev clips get the same margins as a live segment. */
export const segmentPadding = (() => {
  const yaml = fs.readFileSync(path.join(repoRoot, 'config', 'earshot.yaml'), 'utf8');
  const ms = (key: string, fallback: number) => Number(new RegExp(`^\\s*${key}:\\s*(\\d+)`, 'm').exec(yaml)?.[1] ?? fallback);
  return { lead_s: ms('pre_roll_ms', 300) / 1000, trail_s: ms('trailing_ms', 300) / 1000 };
})();

export function loadAudio(clip: Clip): Float32Array {
  const x = readWav16kMono(clip.file).samples;
  const lead = Math.round(segmentPadding.lead_s * SAMPLE_RATE);
  const out = new Float32Array(lead + x.length + Math.round(segmentPadding.trail_s * SAMPLE_RATE));
  out.set(x, lead);
  return out;
}

function editDistance(a: string[], b: string[]): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}

export const words = (s: string) =>
  s
    .toLowerCase()
    .replace(/[^a-z' ]+/g, ' ')
    .split(/\s+/)
    .filter(Boolean);

/** Corpus WER: word edits over reference words, summed over the utterances. */
export function wer(pairs: { ref: string; hyp: string }[]): { wer: number; errors: number; words: number; utterances: number } {
  let errors = 0;
  let n = 0;
  for (const p of pairs) {
    const r = words(p.ref);
    errors += editDistance(r, words(p.hyp));
    n += r.length;
  }
  return { wer: n ? errors / n : NaN, errors, words: n, utterances: pairs.length };
}

/** WER per development set, from utterances tagged with their set. */
export function werBySet(rows: { set: string; ref: string; hyp: string }[]): Record<string, ReturnType<typeof wer>> {
  const out: Record<string, ReturnType<typeof wer>> = {};
  for (const set of [...new Set(rows.map((r) => r.set))]) out[set] = wer(rows.filter((r) => r.set === set));
  return out;
}

/** Runs a command to completion (inheriting stderr); throws with its output on failure. */
export function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): string {
  const r = spawnSync(cmd, args, {
    cwd: opts.cwd ?? repoRoot,
    env: opts.env ?? process.env,
    encoding: 'utf8',
    maxBuffer: 1 << 28,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (r.error) throw new Error(`cannot run ${cmd}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${r.status}: ${r.stdout.slice(-2000)}`);
  return r.stdout;
}

/** The last line of a program's stdout parsed as JSON (every bench piece ends with one). */
export function lastJson<T = Record<string, unknown>>(stdout: string): T {
  const lines = stdout.trim().split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    const l = lines[i].trim();
    if (l.startsWith('{')) return JSON.parse(l) as T;
  }
  throw new Error(`no JSON line in output: ${stdout.slice(-500)}`);
}

/** Runs a Node child (with tsx) and returns its last JSON line. Async so a parent can sample it. */
export function nodeChild<T>(script: string, args: string[], onSpawn?: (pid: number) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import=tsx', script, ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    if (onSpawn && child.pid) onSpawn(child.pid);
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`${path.relative(repoRoot, script)} exited with ${code}`));
      else {
        try {
          resolve(lastJson<T>(out));
        } catch (err) {
          reject(err);
        }
      }
    });
  });
}

export function writeResult(name: string, value: unknown): string {
  fs.mkdirSync(resultsDir, { recursive: true });
  const file = path.join(resultsDir, `${name}.json`);
  fs.writeFileSync(file, JSON.stringify(value, null, 1));
  return file;
}

export function readResult<T = any>(name: string): T | undefined {
  const file = path.join(resultsDir, `${name}.json`);
  return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as T) : undefined;
}

export function requireFile(file: string, hint: string): void {
  if (!fs.existsSync(file)) throw new Error(`${path.relative(repoRoot, file)} does not exist (${hint})`);
}

export function machine(): Record<string, string | number> {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  let osName = `${os.type()} ${os.release()}`;
  try {
    const rel = fs.readFileSync('/etc/os-release', 'utf8');
    osName = /PRETTY_NAME="([^"]+)"/.exec(rel)?.[1] ?? osName;
  } catch {
    /* keep uname */
  }
  return {
    cpu,
    cores: os.cpus().length,
    memory_gib: +(os.totalmem() / 2 ** 30).toFixed(1),
    os: osName,
    kernel: os.release(),
    node: process.version,
    arch: process.arch,
  };
}

export function percentile(values: number[], p: number): number {
  if (!values.length) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const idx = (p / 100) * (s.length - 1);
  const lo = Math.floor(idx);
  const hi = Math.ceil(idx);
  return s[lo] + (s[hi] - s[lo]) * (idx - lo);
}

/** Least-squares slope of y over x. */
export function slope(x: number[], y: number[]): number {
  const n = x.length;
  const mx = x.reduce((a, b) => a + b, 0) / n;
  const my = y.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (x[i] - mx) * (y[i] - my);
    den += (x[i] - mx) ** 2;
  }
  return den ? num / den : 0;
}

export const cpuSeconds = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
export const peakRssMiB = () => process.resourceUsage().maxRSS / 1024;
export const rssMiB = () => process.memoryUsage().rss / 2 ** 20;
