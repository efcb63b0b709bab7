// End to end: a real mosquitto on a free loopback port, the daemon (`earshot run --input FILE
// --realtime --mqtt-url ...`) on the bundled sample paced in real time, and a subscriber here that
// records when each transcript arrives.
//   - end-of-segment latency: true speech end (samples/sample.json) -> transcript received;
//   - CPU time of the daemon per second of audio (from /proc, after the models are loaded);
//   - memory over 120 minutes of audio (at least 10 asked): the sample concatenated, written to the
//     daemon's stdin (raw PCM source) at 40x real time; the daemon logs its RSS, V8 heap and the audio
//     received so far every 500 ms (EARSHOT_MEMORY_LOG_MS). Reported: RSS at start, after the
//     warm-up (the first 5 minutes of audio) and at the end, max - min after the warm-up, the
//     least-squares slope over the second half (it grows if that is above 1 MiB per 10 minutes of
//     audio), and the same for the V8 heap, the memory outside it and the live heap after each full
//     garbage collection.
// Every daemon runs with the environment systemd/earshot.service gives it (its Environment= lines:
// the V8 and malloc settings are part of what is measured); --no-unit-env leaves them out.
// Writes runs/bench/results/e2e.json; last stdout line: JSON summary. --memory-only runs the memory
// part alone and writes results/e2e-memory.json instead.
//
//   node --import=tsx bench/e2e.ts [--sample WAV] [--truth JSON] [--models DIR] [--rss-minutes 120]
//                                  [--speed 40] [--warmup-minutes 5] [--min-realtime-s 60]
//                                  [--memory-only] [--no-unit-env]
//                                  [--sentences FILE] [--guard-ms N] [--incomplete-ms N] [--eou P] [--eou-hold P] [--no-memory]
//                                  [--name NAME]
// --sentences: the daemon decodes with that sentence file (recognizer.sentences); --guard-ms sets
// segmenter.sentence_guard_ms (0: the silence rule alone), --incomplete-ms
// segmenter.sentence_incomplete_ms (0: off), --eou / --eou-hold segmenter.end_of_utterance /
// end_of_utterance_hold (the model's end-of-utterance head; 0: off); --no-memory skips the memory run;
// --name: the result's name (default e2e). bench/sentence_end.ts runs it this way. Each true
// command also says how many transcripts its speech came out in (more than one: cut, at one of
// the truth's `pauses` or mid-speech) and which rule closed its last one.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { SAMPLE_RATE } from '../daemon/frames.js';
import mqtt from 'mqtt';
import { readWav16kMono } from '../daemon/audio/wav.js';
import {
  modelsDir as defaultModels,
  percentile,
  quick,
  repoRoot,
  sampleWav as defaultSample,
  requireFile,
  run,
  slope,
  wer,
  workDir,
  writeResult,
} from './lib/common.js';

function opt(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

const sampleWav = path.resolve(opt('sample', defaultSample));
const truthFile = path.resolve(opt('truth', sampleWav.replace(/\.wav$/, '.json')));
const modelsDir = path.resolve(opt('models', defaultModels));
const rssMinutes = Number(opt('rss-minutes', quick ? '2' : '120'));
const minRealtimeS = Number(opt('min-realtime-s', quick ? '1' : '60'));
/** --memory-only: the memory run alone (results/e2e-memory.json; e2e.json is left as it is) */
const memoryOnly = process.argv.includes('--memory-only');
const noMemory = process.argv.includes('--no-memory');
const sentencesFile = opt('sentences', '') ? path.resolve(opt('sentences', '')) : '';
const guardMs = opt('guard-ms', '');
const incompleteMs = opt('incomplete-ms', '');
const eou = opt('eou', '');
const eouHold = opt('eou-hold', '');
const resultName = opt('name', 'e2e');
const dir = path.join(workDir, 'e2e');
/** The memory run feeds audio this many times faster than real time. */
const FEED_SPEED = Number(opt('speed', '40'));

/** The environment systemd/earshot.service sets for the daemon (its Environment= lines), unless
 * --no-unit-env. */
function unitEnv(): Record<string, string> {
  if (process.argv.includes('--no-unit-env')) return {};
  const env: Record<string, string> = {};
  const text = fs.readFileSync(path.join(repoRoot, 'systemd', 'earshot.service'), 'utf8');
  for (const m of text.matchAll(/^Environment=(.*)$/gm)) {
    for (const w of m[1].matchAll(/"([^"]*)"|(\S+)/g)) {
      const kv = w[1] ?? w[2];
      const eq = kv.indexOf('=');
      if (eq > 0) env[kv.slice(0, eq)] = kv.slice(eq + 1);
    }
  }
  return env;
}
const daemonEnv = unitEnv();
const TICK = 1 / 100; // seconds per clock tick of /proc/<pid>/stat (USER_HZ = 100 on Linux)

