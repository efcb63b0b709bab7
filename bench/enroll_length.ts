// Speaker EER against enrollment length, through the daemon's own enrollment code (speechOf with
// the pVAD as a plain VAD, then embedSpeech: the profile embedding and its quality figure), on the
// real speakers of ../shared/data.
//
//   node --import=tsx bench/enroll_length.ts [--data ../shared/data] [--split dev|train] [--out FILE]
//       [--pvad models/pvad.gguf] [--spkenc models/spkenc.gguf] [--max-speakers N (train: 100)]
//
// Per speaker (utterances in manifest order, at most 150 s of audio read): the last utterances
// until 4 s of speech (10 s for speakers with 40 s or more; with one utterance, its last 4 s of
// speech) give up to 5 test pieces of 2 s of speech; consecutive 5, 10 and 20 s stretches of the
// other utterances' speech are the enrollments (up to 4 disjoint ones per length; a speaker with
// less speech has fewer). Speakers with too little speech to enroll 5 s (Speech
// Commands: at most a few one-second words each) only give test pieces, as other people.
// Trials: every enrollment against every test piece; EER over all speakers that have that length,
// and over the speakers that have all three (same people at every length).
// Quality: the consistency of each enrollment, and of "two voices" enrollments (half this
// speaker's speech, half the next speaker's), which the advice threshold must catch.
// --split train measures training speakers instead: that is where enroll.ts's MIN_CONSISTENCY comes
// from (dev speakers never tune it).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { SAMPLE_RATE } from '../daemon/frames.js';
import { loadConfig } from '../daemon/config.js';
import { embedSpeech, speechOf } from '../daemon/enroll.js';
import { loadPvad, loadSpeakerEncoder } from '../daemon/models.js';
import { cosine } from '../daemon/profiles.js';
import { repoRoot } from './lib/common.js';

const CORPORA = ['librispeech-speakers', 'speech-commands', 'common-voice-en', 'vctk', 'cmu-arctic', 'fsdd'];
const LENGTHS = [5, 10, 20];
const PIECE = 2 * SAMPLE_RATE;
const TEST_SPEECH = 4 * SAMPLE_RATE;
/** speakers with this much speech keep 10 s of it for test pieces */
const LONG_SPEAKER = 40 * SAMPLE_RATE;
const MAX_PIECES = 5;
/** disjoint enrollments of each length per speaker, where its speech allows */
const MAX_ENROLLMENTS = 4;
const MAX_AUDIO = 150 * SAMPLE_RATE;
const MIN_ENROLL = LENGTHS[0] * SAMPLE_RATE;

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(name);
  if (i < 0) return def;
  const v = process.argv[i + 1];
  if (v === undefined || v.startsWith('--')) throw new Error(`${name} needs a value`);
  return v;
}

/** 16 kHz mono float samples of any file sox reads (WAV, FLAC, Ogg Vorbis). */
function decode(file: string): Float32Array {
  const raw = execFileSync('sox', [file, '-t', 'raw', '-e', 'floating-point', '-b', '32', '-r', String(SAMPLE_RATE), '-c', '1', '-'], {
    maxBuffer: 1 << 28,
  });
  return new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4).slice();
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((o, p) => (out.set(p, o), o + p.length), 0);
  return out;
}

function eer(target: number[], other: number[]): number {
  // the point where the share of targets below a cut equals the share of others at or above it
  const all = [...target.map((s) => [s, 1]), ...other.map((s) => [s, 0])].sort((a, b) => b[0] - a[0]);
  let tp = 0;
  let fp = 0;
  let best = { gap: Infinity, eer: 1 };
  for (const [, y] of all) {
    if (y) tp++;
    else fp++;
    const fr = 1 - tp / target.length;
    const fa = fp / other.length;
    if (Math.abs(fr - fa) < best.gap) best = { gap: Math.abs(fr - fa), eer: (fr + fa) / 2 };
  }
  return best.eer;
}

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))] : NaN;
}

