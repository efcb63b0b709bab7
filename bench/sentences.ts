// Sentences and intents (issue 17), measured on the model in models/ (or --model):
//   - compile: parse + compile + engine mapping of a large home (500 names, 30 areas, HA-like
//     templates), time and size;
//   - in-grammar commands: random sentences of that home, synthesized with the two held-out voices
//     (flite rms, espeak-ng en-us+f3): exact sentence and exact intent + slots;
//   - Speech Commands dev words with a words file (one intent, a list of the 35 words): exact word;
//   - out-of-grammar: LibriSpeech and Common Voice dev sentences (and VCTK, CMU ARCTIC dev) decoded
//     with the large home: how often some intent is matched;
//   - cost: CPU of decoding with the sentences (free greedy + restricted beam) over greedy alone;
//   - the match rates at other sentence_min_score and sentence_min_coverage thresholds, to choose
//     them; "best_sentence_exact": the restricted search's best sentence right, whatever its score.
//
//   node --import=tsx bench/sentences.ts [--model FILE] [--commands N] [--min-score 0.5] [--min-coverage 0.67] [--beam 4] [--bonus 0]
// Prints a summary on stderr and the results as a last JSON line, also written to
// runs/bench/results/sentences.json (npm run bench -- --only sentences).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readWav16kMono } from '../daemon/audio/wav.js';
import { SAMPLE_RATE } from '../daemon/frames.js';
import {
  DEFAULT_BEAM,
  DEFAULT_MIN_COVERAGE,
  DEFAULT_MIN_SCORE,
  DEFAULT_TOKEN_BONUS,
  prepareSentences,
  resolveIntent,
  sentenceCoverage,
  streamOptions,
  type SentenceRecognizer,
} from '../daemon/intents.js';
import { loadTransducer } from '../daemon/models.js';
import type { DecodeResult, TransducerModel } from '../daemon/native.js';
import { compileSentences, matchSentence, parseSentenceFiles, sampleSentences } from '../daemon/sentences.js';
import { largeHome } from './sentences-home.js';
import { models, writeResult } from './lib/common.js';

const DATA = process.env.EARSHOT_DATA ?? path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..', 'shared', 'data');
const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : def;
};
const modelFile = arg('model', models.int4);
const nCommands = Number(arg('commands', '120'));
const minScore = Number(arg('min-score', String(DEFAULT_MIN_SCORE)));
const minCoverage = Number(arg('min-coverage', String(DEFAULT_MIN_COVERAGE)));
const beam = Number(arg('beam', String(DEFAULT_BEAM)));
const tokenBonus = Number(arg('bonus', String(DEFAULT_TOKEN_BONUS)));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'earshot-sentences-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

// ---- audio ----
let nTmp = 0;
function toWav16(src: string): Float32Array {
  const out = path.join(tmp, `a${nTmp++}.wav`);
  execFileSync('sox', [src, '-r', String(SAMPLE_RATE), '-c', '1', '-b', '16', out]);
  const s = readWav16kMono(out).samples;
  fs.rmSync(out);
  return s;
}
function synth(text: string, voice: 'rms' | 'f3'): Float32Array {
  const raw = path.join(tmp, `t${nTmp++}.wav`);
  if (voice === 'rms') execFileSync('flite', ['-voice', 'rms', '-t', text, '-o', raw]);
  else execFileSync('espeak-ng', ['-v', 'en-us+f3', '-w', raw, text]);
  const s = toWav16(raw);
  fs.rmSync(raw);
  return s;
}
function devRows(folder: string): { file: string; text: string }[] {
  const lines = fs
    .readFileSync(path.join(DATA, folder, 'manifest.tsv'), 'utf8')
    .trim()
    .split('\n');
  const head = lines[0].split('\t');
  const col = (k: string) => head.indexOf(k);
  return lines
    .slice(1)
    .map((l) => l.split('\t'))
    .filter((r) => r[col('split')] === 'dev')
    .map((r) => ({ file: path.join(DATA, folder, r[col('path')]), text: r[col('transcript')] }));
}

const ITEMS = ['paper towels', 'milk', 'dish soap', 'two dozen eggs', 'olive oil', 'batteries', 'coffee beans', 'bread'];

