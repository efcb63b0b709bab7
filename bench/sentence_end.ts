// Issue 14, the parts that need no training: the silence rule against the sentence rule
// (segmenter.sentence_guard_ms) on the daemon's real-time end-to-end run (bench/e2e.ts: real
// mosquitto, the daemon paced in real time, a subscriber timing each transcript).
//   - the bundled sample (its 4 commands, 1.5 s apart), played `--plays` times per rule;
//   - espeak-ng commands of test/fixtures/home-sentences.yaml (two voices), a third of them whole
//     and the rest with a pause of 200, 300 or 400 ms after an incomplete beginning ("set the
//     porch light to" ... "forty percent"), 1.5 s between commands.
// Rules: `silence` (sentence files loaded, sentence_guard_ms 0: today's 300 ms trailing stretch),
// `sentence` (sentence_guard_ms 100), `incomplete` (that, and a pause after the beginning of a
// sentence holds sentence_incomplete_ms 600); without sentence files, the silence rule alone and the
// model's end-of-utterance head (segmenter.end_of_utterance, --eou; --eou-hold).
// Per rule: end of speech to delivery p50/p90 (the last transcript of each command), commands cut
// (more than one transcript: at one of the inserted pauses, or mid-speech), the closing rules.
// Writes runs/bench/results/sentence-end.json; last stdout line: JSON summary; the table for
// bench/RESULTS.md on stdout before it.
//
//   node --import=tsx bench/sentence_end.ts [--plays 3] [--voices en-us,en-gb] [--guard-ms 100]
//                                           [--incomplete-ms 600] [--eou 0.8] [--eou-hold 0.05] [--only plain]
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { SAMPLE_RATE } from '../daemon/frames.js';
import { encodeWav16, readWav16kMono } from '../daemon/audio/wav.js';
import { nodeChild, readResult, repoRoot, sampleWav, workDir, writeResult } from './lib/common.js';

function opt(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

const plays = Number(opt('plays', '3'));
const voices = opt('voices', 'en-us,en-gb').split(',');
const guardMs = Number(opt('guard-ms', '100'));
const incompleteMs = Number(opt('incomplete-ms', '600'));
const eou = Number(opt('eou', '0.8'));
const eouHold = Number(opt('eou-hold', '0.05'));
/** --only plain: the rows without sentence files alone (the end-of-utterance head against silence) */
const onlyPlain = opt('only', '') === 'plain';
const SENTENCES = path.join(repoRoot, 'test', 'fixtures', 'home-sentences.yaml');
const dir = path.join(workDir, 'sentence-end');
const GAP_S = 1.5;

/** Commands of the fixture's sentences; two parts: said with a pause between them. */
const COMMANDS: string[][] = [
  ['turn on the kitchen lights'],
  ['close the bedroom blinds'],
  ['open the garage door'],
  ['turn off the porch light'],
  ['set the porch light to', 'forty percent'],
  ['turn on', 'the living room curtains'],
  ['close the', 'garage door'],
  ['add paper towels to', 'my shopping list'],
  ['set the kitchen lights to', 'twenty percent'],
  ['switch off', 'the kitchen lights'],
  ['open the living room', 'curtains'],
  ['turn the porch light', 'off'],
];
const PAUSES_S = [0.2, 0.3, 0.4];

/** espeak-ng's speech at 16 kHz without the silence around it (samples under 1 % of full scale). */
function say(text: string, voice: string): Float32Array {
  const raw = path.join(dir, 'tts.wav');
  const out = path.join(dir, 'tts16.wav');
  execFileSync('espeak-ng', ['-v', voice, '-w', raw, text]);
  execFileSync('sox', [raw, '-r', String(SAMPLE_RATE), '-c', '1', '-b', '16', out]);
  const s = readWav16kMono(out).samples;
  let a = 0;
  let b = s.length;
  while (a < b && Math.abs(s[a]) < 0.01) a++;
  while (b > a && Math.abs(s[b - 1]) < 0.01) b--;
  return s.slice(a, b);
}

function writeWav16(file: string, x: Float32Array): void {
  fs.writeFileSync(file, encodeWav16(x));
}

/** The espeak-ng set as one WAV and its truth (command start/end and inserted pauses, seconds). */
function synthSet(): { wav: string; truth: string; commands: number; paused: number } {
  const parts: Float32Array[] = [new Float32Array(SAMPLE_RATE * GAP_S)];
  let at = GAP_S;
  const commands: { text: string; start_s: number; end_s: number; pauses: [number, number][]; voice: string }[] = [];
  let k = 0;
  for (const voice of voices) {
    for (const cmd of COMMANDS) {
      const start = at;
      const pauses: [number, number][] = [];
      cmd.forEach((piece, i) => {
        if (i > 0) {
          const p = PAUSES_S[k++ % PAUSES_S.length];
          parts.push(new Float32Array(Math.round(SAMPLE_RATE * p)));
          pauses.push([+at.toFixed(3), +(at + p).toFixed(3)]);
          at += p;
        }
        const s = say(piece, voice);
        parts.push(s);
        at += s.length / SAMPLE_RATE;
      });
      commands.push({ text: cmd.join(' '), start_s: +start.toFixed(3), end_s: +at.toFixed(3), pauses, voice });
      parts.push(new Float32Array(SAMPLE_RATE * GAP_S));
      at += GAP_S;
    }
  }
  const all = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    all.set(p, o);
    o += p.length;
  }
  const wav = path.join(dir, 'commands.wav');
  const truth = path.join(dir, 'commands.json');
  writeWav16(wav, all);
  fs.writeFileSync(truth, JSON.stringify({ sample_rate: SAMPLE_RATE, voices, commands }, null, 1));
  return { wav, truth, commands: commands.length, paused: commands.filter((c) => c.pauses.length).length };
}

