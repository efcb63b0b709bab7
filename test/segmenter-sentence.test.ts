// The segmenter's sentence rule on constructed posteriors and constructed answers from the
// recognizer: a sentence nothing can continue closes the segment after the guard, an incomplete one
// ("set a timer for" ... "ten minutes") waits for more speech, silence stays the fallback, and
// answers about an earlier pause or arriving after the trailing stretch change nothing.
import test from 'ava';
import { configSchema } from '../daemon/config.js';
import { Segmenter, type SegmentEvent, type SegmenterOptions, type SentenceState } from '../daemon/segmenter.js';
import { segmenterOptions } from '../daemon/segmenter-options.js';

// '.' silence, 'T' target speech (one 10 ms frame each)
const P: Record<string, [number, number, number]> = { '.': [0.9, 0.05, 0.05], T: [0.05, 0.9, 0.05] };

const opts = (over: Partial<SegmenterOptions> = {}): SegmenterOptions => ({
  mode: 'target',
  threshold: 0.5,
  closeThreshold: 0.5,
  preRollFrames: 0,
  trailingFrames: 15,
  maxFrames: 1000,
  minSpeechFrames: 4,
  listenTimeoutFrames: 20,
  pauseFrames: 3,
  holdOtherFrames: 0,
  holdMinTargetFrames: 6,
  switchFrames: 0,
  sentenceGuardFrames: 10,
  ...over,
});

interface Trace {
  events: SegmentEvent[];
  /** [frame asked at, pause id] */
  asked: [number, number][];
}

/**
 * Feeds the frames; when the segmenter asks about a pause, the recognizer's answer is `said` at
 * that frame ('c': what was said so far is a sentence nothing can continue, 'e': the model's
 * end-of-utterance head says the speaker is done, 'i': the beginning of a sentence or the head says
 * not done, else neither) and it comes back `delay` frames later, before that frame's posteriors.
 */
function run(frames: string, said: string, o: SegmenterOptions, delay = 1): Trace {
  const s = new Segmenter(o);
  const t: Trace = { events: [], asked: [] };
  const due: { at: number; id: number; state: SentenceState }[] = [];
  for (let i = 0; i < frames.length; i++) {
    for (const a of due.filter((d) => d.at === i)) t.events.push(...s.sentenceState(a.id, a.state));
    t.events.push(...s.push(...P[frames[i]]));
    const id = s.takeSentenceQuery();
    if (id !== null) {
      t.asked.push([i, id]);
      const state = ({ c: 'complete', e: 'end_of_utterance', i: 'incomplete' } as Record<string, SentenceState>)[said[i]] ?? 'none';
      due.push({ at: i + delay, id, state });
    }
  }
  t.events.push(...s.finish('end_of_input'));
  return t;
}

// [speech start, speech end (exclusive), close decision's end frame, reason]
const closes = (t: Trace) =>
  t.events.flatMap((e) => (e.type === 'close' ? [[e.speechStartFrame, e.speechEndFrame, e.endFrame, e.reason]] : []));

test('a complete sentence closes the segment after the guard, not the trailing stretch', (t) => {
  const frames = 'T'.repeat(30) + '.'.repeat(30);
  const said = '-'.repeat(30) + 'c'.repeat(30);
  const tr = run(frames, said, opts());
  // asked 5 frames before the guard (the pause's 5th frame), closed on its 10th
  t.deepEqual(tr.asked, [[34, 1]]);
  t.deepEqual(closes(tr), [[0, 30, 40, 'sentence_complete']]);
  // the same speech with the recognizer saying "not a sentence yet": the trailing stretch
  t.deepEqual(closes(run(frames, '-'.repeat(60), opts())), [[0, 30, 45, 'silence']]);
});