interface TruthSegment {
  start: number;
  end: number;
  text?: string;
  /** pauses inside the command [start, end] (seconds) */
  pauses?: [number, number][];
}

/** Speech segments of the sample, seconds from its start. Accepts a list or {commands: [...]},
 * each with start/end (or speech_start/speech_end, start_s/end_s) and optionally text. */
function readTruth(file: string): TruthSegment[] {
  requireFile(file, "the sample's speech times, shipped next to samples/sample.wav");
  const raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  const list: any[] = Array.isArray(raw) ? raw : (raw.commands ?? raw.segments ?? raw.utterances ?? []);
  const num = (o: any, keys: string[]) => keys.map((k) => o[k]).find((v) => typeof v === 'number');
  const segs = list.map((s) => ({
    start: num(s, ['start', 'speech_start', 'start_s']),
    end: num(s, ['end', 'speech_end', 'end_s']),
    text: s.text ?? s.transcript,
    pauses: s.pauses,
  }));
  if (!segs.length || segs.some((s) => s.end === undefined || s.start === undefined))
    throw new Error(`${file}: expected a list of segments with "start" and "end" (seconds)`);
  return (segs as TruthSegment[]).sort((a, b) => a.end - b.end);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.end();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`mosquitto did not listen on 127.0.0.1:${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function startMosquitto(): Promise<{ url: string; stop: () => void }> {
  requireFile('/usr/sbin/mosquitto', 'apt-get install -y mosquitto');
  const port = await freePort();
  const conf = path.join(dir, 'mosquitto.conf');
  fs.writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\n`);
  const proc = spawn('/usr/sbin/mosquitto', ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
  proc.on('exit', (code) => {
    if (code) process.stderr.write(`mosquitto exited with ${code}: ${err}\n`);
  });
  await waitForPort(port);
  return { url: `mqtt://127.0.0.1:${port}`, stop: () => proc.kill('SIGTERM') };
}

function procSample(pid: number): { cpu: number; rssMiB: number } | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cpu = (Number(f[11]) + Number(f[12])) * TICK; // utime + stime
    const rss = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return { cpu, rssMiB: rss ? Number(rss[1]) / 1024 : NaN };
  } catch {
    return undefined; // exited
  }
}

/** Resident memory of the process by kind of mapping (MiB): glibc's main arena ([heap]), glibc's
 * thread arenas (anonymous mappings that start on a 64 MiB boundary, where glibc places each one),
 * the other anonymous mappings (V8's heap, large malloc blocks, thread stacks), files. */
