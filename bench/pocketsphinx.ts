// Debian's pocketsphinx (apt: pocketsphinx pocketsphinx-en-us) with its general en-us acoustic and
// language models on the development sets: what a Debian user has today. pocketsphinx_batch over a
// control file (two processes, half the files each), timed by /usr/bin/time; the CPU time of
// loading the models, measured alone, is subtracted for the real-time factor.
// The audio is what Earshot gets: the daemon's WAV reader and resampler to 16 kHz, as raw PCM.
// Writes runs/bench/results/pocketsphinx.json; last stdout line: JSON summary.
//
//   node --import=tsx bench/pocketsphinx.ts [--limit N]
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { SAMPLE_RATE } from '../daemon/frames.js';
import { devClips, ensureSynthDevset, loadAudio, quick, run, werBySet, workDir, writeResult } from './lib/common.js';

const MODEL = '/usr/share/pocketsphinx/model/en-us';
const limitArg = process.argv.indexOf('--limit');
const limit = limitArg > 0 ? Number(process.argv[limitArg + 1]) : quick ? 10 : 0;

async function main() {
  for (const f of ['/usr/bin/pocketsphinx_batch', `${MODEL}/en-us/mdef`, `${MODEL}/en-us.lm.bin`]) {
    if (!fs.existsSync(f)) throw new Error(`${f} is missing: apt-get install -y pocketsphinx pocketsphinx-en-us`);
  }
  ensureSynthDevset();
  let clips = devClips();
  if (limit > 0)
    clips = [...clips.filter((c) => c.set === 'fsdd').slice(0, limit), ...clips.filter((c) => c.set === 'synth').slice(0, limit)];
  const dir = path.join(workDir, 'pocketsphinx');
  const rawDir = path.join(dir, 'raw');
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(rawDir, { recursive: true });
  let audioS = 0;
  const ctl: string[] = [];
  clips.forEach((clip, i) => {
    const x = loadAudio(clip);
    audioS += x.length / SAMPLE_RATE;
    const pcm = new Int16Array(x.length);
    for (let k = 0; k < x.length; k++) pcm[k] = Math.max(-32768, Math.min(32767, Math.round(x[k] * 32768)));
    const id = `u${String(i).padStart(4, '0')}`;
    fs.writeFileSync(path.join(rawDir, `${id}.raw`), Buffer.from(pcm.buffer));
    ctl.push(id);
  });
  // Two processes, one per core, each over every other file (CPU times add up; the wall time halves).
  const halves = [0, 1].map((h) => ctl.filter((_, i) => i % 2 === h));
  halves.forEach((ids, h) => fs.writeFileSync(path.join(dir, `files${h}.ctl`), ids.join('\n') + '\n'));
  // The same run over 0.5 s of silence alone: the cost of loading the models.
  fs.writeFileSync(path.join(rawDir, 'silence.raw'), Buffer.alloc(2 * SAMPLE_RATE * 0.5));
  fs.writeFileSync(path.join(dir, 'load.ctl'), 'silence\n');
  const load = await batch(dir, rawDir, 'load.ctl', 'load');
  const runs = await Promise.all([0, 1].map((h) => batch(dir, rawDir, `files${h}.ctl`, `files${h}`)));
  const user = runs.reduce((a, r) => a + r.user, 0);
  const sys = runs.reduce((a, r) => a + r.sys, 0);
  const wall = Math.max(...runs.map((r) => r.wall));
  const maxKiB = Math.max(...runs.map((r) => r.maxKiB));
  // hyp lines: "words words (u0001 -12345)"
  const hyps = new Map<string, string>();
  for (const h of [0, 1]) {
    for (const line of fs.readFileSync(path.join(dir, `files${h}.hyp`), 'utf8').split('\n')) {
      const m = /^(.*)\((u\d+)(?:\s+-?\d+)?\)\s*$/.exec(line);
      if (m) hyps.set(m[2], m[1].trim());
    }
  }
  const utterances = clips.map((c, i) => ({ id: c.id, set: c.set, ref: c.text, hyp: (hyps.get(ctl[i]) ?? '').toLowerCase() }));
  const result = {
    bench: 'pocketsphinx',
    version: run('dpkg-query', ['-W', '-f', '${Version}', 'pocketsphinx']).trim(),
    model: `${MODEL} (en-us acoustic model, en-us.lm.bin, cmudict-en-us.dict)`,
    audio_s: audioS,
    cpu_s: user + sys,
    wall_s: wall,
    rtf: (user + sys) / audioS,
    processes: runs.length,
    load_cpu_s: load.user + load.sys,
    rtf_without_load: (user + sys - runs.length * (load.user + load.sys)) / audioS,
    peak_rss_mib: maxKiB / 1024,
    model_mib: ['en-us', 'en-us.lm.bin', 'cmudict-en-us.dict'].reduce((a, f) => a + du(path.join(MODEL, f)), 0) / 2 ** 20,
    wer: werBySet(utterances),
    wer_by_voice: werBySet(utterances.filter((u) => u.set === 'synth').map((u) => ({ ...u, set: u.id.split('/')[0] }))),
    utterances,
  };
  writeResult('pocketsphinx', result);
  console.log(
    JSON.stringify({
      bench: 'pocketsphinx',
      rtf: result.rtf,
      wer: Object.fromEntries(Object.entries(result.wer).map(([k, v]) => [k, v.wer])),
    }),
  );
}

function batch(
  dir: string,
  rawDir: string,
  ctl: string,
  name: string,
): Promise<{ wall: number; user: number; sys: number; maxKiB: number }> {
  const timeFile = path.join(dir, `${name}.time`);
  const args = [
    '-o',
    timeFile,
    '-f',
    '%e %U %S %M',
    'pocketsphinx_batch',
    '-adcin',
    'yes',
    '-cepdir',
    rawDir,
    '-cepext',
    '.raw',
    '-ctl',
    path.join(dir, ctl),
    '-hmm',
    `${MODEL}/en-us`,
    '-lm',
    `${MODEL}/en-us.lm.bin`,
    '-dict',
    `${MODEL}/cmudict-en-us.dict`,
    '-samprate',
    String(SAMPLE_RATE),
    '-hyp',
    path.join(dir, `${name}.hyp`),
    '-logfn',
    path.join(dir, `${name}.log`),
  ];
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/time', args, { stdio: 'ignore' });
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`pocketsphinx_batch (${ctl}) exited with ${code}; see ${path.join(dir, `${name}.log`)}`));
      const [wall, user, sys, maxKiB] = fs.readFileSync(timeFile, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
      resolve({ wall, user, sys, maxKiB });
    });
  });
}

function du(p: string): number {
  const st = fs.statSync(p);
  return st.isDirectory() ? fs.readdirSync(p).reduce((a, f) => a + du(path.join(p, f)), 0) : st.size;
}

main().catch((err) => {
  console.error(`bench/pocketsphinx: ${(err as Error).message}`);
  process.exit(1);
});
