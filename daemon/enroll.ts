// Enrollment: find the speech in a few recordings with the pVAD run as a plain VAD (no
// embedding), require enough of it, embed it with the speaker encoder and rate the result.
import type { LoadedSpeakerEncoder } from './models.js';
import type { PvadModel } from './native.js';
import { frameToSample, Posteriors, SAMPLE_RATE, samplesToSeconds } from './frames.js';
import { cosine, l2normalize, type EnrollmentQuality } from './profiles.js';

export type { EnrollmentQuality };

/** Speech needed by default; below about 5 s the speaker encoder's errors grow quickly (models/PVAD_CARD.md). */
export const MIN_SPEECH_SECONDS = 5;
/** Below this much speech the profile works, but more speech would lower the speaker EER (card: EER against enrollment length). */
export const GOOD_SPEECH_SECONDS = 10;
/** The quality figure cuts the speech into pieces this long: the length of a short command. */
export const QUALITY_PIECE_SECONDS = 2;
/**
 * Below this agreement between the pieces the recording probably holds noise, a far microphone or
 * another voice. Set from training speakers only (bench/enroll_length.ts --split train; the figures
 * are in models/PVAD_CARD.md); dev speakers never tune it.
 */
export const MIN_CONSISTENCY = 0.45;

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
  const all = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((o, p) => (all.set(p, o), o + p.length), 0);
  const posts = new Posteriors(all);
  const frames = posts.frames;
  const speech = new Uint8Array(frames);
  for (let k = 0; k < frames; k++) if (posts.target(k) + posts.other(k) >= threshold) speech[k] = 1;
  // keep 3 frames either side of each speech frame: word edges carry speaker information too
  const keep = new Uint8Array(frames);
  for (let k = 0; k < frames; k++) if (speech[k]) for (let d = -3; d <= 3; d++) if (k + d >= 0 && k + d < frames) keep[k + d] = 1;
  const out = new Float32Array(frameToSample(keep.reduce((a, b) => a + b, 0)));
  let o = 0;
  for (let k = 0; k < frames; k++) if (keep[k]) out.set(samples.subarray(frameToSample(k), frameToSample(k + 1)), frameToSample(o++));
  return out.subarray(0, frameToSample(o));
}

export async function enroll(
  recordings: Float32Array[],
  pvad: PvadModel,
  encoder: LoadedSpeakerEncoder,
  opts: EnrollOptions,
): Promise<{ embedding: Float32Array; speechSeconds: number; audioSeconds: number; quality: EnrollmentQuality }> {
  const audioSeconds = samplesToSeconds(recordings.reduce((s, r) => s + r.length, 0));
  const parts: Float32Array[] = [];
  for (const r of recordings) parts.push(await speechOf(pvad, r, opts.threshold));
  const speechSamples = parts.reduce((s, p) => s + p.length, 0);
  const speechSeconds = samplesToSeconds(speechSamples);
  const fmt = (x: number) => x.toFixed(1);
  if (audioSeconds < opts.minSpeechSeconds) {
    throw new EnrollmentError(
      `too little audio: the recordings last ${fmt(audioSeconds)} s; at least ${opts.minSpeechSeconds} s of speech is needed`,
    );
  }
  if (speechSeconds < 0.2 * audioSeconds && speechSeconds < opts.minSpeechSeconds) {
    throw new EnrollmentError(
      `the recordings do not sound like speech: only ${fmt(speechSeconds)} s of their ${fmt(audioSeconds)} s was detected as speech`,
    );
  }
  if (speechSeconds < opts.minSpeechSeconds) {
    throw new EnrollmentError(
      `too little speech: ${fmt(speechSeconds)} s found in ${fmt(audioSeconds)} s of audio; at least ${opts.minSpeechSeconds} s is needed`,
    );
  }
  const all = new Float32Array(speechSamples);
  let o = 0;
  for (const p of parts) {
    all.set(p, o);
    o += p.length;
  }
  const { embedding, quality } = await embedSpeech(all, encoder);
  return { embedding, speechSeconds, audioSeconds, quality };
}

/**
 * The profile embedding of enrollment speech (speechOf's output) and its quality: the speech is cut
 * into QUALITY_PIECE_SECONDS pieces, each piece is embedded and compared with the embedding of the
 * other pieces. Same speaker throughout and a quiet room give high agreement; noise, reverberation
 * or a second voice lower it. At least 2 pieces (shorter ones when there is less than 4 s).
 */
export async function embedSpeech(
  speech: Float32Array,
  encoder: LoadedSpeakerEncoder,
): Promise<{ embedding: Float32Array; quality: EnrollmentQuality }> {
  if (speech.length < SAMPLE_RATE) throw new EnrollmentError(`too little speech to embed: ${samplesToSeconds(speech.length).toFixed(1)} s`);
  const embedding = await encoder.encoder.embed(speech);
  const n = Math.max(2, Math.floor(speech.length / (QUALITY_PIECE_SECONDS * SAMPLE_RATE)));
  const size = Math.floor(speech.length / n);
  const pieces: Float32Array[] = [];
  for (let i = 0; i < n; i++) pieces.push(await encoder.encoder.embed(speech.subarray(i * size, (i + 1) * size)));
  const sum = new Float32Array(embedding.length);
  for (const p of pieces) for (let k = 0; k < sum.length; k++) sum[k] += p[k];
  let agree = 0;
  for (const p of pieces) agree += cosine(p, l2normalize(sum.map((x, k) => x - p[k])));
  const consistency = agree / n;
  const speechSeconds = samplesToSeconds(speech.length);
  const advice: string[] = [];
  if (speechSeconds < GOOD_SPEECH_SECONDS) {
    advice.push(
      `more speech would help: ${speechSeconds.toFixed(1)} s of speech; ${GOOD_SPEECH_SECONDS} s or more makes the speaker match more reliable`,
    );
  }
  if (consistency < MIN_CONSISTENCY) {
    advice.push(
      `the speech does not sound like one voice throughout (consistency ${consistency.toFixed(2)}, expected ${MIN_CONSISTENCY} or more): record again close to the microphone, in a quiet room, with only this speaker talking`,
    );
  }
  return {
    embedding,
    quality: {
      speech_seconds: Math.round(speechSeconds * 100) / 100,
      pieces: n,
      consistency: Math.round(consistency * 1000) / 1000,
      advice,
    },
  };
}
