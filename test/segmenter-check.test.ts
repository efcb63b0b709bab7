// The segmenter's speaker check (segmenter.speaker_check), on constructed posteriors: the answers
// (cosines) are given by the test, as the pipeline gives the speaker encoder's.
import test from 'ava';
import { configSchema, type SegmenterConfig } from '../daemon/config.js';
import {
  Segmenter,
  type SegmentEvent,
  type SegmenterOptions,
  type SpeakerCheckOptions,
  type SpeakerCheckVariants,
} from '../daemon/segmenter.js';
import { segmenterOptions } from '../daemon/segmenter-options.js';

const P: Record<string, [number, number, number]> = { '.': [0.9, 0.05, 0.05], T: [0.05, 0.9, 0.05], O: [0.05, 0.05, 0.9] };

// speaker turns on (pause 3, hold 20 frames after 6 target frames, switch after 4 other frames),
// trailing 5; checks of at most 30 and at least 10 frames, threshold 0.5
const opts = (check: Partial<SpeakerCheckOptions> | null = {}, over: Partial<SegmenterOptions> = {}): SegmenterOptions => ({
  mode: 'target',
  threshold: 0.5,
  closeThreshold: 0.5,
  preRollFrames: 3,
  trailingFrames: 5,
  maxFrames: 1000,
  minSpeechFrames: 4,
  listenTimeoutFrames: 20,
  pauseFrames: 3,
  holdOtherFrames: 20,
  holdMinTargetFrames: 6,
  switchFrames: 4,
  check: check && {
    threshold: 0.5,
    windowFrames: 30,
    minFrames: 10,
    onSwitch: false,
    recheckFloor: 1,
    recheckFrames: 0,
    ...check,
  },
  ...over,
});

interface Trace {
  events: [frame: number, ev: SegmentEvent][];
  checks: { id: number; fromFrame: number; toFrame: number; at: number }[];
}

/** Feeds the frames; answers each check `delay` frames after it is asked with the next score of `answers`. */
function run(frames: string, o: SegmenterOptions, answers: (number | null)[] = [], delay = 0, variants: SpeakerCheckVariants = {}): Trace {
  const s = new Segmenter(o, variants);
  const trace: Trace = { events: [], checks: [] };
  const due: [number, number, number | null][] = [];
  const take = (evs: SegmentEvent[], at: number) => {
    for (const e of evs) {
      trace.events.push([at, e]);
      if (e.type === 'check') {
        trace.checks.push({ id: e.id, fromFrame: e.fromFrame, toFrame: e.toFrame, at });
        due.push([at + delay, e.id, answers.shift() ?? null]);
      }
    }
  };
  const chars = frames.replace(/\s/g, '');
  for (let i = 0; i < chars.length; i++) {
    while (due.length && due[0][0] <= i) {
      const [, id, score] = due.shift()!;
      take(s.checked(id, score), i);
    }
    take(s.push(...P[chars[i]]), i);
  }
  take(s.finish('end_of_input'), chars.length);
  return trace;
}

// [first speech frame, speech end, end (the frame after the close decision), reason]
const closes = (tr: Trace) =>
  tr.events.flatMap(([, e]) =>
    e.type === 'close' ? [[e.speechStartFrame, e.speechEndFrame, e.endFrame, e.reason] as [number, number, number, string]] : [],
  );

test('a hold running out asks for a check of the disputed speech instead of closing', (t) => {
  // 8 target frames, then "other" for 40 frames: the hold runs out 20 frames after frame 8
  const frames = 'TTTTTTTT' + 'O'.repeat(40) + '..........';
  const off = run(frames, opts(null));
  t.deepEqual(closes(off), [[0, 8, 29, 'speaker_change']], 'no check: the segment closes where the target stopped');
  const tr = run(frames, opts(), [0.2], 3);
  // asked at frame 28 (the first frame past the hold) for frames [8, 29): the disputed speech
  t.deepEqual(tr.checks, [{ id: 0, fromFrame: 8, toFrame: 29, at: 28 }]);
  // answered 3 frames later, below the threshold: the existing rule applies then, closing at once
  // (3 frames later than without the check)
  t.deepEqual(closes(tr), [[0, 8, 31, 'speaker_change']]);
});