// ---- decoding, with CPU time ----
const cpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
async function decodeRaw(
  model: TransducerModel,
  samples: Float32Array,
  sr?: SentenceRecognizer,
): Promise<{ result: DecodeResult; cpuMs: number }> {
  const c0 = cpu();
  const stream = model.createStream(sr ? streamOptions(sr) : {});
  stream.acceptWaveform(samples);
  const result = await stream.finalize();
  stream.dispose();
  return { result, cpuMs: cpu() - c0 };
}
const rate = (n: number, d: number) => (d ? Math.round((1000 * n) / d) / 10 : null);
const THRESHOLDS = [0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8];
const COVERAGES = [0, 0.5, 0.6, 0.67, 0.75, 0.8, 0.9];
// per utterance: the sentence's score and coverage (0, 0 without one), and for in-grammar commands
// and words whether the sentence is the one said
type Scored = { score: number; coverage: number; right?: boolean };
const scored = (r: DecodeResult, right?: boolean): Scored => ({ score: r.sentence?.score ?? 0, coverage: sentenceCoverage(r), right });

async function main() {
  const model = await loadTransducer(modelFile);
  const home = largeHome(500, 30);
  const homeFile = path.join(tmp, 'large-home.yaml');
  fs.writeFileSync(homeFile, home.text);

  // compile
  const heap0 = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  const g = compileSentences(parseSentenceFiles([{ file: homeFile, text: home.text }]));
  const tsMs = performance.now() - t0;
  const t1 = performance.now();
  const sr = prepareSentences(model, [homeFile], { minScore, minCoverage, beam, tokenBonus });
  const fullMs = performance.now() - t1;
  const compile = {
    names: 500,
    areas: 30,
    intents: new Set(g.set.blocks.map((b) => b.intent)).size,
    templates: g.set.blocks.reduce((n, b) => n + b.sentences.length, 0),
    states: g.stats.states,
    arcs: g.stats.arcs,
    automaton_bytes: g.stats.bytes,
    compile_ms: Math.round(tsMs),
    load_and_engine_ms: Math.round(fullMs),
    heap_delta_mb: Math.round((process.memoryUsage().heapUsed - heap0) / 1e5) / 10,
  };
  console.error('compile', compile);

  // in-grammar commands, held-out voices
  const sentences = new Set<string>();
  for (let seed = 17; sentences.size < nCommands; seed++)
    for (const x of sampleSentences(g, nCommands, seed, ITEMS)) if (sentences.size < nCommands) sentences.add(x);
  const cmds = [...sentences].map((text, i) => ({ text, voice: (i % 2 ? 'f3' : 'rms') as 'rms' | 'f3', expect: matchSentence(g, text)! }));
  let exact = 0;
  let intentOk = 0;
  let greedyExact = 0;
  let bestExact = 0;
  let cpuGreedy = 0;
  let cpuSent = 0;
  const misses: unknown[] = [];
  const inScores: Scored[] = [];
  for (const c of cmds) {
    const audio = synth(c.text, c.voice);
    const free = await decodeRaw(model, audio);
    const withS = await decodeRaw(model, audio, sr);
    cpuGreedy += free.cpuMs;
    cpuSent += withS.cpuMs;
    const r = resolveIntent(sr, withS.result);
    inScores.push(scored(withS.result, withS.result.sentence?.text === c.text));
    if (free.result.text === c.text) greedyExact++;
    if (withS.result.sentence?.text === c.text) bestExact++;
    const same = r.text === c.text;
    const intentSame = !!r.intent && r.intent.name === c.expect.name && JSON.stringify(r.intent.slots) === JSON.stringify(c.expect.slots);
    if (same) exact++;
    if (intentSame) intentOk++;
    if (!same || !intentSame)
      misses.push({
        said: c.text,
        voice: c.voice,
        got: r.text,
        free: free.result.text,
        score: withS.result.sentence?.score ?? null,
        coverage: Math.round(sentenceCoverage(withS.result) * 100) / 100,
        intent: r.intent?.name ?? null,
      });
  }
  const inGrammar = {
    utterances: cmds.length,
    exact_sentence_pct: rate(exact, cmds.length),
    exact_intent_and_slots_pct: rate(intentOk, cmds.length),
    greedy_exact_pct: rate(greedyExact, cmds.length),
    best_sentence_exact_pct: rate(bestExact, cmds.length),
    misses: misses.slice(0, 15),
  };
  console.error('in-grammar', inGrammar);

  // Speech Commands dev words with a words file
  const words = [
    'backward',
    'bed',
    'bird',
    'cat',
    'dog',
    'down',
    'eight',
    'five',
    'follow',
    'forward',
    'four',
    'go',
    'happy',
    'house',
    'learn',
    'left',
    'marvin',
    'nine',
    'no',
    'off',
    'on',
    'one',
    'right',
    'seven',
    'sheila',
    'six',
    'stop',
    'three',
    'tree',
    'two',
    'up',
    'visual',
    'wow',
    'yes',
    'zero',
  ];
  const wordsFile = path.join(tmp, 'words.yaml');
  fs.writeFileSync(
    wordsFile,
    `intents:\n  Word:\n    data:\n      - sentences: ["{word}"]\nlists:\n  word:\n    values: [${words.join(', ')}]\n`,
  );
  const wordSr = prepareSentences(model, [wordsFile], { minScore, minCoverage, beam, tokenBonus });
  const sc = devRows('speech-commands');
  let scExact = 0;
  let scGreedy = 0;
  let scBest = 0;
  const scScores: Scored[] = [];
  for (const row of sc) {
    const audio = toWav16(row.file);
    const r = await decodeRaw(model, audio, wordSr);
    if (resolveIntent(wordSr, r.result).intent?.slots.word === row.text) scExact++;
    if (r.result.text === row.text) scGreedy++;
    if (r.result.sentence?.text === row.text) scBest++;
    scScores.push(scored(r.result, r.result.sentence?.text === row.text));
  }
  const speechCommands = {
    utterances: sc.length,
    exact_word_pct: rate(scExact, sc.length),
    greedy_exact_pct: rate(scGreedy, sc.length),
    best_sentence_exact_pct: rate(scBest, sc.length),
  };
  console.error('speech commands', speechCommands);

  // out of grammar
  const oog: Record<string, { utterances: number; matched_pct: number | null; matched: string[] }> = {};
  const oogScores: Scored[] = [];
  const lsCvScores: Scored[] = [];
  for (const folder of ['librispeech-speakers', 'common-voice-en', 'vctk', 'cmu-arctic']) {
    const rows = devRows(folder);
    let matched = 0;
    const which: string[] = [];
    for (const row of rows) {
      const r = await decodeRaw(model, toWav16(row.file), sr);
      oogScores.push(scored(r.result));
      if (folder === 'librispeech-speakers' || folder === 'common-voice-en') lsCvScores.push(scored(r.result));
      const res = resolveIntent(sr, r.result);
      if (res.intent) {
        matched++;
        which.push(`${res.intent.name}: "${res.text}" (${res.intent.score}, coverage ${sentenceCoverage(r.result).toFixed(2)})`);
      }
    }
    oog[folder] = { utterances: rows.length, matched_pct: rate(matched, rows.length), matched: which.slice(0, 5) };
    console.error('out of grammar', folder, oog[folder]);
  }
  const lsCv = oog['librispeech-speakers'].utterances + oog['common-voice-en'].utterances;
  const lsCvMatched =
    ((oog['librispeech-speakers'].matched_pct ?? 0) * oog['librispeech-speakers'].utterances +
      (oog['common-voice-en'].matched_pct ?? 0) * oog['common-voice-en'].utterances) /
    100;

  // kept: a sentence passes both rules; in-grammar and words count only the right sentence kept
  const kept = (xs: Scored[], th: number, cov: number) =>
    rate(xs.filter((x) => x.score > 0 && x.score >= th && x.coverage >= cov && x.right !== false).length, xs.length);
  const sweep = THRESHOLDS.map((th) => ({
    min_score: th,
    in_grammar_sentence_kept_pct: kept(inScores, th, minCoverage),
    speech_commands_word_kept_pct: kept(scScores, th, minCoverage),
    out_of_grammar_matched_pct: kept(oogScores, th, minCoverage),
  }));
  const coverageSweep = COVERAGES.map((cov) => ({
    min_coverage: cov,
    in_grammar_sentence_kept_pct: kept(inScores, minScore, cov),
    speech_commands_word_kept_pct: kept(scScores, minScore, cov),
    out_of_grammar_matched_pct: kept(oogScores, minScore, cov),
    librispeech_cv_matched_pct: kept(lsCvScores, minScore, cov),
  }));
  const result = {
    model: model.info.name,
    model_file: path.relative(process.cwd(), modelFile),
    min_score: minScore,
    min_coverage: minCoverage,
    sentence_beam: beam,
    token_bonus: tokenBonus,
    compile,
    in_grammar: inGrammar,
    speech_commands: speechCommands,
    out_of_grammar: oog,
    out_of_grammar_librispeech_cv_matched_pct: rate(Math.round(lsCvMatched), lsCv),
    cost: {
      greedy_cpu_ms: Math.round(cpuGreedy),
      with_sentences_cpu_ms: Math.round(cpuSent),
      ratio: Math.round((100 * cpuSent) / cpuGreedy) / 100,
      utterances: cmds.length,
    },
    threshold_sweep: sweep,
    coverage_sweep: coverageSweep,
  };
  writeResult('sentences', result);
  console.log(JSON.stringify(result));
}

await main();
