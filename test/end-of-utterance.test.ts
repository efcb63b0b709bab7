// The pipeline's end-of-utterance rule: the look-ahead decode's p(done) from the model's head,
// under scripted pVAD posteriors (exact triggers) and real speech through the shipped recognizer.
// At p >= end_of_utterance the segment closes at the guard, below end_of_utterance_hold the pause
// holds sentence_incomplete_ms, in between the silence rule closes it; the head is asked again while
// undecided; a model without the head is never asked.
import './helpers/quiet.js';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { configSchema } from '../daemon/config.js';
import { loadTransducer } from '../daemon/models.js';
import type { DecodeResult, TransducerModel } from '../daemon/native.js';
import { Pipeline, type FinalSegment } from '../daemon/pipeline.js';
import { endOfUtteranceOptions } from '../daemon/recognizer-options.js';
import { segmenterOptions } from '../daemon/segmenter-options.js';
import { concat, silence, speech } from './helpers/daemon.js';
import { scriptedPvad } from './helpers/scripted-pvad.js';
import { repoRoot } from './helpers/tmp.js';

const shipped = loadTransducer(path.join(repoRoot, 'models', 'earshot-en-int4.gguf'));

/** The shipped model whose streams' look-ahead answers p(done) from `said` (called with the number
 * of questions so far); every other call is the real stream's. */
function withHead(model: TransducerModel, said: (asked: number) => number, asked: { n: number }): TransducerModel {
  return {
    ...model,
    info: model.info,
    createStream: (o) => {
      const s = model.createStream(o);
      return {
        acceptWaveform: (x) => s.acceptWaveform(x),
        partial: () => s.partial(),
        peek: async (pad) => ({ ...(await s.peek(pad)), endOfUtterance: said(asked.n++) }) as DecodeResult,
        finalize: () => s.finalize(),
        reset: () => s.reset(),
        dispose: () => s.dispose(),
      };
    },
  };
}

async function run(t: ExecutionContext, said: (asked: number) => number, segmenter: Record<string, unknown> = {}) {
  const model = await shipped;
  const asked = { n: 0 };
  const transducer = withHead(model, said, asked);
  const cfg = configSchema.parse({ segmenter });
  const eou = endOfUtteranceOptions(cfg, transducer);
  // 0.3 s quiet, 1.5 s of the target speaking, then quiet
  const script = '.'.repeat(30) + 'T'.repeat(150) + '.'.repeat(120);
  const audio = concat(silence(0.3), speech('turn on the kitchen lights').subarray(0, 24000), silence(1.2));
  const p = new Pipeline(
    { transducer, pvad: scriptedPvad(script) },
    {
      segmenter: segmenterOptions(cfg, { profiles: 0, speakerEncoder: false, endOfUtterance: eou !== undefined }),
      endOfUtterance: eou,
      profiles: [],
    },
  );
  const finals: FinalSegment[] = [];
  p.on('final', (f) => finals.push(f));
  for (let i = 0; i < audio.length; i += 160) {
    p.push(audio.subarray(i, i + 160));
    if (p.checkPending) await p.settleChecks(); // answered within the frame, as in real time
  }
  p.endOfInput();
  await p.drain();
  p.dispose();
  t.is(finals.length, 1);
  return { final: finals[0], asked: asked.n, eou };
}

// speech ends at frame 180; the guard is 100 ms, the trailing stretch 300 ms, the hold 600 ms
const trailing = (f: FinalSegment) => f.endFrame - f.speechEndFrame;

test('the shipped model carries the head: the rule is on with the defaults, off at end_of_utterance 0', async (t) => {
  const model = await shipped;
  t.true(Number(model.info.metadata.eou_hidden) > 0);
  t.deepEqual(endOfUtteranceOptions(configSchema.parse({}), model), { threshold: 0.8, holdBelow: 0.05 });
  t.is(endOfUtteranceOptions(configSchema.parse({ segmenter: { end_of_utterance: 0 } }), model), undefined);
  // the head's own answer on a finished command, 150 ms after it (the engine's arithmetic: a probability)
  const s = model.createStream();
  s.acceptWaveform(concat(silence(0.3), speech('turn on the kitchen lights'), silence(0.15)));
  const p = (await s.peek(300)).endOfUtterance!;
  s.dispose();
  t.true(p >= 0 && p <= 1, `p(done) ${p}`);
});

test('p(done) at or above the threshold closes at the guard, as end_of_utterance', async (t) => {
  const { final, asked } = await run(t, () => 0.95);
  t.is(final.reason, 'end_of_utterance');
  t.true(trailing(final) >= 10 && trailing(final) <= 12, `closed ${trailing(final)} frames after the speech`);
  t.is(asked, 1);
});

test('undecided, the head is asked again every 50 ms: done at the third question closes then', async (t) => {
  const { final, asked } = await run(t, (n) => (n < 2 ? 0.5 : 0.9));
  t.is(final.reason, 'end_of_utterance');
  t.is(asked, 3);
  t.true(trailing(final) >= 15 && trailing(final) <= 17, `closed ${trailing(final)} frames after the speech`);
});

test('in between all along: the silence rule; below the hold: the pause lasts sentence_incomplete_ms', async (t) => {
  const between = await run(t, () => 0.5);
  t.is(between.final.reason, 'silence');
  t.is(trailing(between.final), 30);
  const notDone = await run(t, () => 0.01);
  t.is(notDone.final.reason, 'silence');
  t.is(trailing(notDone.final), 60);
  t.is(notDone.asked, 1, 'a "not done" answer is final for that pause');
});

test('end_of_utterance 0: the head is never asked', async (t) => {
  const { final, asked } = await run(t, () => 0.99, { end_of_utterance: 0 });
  t.is(final.reason, 'silence');
  t.is(asked, 0);
});
