// The frame contract (daemon/frames.ts): conversions, the posterior layout and token time moves.
import test from 'ava';
import {
  FRAME_SAMPLES,
  frameAtOrAfter,
  frameToSample,
  framesToMs,
  framesToSeconds,
  mostTarget,
  msToFrames,
  msToSamples,
  Posteriors,
  rebaseSeconds,
  samplesToMs,
  samplesToSeconds,
} from '../daemon/frames.js';

test('a 10 ms frame is 160 samples at 16 kHz', (t) => {
  t.is(FRAME_SAMPLES, 160);
  t.is(frameToSample(3), 480);
  t.is(frameAtOrAfter(480), 3);
  t.is(frameAtOrAfter(481), 4);
  t.is(framesToMs(30), 300);
  t.is(framesToSeconds(30), 0.3);
  t.is(msToFrames(300), 30);
  t.is(msToFrames(14), 1);
  t.is(msToSamples(100), 1600);
  t.is(samplesToSeconds(8000), 0.5);
  t.is(samplesToMs(8000), 500);
});

test('posteriors are [ns, tss, ntss] per frame', (t) => {
  const p = new Posteriors(Float32Array.of(0.5, 0.25, 0.125, 1, 0, 0));
  t.is(p.frames, 2);
  t.deepEqual([p.nonSpeech(0), p.target(0), p.other(0)], [0.5, 0.25, 0.125]);
  t.deepEqual([p.nonSpeech(1), p.target(1), p.other(1)], [1, 0, 0]);
  t.true(p.isFinite(0));
  t.false(new Posteriors(Float32Array.of(0, NaN, 0)).isFinite(0));
});

test('a frame takes the stream with the highest target posterior, the first on a tie', (t) => {
  const a = new Posteriors(Float32Array.of(0, 0.5, 0, 0, 0.2, 0));
  const b = new Posteriors(Float32Array.of(0, 0.5, 0, 0, 0.7, 0));
  t.is(mostTarget([a, b], 0), a);
  t.is(mostTarget([a, b], 1), b);
});

test('token times move between reference frames, rounded to the ms and never negative', (t) => {
  // recognizer time in a segment from frame 250 -> stream time -> time after the speech start at 280
  const stream = rebaseSeconds(0.4321, 250, 0);
  t.is(stream, 2.932);
  t.is(rebaseSeconds(stream, 0, 280), 0.132);
  t.is(rebaseSeconds(2.5, 0, 280), 0);
});
