// Shallow fusion of an n-gram model (daemon/lm.ts, native/engine/ngram.cpp) on the shipped model:
// it is applied (a heavy weight on a one-letter text leaves only that letter), a weight of 0 changes
// nothing, bad text is refused with file and line.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { buildLm, lmLines } from '../daemon/lm.js';
import { loadTransducer } from '../daemon/models.js';
import type { RecognizerOptions, TransducerModel } from '../daemon/native.js';
import { compileSentences, parseSentenceFiles } from '../daemon/sentences.js';
import { concat, EARSHOT, silence, speech, writeConfig } from './helpers/daemon.js';
import { repoRoot, tmpDir } from './helpers/tmp.js';

let model: TransducerModel;
const audio = concat(silence(0.3), speech('turn on the kitchen lights'), silence(0.3));
test.before(async () => {
  model = await loadTransducer(path.join(repoRoot, 'models', 'earshot-en-int4.gguf'));
});

async function decode(opts: RecognizerOptions): Promise<string> {
  const s = model.createStream(opts);
  s.acceptWaveform(audio);
  const text = (await s.finalize()).text;
  s.dispose();
  return text;
}

test('the n-gram model is fused into greedy and beam search; weight 0 is the plain decoder', async (t) => {
  const dir = tmpDir('lm');
  const file = path.join(dir, 'z.txt');
  fs.writeFileSync(file, '# only one word\n' + 'zzz zzz zzz\n'.repeat(50));
  const lm = buildLm(model, { files: [file] }, 4);
  t.is(lm.lines, 50);
  for (const beam of [1, 4]) {
    const plain = await decode({ beam });
    t.is(await decode({ beam, lm: lm.handle, lmWeight: 0 }), plain);
    // the heaviest weight the configuration allows (recognizer.lm.weight)
    const pulled = await decode({ beam, lm: lm.handle, lmWeight: 2 });
    // letters the text never has cost far more than any sound can pay for: only its own remain
    t.not(pulled, plain);
    t.regex(pulled, /^[z ]*$/, `beam ${beam}`);
  }
  // a home's own text at a moderate weight keeps a clear command right
  const home = compileSentences(
    parseSentenceFiles([
      { file: 'home.yaml', text: fs.readFileSync(path.join(repoRoot, 'test', 'fixtures', 'home-sentences.yaml'), 'utf8') },
    ]),
  );
  const homeLm = buildLm(model, { files: [], grammars: [home], samples: 500 }, 6);
  t.is(await decode({ beam: 4, lm: homeLm.handle, lmWeight: 0.3 }), 'turn on the kitchen lights');
});

test('LM text: normalized, comments skipped, an unspeakable character refused with file and line', (t) => {
  const dir = tmpDir('lmtext');
  const file = path.join(dir, 't.txt');
  fs.writeFileSync(file, '# comment\nSet the timer for 5 minutes!\n\nprice in €\n');
  t.throws(() => lmLines({ files: [file] }), { message: `${file}:4: language model text: character "€" cannot be spoken` });
  fs.writeFileSync(file, '# comment\nSet the timer for 5 minutes!\n');
  t.deepEqual(lmLines({ files: [file] }), ['set the timer for five minutes']);
  t.throws(() => model.compileLm(['ok', 'ça'], 3), { message: /compileLm: line 2 cannot be spelled/ });
  t.throws(() => model.compileLm(['ok'], 1), { message: /order must be 2 to 8/ });
  t.throws(() => buildLm(model, { files: [] }, 4), { message: /the language model has no text/ });
});

test('recognizer.lm in the configuration: transcribe fuses it; a bad text file stops with file and line', (t) => {
  const dir = tmpDir('lmcfg');
  fs.writeFileSync(path.join(dir, 'home.txt'), 'turn on the kitchen lights\nclose the bedroom blinds\nopen the garage door\n');
  const sample = path.join(repoRoot, 'samples', 'sample.wav');
  const cfg = writeConfig(path.join(dir, 'earshot.yaml'), {
    recognizer: { sentences: [path.join(repoRoot, 'test', 'fixtures', 'home-sentences.yaml')], lm: { files: ['home.txt'], weight: 0.2 } },
  });
  const out = execFileSync(process.execPath, [EARSHOT, 'transcribe', '--config', cfg, sample], {
    encoding: 'utf8',
    env: { ...process.env, EARSHOT_LOG_LEVEL: 'warn' },
  });
  t.deepEqual(
    out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).text),
    ['turn on the kitchen lights', 'close the bedroom blinds', 'open the garage door', 'close the living room curtains'],
  );
  fs.writeFileSync(path.join(dir, 'home.txt'), 'fine\nprice in €\n');
  const err = t.throws(() =>
    execFileSync(process.execPath, [EARSHOT, 'transcribe', '--config', cfg, sample], { encoding: 'utf8', stdio: 'pipe' }),
  ) as Error & { stderr: string };
  t.regex(err.stderr, /^earshot: .*home\.txt:2: language model text: character "€" cannot be spoken$/m);
  t.notRegex(err.stderr, /"fatal"|\n\s+at /); // a user error: one line, no stack
  // check-config reads the texts and the sentence files too
  const check = t.throws(() =>
    execFileSync(process.execPath, [EARSHOT, 'check-config', cfg], { encoding: 'utf8', stdio: 'pipe' }),
  ) as Error & { stderr: string; status: number };
  t.is(check.status, 2);
  t.regex(check.stderr, /recognizer: .*home\.txt:2: language model text: character "€" cannot be spoken/);
});