test('a passed check holds the segment on; the next check comes one hold later', (t) => {
  const frames = 'TTTTTTTT' + 'O'.repeat(60) + '..........';
  // first check passes, the second fails
  const tr = run(frames, opts(), [0.8, 0.1]);
  t.deepEqual(
    tr.checks.map((c) => [c.fromFrame, c.toFrame]),
    [
      [8, 29],
      [29, 50],
    ],
    'the second check covers the speech since the first one',
  );
  // the failed second check drops only the speech after the passed check
  t.deepEqual(closes(tr), [[0, 29, 50, 'speaker_change']]);
  // every check passes: the whole utterance is held, the trailing stretch closes it
  t.deepEqual(closes(run(frames, opts(), [0.8, 0.8, 0.8])), [[0, 68, 73, 'silence']]);
});

test('no answer (no speaker encoder or profile) applies the rule as before', (t) => {
  const frames = 'TTTTTTTT' + 'O'.repeat(40) + '..........';
  t.deepEqual(closes(run(frames, opts(), [null])), closes(run(frames, opts(null))));
});

test('a check answered after the segment closed is ignored', (t) => {
  // the other speech stops right after the check is asked: the trailing stretch closes the segment
  // before the (late) answer arrives; the answer must not touch the next segment
  const frames = 'TTTTTTTT' + 'O'.repeat(21) + '......' + 'TTTTTTTT' + '......';
  const tr = run(frames, opts(), [0.1], 15);
  t.is(tr.checks.length, 1);
  t.deepEqual(closes(tr), [
    [0, 29, 34, 'silence'],
    [35, 43, 48, 'silence'],
  ]);
});

test('the check window is the latest disputed speech, at most windowFrames, at least minFrames', (t) => {
  const frames = 'TTTTTTTT' + 'O'.repeat(60) + '..........';
  t.deepEqual(
    run(frames, opts({ windowFrames: 12 }), [0.1]).checks.map((c) => [c.fromFrame, c.toFrame]),
    [[17, 29]],
  );
  // a hold of 5 frames leaves too little disputed speech: the run's target speech before it fills up to minFrames
  t.deepEqual(
    run(frames, opts({}, { holdOtherFrames: 5 }), [0.1]).checks.map((c) => [c.fromFrame, c.toFrame]),
    [[4, 14]],
  );
  // wholeRun: the run's speech from its start
  t.deepEqual(
    run(frames, opts(), [0.1], 0, { wholeRun: true }).checks.map((c) => [c.fromFrame, c.toFrame]),
    [[0, 29]],
  );
});

test('onSwitch: a run judged another voice is checked once it has minFrames of speech', (t) => {
  // 5 target frames open the segment (fewer than hold_min_target), then "other": the switch fires
  // after 4 other frames; with the check, the segment holds until 10 frames of the run are there
  const frames = 'TTTTT' + 'O'.repeat(30) + '..........';
  const off = run(frames, opts({ onSwitch: false }));
  t.deepEqual(off.checks, []);
  t.deepEqual(closes(off), [[0, 0, 9, 'speaker_change']], 'no switch check: all of its speech is dropped at once');
  const fail = run(frames, opts({ onSwitch: true }), [0.1]);
  t.deepEqual(
    fail.checks.map((c) => [c.fromFrame, c.toFrame, c.at]),
    [[0, 10, 9]],
  );
  t.deepEqual(closes(fail), [[0, 0, 10, 'speaker_change']], 'failed: dropped as before, one frame later');
  const pass = run(frames, opts({ onSwitch: true }), [0.9, 0.9]);
  t.deepEqual(closes(pass), [[0, 35, 40, 'silence']], 'passed: the run is the target, held to its end');
});

