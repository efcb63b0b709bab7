// Personal VAD step of `npm run bench`: runs the pvad helper's scripts as they are (dev set,
// Silero/WebRTC baselines, evaluation) and keeps their figures. The dev set and the baselines do
// not depend on our models, so they are reused when present (delete runs/pvad-dev to redo them).
// Writes runs/bench/results/pvad.json; last stdout line: JSON summary.
//
//   node --import=tsx bench/lib/pvad.ts [--pvad FILE] [--spkenc FILE]
import fs from 'node:fs';
import path from 'node:path';
import { readWav16kMono } from '../../daemon/audio/wav.js';
import { native } from '../../daemon/native.js';
import { cpuSeconds, models, python, repoRoot, requireFile, run, sharedData, writeResult } from './common.js';

function opt(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? path.resolve(process.argv[i + 1]) : fallback;
}

const pvadFile = opt('pvad', models.pvad);
const spkencFile = opt('spkenc', models.spkenc);
const dev = path.join(repoRoot, 'runs', 'pvad-dev');

/** CPU seconds per audio second of the engine's pVAD (the addon, one stream, 10 ms frames fed in
 * 20 ms pieces as the daemon's file source does), enrolled with a zero embedding = plain VAD. */
async function engineCost(meta: { mixtures: { wav: string }[] }): Promise<number> {
  const model = await native().loadPvad(pvadFile);
  let audio = 0;
  let cpu = 0;
  for (const m of meta.mixtures.slice(0, 60)) {
    const x = readWav16kMono(path.join(dev, m.wav)).samples;
    const s = model.createStream(null);
    const c = cpuSeconds();
    for (let k = 0; k < x.length; k += 320) s.accept(x.subarray(k, k + 320));
    cpu += cpuSeconds() - c;
    audio += x.length / 16000;
  }
  model.dispose();
  return cpu / audio;
}

async function main() {
  requireFile(pvadFile, 'the personal VAD model');
  requireFile(spkencFile, 'the speaker encoder model');
  const devset = path.join(dev, 'devset.json');
  const t0 = Date.now();
  if (!fs.existsSync(devset)) run(python, [path.join(repoRoot, 'bench', 'pvad_devset.py'), '--data', sharedData, '--out', dev]);
  const baselines = path.join(dev, 'baselines.json');
  if (!fs.existsSync(baselines) || fs.statSync(baselines).mtimeMs < fs.statSync(devset).mtimeMs) {
    run(process.execPath, [path.join(repoRoot, 'bench', 'pvad_baselines.mjs'), dev, baselines]);
  }
  const out = path.join(dev, 'metrics.json');
  // Float checkpoints (FiLM vs concatenation) are measured too when the training runs left them here.
  const floats = ['pvad_film.pt', 'pvad_concat.pt'].map((f) => path.join(repoRoot, 'runs', 'pvad', f)).filter((f) => fs.existsSync(f));
  const args = [path.join(repoRoot, 'bench', 'pvad_eval.py'), '--dev', dev, '--spkenc', spkencFile, '--pvad', pvadFile, '--baselines', baselines, '--out', out];
  if (floats.length) args.push('--float', ...floats);
  run(python, args);
  const metrics = JSON.parse(fs.readFileSync(out, 'utf8'));
  metrics.file.cpu_seconds_per_audio_second = await engineCost(JSON.parse(fs.readFileSync(devset, 'utf8')));
  const result = { bench: 'pvad', pvad: path.relative(repoRoot, pvadFile), spkenc: path.relative(repoRoot, spkencFile), seconds: (Date.now() - t0) / 1000, float_checkpoints: floats.map((f) => path.relative(repoRoot, f)), metrics };
  writeResult('pvad', result);
  const f = metrics.file ?? {};
  console.log(JSON.stringify({ bench: 'pvad', map: f.map_micro, speech_ap: f.speech_ap_zero_embedding, silero_ap: metrics.silero?.speech_ap, webrtc_ap: metrics.webrtc?.speech_ap }));
}

main().catch((err) => {
  console.error(`bench/pvad: ${(err as Error).message}`);
  process.exit(1);
});
