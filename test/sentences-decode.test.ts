// Decoding with sentences on the shipped model: clear in-grammar commands (espeak-ng, and the
// bundled sample) match their intent and slots, a wildcard takes free text, speech outside the
// sentences is no match, the engine refuses what the model cannot spell; the daemon carries the
// intent to MQTT and Hermes and keeps its sentences when a reload brings a broken file.
import './helpers/quiet.js';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { decodeWithSentences, prepareSentences, resolveIntent, sentenceCoverage, type SentenceRecognizer } from '../daemon/intents.js';
import { readWav16kMono } from '../daemon/audio/wav.js';
import { loadTransducer } from '../daemon/models.js';
import { matchSentence } from '../daemon/sentences.js';
import type { DecodeResult, TransducerModel } from '../daemon/native.js';
import { concat, DaemonProcess, EARSHOT, Feeder, fixtureModels, silence, speech, writeConfig } from './helpers/daemon.js';
import { freePort } from './helpers/mosquitto.js';
import { Subscriber } from './helpers/subscriber.js';
import { repoRoot, tmpDir } from './helpers/tmp.js';
import { largeHome } from '../bench/sentences-home.js';

const MODEL = path.join(repoRoot, 'models', 'earshot-en-int4.gguf');
const HOME = path.join(repoRoot, 'test', 'fixtures', 'home-sentences.yaml');
let model: TransducerModel;
let home: SentenceRecognizer;

test.before(async () => {
  model = await loadTransducer(MODEL);
  home = prepareSentences(model, [HOME]);
});

const decode = (sr: SentenceRecognizer, text: string, voice = 'en-us') =>
  decodeWithSentences(model, sr, concat(silence(0.3), speech(text, voice), silence(0.3)));

test("clear in-grammar commands match their intent, with the lists' out values and numbers", async (t) => {
  const cases: [string, string, Record<string, unknown>][] = [
    ['turn on the kitchen lights', 'HassTurnOn', { name: 'light.kitchen' }],
    ['switch the porch light off', 'HassTurnOff', { name: 'light.porch' }],
    ['close the bedroom blinds', 'HassCloseCover', { domain: 'cover', name: 'cover.bedroom' }],
    ['set the porch light to forty percent', 'HassLightSet', { name: 'light.porch', brightness: 40 }],
  ];
  for (const [said, name, slots] of cases) {
    const r = await decode(home, said);
    t.is(r.text, said, JSON.stringify(r));
    t.is(r.intent?.name, name, said);
    t.deepEqual(r.intent?.slots, slots, said);
    t.true(r.intent!.score > 0.5 && r.intent!.score <= 1, said);
    t.true(sentenceCoverage(r.result) >= home.minCoverage, said);
  }
});

test('a wildcard slot decodes free text until the template resumes', async (t) => {
  const r = await decode(home, 'add paper towels to my shopping list');
  t.is(r.intent?.name, 'HassShoppingListAddItem', JSON.stringify(r));
  t.is(r.intent?.slots.item, 'paper towels');
  t.is(r.text, 'add paper towels to my shopping list');
});

test('speech outside the sentences is no match: intent null and the unrestricted text', async (t) => {
  for (const said of ['the quick brown fox jumps over the lazy dog', 'what is the weather like tomorrow in paris']) {
    const r = await decode(home, said);
    t.is(r.intent, null, JSON.stringify(r));
    t.is(r.text, r.result.text); // the free decoding, not a forced sentence
  }
});

test('a long utterance that one sentence explains only part of is no match: the four commands of the sample as one', async (t) => {
  const r = await decodeWithSentences(model, home, readWav16kMono(path.join(repoRoot, 'samples', 'sample.wav')).samples);
  t.is(r.intent, null, JSON.stringify(r));
  t.is(r.text, r.result.text);
  // the free text reads all four commands; any one sentence is about a quarter of it
  t.true(sentenceCoverage(r.result) < home.minCoverage, JSON.stringify(r.result.sentence));
});

test('a sentence that fits well but accounts for only part of what was heard is no intent', (t) => {
  // as measured on LibriSpeech dev prose: the restricted path finds a command at score 1
  const prose = 'cance the drivers upoth bothe eme of a';
  const sentence = { text: 'turn on the kitchen lights', score: 1, tokens: [] };
  const result = (text: string, s = sentence): DecodeResult => ({ text, tokens: [], boundaries: [], sentence: s });
  const long = resolveIntent(home, result(`turn on the kitchen lights ${prose}`));
  t.deepEqual(long, { text: `turn on the kitchen lights ${prose}`, intent: null });
  // a free reading shorter than the sentence (it dropped or misheard sounds) leaves the score to judge
  const short = resolveIntent(home, result('turn on kitchen light'));
  t.is(short.text, 'turn on the kitchen lights');
  t.is(short.intent?.name, 'HassTurnOn');
  t.is(resolveIntent(home, result('')).intent?.name, 'HassTurnOn');
  t.is(resolveIntent(home, result('turn on the kitchen lights', { ...sentence, score: 0.3 })).intent, null);
});