function smapsSample(pid: number): { heap: number; anon: number; arenas: number; file: number; anonMappings: number } | undefined {
  try {
    const text = fs.readFileSync(`/proc/${pid}/smaps`, 'utf8');
    const out = { heap: 0, anon: 0, arenas: 0, file: 0, anonMappings: 0 };
    let kind: 'heap' | 'anon' | 'file' = 'anon';
    let arena = false;
    for (const line of text.split('\n')) {
      const head = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
      if (head) {
        const name = head[3];
        kind = name === '[heap]' ? 'heap' : name.startsWith('/') ? 'file' : 'anon';
        const start = BigInt(`0x${head[1]}`);
        // 64 MiB = glibc's HEAP_MAX_SIZE on 64-bit; V8's pages are 256 KiB
        arena = kind === 'anon' && start % (1n << 26n) === 0n && BigInt(`0x${head[2]}`) - start !== 1n << 18n;
        if (kind === 'anon') out.anonMappings++;
        continue;
      }
      if (line.startsWith('Rss:')) {
        const mib = Number(line.split(/\s+/)[1]) / 1024;
        out[kind] += mib;
        if (arena) out.arenas += mib;
      }
    }
    return out;
  } catch {
    return undefined;
  }
}

/** The daemon's own "memory" log lines (EARSHOT_MEMORY_LOG_MS), MiB. */
interface MemoryLine {
  at: number;
  rss: number;
  heap_total: number;
  heap_used: number;
  external: number;
  array_buffers: number;
  /** V8 heap in use after the last full (major) GC, null before the first */
  heap_after_major_gc: number | null;
  major_gcs: number;
  /** audio the daemon had received (seconds) */
  audio_s: number;
}

interface Arrival {
  at: number;
  t: any;
}

interface DaemonRun {
  /** wall clock (ms) when the daemon said it runs: the file starts playing then */
  runningAt: number;
  /** when the daemon logged that its input ended and the pipeline drained (before shutting down) */
  inputEndAt: number;
  exitedAt: number;
  cpuAtRunning: number;
  cpuLast: number;
  samples: { at: number; cpu: number; rssMiB: number }[];
  arrivals: Arrival[];
  memoryLines: MemoryLine[];
  smaps: { at: number; heap: number; anon: number; arenas: number; file: number; anonMappings: number }[];
}

/** The memory run's input: 16 kHz s16le PCM written to the daemon's stdin at `speed` x real time. */
interface StdinFeed {
  pcm: Int16Array;
  speed: number;
}

/** Runs the daemon to the end of its input (a WAV file, or `feed` on stdin), sampling /proc every
 * `everyMs` (and, with `memoryLogMs`, the daemon's own memory figures and /proc/PID/smaps that often). */
