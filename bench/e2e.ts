// End to end: a real mosquitto on a free loopback port, the daemon (`earshot run --input FILE
// --realtime --mqtt-url ...`) on the bundled sample paced in real time, and a subscriber here that
// records when each transcript arrives.
//   - end-of-segment latency: true speech end (samples/sample.json) -> transcript received;
//   - CPU time of the daemon per second of audio (from /proc, after the models are loaded);
//   - RSS over 20 minutes of audio (at least 10 asked): the sample concatenated, written to the daemon's stdin (raw
//     PCM source) at 20x real time, sampled from /proc; the slope over the second half says if it
//     grows.
// Writes runs/bench/results/e2e.json; last stdout line: JSON summary.
//
//   node --import=tsx bench/e2e.ts [--sample WAV] [--truth JSON] [--models DIR] [--rss-minutes 10]
//                                  [--min-realtime-s 60]
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import mqtt from 'mqtt';
import { readWav16kMono } from '../daemon/audio/wav.js';
import { modelsDir as defaultModels, percentile, quick, repoRoot, sampleWav as defaultSample, requireFile, run, slope, wer, workDir, writeResult } from './lib/common.js';

function opt(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

const sampleWav = path.resolve(opt('sample', defaultSample));
const truthFile = path.resolve(opt('truth', sampleWav.replace(/\.wav$/, '.json')));
const modelsDir = path.resolve(opt('models', defaultModels));
const rssMinutes = Number(opt('rss-minutes', quick ? '2' : '20'));
const minRealtimeS = Number(opt('min-realtime-s', quick ? '1' : '60'));
const dir = path.join(workDir, 'e2e');
/** The memory run feeds audio this many times faster than real time. */
const FEED_SPEED = 20;
const TICK = 1 / 100; // seconds per clock tick of /proc/<pid>/stat (USER_HZ = 100 on Linux)

interface TruthSegment {
  start: number;
  end: number;
  text?: string;
}

/** Speech segments of the sample, seconds from its start. Accepts a list or {commands: [...]},
 * each with start/end (or speech_start/speech_end, start_s/end_s) and optionally text. */
function readTruth(file: string): TruthSegment[] {
  requireFile(file, 'the sample\'s speech times, shipped next to samples/sample.wav');
  const raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  const list: any[] = Array.isArray(raw) ? raw : (raw.commands ?? raw.segments ?? raw.utterances ?? []);
  const num = (o: any, keys: string[]) => keys.map((k) => o[k]).find((v) => typeof v === 'number');
  const segs = list.map((s) => ({ start: num(s, ['start', 'speech_start', 'start_s']), end: num(s, ['end', 'speech_end', 'end_s']), text: s.text ?? s.transcript }));
  if (!segs.length || segs.some((s) => s.end === undefined || s.start === undefined)) throw new Error(`${file}: expected a list of segments with "start" and "end" (seconds)`);
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
}

/** The memory run's input: 16 kHz s16le PCM written to the daemon's stdin at `speed` x real time. */
interface StdinFeed {
  pcm: Int16Array;
  speed: number;
}

/** Runs the daemon to the end of its input (a WAV file, or `feed` on stdin), sampling /proc every
 * `everyMs`. */
async function runDaemon(url: string, site: string, input: string | StdinFeed, realtime: boolean, everyMs: number): Promise<DaemonRun> {
  const cfg = path.join(dir, `${site}.yaml`);
  fs.writeFileSync(cfg, [
    `site: ${site}`,
    `state_dir: ${path.join(dir, `state-${site}`)}`,
    'models:',
    `  transducer: ${path.join(modelsDir, 'earshot-en-int4.gguf')}`,
    `  pvad: ${path.join(modelsDir, 'pvad.gguf')}`,
    `  speaker_encoder: ${path.join(modelsDir, 'spkenc.gguf')}`,
    ...(typeof input === 'string' ? [] : ['audio:', '  source: stdin', '  stdin: {sample_rate: 16000, channels: 1, format: s16le}']),
    '',
  ].join('\n'));
  fs.rmSync(path.join(dir, `state-${site}`), { recursive: true, force: true });
  const sub = mqtt.connect(url, { clientId: `bench-sub-${site}-${process.pid}` });
  const arrivals: Arrival[] = [];
  sub.on('message', (_topic, payload) => arrivals.push({ at: Date.now(), t: JSON.parse(payload.toString()) }));
  await new Promise<void>((resolve, reject) => {
    sub.once('error', reject);
    sub.once('connect', () => sub.subscribe(`earshot/${site}/transcript`, { qos: 1 }, (err) => (err ? reject(err) : resolve())));
  });
  const args = [path.join(repoRoot, 'bin', 'earshot'), 'run', '--config', cfg, ...(typeof input === 'string' ? ['--input', input] : []), '--mqtt-url', url, '--site', site];
  if (realtime) args.push('--realtime');
  const proc = spawn(process.execPath, args, { cwd: repoRoot, stdio: [typeof input === 'string' ? 'ignore' : 'pipe', 'ignore', 'pipe'] });
  const feed = typeof input === 'string' ? undefined : input;
  const samples: DaemonRun['samples'] = [];
  let runningAt = 0;
  let inputEndAt = 0;
  let cpuAtRunning = 0;
  let log = '';
  let buf = '';
  let feeding: NodeJS.Timeout | undefined;
  // 100 ms pieces on a timer, `speed` times faster than they would come from a microphone.
  const startFeed = (f: StdinFeed) => {
    let pos = 0;
    return setInterval(() => {
      if (pos >= f.pcm.length) return;
      const end = Math.min(f.pcm.length, pos + 1600);
      proc.stdin!.write(Buffer.from(f.pcm.buffer, f.pcm.byteOffset + pos * 2, (end - pos) * 2));
      pos = end;
      if (pos >= f.pcm.length) proc.stdin!.end();
    }, 100 / f.speed);
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
    }
  });
  const timer = setInterval(() => {
    const s = procSample(proc.pid!);
    if (s) samples.push({ at: Date.now(), ...s });
  }, everyMs);
  const code = await new Promise<number | null>((resolve) => proc.on('exit', (c) => resolve(c)));
  const exitedAt = Date.now();
  clearInterval(timer);
  if (feeding) clearInterval(feeding);
  await new Promise((r) => setTimeout(r, 300)); // QoS 1 deliveries already in flight
  await sub.endAsync();
  fs.writeFileSync(path.join(dir, `${site}.log`), log);
  if (code !== 0 || !runningAt) throw new Error(`the daemon exited with ${code}${runningAt ? '' : ' before it ran'}; log: ${path.join(dir, `${site}.log`)}\n${log.slice(-1500)}`);
  return { runningAt, inputEndAt: inputEndAt || exitedAt, exitedAt, cpuAtRunning, cpuLast: samples[samples.length - 1]?.cpu ?? cpuAtRunning, samples, arrivals };
}