test("the end-of-utterance head's answer closes at the guard too, as end_of_utterance; a late one after the stretch changes nothing", (t) => {
  const frames = 'T'.repeat(30) + '.'.repeat(30);
  const tr = run(frames, '-'.repeat(30) + 'e'.repeat(30), opts());
  t.deepEqual(closes(tr), [[0, 30, 40, 'end_of_utterance']]);
  // the answer arrives after the guard: it closes at once, at the frame it arrives
  t.deepEqual(closes(run(frames, '-'.repeat(30) + 'e'.repeat(30), opts(), 8)), [[0, 30, 42, 'end_of_utterance']]);
  // it arrives after the trailing stretch closed: silence, as without a head
  t.deepEqual(closes(run(frames, '-'.repeat(30) + 'e'.repeat(30), opts(), 20)), [[0, 30, 45, 'silence']]);
  // "not done" holds the longer stretch, as a sentence's beginning does
  const held = run(frames, '-'.repeat(30) + 'i'.repeat(30), opts({ incompleteTrailingFrames: 25 }));
  t.deepEqual(closes(held), [[0, 30, 55, 'silence']]);
});

test('an undecided answer is asked again reaskFrames later in the same pause; a decided one is not', (t) => {
  const frames = 'T'.repeat(30) + '.'.repeat(30);
  // undecided at the pause's 5th and 8th frame, done at its 11th: closed when that answer comes
  const said = '-'.repeat(30) + '-----' + '-'.repeat(3) + 'e'.repeat(22);
  const tr = run(frames, said, opts({ reaskFrames: 3 }));
  t.deepEqual(
    tr.asked.map(([at]) => at),
    [34, 37, 40],
  );
  t.deepEqual(closes(tr), [[0, 30, 41, 'end_of_utterance']]);
  // 'incomplete' is an answer: no more questions in that pause
  const held = run(frames, '-'.repeat(30) + 'i'.repeat(30), opts({ reaskFrames: 3, incompleteTrailingFrames: 25 }));
  t.deepEqual(held.asked, [[34, 1]]);
  // without reaskFrames: one question a pause, as before
  t.is(run(frames, '-'.repeat(60), opts()).asked.length, 1);
});

test('an incomplete sentence waits: "set a timer for" ... pause ... "ten minutes" is one segment', (t) => {
  // "set a timer for" (25 frames), a 12-frame pause (longer than the guard, shorter than the
  // trailing stretch), "ten minutes" (15 frames), then silence
  const frames = 'T'.repeat(25) + '.'.repeat(12) + 'T'.repeat(15) + '.'.repeat(30);
  const said = '-'.repeat(25) + '-'.repeat(12) + '-'.repeat(15) + 'c'.repeat(30);
  const tr = run(frames, said, opts());
  t.deepEqual(
    tr.asked.map(([, id]) => id),
    [1, 2],
    'each pause asked about once',
  );
  t.deepEqual(closes(tr), [[0, 52, 62, 'sentence_complete']]);
  // the same without the sentence rule: silence closes it 5 frames later
  t.deepEqual(closes(run(frames, said, opts({ sentenceGuardFrames: 0 }))), [[0, 52, 67, 'silence']]);
});

test('a pause shorter than the guard does not close a complete sentence; speech going on clears it', (t) => {
  // a complete prefix ("turn on the kitchen lights" could be followed by nothing in the grammar,
  // but the speaker goes on after 8 frames): no close, the answer is dropped when speech resumes
  const frames = 'T'.repeat(20) + '.'.repeat(8) + 'T'.repeat(10) + '.'.repeat(30);
  const said = '-'.repeat(20) + 'c'.repeat(8) + '-'.repeat(40);
  t.deepEqual(closes(run(frames, said, opts())), [[0, 38, 53, 'silence']]);
});

test('falls back to silence when the answer is late; a late answer closes at once if the guard has passed', (t) => {
  const frames = 'T'.repeat(30) + '.'.repeat(30);
  const said = '-'.repeat(30) + 'c'.repeat(30);
  // answered 8 frames after the question (asked on the pause's 5th frame): closed on its 13th
  t.deepEqual(closes(run(frames, said, opts(), 8)), [[0, 30, 42, 'sentence_complete']]);
  // answered after the trailing stretch: silence closed it, the answer is ignored
  const late = run(frames, said, opts(), 20);
  t.deepEqual(closes(late), [[0, 30, 45, 'silence']]);
});

