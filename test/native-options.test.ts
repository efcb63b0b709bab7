// The binding's numeric options (native/addon/binding.h, number_arg): where the configuration schema
// (daemon/config.ts) has the option, the binding takes exactly the schema's range, so a value the
// configuration accepts is never refused when the stream is made, and the other way round; a refusal
// names the option and the allowed range.
import path from 'node:path';
import test from 'ava';
import { validateConfig } from '../daemon/config.js';
import { loadTransducer } from '../daemon/models.js';
import { native, type RecognizerOptions, type TransducerModel } from '../daemon/native.js';
import { repoRoot } from './helpers/tmp.js';

let model: TransducerModel;
test.before(async () => {
  model = await loadTransducer(path.join(repoRoot, 'models', 'earshot-en-int4.gguf'));
});

function accepted(opts: RecognizerOptions): boolean {
  try {
    model.createStream(opts).dispose();
    return true;
  } catch {
    return false;
  }
}

function configured(recognizer: object): boolean {
  try {
    validateConfig({ recognizer });
    return true;
  } catch {
    return false;
  }
}

const cases: { key: string; values: number[]; config: (v: number) => object; option: (v: number) => RecognizerOptions }[] = [
  { key: 'beam', values: [0, 1, 2.5, 16, 17, NaN], config: (v) => ({ beam: v }), option: (v) => ({ beam: v }) },
  {
    key: 'chunk_frames',
    values: [0, 1, 1.5, 64, 65, 1000],
    config: (v) => ({ chunk_frames: v }),
    option: (v) => ({ chunkFrames: v }),
  },
  {
    key: 'hot_phrases[].boost',
    values: [-0.5, 0, 1.5, 10, 10.5, NaN, Infinity],
    config: (v) => ({ hot_phrases: [{ phrase: 'kitchen', boost: v }] }),
    option: (v) => ({ hotPhrases: [{ phrase: 'kitchen', boost: v }] }),
  },
  {
    key: 'lm.weight',
    values: [-0.1, 0, 0.3, 2, 2.1, 10, NaN],
    config: (v) => ({ lm: { weight: v } }),
    option: (v) => ({ lmWeight: v }),
  },
];

for (const c of cases) {
  test(`recognizer.${c.key}: createStream takes what the configuration takes`, (t) => {
    for (const v of c.values) t.is(accepted(c.option(v)), configured(c.config(v)), `${c.key} = ${v}`);
  });
}

test('a refused number names the option, the range and the value', async (t) => {
  const msg = (f: () => unknown) => t.throws(f)?.message;
  t.is(
    msg(() => model.createStream({ beam: 17 })),
    'createStream: beam must be an integer from 1 to 16, got 17',
  );
  t.is(
    msg(() => model.createStream({ chunkFrames: 65 })),
    'createStream: chunkFrames must be an integer from 1 to 64, got 65',
  );
  t.is(
    msg(() => model.createStream({ hotPhrases: [{ phrase: 'kitchen', boost: 11 }] })),
    'createStream: hotPhrases[0].boost must be a number from 0 to 10, got 11',
  );
  t.is(
    msg(() => model.createStream({ lmWeight: 3 })),
    'createStream: lmWeight must be a number from 0 to 2, got 3',
  );
  t.is(
    msg(() => model.createStream({ sentenceBeam: 0 })),
    'createStream: sentenceBeam must be an integer from 1 to 16, got 0',
  );
  t.is(
    msg(() => model.createStream({ sentenceTokenBonus: 'x' as unknown as number })),
    'createStream: sentenceTokenBonus must be a number from -20 to 20, got the string "x"',
  );
  t.is(
    msg(() => model.createStream({ tailPaddingMs: 5001 })),
    'createStream: tailPaddingMs must be an integer from 0 to 5000, got 5001',
  );
  const s = model.createStream();
  t.is(
    msg(() => s.peek(0.5)),
    'RecognizerStream.peek: padMs must be an integer from 0 to 5000, got 0.5',
  );
  s.dispose();
  t.is(
    msg(() => native().setThreads(65)),
    'setThreads: n must be an integer from 1 to 64, got 65',
  );
  t.is(
    msg(() => model.debugEncode(new Float32Array(1600), 0)),
    'debugEncode: chunkFrames must be an integer from 1 to 2147483647, got 0',
  );
});

test("debugEncode: the engine's encoder output of the whole audio, chunk by chunk", (t) => {
  const D = Number(model.info.metadata.d_model);
  const audio = new Float32Array(16000).map((_, i) => 0.1 * Math.sin(i / 7));
  const enc = model.debugEncode(audio);
  // 98 fbank frames (25 ms windows every 10 ms), stacked by 4: 24 encoder frames
  t.is(enc.length, 24 * D);
  t.deepEqual(model.debugEncode(audio, Number(model.info.metadata.chunk_frames)), enc);
  t.true(enc.every(Number.isFinite));
  t.is(model.debugEncode(new Float32Array(100)).length, 0);
});