/** Pairs each true segment with the first transcript whose speech overlaps it. */
function latencies(r: DaemonRun, truth: TruthSegment[]) {
  const rows = [];
  for (const seg of truth) {
    const endMs = r.runningAt + seg.end * 1000;
    const startMs = r.runningAt + seg.start * 1000;
    const a = r.arrivals.find((x) => Date.parse(x.t.start) <= endMs + 500 && Date.parse(x.t.end) >= startMs - 500);
    if (!a) {
      rows.push({ truth_end_s: seg.end, received: false });
      continue;
    }
    const origin = (Date.parse(a.t.start) - r.runningAt) / 1000;
    rows.push({
      truth_end_s: seg.end,
      received: true,
      latency_ms: a.at - endMs,
      // the daemon's own view: its VAD's speech end -> this arrival
      latency_from_vad_end_ms: a.at - Date.parse(a.t.end),
      daemon_latency: a.t.latency,
      ref: seg.text ?? null,
      hyp: a.t.text,
      tokens: (a.t.tokens as { text: string; start: number; conf: number }[]).map((k) => [k.text, +(origin + k.start).toFixed(3)]),
      segment_s: [+origin.toFixed(3), +((Date.parse(a.t.end) - r.runningAt) / 1000).toFixed(3)],
    });
  }
  return rows;
}