test('an answer about an earlier pause is ignored', (t) => {
  // the first pause is asked about, the answer comes during the next speech: nothing happens
  const frames = 'T'.repeat(20) + '.'.repeat(6) + 'T'.repeat(10) + '.'.repeat(30);
  const said = '-'.repeat(20) + 'c'.repeat(6) + '-'.repeat(40);
  const tr = run(frames, said, opts(), 10);
  t.deepEqual(
    tr.asked.map(([, id]) => id),
    [1, 2],
  );
  t.deepEqual(closes(tr), [[0, 36, 51, 'silence']]);
});

test('a pause after the beginning of a sentence holds the segment for incompleteTrailingFrames', (t) => {
  // "set a timer for", a 20-frame pause (longer than the trailing stretch), "ten minutes"
  const frames = 'T'.repeat(25) + '.'.repeat(20) + 'T'.repeat(15) + '.'.repeat(40);
  const said = '-'.repeat(25) + 'i'.repeat(20) + '-'.repeat(15) + 'c'.repeat(40);
  t.deepEqual(closes(run(frames, said, opts({ incompleteTrailingFrames: 30 }))), [[0, 60, 70, 'sentence_complete']]);
  // without it the pause cuts the command
  t.deepEqual(closes(run(frames, said, opts())), [
    [0, 25, 40, 'silence'],
    [45, 60, 70, 'sentence_complete'],
  ]);
  // the speaker never goes on: the longer stretch closes it
  const stopped = 'T'.repeat(25) + '.'.repeat(40);
  t.deepEqual(closes(run(stopped, '-'.repeat(25) + 'i'.repeat(40), opts({ incompleteTrailingFrames: 30 }))), [[0, 25, 55, 'silence']]);
  // speech that begins no sentence keeps the plain stretch
  t.deepEqual(closes(run(stopped, '-'.repeat(65), opts({ incompleteTrailingFrames: 30 }))), [[0, 25, 40, 'silence']]);
});

test('guard 0 turns the rule off: no questions, silence closes', (t) => {
  const frames = 'T'.repeat(30) + '.'.repeat(30);
  const tr = run(frames, 'c'.repeat(60), opts({ sentenceGuardFrames: 0 }));
  t.deepEqual(tr.asked, []);
  t.deepEqual(closes(tr), [[0, 30, 45, 'silence']]);
});

test('segmenter.sentence_guard_ms and sentence_incomplete_ms: defaults, converted to frames; bounds against trailing_ms', (t) => {
  const cfg = configSchema.parse({});
  t.is(cfg.segmenter.sentence_guard_ms, 100);
  const use = { profiles: 0, speakerEncoder: false };
  t.is(segmenterOptions(cfg, use).sentenceGuardFrames, 10);
  t.is(segmenterOptions({ vad: cfg.vad, segmenter: { ...cfg.segmenter, sentence_guard_ms: 0 } }, use).sentenceGuardFrames, 0);
  t.is(cfg.segmenter.sentence_incomplete_ms, 600);
  t.is(segmenterOptions(cfg, use).incompleteTrailingFrames, 60);
  const short = configSchema.safeParse({ segmenter: { trailing_ms: 400, sentence_incomplete_ms: 300 } });
  t.false(short.success);
  t.deepEqual(short.error?.issues[0].path, ['segmenter', 'sentence_incomplete_ms']);
  t.regex(short.error!.issues[0].message, /must be at least segmenter.trailing_ms/);
  const bad = configSchema.safeParse({ segmenter: { trailing_ms: 200, sentence_guard_ms: 250 } });
  t.false(bad.success);
  t.deepEqual(bad.error?.issues[0].path, ['segmenter', 'sentence_guard_ms']);
  t.regex(bad.error!.issues[0].message, /must be shorter than segmenter.trailing_ms/);
});
