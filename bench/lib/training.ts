// Training step of `npm run bench`: BAT against the full RNN-T loss is measured on the GPU machine
// by the recipe (training/measure_loss.py: memory and step time; training/evaluate.py: emission
// latency), not here. This collects what the recipe left in training/reports/ (JSON and PNG).
// Writes runs/bench/results/training.json; last stdout line: JSON summary.
//
//   node --import=tsx bench/lib/training.ts [--reports DIR]
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot, writeResult } from './common.js';

const i = process.argv.indexOf('--reports');
const reports = i > 0 ? path.resolve(process.argv[i + 1]) : path.join(repoRoot, 'training', 'reports');

// Earlier runs' files (run1/, ...) are the report's history, not current figures.
const isEarlierRun = (name: string) => /^run\d+$/.test(name);

function walk(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? (isEarlierRun(e.name) ? [] : walk(path.join(dir, e.name))) : [path.join(dir, e.name)]));
}

type Json = Record<string, any>;

/** measure_loss.py's table: {device, band, rows: [{batch, seconds, T, U, rnnt: {step_ms, peak_mib}, bat: {...}}]} */
const isLossTable = (j: Json) => Array.isArray(j.rows) && j.rows.some((r: Json) => r?.rnnt && r?.bat);

/** evaluate.py's output: {model: {set: {wer, last_minus_end_p50_s, ...}}, paired_latency?: {set: {...}}} */
function isEval(j: Json): boolean {
  const models = Object.entries(j)
    .filter(([k]) => k !== 'paired_latency')
    .map(([, v]) => v);
  return (
    models.length > 0 &&
    models.every(
      (m) =>
        m &&
        typeof m === 'object' &&
        Object.values(m).some((s: any) => s && typeof s === 'object' && 'wer' in s && 'last_minus_end_p50_s' in s),
    )
  );
}

function main() {
  const files = walk(reports);
  const lossTables = [];
  const evals = [];
  const other = [];
  for (const f of files.filter((x) => x.endsWith('.json'))) {
    let j: Json;
    try {
      j = JSON.parse(fs.readFileSync(f, 'utf8'));
    } catch {
      other.push(path.relative(repoRoot, f));
      continue;
    }
    if (isLossTable(j)) lossTables.push({ file: path.relative(repoRoot, f), device: j.device ?? null, band: j.band ?? null, rows: j.rows });
    else if (isEval(j)) {
      const models: Json = {};
      for (const [m, sets] of Object.entries(j)) {
        if (m === 'paired_latency') continue;
        models[m] = Object.fromEntries(
          Object.entries(sets as Json)
            .filter(([, s]) => s && typeof s === 'object' && 'wer' in s)
            .map(([k, s]: [string, any]) => [
              k,
              {
                wer: s.wer,
                words: s.words,
                utterances: s.utterances,
                mean_last_emission_s: s.mean_last_emission_s,
                last_minus_end_p50_s: s.last_minus_end_p50_s,
                last_minus_end_p90_s: s.last_minus_end_p90_s,
                mean_last_minus_end_s: s.mean_last_minus_end_s,
              },
            ]),
        );
      }
      // Latency over the utterances every model got right (evaluate.py with several models).
      evals.push({ file: path.relative(repoRoot, f), models, paired: j.paired_latency ?? null });
    } else other.push(path.relative(repoRoot, f));
  }
  const result = {
    bench: 'training',
    reports: path.relative(repoRoot, reports),
    found: fs.existsSync(reports),
    loss_tables: lossTables,
    evals,
    other_json: other,
    pngs: files.filter((x) => x.endsWith('.png')).map((x) => path.relative(repoRoot, x)),
    markdown: files.filter((x) => x.endsWith('.md')).map((x) => path.relative(repoRoot, x)),
  };
  writeResult('training', result);
  console.log(
    JSON.stringify({
      bench: 'training',
      found: result.found,
      loss_tables: lossTables.length,
      evals: evals.length,
      pngs: result.pngs.length,
    }),
  );
}

main();
