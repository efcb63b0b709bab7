// The end of a sentence on the shipped models: the engine's look-ahead decode (peek) says whether
// what was said so far is a sentence nothing can continue, without changing the stream; the
// pipeline closes a segment on it after the guard, and waits through a pause after an incomplete one.
import './helpers/quiet.js';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { configSchema } from '../daemon/config.js';
import { prepareSentences, streamOptions, type SentenceRecognizer } from '../daemon/intents.js';
import { loadPvad, loadTransducer } from '../daemon/models.js';
import type { PvadModel, TransducerModel } from '../daemon/native.js';
import { Pipeline, type FinalSegment } from '../daemon/pipeline.js';
import { FRAME_MS } from '../daemon/frames.js';
import { segmenterOptions } from '../daemon/segmenter-options.js';
import { concat, EARSHOT, silence, speech } from './helpers/daemon.js';
import { repoRoot, tmpDir } from './helpers/tmp.js';

const HOME = path.join(repoRoot, 'test', 'fixtures', 'home-sentences.yaml');
let model: TransducerModel;
let pvad: PvadModel;
let home: SentenceRecognizer;

test.before(async () => {
  model = await loadTransducer(path.join(repoRoot, 'models', 'earshot-en-int4.gguf'));
  pvad = await loadPvad(path.join(repoRoot, 'models', 'pvad.gguf'));
  home = prepareSentences(model, [HOME]);
});

test('peek: a whole command that nothing can continue is complete; an accepted sentence that can go on and a prefix are not', async (t) => {
  const cases: [string, string | null, boolean][] = [
    ['turn on the kitchen lights', 'turn on the kitchen lights', true],
    ['close the bedroom blinds', 'close the bedroom blinds', true],
    // "forty" may go on ("forty one", "percent"): a sentence, not a complete one
    ['set the porch light to forty', 'set the porch light to forty', false],
    ['turn on the', null, false],
  ];
  for (const [said, sentence, complete] of cases) {
    const st = model.createStream(streamOptions(home));
    st.acceptWaveform(concat(silence(0.3), speech(said), silence(0.1)));
    const p = await st.peek(300);
    t.is(p.sentence?.text ?? null, sentence, said);
    t.is(p.sentenceComplete, complete, said);
    st.dispose();
  }
  // the beginning of a sentence fits the audio; speech that begins none does not
  for (const [said, prefix] of [
    ['turn on', 'turn on'],
    ['set the porch light to', 'set the porch light to'],
  ]) {
    const st = model.createStream(streamOptions(home));
    st.acceptWaveform(concat(silence(0.3), speech(said), silence(0.05)));
    const p = await st.peek(300);
    t.is(p.sentencePrefix?.text, prefix, said);
    t.true(p.sentencePrefix!.score >= home.minScore, `${said}: ${p.sentencePrefix!.score}`);
    st.dispose();
  }
  const st = model.createStream(streamOptions(home));
  st.acceptWaveform(concat(silence(0.3), speech('the quick brown fox'), silence(0.05)));
  const p = await st.peek(300);
  t.true((p.sentencePrefix?.score ?? 0) < home.minScore, JSON.stringify(p.sentencePrefix));
  t.false(p.sentencePrefix?.wildcard);
  st.dispose();
  // inside a wildcard's free text anything may follow: flagged, so a pause there is no "beginning"
  const w = model.createStream(streamOptions(home));
  w.acceptWaveform(concat(silence(0.3), speech('add paper towels'), silence(0.05)));
  const q = await w.peek(300);
  t.true(q.sentencePrefix?.wildcard, JSON.stringify(q.sentencePrefix));
  w.dispose();
});

test('peek leaves the stream as it was: the final result equals that of a stream never asked', async (t) => {
  const audio = concat(silence(0.3), speech('open the garage door'), silence(0.4));
  const plain = model.createStream(streamOptions(home));
  const asked = model.createStream(streamOptions(home));
  for (let i = 0; i < audio.length; i += 1600) {
    plain.acceptWaveform(audio.subarray(i, i + 1600));
    asked.acceptWaveform(audio.subarray(i, i + 1600));
    await asked.peek(300);
  }
  const [a, b] = await Promise.all([plain.finalize(), asked.finalize()]);
  t.deepEqual(b, a);
  t.is(a.sentence?.text, 'open the garage door');
  t.true(a.sentenceComplete);
  await t.throwsAsync(async () => asked.peek(), { message: /finalized/ });
  plain.dispose();
  asked.dispose();
  const fresh = model.createStream(streamOptions(home));
  t.throws(() => fresh.peek(-1), { message: /padMs must be an integer from 0 to 5000/ });
  fresh.dispose();
});

