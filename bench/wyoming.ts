// The Wyoming server's targets (issue 13), against a real `earshot serve` over TCP:
//   1. transcript latency after audio-stop: one client, 3 s commands paced in real time (p50/p90);
//   2. four clients at once, paced in real time: the latest transcript;
//   3. the server's RSS over 2,000 connections (each a short utterance at full speed): the first
//      thousand warm the allocator up, the second must leave it flat.
// Prints a summary and, last, one JSON line (bench/run-all.ts keeps it as results/wyoming.json).
//
//   node --import=tsx bench/wyoming.ts [--latency N] [--concurrent N] [--connections N]
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SAMPLE_RATE } from '../daemon/frames.js';
import { readWav16kMono } from '../daemon/audio/wav.js';
import { repoRoot } from './lib/common.js';
import { s16, WyomingClient } from './lib/wyoming-client.js';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const fmt = { rate: SAMPLE_RATE, width: 2, channels: 1 };
const sample = readWav16kMono(path.join(repoRoot, 'samples', 'sample.wav')).samples;
const truth = JSON.parse(fs.readFileSync(path.join(repoRoot, 'samples', 'sample.json'), 'utf8')).commands as {
  text: string;
  start_s: number;
  end_s: number;
}[];
/** a command as a 3 s utterance: 0.3 s before the speech, the rest after it (what a satellite's VAD sends) */
const commands = truth.map((c) => {
  const from = Math.round((c.start_s - 0.3) * SAMPLE_RATE);
  return s16(sample.subarray(from, from + 3 * SAMPLE_RATE));
});
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
};
const round = (x: number) => Math.round(x * 10) / 10;

async function startServer(): Promise<{ port: number; pid: number; stop: () => void }> {
  const p = spawn(process.execPath, [path.join(repoRoot, 'bin', 'earshot'), 'serve', '--uri', 'tcp://127.0.0.1:0', '--no-zeroconf'], {
    env: { ...process.env, EARSHOT_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  p.stderr.on('data', (d) => (log = (log + d.toString()).slice(-20000)));
  const deadline = Date.now() + 60000;
  for (;;) {
    const m = /"uri":"tcp:\/\/127\.0\.0\.1:(\d+)"[^\n]*earshot serve running/.exec(log);
    if (m) return { port: Number(m[1]), pid: p.pid!, stop: () => p.kill('SIGTERM') };
    if (Date.now() > deadline || p.exitCode !== null) throw new Error(`earshot serve did not start:\n${log}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const rssMiB = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

/** One utterance on its own connection; ms from audio-stop to the transcript. */
async function once(port: number, pcm: Buffer, realtime: boolean): Promise<{ ms: number; text: string }> {
  const c = await WyomingClient.connect({ port });
  try {
    const stopAt = await c.utterance(pcm, fmt, { realtime, chunkBytes: 2048 });
    const tr = await c.next('transcript', 60000);
    return { ms: tr.at - stopAt, text: tr.data.text };
  } finally {
    c.close();
  }
}

const server = await startServer();
try {
  const n = arg('latency', 12);
  const single: number[] = [];
  for (let i = 0; i < n; i++) single.push((await once(server.port, commands[i % commands.length], true)).ms);
  console.log(
    `one client, ${n} commands of 3 s in real time: transcript after audio-stop p50 ${round(pct(single, 50))} ms, p90 ${round(pct(single, 90))} ms (target p90 <= 100 ms)`,
  );

  const rounds = arg('concurrent', 3);
  const parallel: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const res = await Promise.all([0, 1, 2, 3].map((k) => once(server.port, commands[(r + k) % commands.length], true)));
    parallel.push(...res.map((x) => x.ms));
  }
  const late = parallel.filter((x) => x > 300).length;
  console.log(
    `4 clients at once, ${rounds} rounds: transcript after audio-stop p50 ${round(pct(parallel, 50))} ms, max ${round(Math.max(...parallel))} ms, ${late} over 300 ms (target: none)`,
  );

  const total = arg('connections', 2000);
  const short = commands[0].subarray(0, 2 * SAMPLE_RATE); // 1 s at full speed: the connection's cost, not the decoding's
  const rss: { connections: number; rss_mib: number }[] = [{ connections: 0, rss_mib: round(rssMiB(server.pid)) }];
  for (let i = 1; i <= total; i++) {
    await once(server.port, short, false);
    if (i % Math.max(1, Math.floor(total / 10)) === 0) rss.push({ connections: i, rss_mib: round(rssMiB(server.pid)) });
  }
  const half = rss.find((r) => r.connections >= total / 2)!;
  const secondHalf = round(rss.at(-1)!.rss_mib - half.rss_mib);
  console.log(
    `RSS over ${total} connections: ${rss.map((r) => `${r.connections}: ${r.rss_mib}`).join(', ')} MiB (over the second ${total - half.connections}: ${secondHalf} MiB)`,
  );
  console.log(
    JSON.stringify({
      machine: `${os.cpus()[0]?.model ?? 'unknown'} x${os.cpus().length}`,
      single_client: { utterances: n, p50_ms: round(pct(single, 50)), p90_ms: round(pct(single, 90)) },
      four_clients: {
        utterances: parallel.length,
        p50_ms: round(pct(parallel, 50)),
        max_ms: round(Math.max(...parallel)),
        over_300_ms: late,
      },
      connections: { total, rss, second_half_growth_mib: secondHalf },
    }),
  );
} finally {
  server.stop();
}