async function runDaemon(
  url: string,
  site: string,
  input: string | StdinFeed,
  realtime: boolean,
  everyMs: number,
  memoryLogMs = 0,
): Promise<DaemonRun> {
  const cfg = path.join(dir, `${site}.yaml`);
  fs.writeFileSync(
    cfg,
    [
      `site: ${site}`,
      `state_dir: ${path.join(dir, `state-${site}`)}`,
      'models:',
      `  transducer: ${path.join(modelsDir, 'earshot-en-int4.gguf')}`,
      `  pvad: ${path.join(modelsDir, 'pvad.gguf')}`,
      `  speaker_encoder: ${path.join(modelsDir, 'spkenc.gguf')}`,
      ...(typeof input === 'string'
        ? []
        : ['audio:', '  source: stdin', `  stdin: {sample_rate: ${SAMPLE_RATE}, channels: 1, format: s16le}`]),
      ...(sentencesFile ? ['recognizer:', `  sentences: [${JSON.stringify(sentencesFile)}]`] : []),
      ...(guardMs || incompleteMs || eou || eouHold ? ['segmenter:'] : []),
      ...(guardMs ? [`  sentence_guard_ms: ${Number(guardMs)}`] : []),
      ...(incompleteMs ? [`  sentence_incomplete_ms: ${Number(incompleteMs)}`] : []),
      ...(eou ? [`  end_of_utterance: ${Number(eou)}`] : []),
      ...(eouHold ? [`  end_of_utterance_hold: ${Number(eouHold)}`] : []),
      '',
    ].join('\n'),
  );
  fs.rmSync(path.join(dir, `state-${site}`), { recursive: true, force: true });
  const sub = mqtt.connect(url, { clientId: `bench-sub-${site}-${process.pid}` });
  const arrivals: Arrival[] = [];
  sub.on('message', (_topic, payload) => arrivals.push({ at: Date.now(), t: JSON.parse(payload.toString()) }));
  await new Promise<void>((resolve, reject) => {
    sub.once('error', reject);
    sub.once('connect', () => sub.subscribe(`earshot/${site}/transcript`, { qos: 1 }, (err) => (err ? reject(err) : resolve())));
  });
  const args = [
    path.join(repoRoot, 'bin', 'earshot'),
    'run',
    '--config',
    cfg,
    ...(typeof input === 'string' ? ['--input', input] : []),
    '--mqtt-url',
    url,
    '--site',
    site,
  ];
  if (realtime) args.push('--realtime');
  const env = { ...process.env, ...daemonEnv, ...(memoryLogMs > 0 ? { EARSHOT_MEMORY_LOG_MS: String(memoryLogMs) } : {}) };
  const proc = spawn(process.execPath, args, {
    cwd: repoRoot,
    env,
    stdio: [typeof input === 'string' ? 'ignore' : 'pipe', 'ignore', 'pipe'],
  });
  const memoryLines: MemoryLine[] = [];
  const smaps: DaemonRun['smaps'] = [];
  const feed = typeof input === 'string' ? undefined : input;
  const samples: DaemonRun['samples'] = [];
  let runningAt = 0;
  let inputEndAt = 0;
  let cpuAtRunning = 0;
  let log = '';
  let buf = '';
  let feeding: NodeJS.Timeout | undefined;
  // 100 ms pieces, `speed` times faster than they would come from a microphone: each 2 ms tick writes
  // what is due by then; while the pipe is full it waits (the daemon's log says how much audio it has
  // had, so a slower pace changes only the wall time).
  const startFeed = (f: StdinFeed) => {
    const t0 = Date.now();
    let pos = 0;
    let full = false;
    const tick = setInterval(() => {
      const due = Math.min(f.pcm.length, Math.floor(((Date.now() - t0) / 1000) * SAMPLE_RATE * f.speed));
      while (!full && pos < due) {
        const end = Math.min(f.pcm.length, pos + 1600);
        full = !proc.stdin!.write(Buffer.from(f.pcm.buffer, f.pcm.byteOffset + pos * 2, (end - pos) * 2));
        pos = end;
        if (full) proc.stdin!.once('drain', () => (full = false));
      }
      if (pos >= f.pcm.length) {
        clearInterval(tick);
        proc.stdin!.end();
      }
    }, 2);
    return tick;
  };
  proc.stderr!.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      log += line + '\n';
      if (!runningAt && line.includes('"earshot running"')) {
        runningAt = JSON.parse(line).time as number; // pino's epoch ms, stamped as the source starts
        cpuAtRunning = procSample(proc.pid!)?.cpu ?? 0;
      }
      if (!inputEndAt && line.includes('"end of input"')) {
        inputEndAt = JSON.parse(line).time as number;
        if (feed) proc.kill('SIGTERM'); // a stdin source does not end the daemon by itself
      }
      if (feed && !feeding && line.includes('"earshot running"')) feeding = startFeed(feed);
      if (line.includes('"msg":"memory"')) {
        const j = JSON.parse(line);
        memoryLines.push({
          at: j.time,
          rss: j.rss,
          heap_total: j.heap_total,
          heap_used: j.heap_used,
          external: j.external,
          array_buffers: j.array_buffers,
          heap_after_major_gc: j.heap_after_major_gc,
          major_gcs: j.major_gcs,
          audio_s: j.audio_s,
        });
      }
    }
  });
  const timer = setInterval(() => {
    const s = procSample(proc.pid!);
    if (s) samples.push({ at: Date.now(), ...s });
  }, everyMs);
  const smapsTimer =
    memoryLogMs > 0
      ? setInterval(() => {
          const s = smapsSample(proc.pid!);
          if (s) smaps.push({ at: Date.now(), ...s });
        }, memoryLogMs)
      : undefined;
  const code = await new Promise<number | null>((resolve) => proc.on('exit', (c) => resolve(c)));
  const exitedAt = Date.now();
  clearInterval(timer);
  clearInterval(smapsTimer);
  if (feeding) clearInterval(feeding);
  await new Promise((r) => setTimeout(r, 300)); // QoS 1 deliveries already in flight
  await sub.endAsync();
  fs.writeFileSync(path.join(dir, `${site}.log`), log);
  if (code !== 0 || !runningAt)
    throw new Error(
      `the daemon exited with ${code}${runningAt ? '' : ' before it ran'}; log: ${path.join(dir, `${site}.log`)}\n${log.slice(-1500)}`,
    );
  return {
    runningAt,
    inputEndAt: inputEndAt || exitedAt,
    exitedAt,
    cpuAtRunning,
    cpuLast: samples[samples.length - 1]?.cpu ?? cpuAtRunning,
    samples,
    arrivals,
    memoryLines,
    smaps,
  };
}