async function main() {
  requireFile(sampleWav, 'the bundled sample');
  for (const m of ['earshot-en-int4.gguf', 'pvad.gguf']) requireFile(path.join(modelsDir, m), 'a shipped model');
  const truth = readTruth(truthFile);
  fs.mkdirSync(dir, { recursive: true });
  // bin/earshot runs the compiled daemon: compile the current sources first.
  // tsc still writes dist/ when some file has a type error; say so and go on.
  const tsc = spawnSync(path.join(repoRoot, 'node_modules', '.bin', 'tsc'), ['-p', path.join(repoRoot, 'tsconfig.json')], { cwd: repoRoot, encoding: 'utf8' });
  if (tsc.status !== 0) process.stderr.write(`bench/e2e: tsc reported errors (dist/ written anyway):\n${tsc.stdout.slice(-1000)}\n`);
  const audio = readWav16kMono(sampleWav).samples;
  const sampleS = audio.length / 16000;
  const broker = await startMosquitto();
  try {
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

    // Memory: >= rssMinutes of audio, the sample back to back, on the daemon's stdin at
    // FEED_SPEED x real time (a file would be read whole into memory first).
    const repeats = Math.max(1, Math.ceil((rssMinutes * 60) / sampleS));
    const pcm = new Int16Array(audio.length * repeats);
    for (let k = 0; k < audio.length; k++) pcm[k] = Math.max(-32768, Math.min(32767, Math.round(audio[k] * 32768)));
    for (let i = 1; i < repeats; i++) pcm.copyWithin(i * audio.length, 0, audio.length);
    const longS = pcm.length / 16000;
    const m = await runDaemon(broker.url, 'bench-rss', { pcm, speed: FEED_SPEED }, false, 250);
    // While audio flows: from "running" to "end of input" (shutdown frees memory, not of interest).
    const pts = m.samples.filter((s) => s.at >= m.runningAt && s.at <= m.inputEndAt);
    const wallS = (m.inputEndAt - m.runningAt) / 1000;
    // Audio position of each sample, assuming the file is read at a steady pace.
    const x = pts.map((s) => ((s.at - m.runningAt) / 1000 / wallS) * longS / 60);
    const y = pts.map((s) => s.rssMiB);
    const half = x.findIndex((v) => v >= x[x.length - 1] / 2);
    const slopeSecondHalf = slope(x.slice(half), y.slice(half)); // MiB per minute of audio
    const expected = rtRuns.length ? rtRuns[0].transcripts * repeats : null;
    const result = {
      bench: 'e2e',
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
        latency_from_vad_end_p50_ms: percentile(latVad, 50),
        latency_from_vad_end_p90_ms: percentile(latVad, 90),
        cpu_s_per_audio_s: cpu / played,
        wer: truth.every((t) => t.text) ? wer(rows.filter((r) => r.received).map((r) => ({ ref: r.ref, hyp: r.hyp }))) : null,
        segments_detail: rows,
      },
      memory: {
        audio_s: longS,
        repeats,
        source: 'stdin',
        speed: FEED_SPEED,
        wall_s: wallS,
        cpu_s_per_audio_s: (m.cpuLast - m.cpuAtRunning) / longS,
        transcripts: m.arrivals.length,
        transcripts_expected: expected,
        rss_start_mib: y[0],
        rss_end_mib: y[y.length - 1],
        rss_max_mib: Math.max(...y),
        rss_median_second_half_mib: percentile(y.slice(half), 50),
        slope_mib_per_audio_min_second_half: slopeSecondHalf,
        grows: slopeSecondHalf * 10 > 1, // more than 1 MiB per 10 minutes of audio
        series: x.map((v, i) => [+v.toFixed(3), +y[i].toFixed(2)]),
      },
    };
    writeResult('e2e', result);
    console.log(JSON.stringify({ bench: 'e2e', latency_p50_ms: result.realtime.latency_p50_ms, latency_p90_ms: result.realtime.latency_p90_ms, received: `${lat.length}/${rows.length}`, cpu_s_per_audio_s: result.realtime.cpu_s_per_audio_s, rss_slope_mib_per_min: slopeSecondHalf, rss_max_mib: result.memory.rss_max_mib, transcripts: `${m.arrivals.length}/${expected}` }));
  } finally {
    broker.stop();
  }
}




main().catch((err) => {
  console.error(`bench/e2e: ${(err as Error).stack ?? err}`);
  process.exit(1);
});
