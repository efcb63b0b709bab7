// The recognizer's dev table through the engine itself (the arithmetic users run): WER on every
// corpus of ../shared/data's `dev` rows (speakers never trained on), in the words and sentences
// groups, and on the held-out synthetic voices quiet and noisy; one column per model file.
// The clips are those of training/evaluate.py (same levels and margins), written once (when
// runs/devset is missing; about a minute) with
//
//   /usr/bin/python3 -m training.real_pack pack --splits dev --out runs/real_dev
//   /usr/bin/python3 -m training.prepare_data --root / --out runs/synth_dev --train 0 --processes 2
//   /usr/bin/python3 -m training.evaluate --data runs/synth_dev --real runs/real_dev --dump runs/devset
//
//   node --import=tsx bench/dev_wer.ts [--devset runs/devset] [--model NAME=FILE ...] [--errors N] [--configured]
// --configured: each model also decodes as the shipped configuration does (its recognizer options:
// beam 4 and the language model of models.lm_text), in a column NAME+config.
// Last line: the results as JSON (also runs/bench/results/dev_wer.json).
import fs from 'node:fs';
import path from 'node:path';
import { readWav16kMono } from '../daemon/audio/wav.js';
import { validateConfig } from '../daemon/config.js';
import { loadLmFor } from '../daemon/lm.js';
import { loadTransducer } from '../daemon/models.js';
import type { RecognizerOptions, TransducerModel } from '../daemon/native.js';
import { recognizerOptions } from '../daemon/recognizer-options.js';
import { models, python, repoRoot, run, sharedData, wer, writeResult } from './lib/common.js';

const GROUPS: Record<string, string[]> = {
  words: ['speech-commands', 'fsdd'],
  sentences: ['librispeech-speakers', 'cmu-arctic', 'common-voice-en', 'vctk'],
  synthetic: ['heldout', 'heldout_noisy'],
};

const argv = process.argv.slice(2);
const values = (name: string) => argv.flatMap((a, i) => (a === `--${name}` && argv[i + 1] ? [argv[i + 1]] : []));
const devset = path.resolve(values('devset')[0] ?? path.join(repoRoot, 'runs', 'devset'));
const showErrors = Number(values('errors')[0] ?? 0);
const modelSpecs = values('model').length ? values('model') : [`int4=${models.int4}`, `f32=${models.f32}`];
const configured = argv.includes('--configured');

/** The shipped configuration's decoder for a model (the defaults, paths from the installation). */
function configuredOptions(model: TransducerModel): RecognizerOptions {
  const cfg = validateConfig({}, {}, repoRoot);
  return recognizerOptions(cfg, loadLmFor(cfg, model));
}

interface Row {
  set: string;
  file: string;
  text: string;
}

/** The default dev set, built from ../shared/data's dev rows and the two held-out voices. */
function ensureDevset(): void {
  const runs = path.join(repoRoot, 'runs');
  if (!fs.existsSync(path.join(runs, 'real_dev', 'real.tsv'))) {
    run(python, ['-m', 'training.real_pack', 'pack', '--data', sharedData, '--splits', 'dev', '--out', path.join(runs, 'real_dev')]);
  }
  if (!fs.existsSync(path.join(runs, 'synth_dev', 'dev_heldout.npz'))) {
    run(python, ['-m', 'training.prepare_data', '--root', '/', '--out', path.join(runs, 'synth_dev'), '--train', '0', '--processes', '2']);
  }
  run(python, ['-m', 'training.evaluate', '--data', path.join(runs, 'synth_dev'), '--real', path.join(runs, 'real_dev'), '--dump', devset]);
}

function readManifest(): Row[] {
  const file = path.join(devset, 'manifest.tsv');
  if (!fs.existsSync(file) && devset === path.join(repoRoot, 'runs', 'devset')) ensureDevset();
  if (!fs.existsSync(file)) throw new Error(`${file} is missing: see the commands at the top of bench/dev_wer.ts`);
  const [head, ...lines] = fs.readFileSync(file, 'utf8').trim().split('\n');
  const cols = head.split('\t');
  return lines.map((l) => {
    const r = l.split('\t');
    return { set: r[cols.indexOf('set')], file: path.join(devset, r[cols.indexOf('file')]), text: r[cols.indexOf('text')] };
  });
}

async function decodeAll(modelFile: string, rows: Row[], asConfigured: boolean): Promise<string[]> {
  const model = await loadTransducer(modelFile);
  const out: string[] = [];
  try {
    const options = asConfigured ? configuredOptions(model) : {};
    for (const row of rows) {
      const stream = model.createStream(options);
      stream.acceptWaveform(readWav16kMono(row.file).samples);
      out.push((await stream.finalize()).text);
      stream.dispose();
    }
  } finally {
    model.dispose();
  }
  return out;
}

const rows = readManifest();
const sets = [...new Set(rows.map((r) => r.set))];
const results: Record<string, Record<string, ReturnType<typeof wer>>> = {};
const decoders = modelSpecs.flatMap((spec) => {
  const [name, file] = spec.includes('=') ? spec.split(/=(.*)/s) : [path.basename(spec), spec];
  const plain = { name, file, asConfigured: false };
  return configured ? [plain, { name: `${name}+config`, file, asConfigured: true }] : [plain];
});
for (const { name, file, asConfigured } of decoders) {
  const started = process.hrtime.bigint();
  const hyps = await decodeAll(path.resolve(file), rows, asConfigured);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const pairs = rows.map((r, i) => ({ set: r.set, ref: r.text, hyp: hyps[i] }));
  const table: Record<string, ReturnType<typeof wer>> = {};
  for (const set of sets) table[set] = wer(pairs.filter((p) => p.set === set));
  for (const [group, members] of Object.entries(GROUPS)) {
    const inGroup = pairs.filter((p) => members.includes(p.set));
    if (inGroup.length) table[`group:${group}`] = wer(inGroup);
  }
  results[name] = table;
  process.stderr.write(`${name} (${file}): ${rows.length} clips in ${seconds.toFixed(1)} s\n`);
  if (showErrors) {
    for (const set of sets) {
      const wrong = pairs.filter((p) => p.set === set && p.ref !== p.hyp).slice(0, showErrors);
      for (const p of wrong) process.stderr.write(`  ${set}: "${p.ref}" -> "${p.hyp}"\n`);
    }
  }
}

const names = Object.keys(results);
const keys = [...sets, ...Object.keys(GROUPS).map((g) => `group:${g}`)].filter((k) => names.some((n) => results[n][k]));
console.log(`| set | words | ${names.join(' | ')} |`);
console.log(`|---|---|${names.map(() => '---').join('|')}|`);
for (const k of keys) {
  const words = results[names[0]][k]?.words ?? 0;
  console.log(`| ${k} | ${words} | ${names.map((n) => (results[n][k] ? `${(100 * results[n][k].wer).toFixed(1)} %` : '-')).join(' | ')} |`);
}
writeResult('dev_wer', { devset, models: Object.fromEntries(modelSpecs.map((s) => s.split(/=(.*)/s))), results });
console.log(JSON.stringify(results));