/** Pairs each true segment with the transcripts whose speech overlaps it; latency to the last of
 * them (the one that delivers the end of the command). More than one: the command was cut. */
function latencies(r: DaemonRun, truth: TruthSegment[]) {
  const rows = [];
  for (const seg of truth) {
    const endMs = r.runningAt + seg.end * 1000;
    const startMs = r.runningAt + seg.start * 1000;
    const pieces = r.arrivals.filter((x) => Date.parse(x.t.start) <= endMs + 500 && Date.parse(x.t.end) >= startMs - 500);
    const a = pieces[pieces.length - 1];
    if (!a) {
      rows.push({ truth_end_s: seg.end, received: false });
      continue;
    }
    // where a cut fell: the first piece's speech end, inside one of the command's pauses or not
    const cutS = pieces.length > 1 ? (Date.parse(pieces[0].t.end) - r.runningAt) / 1000 : null;
    const cut =
      cutS === null ? null : (seg.pauses ?? []).some(([ps, pe]) => cutS >= ps - 0.15 && cutS <= pe + 0.15) ? 'pause' : 'mid_speech';
    const origin = (Date.parse(a.t.start) - r.runningAt) / 1000;
    rows.push({
      truth_end_s: seg.end,
      received: true,
      latency_ms: a.at - endMs,
      pieces: pieces.length,
      cut,
      closed_by: a.t.closed_by,
      // the daemon's own view: its VAD's speech end -> this arrival
      latency_from_vad_end_ms: a.at - Date.parse(a.t.end),
      daemon_latency: a.t.latency,
      ref: seg.text ?? null,
      hyp: pieces.map((p) => p.t.text).join(' | '),
      tokens: (a.t.tokens as { text: string; start: number; conf: number }[]).map((k) => [k.text, +(origin + k.start).toFixed(3)]),
      segment_s: [+origin.toFixed(3), +((Date.parse(a.t.end) - r.runningAt) / 1000).toFixed(3)],
    });
  }
  return rows;
}

/** Audio minutes at the start of the memory run that count as warm-up (V8's heap, glibc's arenas and
 * the engine's buffers reach their working size). */
const warmupMinutes = Number(opt('warmup-minutes', quick ? '0.5' : '5'));
/** How often the daemon logs its memory during the memory run, and /proc/PID/smaps is read (ms). */
const MEMORY_LOG_MS = quick ? 100 : 500;
/** "grows": a least-squares slope over the second half above this (MiB per minute of audio). */
const GROWTH_LIMIT = 0.1; // 1 MiB per 10 minutes

/** Least-squares slope (MiB per minute of audio) over the points with x >= from. */
function slopeFrom(x: number[], y: number[], from: number): number {
  const keep = x.map((v, i) => v >= from && Number.isFinite(y[i]));
  const xs = x.filter((_, i) => keep[i]);
  return xs.length > 2
    ? slope(
        xs,
        y.filter((_, i) => keep[i]),
      )
    : NaN;
}

/** Median of y over the points with x in [from, to). */
function levelAt(x: number[], y: number[], from: number, to: number): number {
  return percentile(
    y.filter((v, i) => x[i] >= from && x[i] < to && Number.isFinite(v)),
    50,
  );
}

