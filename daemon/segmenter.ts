// End-of-segment logic, frame by frame on the personal VAD's posteriors. Pure: no audio, no
// clocks, so it is tested on constructed posteriors and behaves identically in the daemon and in
// `earshot transcribe`.
//
// A segment opens once `min_speech` consecutive frames score at least `threshold` (shorter bursts are
// clicks or coughs), starting `pre_roll` frames before that burst so the first word is whole. It
// closes after `trailing` consecutive frames at or below `closeThreshold` (the segment ends where speech ended) or
// when it reaches `max_length`. In mode `target`, only the enrolled speaker's speech counts;
// other voices neither open nor hold a segment. In mode `any`, every voice does.

export const FRAME_MS = 10;

export interface SegmenterOptions {
  mode: 'target' | 'any';
  /** a frame opens (counts towards min_speech) when its score is at least this */
  threshold: number;
  /** inside a segment, a frame holds it open when its score is above this (hysteresis) */
  closeThreshold: number;
  preRollFrames: number;
  trailingFrames: number;
  maxFrames: number;
  minSpeechFrames: number;
  /** a segment opened by listen() with nobody speaking closes after this many frames */
  listenTimeoutFrames: number;
}

export function segmenterOptionsFromConfig(
  vad: { mode: 'target' | 'any'; threshold: number; close_threshold: number },
  seg: { pre_roll_ms: number; trailing_ms: number; max_segment_ms: number; min_speech_ms: number; listen_timeout_ms: number },
): SegmenterOptions {
  const frames = (ms: number) => Math.max(1, Math.round(ms / FRAME_MS));
  return {
    mode: vad.mode,
    threshold: vad.threshold,
    closeThreshold: Math.min(vad.close_threshold, vad.threshold),
    preRollFrames: Math.round(seg.pre_roll_ms / FRAME_MS),
    trailingFrames: frames(seg.trailing_ms),
    maxFrames: frames(seg.max_segment_ms),
    minSpeechFrames: frames(seg.min_speech_ms),
    listenTimeoutFrames: frames(seg.listen_timeout_ms),
  };
}

export type CloseReason = 'silence' | 'max_length' | 'listen_timeout' | 'stop' | 'end_of_input';

export type SegmentEvent =
  | { type: 'open'; /** first frame of the segment (pre-roll included) */ startFrame: number; /** first speech frame */ speechStartFrame: number; forced: boolean }
  | {
      type: 'close';
      startFrame: number;
      /** exclusive: the frame after the last one fed to the segment */
      endFrame: number;
      speechStartFrame: number;
      /** exclusive end of the last speech frame */
      speechEndFrame: number;
      reason: CloseReason;
    };

/** The speech score a frame's posteriors [ns, tss, ntss] give in this mode. */
export function speechScore(mode: 'target' | 'any', ns: number, tss: number, ntss: number): number {
  return mode === 'target' ? tss : tss + ntss;
}

export class Segmenter {
  private frame = 0; // index of the next frame
  private run = 0; // consecutive speech frames while idle
  private open: { start: number; speechStart: number; lastSpeechEnd: number; forced: boolean; heardSpeech: boolean } | null = null;
  private silence = 0;
  private continueAt = -1;

  constructor(readonly opts: SegmenterOptions) {}

  get frames(): number {
    return this.frame;
  }

  get isOpen(): boolean {
    return this.open !== null;
  }

  /** Start of the open segment, if any. */
  get openStart(): number | undefined {
    return this.open?.start;
  }

  /** Feeds one frame's posteriors; returns what happened at this frame. */
  push(ns: number, tss: number, ntss: number): SegmentEvent[] {
    const events: SegmentEvent[] = [];
    const i = this.frame++;
    const score = speechScore(this.opts.mode, ns, tss, ntss);
    // Hysteresis: opening needs a confident frame, holding an open segment only a plausible one.
    const isSpeech = this.open ? score > this.opts.closeThreshold : score >= this.opts.threshold;
    if (!this.open) {
      this.run = isSpeech ? this.run + 1 : 0;
      if (isSpeech && this.continueAt === i) {
        // speech ran over max_length: the next segment starts exactly where the last one ended
        this.open = { start: i, speechStart: i, lastSpeechEnd: i + 1, forced: false, heardSpeech: true };
        this.silence = 0;
        this.run = 0;
        events.push({ type: 'open', startFrame: i, speechStartFrame: i, forced: false });
        return events;
      }
      if (this.run >= this.opts.minSpeechFrames) {
        const speechStart = i + 1 - this.run;
        const start = Math.max(0, speechStart - this.opts.preRollFrames);
        this.open = { start, speechStart, lastSpeechEnd: i + 1, forced: false, heardSpeech: true };
        this.silence = 0;
        this.run = 0;
        events.push({ type: 'open', startFrame: start, speechStartFrame: speechStart, forced: false });
      }
      return events;
    }
    const seg = this.open;
    if (isSpeech) {
      if (!seg.heardSpeech) seg.speechStart = i;
      seg.lastSpeechEnd = i + 1;
      seg.heardSpeech = true;
      this.silence = 0;
    } else {
      this.silence++;
    }
    if (seg.forced && !seg.heardSpeech && i + 1 - seg.speechStart >= this.opts.listenTimeoutFrames) {
      events.push(...this.close(i + 1, 'listen_timeout'));
    } else if (seg.heardSpeech && this.silence >= this.opts.trailingFrames) {
      events.push(...this.close(i + 1, 'silence'));
    } else if (i + 1 - seg.start >= this.opts.maxFrames) {
      events.push(...this.close(i + 1, 'max_length'));
      // Speech goes on: the next frame opens a new segment without a fresh burst test.
      if (isSpeech) this.continueAt = i + 1;
    }
    return events;
  }

  /** Jumps the frame counter forward over audio that was not analysed (muted). */
  advanceTo(frame: number): void {
    if (this.open) throw new Error('cannot skip frames inside an open segment');
    if (frame > this.frame) {
      this.frame = frame;
      this.run = 0;
    }
  }

  /** Opens a segment now (MQTT listen / Hermes startListening); no-op when one is open. */
  listen(): SegmentEvent[] {
    if (this.open) return [];
    const start = Math.max(0, this.frame - this.opts.preRollFrames);
    this.open = { start, speechStart: this.frame, lastSpeechEnd: this.frame, forced: true, heardSpeech: false };
    this.silence = 0;
    this.run = 0;
    return [{ type: 'open', startFrame: start, speechStartFrame: this.frame, forced: true }];
  }

  /** Closes the open segment (stop listening, mute, shutdown, end of a file). */
  finish(reason: CloseReason): SegmentEvent[] {
    this.run = 0;
    if (!this.open) return [];
    return this.close(this.frame, reason);
  }

  private close(endFrame: number, reason: CloseReason): SegmentEvent[] {
    const seg = this.open!;
    this.open = null;
    this.silence = 0;
    return [{ type: 'close', startFrame: seg.start, endFrame, speechStartFrame: seg.speechStart, speechEndFrame: Math.max(seg.lastSpeechEnd, seg.speechStart), reason }];
  }
}

