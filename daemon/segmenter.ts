// End-of-segment logic, frame by frame on the personal VAD's posteriors. Pure: no audio, no
// clocks, so it is tested on constructed posteriors and behaves identically in the daemon and in
// `earshot transcribe`.
//
// A segment opens once `min_speech` consecutive frames score at least `threshold` (shorter bursts are
// clicks or coughs), starting `pre_roll` frames before that burst so the first word is whole. It
// closes after `trailing` consecutive frames at or below `closeThreshold` (the segment ends where speech ended) or
// when it reaches `max_length`. In mode `target`, only the enrolled speaker's speech counts;
// other voices neither open nor hold a segment. In mode `any`, every voice does.
//
// Speaker turns (mode `target` only; models/PVAD_CARD.md "End of segment" has the measurements).
// Speech is cut into runs by pauses of at least `pause` frames of non-speech (any voice's speech
// score, 1 - p(non-speech), at or below 0.7: a pause need not be clean silence, reverberation and
// noise fill short ones). The causal pVAD needs a few hundred milliseconds to tell who speaks, and
// makes two errors the segmenter can see the shape of:
// - it loses the target in the middle of an utterance and calls the rest "other speech". So in the
//   run that opened the segment, once it has had `holdMinTarget` frames of target speech (scoring
//   at least `threshold`), speech that goes on without a pause still holds the segment, for at
//   most `holdOther` frames after the last target frame. Past that it is taken for a speaker
//   change: the held frames are dropped and the trailing stretch counts from the last target
//   frame (so the segment closes at once). A pause shorter than the trailing stretch does not end
//   a hold already under way (the model rarely finds the target again after a pause): the hold
//   goes on into the next run, still bounded by `holdOther` after the last target frame.
// - at the start of another speaker's run it keeps saying "target" for a while. So a run that
//   starts after a pause inside the segment (or the opening run before it has `holdMinTarget`
//   target frames) and then scores other speech above 0.5 for `switchFrames` consecutive frames is
//   another speaker's: the trailing stretch counts from the end of the run before it.
// holdOther = 0 and switchFrames = 0 turn both off (plain trailing silence on the target score).

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
  /** non-speech frames that end a speech run (speaker turns, mode target) */
  pauseFrames: number;
  /** opening run: other-speech frames after the last target frame that still hold (0: off) */
  holdOtherFrames: number;
  /** opening run: target frames needed before holdOtherFrames applies */
  holdMinTargetFrames: number;
  /** later runs: consecutive other-speech frames that make the run another speaker's (0: off) */
  switchFrames: number;
}

export interface SegmenterConfig {
  pre_roll_ms: number;
  trailing_ms: number;
  max_segment_ms: number;
  min_speech_ms: number;
  listen_timeout_ms: number;
  pause_ms: number;
  hold_other_ms: number;
  hold_min_target_ms: number;
  switch_ms: number;
}