async function main(): Promise<void> {
  const data = path.resolve(arg('--data', path.join(repoRoot, '..', 'shared', 'data')));
  const split = arg('--split', 'dev');
  if (split !== 'dev' && split !== 'train') throw new Error(`--split must be dev or train, not ${split}`);
  const maxSpeakers = Number(arg('--max-speakers', split === 'train' ? '100' : '100000'));
  if (!Number.isInteger(maxSpeakers) || maxSpeakers < 1) throw new Error('--max-speakers must be a positive integer');
  const out = arg('--out', path.join(repoRoot, 'runs', `enroll-length-${split}.json`));
  const cfg = loadConfig(undefined);
  // a candidate pair can be measured before it replaces the shipped one
  const [pvad, encoder] = await Promise.all([
    loadPvad(path.resolve(arg('--pvad', path.join(repoRoot, 'models', 'pvad.gguf')))),
    loadSpeakerEncoder(path.resolve(arg('--spkenc', path.join(repoRoot, 'models', 'spkenc.gguf')))),
  ]);

  // speaker -> files, in manifest order; the split column decides who is in
  const speakers = new Map<string, { corpus: string; files: string[] }>();
  for (const corpus of CORPORA) {
    const [head, ...rows] = fs
      .readFileSync(path.join(data, corpus, 'manifest.tsv'), 'utf8')
      .trim()
      .split('\n');
    const col = Object.fromEntries(head.split('\t').map((c, i) => [c, i]));
    for (const line of rows) {
      const r = line.split('\t');
      const spk = r[col.speaker_id];
      if (!spk || r[col.split] !== split) continue;
      const key = `${corpus}/${spk}`;
      if (!speakers.has(key)) speakers.set(key, { corpus, files: [] });
      speakers.get(key)!.files.push(path.join(data, corpus, r[col.path]));
    }
  }
  // --split train: every corpus but Speech Commands (whose speakers cannot enroll), a few speakers each
  let keys = [...speakers.keys()].sort();
  if (split === 'train') {
    const perCorpus = Math.ceil(maxSpeakers / (CORPORA.length - 1));
    keys = CORPORA.filter((c) => c !== 'speech-commands').flatMap((c) => keys.filter((k) => k.startsWith(c + '/')).slice(0, perCorpus));
  }

  interface Spk {
    key: string;
    enrollSpeech: Float32Array;
    tests: Float32Array[];
  }
  const spks: Spk[] = [];
  for (const key of keys) {
    const speechOfUtt: Float32Array[] = [];
    let audio = 0;
    for (const f of speakers.get(key)!.files) {
      if (audio >= MAX_AUDIO) break;
      const x = decode(f);
      audio += x.length;
      speechOfUtt.push(await speechOf(pvad, x, cfg.vad.threshold));
    }
    let enrollSpeech: Float32Array;
    let testSpeech: Float32Array;
    const total = speechOfUtt.reduce((n, p) => n + p.length, 0);
    const testWant = total >= LONG_SPEAKER ? 2.5 * TEST_SPEECH : TEST_SPEECH;
    if (total < MIN_ENROLL + TEST_SPEECH) {
      enrollSpeech = new Float32Array(0);
      testSpeech = concat(speechOfUtt);
    } else if (speechOfUtt.length >= 2) {
      let k = speechOfUtt.length;
      let have = 0;
      while (k > 1 && have < testWant) have += speechOfUtt[--k].length;
      enrollSpeech = concat(speechOfUtt.slice(0, k));
      testSpeech = concat(speechOfUtt.slice(k));
    } else {
      const all = speechOfUtt[0];
      enrollSpeech = all.subarray(0, all.length - TEST_SPEECH);
      testSpeech = all.subarray(all.length - TEST_SPEECH);
    }
    const tests: Float32Array[] = [];
    for (let o = 0; o + PIECE <= testSpeech.length && tests.length < MAX_PIECES; o += PIECE)
      tests.push(await encoder.encoder.embed(testSpeech.subarray(o, o + PIECE)));
    spks.push({ key, enrollSpeech, tests });
    process.stderr.write(
      `${key}: ${(total / SAMPLE_RATE).toFixed(1)} s speech, enrollment ${(enrollSpeech.length / SAMPLE_RATE).toFixed(1)} s, ${tests.length} test pieces\n`,
    );
  }

  const pieces = spks.flatMap((s) => s.tests.map((e) => ({ key: s.key, e })));
  const enrolled = new Map<number, Map<string, { e: Float32Array; consistency: number }[]>>();
  for (const L of LENGTHS) {
    const m = new Map<string, { e: Float32Array; consistency: number }[]>();
    for (const s of spks) {
      const n = Math.min(MAX_ENROLLMENTS, Math.floor(s.enrollSpeech.length / (L * SAMPLE_RATE)));
      if (!n || !s.tests.length) continue;
      const list = [];
      for (let j = 0; j < n; j++) {
        const { embedding, quality } = await embedSpeech(s.enrollSpeech.subarray(j * L * SAMPLE_RATE, (j + 1) * L * SAMPLE_RATE), encoder);
        list.push({ e: embedding, consistency: quality.consistency });
      }
      m.set(s.key, list);
    }
    enrolled.set(L, m);
  }
  const common = [...enrolled.get(LENGTHS[0])!.keys()].filter((k) => LENGTHS.every((L) => enrolled.get(L)!.has(k)));
  const score = (L: number, who: string[]) => {
    const tgt: number[] = [];
    const oth: number[] = [];
    let enrollments = 0;
    for (const k of who) {
      for (const { e } of enrolled.get(L)!.get(k)!) {
        enrollments++;
        for (const p of pieces) (p.key === k ? tgt : oth).push(cosine(e, p.e));
      }
    }
    return {
      speakers: who.length,
      enrollments,
      target_trials: tgt.length,
      other_trials: oth.length,
      eer: tgt.length && oth.length ? eer(tgt, oth) : null,
    };
  };
  // two voices: half the speech of one speaker, half of the next one's (10 s in all)
  const mixedConsistency: number[] = [];
  const able = spks.filter((s) => s.enrollSpeech.length >= 5 * SAMPLE_RATE);
  for (let i = 0; i < able.length; i++) {
    const a = able[i].enrollSpeech.subarray(0, 5 * SAMPLE_RATE);
    const b = able[(i + 1) % able.length].enrollSpeech.subarray(0, 5 * SAMPLE_RATE);
    if (able.length > 1) mixedConsistency.push((await embedSpeech(concat([a, b]), encoder)).quality.consistency);
  }
  const result = {
    split,
    speakers: spks.length,
    test_pieces: pieces.length,
    by_corpus: Object.fromEntries(
      CORPORA.map((c) => [
        c,
        {
          speakers: spks.filter((s) => s.key.startsWith(c + '/')).length,
          enrolled_5s: [...enrolled.get(5)!.keys()].filter((k) => k.startsWith(c + '/')).length,
        },
      ]),
    ),
    lengths: Object.fromEntries(
      LENGTHS.map((L) => {
        const cons = [...enrolled.get(L)!.values()].flat().map((v) => v.consistency);
        return [
          `${L}s`,
          {
            all: score(L, [...enrolled.get(L)!.keys()]),
            common: score(L, common),
            consistency: { p02: quantile(cons, 0.02), p10: quantile(cons, 0.1), p50: quantile(cons, 0.5) },
          },
        ];
      }),
    ),
    common_speakers: common,
    two_voices_consistency: {
      n: mixedConsistency.length,
      p50: quantile(mixedConsistency, 0.5),
      p90: quantile(mixedConsistency, 0.9),
      p98: quantile(mixedConsistency, 0.98),
    },
  };
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
  process.stdout.write(JSON.stringify(result, null, 2) + '\n');
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
