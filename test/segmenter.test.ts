import test from 'ava';
import { configSchema } from '../daemon/config.js';
import { Segmenter, type SegmentEvent, type SegmenterOptions } from '../daemon/segmenter.js';
import { segmenterOptions } from '../daemon/segmenter-options.js';

// Posteriors [ns, tss, ntss] per 10 ms frame, written as a string: '.' silence, 'T' target
// speech, 'O' another speaker's speech, 'n' a noisy pause, each character one frame.
const P: Record<string, [number, number, number]> = {
  '.': [0.9, 0.05, 0.05],
  T: [0.05, 0.9, 0.05],
  O: [0.05, 0.05, 0.9],
  t: [0.45, 0.5, 0.05],
  n: [0.4, 0.3, 0.3],
};

const opts = (over: Partial<SegmenterOptions> = {}): SegmenterOptions => ({
  mode: 'target',
  threshold: 0.5,
  closeThreshold: 0.5,
  preRollFrames: 3,
  trailingFrames: 5,
  maxFrames: 100,
  minSpeechFrames: 4,
  listenTimeoutFrames: 20,
  // speaker turns off unless a test turns them on (turns() below)
  pauseFrames: 3,
  holdOtherFrames: 0,
  holdMinTargetFrames: 6,
  switchFrames: 0,
  ...over,
});

// speaker turns on: pauses of 3 frames cut runs, the opening run holds other speech 20 frames after
// 6 target frames, a later run is another speaker's after 4 frames of other speech
const turns = (over: Partial<SegmenterOptions> = {}) => opts({ holdOtherFrames: 20, switchFrames: 4, ...over });

function run(frames: string, o: SegmenterOptions, finish = true): SegmentEvent[] {
  const s = new Segmenter(o);
  const ev: SegmentEvent[] = [];
  for (const c of frames.replace(/\s/g, '')) ev.push(...s.push(...P[c]));
  if (finish) ev.push(...s.finish('end_of_input'));
  return ev;
}

const closes = (ev: SegmentEvent[]) =>
  ev
    .filter((e) => e.type === 'close')
    .map((e) => e.type === 'close' && [e.startFrame, e.speechStartFrame, e.speechEndFrame, e.endFrame, e.reason]);

test('opens after min_speech with pre-roll, closes after the trailing stretch', (t) => {
  // frames:        0123456789...
  const ev = run('..........TTTTTTTTTT..........', opts());
  const open = ev.find((e) => e.type === 'open')!;
  t.deepEqual(open, { type: 'open', startFrame: 7, speechStartFrame: 10, forced: false });
  // speech frames 10..19, trailing 5 frames close it at frame 24 (exclusive end 25)
  t.deepEqual(closes(ev), [[7, 10, 20, 25, 'silence']]);
});

test('the open event comes on the frame that completes min_speech: latency of the decision', (t) => {
  const s = new Segmenter(opts());
  const at: number[] = [];
  'TTTTTT'.split('').forEach((c, i) => {
    if (s.push(...P[c]).some((e) => e.type === 'open')) at.push(i);
  });
  t.deepEqual(at, [3]);
});

test('bursts shorter than min_speech do not open a segment', (t) => {
  t.deepEqual(run('...TTT....TT...T.TTT...', opts()), []);
});

test('a pause shorter than the trailing stretch does not cut the segment', (t) => {
  t.deepEqual(closes(run('TTTTTT....TTTTTT........', opts())), [[0, 0, 16, 21, 'silence']]);
});

test('mode target: another speaker neither opens nor holds a segment', (t) => {
  t.deepEqual(run('OOOOOOOOOOOOOOOO', opts()), []);
  // target speech, then another voice right away: closes as if it were silence
  t.deepEqual(closes(run('TTTTTTOOOOOOOOOOOO', opts())), [[0, 0, 6, 11, 'silence']]);
});

test('mode any: every voice opens and holds', (t) => {
  t.deepEqual(closes(run('OOOOOO....TTTT........', opts({ mode: 'any' }))), [[0, 0, 14, 19, 'silence']]);
});

test('threshold applies to the mode score', (t) => {
  t.deepEqual(run('tttttttt', opts({ threshold: 0.6 })), []);
  t.is(closes(run('tttttttt......', opts({ threshold: 0.5 }))).length, 1);
});

test('hysteresis: weaker frames hold an open segment but cannot open one', (t) => {
  const h = opts({ threshold: 0.6, closeThreshold: 0.3 });
  // 't' scores 0.5: between the two thresholds
  t.deepEqual(run('tttttttt', h), []);
  t.deepEqual(closes(run('TTTTtttttttt......', h)), [[0, 0, 12, 17, 'silence']]);
});

