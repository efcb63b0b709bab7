// The frame contract shared by the audio, the personal VAD, the segmenter and the transcript:
// 16 kHz mono float samples, analysed in 10 ms frames, each frame giving the pVAD's three
// posteriors. Frame positions are what the pipeline counts in; everything else converts here.

/** Samples per second past the capture: every source resamples to this rate. */
export const SAMPLE_RATE = 16000;
/** One pVAD step and one segmenter step. */
export const FRAME_MS = 10;
export const FRAME_SAMPLES = (SAMPLE_RATE * FRAME_MS) / 1000;

/** First sample of a frame (so also the exclusive end of the frame before it). */
export const frameToSample = (frame: number): number => frame * FRAME_SAMPLES;

/** The first frame boundary at or after a sample position. */
export const frameAtOrAfter = (sample: number): number => Math.ceil(sample / FRAME_SAMPLES);

export const framesToMs = (frames: number): number => frames * FRAME_MS;

export const framesToSeconds = (frames: number): number => framesToMs(frames) / 1000;

/** The nearest whole number of frames to a duration in ms (config durations). */
export const msToFrames = (ms: number): number => Math.round(ms / FRAME_MS);

export const msToSamples = (ms: number): number => (ms * SAMPLE_RATE) / 1000;

export const samplesToSeconds = (samples: number): number => samples / SAMPLE_RATE;

export const samplesToMs = (samples: number): number => samplesToSeconds(samples) * 1000;

/**
 * A token time in seconds after frame `fromFrame`, as seconds after frame `toFrame`, rounded to
 * the ms and never negative. The recognizer counts from the segment's first frame, the pipeline's
 * results from the stream's start, a transcript from its first speech frame.
 */
export function rebaseSeconds(seconds: number, fromFrame: number, toFrame: number): number {
  const moved = seconds + framesToSeconds(fromFrame) - framesToSeconds(toFrame);
  return Math.round(Math.max(0, moved) * 1000) / 1000;
}

/** The pVAD's output for a run of frames: per frame [ns, tss, ntss], p(non-speech), p(target
 * speaker speech) and p(non-target speaker speech). */
export class Posteriors {
  static readonly PER_FRAME = 3;

  constructor(readonly data: Float32Array) {}

  get frames(): number {
    return this.data.length / Posteriors.PER_FRAME;
  }

  nonSpeech(frame: number): number {
    return this.data[Posteriors.PER_FRAME * frame];
  }

  target(frame: number): number {
    return this.data[Posteriors.PER_FRAME * frame + 1];
  }

  other(frame: number): number {
    return this.data[Posteriors.PER_FRAME * frame + 2];
  }

  /** A pVAD whose state went NaN or infinite shows it here. */
  isFinite(frame: number): boolean {
    return Number.isFinite(this.nonSpeech(frame) + this.target(frame) + this.other(frame));
  }
}

/** With one stream per enrolled profile, a frame takes the stream that gives it the highest
 * target posterior: target speech if any enrolled speaker's stream says so. */
export function mostTarget(streams: Posteriors[], frame: number): Posteriors {
  let best = streams[0];
  for (const s of streams) if (s.target(frame) > best.target(frame)) best = s;
  return best;
}