test('a large home (500 names) decodes a command to the right one of many look-alike names', async (t) => {
  const dir = tmpDir('large');
  const file = path.join(dir, 'large.yaml');
  fs.writeFileSync(file, largeHome(500, 30).text);
  const large = prepareSentences(model, [file]);
  const r = await decode(large, 'turn off the desk lamp twelve');
  t.deepEqual(
    r.intent && { name: r.intent.name, slots: r.intent.slots },
    { name: 'HassTurnOff', slots: { name: 'desk lamp twelve' } },
    JSON.stringify(r),
  );
  const area = await decode(large, 'turn on the lights in the guest bedroom');
  t.deepEqual(area.intent?.slots, { domain: 'light', area: 'guest bedroom' }, JSON.stringify(area));
});

test('whatever the model and the audio, the restricted search returns a sentence of the file or none', async (t) => {
  // a small random model (test/fixtures/make_models.py): its outputs are arbitrary, the automaton must hold anyway
  const random = await loadTransducer(fixtureModels().transducer);
  // a large token bonus makes even this model finish sentences
  const sr = prepareSentences(random, [HOME], { beam: 4, tokenBonus: 20 });
  let sentences = 0;
  for (let seed = 1; seed <= 6; seed++) {
    let x = seed;
    const noise = Float32Array.from(
      { length: 16000 * (1 + (seed % 3)) },
      () => ((x = (x * 1103515245 + 12345) % 2147483648) / 2147483648 - 0.5) * 0.3,
    );
    for (const audio of [noise, concat(silence(0.2), speech('open the garage door'))]) {
      const r = await decodeWithSentences(random, sr, audio);
      if (!r.result.sentence) continue;
      sentences++;
      t.truthy(matchSentence(sr.grammar, r.result.sentence.text), r.result.sentence.text);
      t.true(r.result.sentence.score > 0 && r.result.sentence.score <= 1);
    }
  }
  t.true(sentences > 0, 'no sentence at all');
  random.dispose();
});

test('the engine refuses an automaton with a character the model cannot spell, and a malformed one', (t) => {
  const a = {
    states: 2,
    start: 0,
    arcs: Int32Array.from([0, 0xe9, 1, -1]),
    final: Int32Array.from([-1, 0]),
    listEnd: new Uint8Array(2),
    callStart: new Int32Array(0),
  };
  t.throws(() => model.compileSentences(a), { message: /compileSentences: sentence automaton: the model has no token for "é"/ });
  t.throws(() => model.compileSentences({ ...a, arcs: Int32Array.from([0, 97, 5, -1]) }), { message: /joins states that do not exist/ });
  t.throws(() => model.compileSentences({ ...a, arcs: Int32Array.from([0, -2, 1, 3]) }), { message: /names a call that does not exist/ });
  t.throws(() => model.createStream({ sentences: {} as never }), { message: /sentences must come from model.compileSentences/ });
});

test("earshot transcribe --sentences: the bundled sample's four commands, each with its intent", (t) => {
  const out = execFileSync(process.execPath, [EARSHOT, 'transcribe', '--sentences', HOME, path.join(repoRoot, 'samples', 'sample.wav')], {
    encoding: 'utf8',
    env: { ...process.env, EARSHOT_LOG_LEVEL: 'warn' },
  });
  const lines = out
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  t.deepEqual(
    lines.map((l) => [l.text, l.intent?.name, l.intent?.slots.name]),
    [
      ['turn on the kitchen lights', 'HassTurnOn', 'light.kitchen'],
      ['close the bedroom blinds', 'HassCloseCover', 'cover.bedroom'],
      ['open the garage door', 'HassOpenCover', 'cover.garage'],
      ['close the living room curtains', 'HassCloseCover', 'cover.living_room'],
    ],
  );
  const bad = path.join(tmpDir('badsent'), 'bad.yaml');
  fs.writeFileSync(bad, 'intents:\n  A:\n    data:\n      - sentences:\n          - "open {door"\n');
  const err = t.throws(() =>
    execFileSync(process.execPath, [EARSHOT, 'transcribe', '--sentences', bad, path.join(repoRoot, 'samples', 'sample.wav')], {
      encoding: 'utf8',
      stdio: 'pipe',
    }),
  ) as Error & { stderr: string };
  t.regex(err.stderr, /^earshot: .*bad\.yaml:5: template "open \{door": "\{" is never closed/m);
  t.notRegex(err.stderr, /"fatal"|\n\s+at /); // a user error: one line, no stack
  const cfg = writeConfig(path.join(path.dirname(bad), 'earshot.yaml'), { recognizer: { sentences: ['bad.yaml'] } });
  const check = t.throws(() =>
    execFileSync(process.execPath, [EARSHOT, 'check-config', cfg], { encoding: 'utf8', stdio: 'pipe' }),
  ) as Error & { stderr: string; status: number };
  t.is(check.status, 2);
  t.regex(check.stderr, /recognizer: .*bad\.yaml:5: template "open \{door": "\{" is never closed/);
});