/** The pipeline over audio fed 100 ms at a time, questions answered before the next piece (as `earshot transcribe` does). */
async function segments(audio: Float32Array, guardMs: number, asks?: { n: number }, incompleteMs = 600): Promise<FinalSegment[]> {
  const cfg = configSchema.parse({ segmenter: { sentence_guard_ms: guardMs, sentence_incomplete_ms: incompleteMs } });
  const pipeline = new Pipeline(
    { transducer: model, pvad },
    { segmenter: segmenterOptions(cfg, { profiles: 0, speakerEncoder: false }), sentences: home, profiles: [] },
  );
  const out: FinalSegment[] = [];
  pipeline.on('final', (s) => out.push(s));
  for (let i = 0; i < audio.length; i += 1600) {
    pipeline.push(audio.subarray(i, Math.min(audio.length, i + 1600)));
    if (pipeline.checkPending) await pipeline.settleChecks();
  }
  pipeline.endOfInput();
  await pipeline.drain();
  pipeline.dispose();
  if (asks) asks.n = pipeline.sentenceAsks;
  return out;
}

test('the pipeline closes a complete command after the guard instead of the trailing stretch', async (t) => {
  const audio = concat(silence(0.5), speech('turn on the kitchen lights'), silence(1.5));
  const [seg, ...rest] = await segments(audio, 100);
  t.is(rest.length, 0);
  t.is(seg.reason, 'sentence_complete');
  t.is(seg.text, 'turn on the kitchen lights');
  const waited = (seg.endFrame - seg.speechEndFrame) * FRAME_MS;
  t.true(waited >= 100 && waited < 300, `closed ${waited} ms after the speech`);
  // the rule off: the trailing stretch, same text
  const [off] = await segments(audio, 0);
  t.is(off.reason, 'silence');
  t.is((off.endFrame - off.speechEndFrame) * FRAME_MS, 300);
  t.is(off.text, seg.text);
});

/** espeak-ng's speech without the silence it puts around it (samples under 1 % of full scale) */
function trimmed(text: string): Float32Array {
  const s = speech(text);
  let a = 0;
  let b = s.length;
  while (a < b && Math.abs(s[a]) < 0.01) a++;
  while (b > a && Math.abs(s[b - 1]) < 0.01) b--;
  return s.subarray(a, b);
}

test('an incomplete command waits through a pause: "set the porch light to" ... "forty percent" is one segment', async (t) => {
  // a 200 ms pause: longer than the guard, shorter than the trailing stretch
  const audio = concat(silence(0.5), trimmed('set the porch light to'), silence(0.2), trimmed('forty percent'), silence(1.5));
  const asks = { n: 0 };
  const segs = await segments(audio, 100, asks);
  t.true(asks.n >= 2, `the pause was asked about and judged incomplete (${asks.n} questions)`);
  t.is(segs.length, 1, JSON.stringify(segs.map((s) => [s.text, s.reason])));
  t.is(segs[0].text, 'set the porch light to forty percent');
  t.is(segs[0].reason, 'sentence_complete');
});

test('a longer pause after the beginning of a sentence holds the segment (sentence_incomplete_ms); 0 cuts it', async (t) => {
  // "close" ... 450 ms ... "the garage door": longer than the trailing stretch
  const audio = concat(silence(0.5), trimmed('close'), silence(0.45), trimmed('the garage door'), silence(1.5));
  const held = await segments(audio, 100);
  t.deepEqual(
    held.map((s) => [s.text, s.reason]),
    [['close the garage door', 'sentence_complete']],
  );
  const cut = await segments(audio, 100, undefined, 0);
  t.is(cut.length, 2, JSON.stringify(cut.map((s) => [s.text, s.reason])));
  t.is(cut[0].reason, 'silence');
});

test('a sentence that can go on falls back to silence', async (t) => {
  const [seg] = await segments(concat(silence(0.5), speech('set the porch light to forty'), silence(1.5)), 100);
  t.is(seg.reason, 'silence');
  // a sentence already: the plain trailing stretch, not sentence_incomplete_ms
  t.is((seg.endFrame - seg.speechEndFrame) * FRAME_MS, 300);
  // a sentence ending in free text could always go on: the plain trailing stretch too
  const [free] = await segments(concat(silence(0.5), speech('add paper towels to my shopping list'), silence(1.5)), 100);
  t.is(free.intent?.name, 'HassShoppingListAddItem');
  t.is((free.endFrame - free.speechEndFrame) * FRAME_MS, 300);
  t.is(seg.intent?.name, 'HassLightSet');
});

test('earshot transcribe prints closed_by: sentence_complete with the sentences, end_of_utterance without (the model head), silence with the head off', (t) => {
  const run = (...args: string[]) =>
    execFileSync(process.execPath, [EARSHOT, 'transcribe', ...args, path.join(repoRoot, 'samples', 'sample.wav')], {
      encoding: 'utf8',
      env: { ...process.env, EARSHOT_LOG_LEVEL: 'warn' },
    })
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).closed_by);
  t.deepEqual(run('--sentences', HOME), ['sentence_complete', 'sentence_complete', 'sentence_complete', 'sentence_complete']);
  t.deepEqual(run(), ['end_of_utterance', 'end_of_utterance', 'end_of_utterance', 'end_of_utterance']);
  const off = path.join(tmpDir('eou-off'), 'earshot.yaml');
  fs.writeFileSync(off, 'segmenter:\n  end_of_utterance: 0\n');
  t.deepEqual(run('--config', off), ['silence', 'silence', 'silence', 'silence']);
});