/** Trend figures of one memory series (MiB over minutes of audio x). */
function trend(x: number[], y: number[], warm: number) {
  const last = x[x.length - 1];
  const after = y.filter((v, i) => x[i] >= warm && Number.isFinite(v));
  const r = (v: number, d = 2) => (Number.isFinite(v) ? +v.toFixed(d) : null);
  return {
    start_mib: r(y.find((v) => Number.isFinite(v)) ?? NaN),
    // median over the minute after the warm-up (or the first value after it, for a sparse series)
    after_warmup_mib: r(
      Number.isFinite(levelAt(x, y, warm, warm + 1))
        ? levelAt(x, y, warm, warm + 1)
        : (y.find((v, i) => x[i] >= warm && Number.isFinite(v)) ?? NaN),
    ),
    end_mib: r(levelAt(x, y, last - 1, Infinity)), // median over the last minute
    max_mib: r(Math.max(...after)),
    max_minus_min_after_warmup_mib: r(Math.max(...after) - Math.min(...after)),
    slope_after_warmup: r(slopeFrom(x, y, warm), 4),
    slope_second_half: r(slopeFrom(x, y, last / 2), 4),
  };
}

/** Memory: >= rssMinutes of audio, the sample back to back, on the daemon's stdin at FEED_SPEED x
 * real time (a file would be read whole into memory first). `perSample`: transcripts the real-time
 * run got from one play of the sample. */