test('max length closes and speech that goes on reopens at once', (t) => {
  const ev = run('T'.repeat(25) + '.'.repeat(10), opts({ maxFrames: 10, preRollFrames: 0 }));
  t.deepEqual(closes(ev), [
    [0, 0, 10, 10, 'max_length'],
    [10, 10, 20, 20, 'max_length'],
    [20, 20, 25, 30, 'silence'],
  ]);
});

test('listen opens at once with pre-roll; it times out when nobody speaks', (t) => {
  const s = new Segmenter(opts());
  for (let i = 0; i < 10; i++) s.push(...P['.']);
  t.deepEqual(s.listen(), [{ type: 'open', startFrame: 7, speechStartFrame: 10, forced: true }]);
  t.deepEqual(s.listen(), [], 'a second listen is a no-op');
  const ev: SegmentEvent[] = [];
  for (let i = 0; i < 30; i++) ev.push(...s.push(...P['.']));
  t.deepEqual(closes(ev), [[7, 10, 10, 30, 'listen_timeout']], 'the timeout counts from the listen command, not the pre-roll');
});

test('a listened segment with speech closes on trailing silence, with the speech times', (t) => {
  const s = new Segmenter(opts());
  s.listen();
  const ev: SegmentEvent[] = [];
  for (const c of '..TTT' + '.'.repeat(6)) ev.push(...s.push(...P[c]));
  t.deepEqual(closes(ev), [[0, 2, 5, 10, 'silence']]);
});

test('finish closes an open segment at the current frame; end of input too', (t) => {
  t.deepEqual(closes(run('....TTTTTT', opts())), [[1, 4, 10, 10, 'end_of_input']]);
  const s = new Segmenter(opts());
  t.deepEqual(s.finish('stop'), []);
});

test('frames skipped while muted keep numbering; a segment cannot be skipped over', (t) => {
  const s = new Segmenter(opts());
  s.advanceTo(100);
  const ev: SegmentEvent[] = [];
  for (const c of 'TTTT') ev.push(...s.push(...P[c]));
  t.deepEqual(ev[0], { type: 'open', startFrame: 97, speechStartFrame: 100, forced: false });
  t.throws(() => s.advanceTo(200), { message: /inside an open segment/ });
});

test('options from the configuration are converted to frames', (t) => {
  const defaults = configSchema.parse({});
  const o = segmenterOptions(
    {
      vad: { ...defaults.vad, mode: 'any', threshold: 0.4, close_threshold: 0.3 },
      segmenter: {
        ...defaults.segmenter,
        pre_roll_ms: 300,
        trailing_ms: 400,
        max_segment_ms: 15000,
        min_speech_ms: 100,
        listen_timeout_ms: 5000,
        pause_ms: 50,
        hold_other_ms: 1500,
        hold_min_target_ms: 200,
        switch_ms: 0,
        speaker_check: false,
        sentence_guard_ms: 0,
        sentence_incomplete_ms: 0,
      },
    },
    { profiles: 1, speakerEncoder: true },
  );
  t.deepEqual(o, {
    mode: 'any',
    threshold: 0.4,
    closeThreshold: 0.3,
    preRollFrames: 30,
    trailingFrames: 40,
    maxFrames: 1500,
    minSpeechFrames: 10,
    listenTimeoutFrames: 500,
    pauseFrames: 5,
    holdOtherFrames: 150,
    holdMinTargetFrames: 20,
    switchFrames: 0,
    check: null,
    sentenceGuardFrames: 0,
    incompleteTrailingFrames: 0,
    reaskFrames: 0,
  });
  // the end-of-utterance head is asked again every 50 ms of a pause while it is undecided
  t.is(segmenterOptions(defaults, { profiles: 0, speakerEncoder: false, endOfUtterance: true }).reaskFrames, 5);
  // without a profile every voice counts, whatever vad.mode says
  t.is(segmenterOptions(defaults, { profiles: 0, speakerEncoder: false }).mode, 'any');
  t.is(segmenterOptions(defaults, { profiles: 1, speakerEncoder: false }).mode, 'target');
});

