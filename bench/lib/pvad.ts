// Personal VAD step of `npm run bench`: runs the pvad helper's scripts as they are (dev set,
// Silero/WebRTC baselines with the engine's pVAD, evaluation, end-of-segment sweep) and keeps their
// figures. The dev set is made once (delete runs/pvad-dev to redo it); the baselines are redone
// when a model is newer; the rest every time.
// Writes runs/bench/results/pvad.json; last stdout line: JSON summary.
//
//   node --import=tsx bench/lib/pvad.ts [--pvad FILE] [--spkenc FILE]
import fs from 'node:fs';
import path from 'node:path';
import { models, python, repoRoot, requireFile, run, sharedData, workDir, writeResult } from './common.js';

function opt(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? path.resolve(process.argv[i + 1]) : fallback;
}

const pvadFile = opt('pvad', models.pvad);
const spkencFile = opt('spkenc', models.spkenc);
const dev = path.join(repoRoot, 'runs', 'pvad-dev');
// Outputs of our own, apart from the pvad helper's runs in the dev set's folder.
const mine = path.join(workDir, 'pvad');

async function main() {
  requireFile(pvadFile, 'the personal VAD model');
  requireFile(spkencFile, 'the speaker encoder model');
  const devset = path.join(dev, 'devset.json');
  const t0 = Date.now();
  if (!fs.existsSync(devset)) run(python, ['-m', 'bench.pvad_devset', '--data', sharedData, '--out', dev]);
  // The baselines file also holds the engine's pVAD scores on models/pvad.gguf: redo it when
  // the dev set or a model is newer.
  fs.mkdirSync(mine, { recursive: true });
  const baselines = path.join(mine, 'baselines.json');
  const newest = Math.max(...[devset, models.pvad, models.spkenc].filter((x) => fs.existsSync(x)).map((x) => fs.statSync(x).mtimeMs));
  if (!fs.existsSync(baselines) || fs.statSync(baselines).mtimeMs < newest) {
    run(process.execPath, ['--import=tsx', path.join(repoRoot, 'bench', 'pvad_baselines.ts'), dev, baselines]);
  }
  const out = path.join(mine, 'metrics.json');
  const posteriors = path.join(mine, 'posteriors.npz');
  // Float checkpoints (FiLM vs concatenation) are measured too when the training runs left them here.
  const floats = ['pvad_film.pt', 'pvad_concat.pt'].map((f) => path.join(repoRoot, 'runs', 'pvad', f)).filter((f) => fs.existsSync(f));
  const args = [
    '-m',
    'bench.pvad_eval',
    '--dev',
    dev,
    '--spkenc',
    spkencFile,
    '--pvad',
    pvadFile,
    '--baselines',
    baselines,
    '--out',
    out,
    '--save-posteriors',
    posteriors,
  ];
  if (floats.length) args.push('--float', ...floats);
  run(python, args);
  const metrics = JSON.parse(fs.readFileSync(out, 'utf8'));
  // End-of-segment rule sweep (trailing stretch, thresholds, per speaker group) on the same posteriors.
  const sweepFile = path.join(mine, 'segments.json');
  run(python, ['-m', 'bench.pvad_segments', '--dev', dev, '--posteriors', posteriors, '--out', sweepFile]);
  const segments = JSON.parse(fs.readFileSync(sweepFile, 'utf8'));
  const result = {
    bench: 'pvad',
    pvad: path.relative(repoRoot, pvadFile),
    spkenc: path.relative(repoRoot, spkencFile),
    seconds: (Date.now() - t0) / 1000,
    float_checkpoints: floats.map((f) => path.relative(repoRoot, f)),
    metrics,
    segments,
  };
  writeResult('pvad', result);
  const f = metrics.file ?? {};
  const e = metrics.earshot_engine ?? {};
  console.log(
    JSON.stringify({
      bench: 'pvad',
      map: f.map_micro,
      engine_map: e.map_micro,
      speech_ap: f.speech_ap_zero_embedding,
      engine_speech_ap: e.speech_ap,
      silero_ap: metrics.silero?.speech_ap,
      webrtc_ap: metrics.webrtc?.speech_ap,
    }),
  );
}

main().catch((err) => {
  console.error(`bench/pvad: ${(err as Error).message}`);
  process.exit(1);
});