async function memoryRun(url: string, audio: Float32Array, sampleS: number, perSample: number | null) {
  const repeats = Math.max(1, Math.ceil((rssMinutes * 60) / sampleS));
  const pcm = new Int16Array(audio.length * repeats);
  for (let k = 0; k < audio.length; k++) pcm[k] = Math.max(-32768, Math.min(32767, Math.round(audio[k] * 32768)));
  for (let i = 1; i < repeats; i++) pcm.copyWithin(i * audio.length, 0, audio.length);
  const longS = pcm.length / SAMPLE_RATE;
  const m = await runDaemon(url, 'bench-rss', { pcm, speed: FEED_SPEED }, false, 250, MEMORY_LOG_MS);
  // While audio flows: from "running" to "end of input" (shutdown frees memory, not of interest).
  const wallS = (m.inputEndAt - m.runningAt) / 1000;
  const lines = m.memoryLines.filter((l) => l.at <= m.inputEndAt);
  if (lines.length < 5)
    throw new Error(`the daemon logged its memory ${lines.length} times (EARSHOT_MEMORY_LOG_MS); log: ${path.join(dir, 'bench-rss.log')}`);
  // x: minutes of audio the daemon had received (its own count, whatever the pace)
  const x = lines.map((l) => l.audio_s / 60);
  const warm = Math.min(warmupMinutes, x[x.length - 1] / 2);
  const series = (f: (l: MemoryLine) => number | null) =>
    trend(
      x,
      lines.map((l) => f(l) ?? NaN),
      warm,
    );
  const rss = series((l) => l.rss);
  // Audio minutes of a wall-clock time, interpolated between the daemon's memory lines.
  const audioAt = (at: number) => {
    const i = lines.findIndex((l) => l.at >= at);
    if (i <= 0) return i === 0 ? x[0] : x[x.length - 1];
    const a = lines[i - 1];
    const b = lines[i];
    return x[i - 1] + ((at - a.at) / Math.max(1, b.at - a.at)) * (x[i] - x[i - 1]);
  };
  const sm = m.smaps.filter((s) => s.at >= m.runningAt && s.at <= m.inputEndAt);
  const sx = sm.map((s) => audioAt(s.at));
  const last = lines[lines.length - 1];
  return {
    audio_s: longS,
    repeats,
    source: 'stdin',
    speed: FEED_SPEED,
    wall_s: wallS,
    // the environment systemd/earshot.service gives the daemon, which this run used too
    env: daemonEnv,
    sampled_every_ms: MEMORY_LOG_MS,
    warmup_min: warm,
    growth_limit_mib_per_min: GROWTH_LIMIT,
    cpu_s_per_audio_s: (m.cpuLast - m.cpuAtRunning) / longS,
    transcripts: m.arrivals.length,
    transcripts_expected: perSample === null ? null : perSample * repeats,
    rss_start_mib: rss.start_mib,
    rss_after_warmup_mib: rss.after_warmup_mib,
    rss_end_mib: rss.end_mib,
    rss_max_mib: Math.max(...lines.map((l) => l.rss)),
    rss_max_minus_min_after_warmup_mib: rss.max_minus_min_after_warmup_mib,
    rss_median_second_half_mib: levelAt(
      x,
      lines.map((l) => l.rss),
      x[x.length - 1] / 2,
      Infinity,
    ),
    slope_mib_per_audio_min_second_half: rss.slope_second_half,
    slope_mib_per_audio_min_after_warmup: rss.slope_after_warmup,
    grows: (rss.slope_second_half ?? Infinity) > GROWTH_LIMIT,
    // Where it goes: V8's heap (committed, and in use just after each full GC: the live JS objects),
    // everything else (RSS minus V8's heap: code, the engine, malloc arenas, ArrayBuffer contents),
    // and, from /proc/PID/smaps, glibc's main arena ([heap]) and all anonymous mappings.
    parts: {
      v8_heap_total: series((l) => l.heap_total),
      v8_heap_live_after_major_gc: series((l) => l.heap_after_major_gc),
      outside_v8_heap: series((l) => l.rss - l.heap_total),
      array_buffers: series((l) => l.array_buffers),
      malloc_main_arena: trend(
        sx,
        sm.map((s) => s.heap),
        warm,
      ),
      malloc_thread_arenas: trend(
        sx,
        sm.map((s) => s.arenas),
        warm,
      ),
      anonymous: trend(
        sx,
        sm.map((s) => s.anon),
        warm,
      ),
    },
    major_gcs: last.major_gcs,
    series: lines.map((l, i) => [+x[i].toFixed(3), l.rss]),
    // [audio min, rss, V8 heap total, V8 heap used, live heap after the last major GC, external, ArrayBuffers]
    series_daemon: lines.map((l, i) => [
      +x[i].toFixed(3),
      l.rss,
      l.heap_total,
      l.heap_used,
      l.heap_after_major_gc,
      l.external,
      l.array_buffers,
    ]),
    // [audio min, [heap], thread arenas, anonymous (arenas included), file-backed (MiB), anonymous mappings]
    series_smaps: sm.map((s, i) => [
      +sx[i].toFixed(3),
      +s.heap.toFixed(2),
      +s.arenas.toFixed(2),
      +s.anon.toFixed(2),
      +s.file.toFixed(2),
      s.anonMappings,
    ]),
  };
}