test('speaker turns: the pVAD losing the target mid-command does not cut it', (t) => {
  // 8 target frames, then the model calls the rest of the command (15 frames) another voice
  const frames = 'TTTTTTTT' + 'O'.repeat(15) + '..........';
  t.deepEqual(closes(run(frames, opts())), [[0, 0, 8, 13, 'silence']], 'plain rule: cut 5 frames into the "other" speech');
  t.deepEqual(closes(run(frames, turns())), [[0, 0, 23, 28, 'silence']], 'held to the end of the speech, then the trailing stretch');
});

test('speaker turns: a short pause while the hold is under way does not end it', (t) => {
  // the model lost the target, then a 3-frame pause (a run boundary), then more "other" speech
  const frames = 'TTTTTTTT' + 'OOOOO' + '...' + 'O'.repeat(10) + '..........';
  t.deepEqual(closes(run(frames, turns())), [[0, 0, 26, 31, 'silence']]);
  // the same pause right after target speech ends the run: the other voice does not hold (trailing 5)
  const after = 'TTTTTTTT' + '...' + 'O'.repeat(10) + '..........';
  t.deepEqual(closes(run(after, turns())), [[0, 0, 8, 13, 'silence']]);
});

test('speaker turns: the hold has a limit; past it the segment ends where the target stopped', (t) => {
  // another voice goes on without a pause for 40 frames: held 20 frames after the last target
  // frame, then taken for a speaker change: closes at once, speech ending at the last target frame
  const ev = run('TTTTTTTT' + 'O'.repeat(40), turns());
  t.deepEqual(closes(ev), [[0, 0, 8, 29, 'speaker_change']]);
  t.is(ev.filter((e) => e.type === 'open').length, 1, 'the other voice opens nothing');
});

test('speaker turns: a segment opened on too little target speech is not held through other speech', (t) => {
  // 4 target frames (the minimum to open) then another voice: fewer than hold_min_target (6)
  const frames = 'TTTT' + 'O'.repeat(20) + '.....';
  t.deepEqual(closes(run(frames, turns({ switchFrames: 0 }))), [[0, 0, 4, 9, 'silence']], 'closes like the plain rule');
  t.deepEqual(
    closes(run(frames, turns({ switchFrames: 0, holdMinTargetFrames: 4 }))),
    [[0, 0, 24, 29, 'silence']],
    'with enough target speech it would be held',
  );
  // with switch on, the run is judged another speaker's after 4 frames of other speech: no target speech remains
  t.deepEqual(closes(run(frames, turns())), [[0, 0, 0, 8, 'speaker_change']]);
});

test('speaker turns: another speaker after a pause closes the segment from the end of the target speech', (t) => {
  // target, a 3-frame pause, another speaker the model still calls the target for 3 frames, then "other"
  const frames = 'T'.repeat(10) + '...' + 'TTT' + 'O'.repeat(12) + '.'.repeat(12);
  const o = { trailingFrames: 10 };
  t.deepEqual(closes(run(frames, opts(o))), [[0, 0, 16, 26, 'silence']], 'plain rule: held by the 3 frames, then 10 more');
  t.deepEqual(
    closes(run(frames, turns(o))),
    [[0, 0, 10, 20, 'speaker_change']],
    'switch after 4 "other" frames: 10 frames after the target stopped',
  );
  // a pause filled with reverberation or noise (p(non-speech) 0.4) still separates the runs
  const noisy = frames.replace('...', 'nnn');
  t.deepEqual(closes(run(noisy, turns(o))), [[0, 0, 10, 20, 'speaker_change']]);
});

test('speaker turns: a later run of the target with brief "other" frames is kept', (t) => {
  // after a pause the target goes on; the model wavers for 2 frames at a time (less than switch)
  const frames = 'T'.repeat(10) + '...' + 'TTOOTTOOTT' + '.'.repeat(10);
  t.deepEqual(closes(run(frames, turns())), closes(run(frames, opts())));
  t.deepEqual(closes(run(frames, turns())), [[0, 0, 23, 28, 'silence']]);
});

test('speaker turns: in mode any every voice counts and the turn rule does nothing', (t) => {
  const frames = 'TTTTTTTT' + 'O'.repeat(40) + '......';
  t.deepEqual(closes(run(frames, turns({ mode: 'any' }))), [[0, 0, 48, 53, 'silence']]);
});

test('speaker turns: after listen() the first speech is the opening run', (t) => {
  const s = new Segmenter(turns());
  s.listen();
  const ev: SegmentEvent[] = [];
  for (const c of '..' + 'TTTTTTTT' + 'O'.repeat(10) + '......') ev.push(...s.push(...P[c]));
  t.deepEqual(closes(ev), [[0, 2, 20, 25, 'silence']]);
});