test('a later run the switch would drop is kept when the check says it is the target', (t) => {
  // target, a pause, then the target again but scored "other" from its 2nd frame (the pVAD lost it)
  const frames = 'T'.repeat(10) + '...' + 'T' + 'O'.repeat(15) + '.'.repeat(10);
  const o = { trailingFrames: 8 };
  t.deepEqual(closes(run(frames, opts(null, o))), [[0, 10, 18, 'speaker_change']], 'switch: cut at the pause');
  t.deepEqual(closes(run(frames, opts({ onSwitch: true }, o), [0.7])), [[0, 29, 37, 'silence']]);
  t.deepEqual(
    closes(run(frames, opts({ onSwitch: true }, o), [0.2])),
    [[0, 10, 23, 'speaker_change']],
    'failed: the run was another voice',
  );
});

test('speaker check keys convert to options; on in the configuration by default', (t) => {
  const cfg = configSchema.parse({});
  const withProfile = { profiles: 1, speakerEncoder: true };
  const segmenter = (keys: Partial<SegmenterConfig>) => ({ vad: cfg.vad, segmenter: { ...cfg.segmenter, ...keys } });
  t.is(segmenterOptions(segmenter({ speaker_check: false }), withProfile).check, null, 'speaker_check false: off');
  t.deepEqual(segmenterOptions(cfg, withProfile).check, {
    threshold: 0.25,
    windowFrames: 160,
    minFrames: 30,
    onSwitch: true,
    recheckFloor: 0.1,
    recheckFrames: 30,
  });
  t.deepEqual(
    segmenterOptions(
      segmenter({
        speaker_check: true,
        speaker_check_threshold: 0.3,
        speaker_check_ms: 1000,
        speaker_check_min_ms: 400,
        speaker_check_switch: true,
        speaker_check_recheck_above: 0.2,
        speaker_check_recheck_ms: 0,
      }),
      withProfile,
    ).check,
    { threshold: 0.3, windowFrames: 100, minFrames: 40, onSwitch: true, recheckFloor: 0.2, recheckFrames: 0 },
  );
  // a check needs a profile to compare with and the speaker encoder to embed the speech
  t.is(segmenterOptions(cfg, { profiles: 0, speakerEncoder: true }).check, null, 'no profile: off');
  t.is(segmenterOptions(cfg, { profiles: 1, speakerEncoder: false }).check, null, 'no speaker encoder: off');
});

test('a near miss gets a second look on longer audio; a clear miss does not', (t) => {
  const frames = 'TTTTTTTT' + 'O'.repeat(60) + '..........';
  const look = { recheckFloor: 0.3, recheckFrames: 10 };
  // 0.4: below the threshold but a near miss: asked again 10 frames after the answer, on the
  // disputed speech so far (its latest 30 frames); that look passes and the run holds on
  const near = run(frames, opts(look), [0.4, 0.8]);
  t.deepEqual(
    near.checks.slice(0, 2).map((c) => [c.fromFrame, c.toFrame, c.at]),
    [
      [8, 29, 28],
      [9, 39, 38],
    ],
  );
  t.true(closes(near)[0][1] >= 39, 'the speech checked the second time stays in the segment');
  // the second look fails too: dropped as the first answer would have (the close comes later)
  const twice = run(frames, opts(look), [0.4, 0.2]);
  t.is(twice.checks.length, 2);
  t.deepEqual(closes(twice), [[0, 8, 39, 'speaker_change']]);
  // 0.2: a clear miss is final at once, as without the second look
  t.deepEqual(closes(run(frames, opts(look), [0.2])), closes(run(frames, opts(), [0.2])));
  // one second look per run
  t.is(run(frames, opts(look), [0.4, 0.4]).checks.length, 2);
});

test('the second look is asked at once when the disputed run stops first', (t) => {
  // the other speech stops 2 frames after the near miss: the look cannot wait for 10 more frames
  const frames = 'TTTTTTTT' + 'O'.repeat(22) + '..........';
  const tr = run(frames, opts({ recheckFloor: 0.3, recheckFrames: 10 }), [0.4, 0.1]);
  t.deepEqual(
    tr.checks.map((c) => [c.fromFrame, c.toFrame, c.at]),
    [
      [8, 29, 28],
      [8, 33, 32],
    ],
  );
  t.deepEqual(closes(tr), [[0, 8, 33, 'speaker_change']]);
});
