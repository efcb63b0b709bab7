// Shallow fusion of a small n-gram model (daemon/lm.ts) in the open-vocabulary decoder: WER with
// each weight on the held-out synthetic voices (bench/lib/synth_devset.py) and the dev speakers of
// ../shared/data (FSDD lucas, Speech Commands words, LibriSpeech + Common Voice, VCTK + CMU ARCTIC);
// the weight with the lowest mean WER over the command domain (held-out voices, FSDD, Speech
// Commands) is the one to configure; read prose is reported beside it.
// The LM's text: --text FILE (the shipped one: models/earshot-en-lm.txt, training/lm_text.py), else
// the training text generator (training/earshot/textgen.py, seed 1) and sentences sampled from the
// large synthetic home (bench/sentences-home.ts).
//
//   node --import=tsx bench/lm.ts [--model FILE] [--text FILE] [--order 6] [--lines 20000] [--beam 1] [--weights 0,0.1,0.2]
// Last line: the results as JSON (also runs/bench/results/lm.json).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readWav16kMono } from '../daemon/audio/wav.js';
import { SAMPLE_RATE } from '../daemon/frames.js';
import { buildLm, type LmSource } from '../daemon/lm.js';
import { loadTransducer } from '../daemon/models.js';
import { compileSentences, parseSentenceFiles } from '../daemon/sentences.js';
import { ensureSynthDevset, loadAudio, models, python, repoRoot, sharedData, synthClips, wer, writeResult } from './lib/common.js';
import { largeHome } from './sentences-home.js';

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : def;
};
const order = Number(arg('order', '6'));
const nLines = Number(arg('lines', '20000'));
const beam = Number(arg('beam', '1'));
const weights = arg('weights', '0,0.1,0.2,0.3,0.5').split(',').map(Number);
const textArg = arg('text', '');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'earshot-lm-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

function devRows(folder: string): { file: string; text: string }[] {
  const lines = fs
    .readFileSync(path.join(sharedData, folder, 'manifest.tsv'), 'utf8')
    .trim()
    .split('\n');
  const head = lines[0].split('\t');
  return lines
    .slice(1)
    .map((l) => l.split('\t'))
    .filter((r) => r[head.indexOf('split')] === 'dev')
    .map((r) => ({ file: path.join(sharedData, folder, r[head.indexOf('path')]), text: r[head.indexOf('transcript')] }));
}
function decodeFile(file: string): Float32Array {
  const out = path.join(tmp, 'a.wav');
  execFileSync('sox', [file, '-r', String(SAMPLE_RATE), '-c', '1', '-b', '16', out]);
  return readWav16kMono(out).samples;
}

async function main() {
  const model = await loadTransducer(arg('model', models.int4));
  // text: a given file (the shipped one: --text models/earshot-en-lm.txt), else the generator's and the large home's
  let source: LmSource;
  if (textArg) source = { files: [textArg] };
  else {
    const textFile = path.join(tmp, 'textgen.txt');
    const gen = `import sys; sys.path.insert(0, ${JSON.stringify(repoRoot)})\nfrom training.earshot.textgen import TextGenerator\ng = TextGenerator(seed=1)\nprint("\\n".join(g.sentence() for _ in range(${nLines})))`;
    fs.writeFileSync(textFile, execFileSync(python, ['-c', gen], { maxBuffer: 1 << 28 }));
    const home = compileSentences(parseSentenceFiles([{ file: 'large-home.yaml', text: largeHome(500, 30).text }]));
    source = { files: [textFile], grammars: [home], samples: 2000 };
  }
  const t0 = performance.now();
  const lm = buildLm(model, source, order);
  const buildMs = Math.round(performance.now() - t0);
  console.error(`LM: order ${order}, ${lm.lines} lines, built in ${buildMs} ms`);

  // sets
  ensureSynthDevset();
  const sets: Record<string, { text: string; audio: Float32Array }[]> = {
    heldout_voices: synthClips().map((c) => ({ text: c.text, audio: loadAudio(c) })),
  };
  // dev speakers only: FSDD's other three speakers are trained on, all their takes
  const real: Record<string, string[]> = {
    fsdd_lucas: ['fsdd'],
    speech_commands: ['speech-commands'],
    librispeech_cv: ['librispeech-speakers', 'common-voice-en'],
    vctk_arctic: ['vctk', 'cmu-arctic'],
  };
  for (const [name, folders] of Object.entries(real))
    sets[name] = folders.flatMap((f) => devRows(f).map((r) => ({ text: r.text, audio: decodeFile(r.file) })));
  console.error(Object.fromEntries(Object.entries(sets).map(([k, v]) => [k, v.length])));

  const table: { weight: number; wer: Record<string, number>; mean: number }[] = [];
  for (const w of weights) {
    const row: Record<string, number> = {};
    for (const [name, clips] of Object.entries(sets)) {
      const pairs: { ref: string; hyp: string }[] = [];
      for (const c of clips) {
        const s = model.createStream(w > 0 ? { beam, lm: lm.handle, lmWeight: w } : { beam });
        s.acceptWaveform(c.audio);
        pairs.push({ ref: c.text, hyp: (await s.finalize()).text });
        s.dispose();
      }
      row[name] = Math.round(wer(pairs).wer * 10000) / 100;
    }
    // chosen on the domain (commands, words, digits); read prose is reported beside it
    const domain = ['heldout_voices', 'fsdd_lucas', 'speech_commands'].map((k) => row[k]);
    table.push({ weight: w, wer: row, mean: Math.round((100 * domain.reduce((a, b) => a + b, 0)) / domain.length) / 100 });
    console.error(table.at(-1));
  }
  const best = table.reduce((a, b) => (b.mean < a.mean ? b : a));
  const result = {
    model: model.info.name,
    order,
    lines: lm.lines,
    build_ms: buildMs,
    beam,
    sets: Object.fromEntries(Object.entries(sets).map(([k, v]) => [k, v.length])),
    wer_pct: table,
    chosen_weight: best.weight,
  };
  writeResult('lm', result);
  console.log(JSON.stringify(result));
}

await main();
