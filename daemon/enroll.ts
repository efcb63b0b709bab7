// Enrollment: find the speech in a few recordings with the pVAD run as a plain VAD (no
// embedding), require enough of it, and embed it with the speaker encoder.
import type { LoadedSpeakerEncoder } from './models.js';
import type { PvadModel } from './native.js';
import { SAMPLE_RATE } from './audio/wav.js';

const FRAME = SAMPLE_RATE / 100;

export class EnrollmentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EnrollmentError';
  }
}

export interface EnrollOptions {
  minSpeechSeconds: number;
  threshold: number;
}

/** The speech frames of one recording, as one buffer (frames with a little margin kept). */
export async function speechOf(pvad: PvadModel, samples: Float32Array, threshold: number): Promise<Float32Array> {
  const stream = pvad.createStream(null);
  // one second at a time, yielding in between: live enrollment runs inside the daemon
  const parts: Float32Array[] = [];
  for (let i = 0; i < samples.length; i += SAMPLE_RATE) {
    parts.push(stream.accept(samples.subarray(i, Math.min(samples.length, i + SAMPLE_RATE))));
    await new Promise((r) => setImmediate(r));
  }
  const posts = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((o, p) => (posts.set(p, o), o + p.length), 0);
  const frames = posts.length / 3;
  const speech = new Uint8Array(frames);
  for (let k = 0; k < frames; k++) if (posts[3 * k + 1] + posts[3 * k + 2] >= threshold) speech[k] = 1;
  // keep 3 frames either side of each speech frame: word edges carry speaker information too
  const keep = new Uint8Array(frames);
  for (let k = 0; k < frames; k++) if (speech[k]) for (let d = -3; d <= 3; d++) if (k + d >= 0 && k + d < frames) keep[k + d] = 1;
  const out = new Float32Array(keep.reduce((a, b) => a + b, 0) * FRAME);
  let o = 0;
  for (let k = 0; k < frames; k++) if (keep[k]) out.set(samples.subarray(k * FRAME, (k + 1) * FRAME), (o++) * FRAME);
  return out.subarray(0, o * FRAME);
}

export async function enroll(
  recordings: Float32Array[],
  pvad: PvadModel,
  encoder: LoadedSpeakerEncoder,
  opts: EnrollOptions,
): Promise<{ embedding: Float32Array; speechSeconds: number; audioSeconds: number }> {
  const audioSeconds = recordings.reduce((s, r) => s + r.length, 0) / SAMPLE_RATE;
  const parts: Float32Array[] = [];
  for (const r of recordings) parts.push(await speechOf(pvad, r, opts.threshold));
  const speechSamples = parts.reduce((s, p) => s + p.length, 0);
  const speechSeconds = speechSamples / SAMPLE_RATE;
  const fmt = (x: number) => x.toFixed(1);
  if (audioSeconds < opts.minSpeechSeconds) {
    throw new EnrollmentError(`too little audio: the recordings last ${fmt(audioSeconds)} s; at least ${opts.minSpeechSeconds} s of speech is needed`);
  }
  if (speechSeconds < 0.2 * audioSeconds && speechSeconds < opts.minSpeechSeconds) {
    throw new EnrollmentError(`the recordings do not sound like speech: only ${fmt(speechSeconds)} s of their ${fmt(audioSeconds)} s was detected as speech`);
  }
  if (speechSeconds < opts.minSpeechSeconds) {
    throw new EnrollmentError(`too little speech: ${fmt(speechSeconds)} s found in ${fmt(audioSeconds)} s of audio; at least ${opts.minSpeechSeconds} s is needed`);
  }
  const all = new Float32Array(speechSamples);
  let o = 0;
  for (const p of parts) {
    all.set(p, o);
    o += p.length;
  }
  const embedding = await encoder.encoder.embed(all);
  return { embedding, speechSeconds, audioSeconds };
}
