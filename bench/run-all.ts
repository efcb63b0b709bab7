// `npm run bench`: every benchmark of bench/, one after the other, then the plots and
// bench/RESULTS.md. Each piece runs in a child process and may fail alone: the run goes on and the
// results file says which step failed and why.
//
//   npm run bench [-- --only recognizer,e2e]   (steps left out keep their last results)
// Steps: devsets recognizer dev pocketsphinx pvad e2e sentences lm wyoming training engine kernels plots (the report is
// always written).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ensureSynthDevset, lastJson, machine, models, python, reportDir, repoRoot, resultsDir, run, writeResult } from './lib/common.js';
import { writeResults, type RunInfo } from './lib/report.js';

const tsx = (script: string) => [process.execPath, '--import=tsx', path.join(repoRoot, 'bench', script)];
// The engine and kernel helpers' benchmarks print their figures as a last JSON line: kept as is.
const STEPS: { name: string; result?: string; cmd?: string[]; fn?: () => void; capture?: boolean }[] = [
  { name: 'devsets', fn: ensureSynthDevset },
  { name: 'recognizer', result: 'recognizer', cmd: tsx('recognizer.ts') },
  { name: 'dev', result: 'dev_wer', cmd: [...tsx('dev_wer.ts'), '--model', `int4=${models.int4}`, '--model', `f32=${models.f32}`] },
  { name: 'pocketsphinx', result: 'pocketsphinx', cmd: tsx('pocketsphinx.ts') },
  { name: 'pvad', result: 'pvad', cmd: tsx('lib/pvad.ts') },
  { name: 'e2e', result: 'e2e', cmd: tsx('e2e.ts') },
  { name: 'sentences', result: 'sentences', cmd: tsx('sentences.ts') },
  { name: 'lm', result: 'lm', cmd: [...tsx('lm.ts'), '--beam', '4', '--weights', '0,0.1,0.2,0.3'] },
  { name: 'wyoming', result: 'wyoming', cmd: tsx('wyoming.ts'), capture: true },
  { name: 'training', result: 'training', cmd: tsx('lib/training.ts') },
  { name: 'engine', result: 'engine', cmd: [...tsx('engine.ts'), '--model', models.int4, '--baseline', models.f32], capture: true },
  { name: 'kernels', result: 'kernels', cmd: ['bash', path.join(repoRoot, 'bench', 'kernels.sh')], capture: true },
  {
    name: 'plots',
    cmd: [python, path.join(repoRoot, 'bench', 'plots.py'), '--results', resultsDir, '--out', path.join(reportDir, 'plots')],
  },
];

function option(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
}

/** Runs a step, echoing its output; resolves with the tail of stderr on failure. With `capture`,
 * its last JSON line is stored as results/<result>.json. */
function runStep(cmd: string[], capture?: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const child = spawn(cmd[0], cmd.slice(1), { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      process.stdout.write(d);
      if (capture) out = (out + d.toString()).slice(-1_000_000);
    });
    child.stderr.on('data', (d: Buffer) => {
      process.stderr.write(d);
      err = (err + d.toString()).slice(-4000);
    });
    child.on('error', (e) => resolve(e.message));
    child.on('close', (code) => {
      if (code !== 0) return resolve(err.trim().split('\n').slice(-3).join(' ') || `exit code ${code}`);
      if (capture) {
        try {
          writeResult(capture, lastJson(out));
        } catch (e) {
          return resolve((e as Error).message);
        }
      }
      resolve(undefined);
    });
  });
}

async function main() {
  // --rerender: this file again from the last run's results and its own record (no step rerun).
  if (process.argv.includes('--rerender')) {
    const info = JSON.parse(fs.readFileSync(path.join(resultsDir, 'run.json'), 'utf8')) as RunInfo;
    console.log(JSON.stringify({ bench: 'all', results: path.relative(repoRoot, writeResults(info)), rerendered: info.date }));
    return;
  }
  const only = option('only')?.split(',');
  const unknown = only?.filter((s) => s !== 'report' && !STEPS.some((x) => x.name === s)) ?? [];
  if (unknown.length) throw new Error(`unknown step(s) ${unknown.join(', ')}; steps: ${STEPS.map((s) => s.name).join(' ')}`);
  const t0 = Date.now();
  const steps: RunInfo['steps'] = [];
  for (const step of STEPS) {
    const resultFile = step.result ? path.join(resultsDir, `${step.result}.json`) : undefined;
    if (only && !only.includes(step.name)) {
      if (resultFile && fs.existsSync(resultFile))
        steps.push({
          name: step.name,
          seconds: 0,
          ok: true,
          reused: fs
            .statSync(resultFile)
            .mtime.toISOString()
            .replace(/\.\d+Z$/, 'Z'),
        });
      continue;
    }
    process.stderr.write(`\n== bench: ${step.name} ==\n`);
    // A failed step must not leave an older run's figures behind as if they were new.
    if (resultFile) fs.rmSync(resultFile, { force: true });
    const s0 = Date.now();
    let error: string | undefined;
    if (step.fn) {
      try {
        step.fn();
      } catch (e) {
        error = (e as Error).message;
      }
    } else error = await runStep(step.cmd!, step.capture ? step.result : undefined);
    steps.push({ name: step.name, seconds: (Date.now() - s0) / 1000, ok: !error, error });
    process.stderr.write(
      `== bench: ${step.name} ${error ? `FAILED: ${error}` : 'done'} in ${((Date.now() - s0) / 1000).toFixed(0)} s ==\n`,
    );
  }
  let commit = 'unknown';
  try {
    commit = run('git', ['rev-parse', '--short', 'HEAD']).trim();
  } catch {
    /* not a checkout */
  }
  const plotsDir = path.join(reportDir, 'plots');
  const info: RunInfo = {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    commit,
    machine: machine(),
    total_s: (Date.now() - t0) / 1000,
    steps,
    plots: fs.existsSync(plotsDir) ? fs.readdirSync(plotsDir) : [],
  };
  writeResult('run', info);
  const file = writeResults(info);
  const failed = steps.filter((s) => !s.ok).map((s) => s.name);
  console.log(
    JSON.stringify({ bench: 'all', results: path.relative(repoRoot, file), minutes: +((Date.now() - t0) / 60000).toFixed(1), failed }),
  );
  if (failed.length) process.exitCode = 1;
}

main().catch((err) => {
  console.error(`bench: ${(err as Error).message}`);
  process.exit(2);
});