test('daemon: the transcript and Hermes carry the intent; a reload with a broken sentence file keeps the old sentences', async (t) => {
  const dir = tmpDir('sentd');
  const port = await freePort();
  const sentences = path.join(dir, 'home.yaml');
  fs.copyFileSync(HOME, sentences);
  const doc = {
    site: 's',
    state_dir: path.join(dir, 'state'),
    models: {
      transducer: MODEL,
      pvad: path.join(repoRoot, 'models', 'pvad.gguf'),
      speaker_encoder: path.join(repoRoot, 'models', 'spkenc.gguf'),
    },
    vad: { mode: 'any' },
    audio: { source: 'stdin' },
    mqtt: { embedded: { port } },
    hermes: { enabled: true },
    recognizer: { sentences: ['home.yaml'] },
  };
  const cfg = writeConfig(path.join(dir, 'earshot.yaml'), doc);
  const d = DaemonProcess.start(['run', '--config', cfg], {}, 'pipe');
  t.teardown(() => d.kill('SIGKILL'));
  await d.waitForLog(/MQTT connected/);
  const sub = await Subscriber.connect(`mqtt://127.0.0.1:${port}`, ['earshot/s/transcript', 'hermes/nlu/#', 'hermes/intent/#']);
  t.teardown(() => sub.close());
  const feeder = new Feeder(d);
  t.teardown(() => feeder.stop());
  const say = (text: string) => feeder.say(concat(speech(text), silence(1)));
  await say('turn on the kitchen lights');
  await sub.until(
    () => sub.on('hermes/intent/HassTurnOn').length === 1 && sub.on('earshot/s/transcript').length === 1,
    20000,
    'first intent',
  );
  const first = sub.json('earshot/s/transcript')[0];
  t.is(first.text, 'turn on the kitchen lights');
  t.deepEqual(first.intent.slots, { name: 'light.kitchen' });
  const parsed = sub.json('hermes/nlu/intentParsed')[0];
  t.is(parsed.intent.intentName, 'HassTurnOn');
  t.deepEqual(
    parsed.slots.map((s: { slotName: string; value: { value: unknown } }) => [s.slotName, s.value.value]),
    [['name', 'light.kitchen']],
  );
  t.is(parsed.input, 'turn on the kitchen lights');

  fs.writeFileSync(sentences, 'intents:\n  A:\n    data:\n      - sentences: ["open {nothing}"]\n');
  d.kill('SIGHUP');
  await d.waitForLog(
    /reload refused: a sentence or language model file is invalid.*home\.yaml:4: \{nothing\}: no list of that name|home\.yaml:4: \{nothing\}: no list of that name.*reload refused/,
  );
  await say('close the garage door');
  await sub.until(() => sub.on('earshot/s/transcript').length === 2, 20000, 'second transcript');
  t.is(sub.json('earshot/s/transcript')[1].intent?.name, 'HassCloseCover');

  fs.writeFileSync(sentences, fs.readFileSync(HOME, 'utf8').replace('HassCloseCover', 'ShutIt'));
  d.kill('SIGHUP');
  await d.waitForLog(/configuration reloaded/);
  await say('close the garage door');
  await sub.until(() => sub.on('earshot/s/transcript').length === 3, 20000, 'third transcript');
  t.is(sub.json('earshot/s/transcript')[2].intent?.name, 'ShutIt');
  t.is(sub.on('hermes/intent/ShutIt').length, 1);
  // speech outside the sentences: intent null on the transcript, intentNotRecognized for Rhasspy
  await say('the quick brown fox jumps over the lazy dog');
  await sub.until(() => sub.on('hermes/nlu/intentNotRecognized').length === 1, 20000, 'not recognized');
  const last = sub.json('earshot/s/transcript').at(-1);
  t.is(last.intent, null);
  t.is(sub.json('hermes/nlu/intentNotRecognized')[0].input, last.text);
  await feeder.stop();
  d.kill('SIGTERM');
  t.is((await d.exit()).code, 0);
});