export function segmenterOptionsFromConfig(vad: { mode: 'target' | 'any'; threshold: number; close_threshold: number }, seg: SegmenterConfig): SegmenterOptions {
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
    pauseFrames: frames(seg.pause_ms),
    holdOtherFrames: Math.round(seg.hold_other_ms / FRAME_MS),
    holdMinTargetFrames: Math.round(seg.hold_min_target_ms / FRAME_MS),
    switchFrames: Math.round(seg.switch_ms / FRAME_MS),
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

/** A stretch of speech inside an open segment, between pauses (speaker turns). */
interface Run {
  /** the run that opened the segment (or the first one after listen()) */
  opening: boolean;
  /** the segment's speech end (exclusive) before this run began */
  prevEnd: number;
  /** frames scoring at least `threshold` on the target score */
  targetFrames: number;
  /** exclusive end of the run's last target frame (-1: none yet) */
  lastTargetEnd: number;
  /** consecutive frames with p(other speech) above 0.5 */
  otherRun: number;
  /** other speech continuing this run holds the segment */
  holding: boolean;
  /** judged: holding was granted or the run was dropped */
  decided: boolean;
}

/** Any voice's speech score at or below this is non-speech for the speaker-turn runs (0.5 and 0.8
 * measured too: 0.7 holds other speakers who answer within 100 ms less, for the same cuts). */
const VOICE_THRESHOLD = 0.7;
/** p(other speech) above this is a confident "other" frame. */
const OTHER_THRESHOLD = 0.5;

export class Segmenter {
  private frame = 0; // index of the next frame
  private run = 0; // consecutive speech frames while idle
  private open: { start: number; speechStart: number; lastSpeechEnd: number; forced: boolean; heardSpeech: boolean } | null = null;
  private silence = 0;
  private continueAt = -1;
  private readonly turns: boolean;
  private turn: Run | null = null;
  private pause = 0; // consecutive non-speech frames (any voice) inside a segment

  constructor(readonly opts: SegmenterOptions) {
    this.turns = opts.mode === 'target' && (opts.holdOtherFrames > 0 || opts.switchFrames > 0);
  }

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
        this.startTurns(i, 1);
        events.push({ type: 'open', startFrame: i, speechStartFrame: i, forced: false });
        return events;
      }
      if (this.run >= this.opts.minSpeechFrames) {
        const speechStart = i + 1 - this.run;
        const start = Math.max(0, speechStart - this.opts.preRollFrames);
        this.open = { start, speechStart, lastSpeechEnd: i + 1, forced: false, heardSpeech: true };
        this.silence = 0;
        this.startTurns(speechStart, this.run);
        this.run = 0;
        events.push({ type: 'open', startFrame: start, speechStartFrame: speechStart, forced: false });
      }
      return events;
    }
    const seg = this.open;
    let run: Run | null = null;
    const voice = 1 - ns > VOICE_THRESHOLD;
    if (this.turns) {
      if (!voice) {
        // a pause ends the run, except while the run is being held through "other" speech
        if (++this.pause >= this.opts.pauseFrames && !(this.turn?.holding && seg.lastSpeechEnd > this.turn.lastTargetEnd)) this.turn = null;
      } else {
        this.pause = 0;
        this.turn ??= { opening: !seg.heardSpeech, prevEnd: seg.lastSpeechEnd, targetFrames: 0, lastTargetEnd: -1, otherRun: 0, holding: false, decided: false };
      }
      run = this.turn;
    }
    if (isSpeech) {
      if (!seg.heardSpeech) seg.speechStart = i;
      seg.lastSpeechEnd = i + 1;
      seg.heardSpeech = true;
      this.silence = 0;
      if (run) {
        run.lastTargetEnd = i + 1;
        if (score >= this.opts.threshold) run.targetFrames++;
      }
    } else {
      this.silence++;
    }
    if (run) this.judgeRun(run, seg, i, isSpeech, voice, ntss);
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

  /** Speaker-turn state for a segment opened by a burst of `targetFrames` frames from `speechStart`. */
  private startTurns(speechStart: number, targetFrames: number): void {
    this.pause = 0;
    this.turn = this.turns ? { opening: true, prevEnd: speechStart, targetFrames, lastTargetEnd: this.frame, otherRun: 0, holding: false, decided: false } : null;
  }

  /** Holds the segment through other speech continuing the opening run, or drops a run that turns out to be another speaker's. */
  private judgeRun(run: Run, seg: NonNullable<Segmenter['open']>, i: number, isSpeech: boolean, voice: boolean, ntss: number): void {
    const o = this.opts;
    run.otherRun = ntss > OTHER_THRESHOLD ? run.otherRun + 1 : 0;
    if (run.opening && !run.decided && o.holdOtherFrames > 0 && run.lastTargetEnd >= 0 && run.targetFrames >= o.holdMinTargetFrames) {
      run.holding = true;
      run.decided = true;
    }
    const drop = (end: number) => {
      // the run (or its tail) was another speaker: the segment's speech ended at `end`
      seg.lastSpeechEnd = Math.min(seg.lastSpeechEnd, end);
      this.silence = i + 1 - Math.max(seg.lastSpeechEnd, seg.speechStart);
    };
    if (run.holding) {
      if (voice && !isSpeech) {
        if (i + 1 - run.lastTargetEnd <= o.holdOtherFrames) {
          seg.lastSpeechEnd = i + 1;
          this.silence = 0;
        } else {
          run.holding = false;
          drop(run.lastTargetEnd);
        }
      }
    } else if (o.switchFrames > 0 && !run.decided && run.otherRun >= o.switchFrames) {
      run.decided = true;
      drop(run.prevEnd);
    }
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
    this.turn = null; // the first run with speech is the opening one
    this.pause = 0;
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
    this.turn = null;
    return [{ type: 'close', startFrame: seg.start, endFrame, speechStartFrame: seg.speechStart, speechEndFrame: Math.max(seg.lastSpeechEnd, seg.speechStart), reason }];
  }
}