interface Row {
  input: string;
  rule: string;
  commands: number;
  received: number;
  p50: number;
  p90: number;
  cut_at_pause: number;
  cut_mid_speech: number;
  closed_by: Record<string, number>;
  wer: number | null;
}

async function e2e(input: string, rule: string, name: string, args: string[], minRealtimeS: number): Promise<Row> {
  await nodeChild(path.join(repoRoot, 'bench', 'e2e.ts'), [
    ...args,
    '--no-memory',
    '--name',
    name,
    '--min-realtime-s',
    String(minRealtimeS),
  ]);
  const r = readResult(name).realtime;
  return {
    input,
    rule,
    commands: r.segments,
    received: r.received,
    p50: Math.round(r.latency_p50_ms),
    p90: Math.round(r.latency_p90_ms),
    cut_at_pause: r.cut.pause ?? 0,
    cut_mid_speech: r.cut.mid_speech ?? 0,
    closed_by: r.closed_by,
    wer: r.wer ? +(r.wer.wer * 100).toFixed(1) : null,
  };
}

async function main() {
  fs.mkdirSync(dir, { recursive: true });
  const set = synthSet();
  const sampleS = readWav16kMono(sampleWav).samples.length / SAMPLE_RATE;
  const sampleTruth = sampleWav.replace(/\.wav$/, '.json');
  const withSentences = ['--sentences', SENTENCES];
  const rows: Row[] = [];
  const sampleArgs = ['--sample', sampleWav, '--truth', sampleTruth];
  const minSample = sampleS * (plays - 0.5);
  const synthArgs = ['--sample', set.wav, '--truth', set.truth];
  const rules: [string, string, string[]][] = [
    ['silence (sentence files, guard 0)', 'silence', ['--guard-ms', '0', '--incomplete-ms', '0']],
    [`sentence_complete (guard ${guardMs} ms)`, 'sentence', ['--guard-ms', String(guardMs), '--incomplete-ms', '0']],
    [
      `sentence_complete + incomplete holds ${incompleteMs} ms (the defaults)`,
      'incomplete',
      ['--guard-ms', String(guardMs), '--incomplete-ms', String(incompleteMs)],
    ],
  ];
  // without sentence files: the silence rule alone, then the model's end-of-utterance head (the
  // defaults: done at p >= eou closes at the guard; below eouHold the pause may last incompleteMs)
  const plain: [string, string, string[]][] = [
    ['silence, no sentence files', 'plain', ['--eou', '0']],
    [
      `end_of_utterance (no sentence files; p >= ${eou}${eouHold ? `, holds below ${eouHold}` : ''})`,
      'eou',
      ['--eou', String(eou), '--eou-hold', String(eouHold), '--guard-ms', String(guardMs), '--incomplete-ms', String(incompleteMs)],
    ],
  ];
  for (const [label, key, args] of plain)
    rows.push(await e2e('sample', label, `sentence-end-sample-${key}`, [...sampleArgs, ...args], minSample));
  for (const [label, key, args] of onlyPlain ? [] : rules)
    rows.push(await e2e('sample', label, `sentence-end-sample-${key}`, [...sampleArgs, ...withSentences, ...args], minSample));
  for (const [label, key, args] of plain)
    rows.push(await e2e('espeak-ng', label, `sentence-end-espeak-${key}`, [...synthArgs, ...args], 1));
  for (const [label, key, args] of onlyPlain ? [] : rules)
    rows.push(await e2e('espeak-ng', label, `sentence-end-espeak-${key}`, [...synthArgs, ...withSentences, ...args], 1));
  const table = [
    '| input | rule | commands | end of speech to delivery p50 / p90 (ms) | cut at a pause | cut mid-speech | closed by | WER |',
    '|---|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.input} | ${r.rule} | ${r.received}/${r.commands} | ${r.p50} / ${r.p90} | ${r.cut_at_pause} | ${r.cut_mid_speech} | ${Object.entries(
          r.closed_by,
        )
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')} | ${r.wer ?? '–'} % |`,
    ),
  ].join('\n');
  writeResult('sentence-end', {
    bench: 'sentence-end',
    plays,
    voices,
    guard_ms: guardMs,
    incomplete_ms: incompleteMs,
    end_of_utterance: eou,
    end_of_utterance_hold: eouHold,
    espeak_commands: set.commands,
    espeak_paused: set.paused,
    pauses_s: PAUSES_S,
    rows,
  });
  console.log(table);
  console.log(
    JSON.stringify({ bench: 'sentence-end', rows: rows.map((r) => [r.input, r.rule, r.p50, r.p90, r.cut_at_pause, r.cut_mid_speech]) }),
  );
}

main().catch((err) => {
  console.error(`bench/sentence_end: ${(err as Error).stack ?? err}`);
  process.exit(1);
});