async function main() {
  requireFile(sampleWav, 'the bundled sample');
  for (const m of ['earshot-en-int4.gguf', 'pvad.gguf']) requireFile(path.join(modelsDir, m), 'a shipped model');
  const truth = readTruth(truthFile);
  fs.mkdirSync(dir, { recursive: true });
  // bin/earshot runs the compiled daemon: compile the current sources first.
  // tsc still writes dist/ when some file has a type error; say so and go on.
  const tsc = spawnSync(path.join(repoRoot, 'node_modules', '.bin', 'tsc'), ['-p', path.join(repoRoot, 'tsconfig.json')], {
    cwd: repoRoot,
    encoding: 'utf8',
  });
  if (tsc.status !== 0) process.stderr.write(`bench/e2e: tsc reported errors (dist/ written anyway):\n${tsc.stdout.slice(-1000)}\n`);
  const audio = readWav16kMono(sampleWav).samples;
  const sampleS = audio.length / SAMPLE_RATE;
  const broker = await startMosquitto();
  try {
    if (memoryOnly) {
      const mem = await memoryRun(broker.url, audio, sampleS, null);
      writeResult('e2e-memory', { bench: 'e2e-memory', sample: path.relative(repoRoot, sampleWav), sample_s: sampleS, memory: mem });
      const { series, series_daemon, series_smaps, ...summary } = mem;
      console.log(JSON.stringify({ bench: 'e2e-memory', ...summary }));
      return;
    }
    // Real time: repeat the sample until enough segments are measured.
    const rtRuns = [];
    const rows: any[] = [];
    let cpu = 0;
    let played = 0;
    do {
      const r = await runDaemon(broker.url, `bench-rt${rtRuns.length}`, sampleWav, true, 100);
      cpu += r.cpuLast - r.cpuAtRunning;
      played += sampleS;
      rows.push(...latencies(r, truth).map((x) => ({ run: rtRuns.length, ...x })));
      rtRuns.push({ transcripts: r.arrivals.length, wall_s: (r.exitedAt - r.runningAt) / 1000 });
    } while (played < minRealtimeS && rtRuns.length < 8);
    const lat = rows.filter((x) => x.received).map((x) => x.latency_ms as number);
    const latVad = rows.filter((x) => x.received).map((x) => x.latency_from_vad_end_ms as number);

    const mem = noMemory ? null : await memoryRun(broker.url, audio, sampleS, rtRuns.length ? rtRuns[0].transcripts : null);
    const got = rows.filter((x) => x.received);
    const count = (f: (x: any) => string | null) =>
      got.reduce((o: Record<string, number>, x) => (f(x) ? { ...o, [f(x)!]: (o[f(x)!] ?? 0) + 1 } : o), {});
    const result = {
      bench: 'e2e',
      sentences: sentencesFile ? path.relative(repoRoot, sentencesFile) : null,
      sentence_guard_ms: guardMs ? Number(guardMs) : null,
      sentence_incomplete_ms: incompleteMs ? Number(incompleteMs) : null,
      end_of_utterance: eou ? Number(eou) : null,
      end_of_utterance_hold: eouHold ? Number(eouHold) : null,
      sample: path.relative(repoRoot, sampleWav),
      sample_s: sampleS,
      truth_segments: truth.length,
      broker: `mosquitto ${run('dpkg-query', ['-W', '-f', '${Version}', 'mosquitto']).trim()}`,
      realtime: {
        runs: rtRuns,
        audio_s: played,
        segments: rows.length,
        received: lat.length,
        latency_p50_ms: percentile(lat, 50),
        latency_p90_ms: percentile(lat, 90),
        latency_max_ms: Math.max(...lat),
        cut: count((x) => x.cut),
        closed_by: count((x) => x.closed_by),
        latency_from_vad_end_p50_ms: percentile(latVad, 50),
        latency_from_vad_end_p90_ms: percentile(latVad, 90),
        cpu_s_per_audio_s: cpu / played,
        wer: truth.every((t) => t.text) ? wer(rows.filter((r) => r.received).map((r) => ({ ref: r.ref, hyp: r.hyp }))) : null,
        segments_detail: rows,
      },
      memory: mem,
    };
    writeResult(resultName, result);
    const cuts = { cut: result.realtime.cut, closed_by: result.realtime.closed_by };
    console.log(
      JSON.stringify({
        bench: resultName,
        latency_p50_ms: result.realtime.latency_p50_ms,
        latency_p90_ms: result.realtime.latency_p90_ms,
        received: `${lat.length}/${rows.length}`,
        ...cuts,
        cpu_s_per_audio_s: result.realtime.cpu_s_per_audio_s,
        ...(mem
          ? {
              rss_slope_mib_per_min: mem.slope_mib_per_audio_min_second_half,
              rss_max_mib: mem.rss_max_mib,
              grows: mem.grows,
              transcripts: `${mem.transcripts}/${mem.transcripts_expected}`,
            }
          : {}),
      }),
    );
  } finally {
    broker.stop();
  }
}

main().catch((err) => {
  console.error(`bench/e2e: ${(err as Error).stack ?? err}`);
  process.exit(1);
});
