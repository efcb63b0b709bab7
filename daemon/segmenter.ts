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
// holdOther = 0 and switchFrames = 0 turn both off (a plain trailing stretch on the target score).
//
// Speaker check (`check`; segmenter.speaker_check, on by default, acts only with a profile): frame
// posteriors alone cannot tell the model losing the target mid-utterance from a real speaker
// change. With the check on, when a rule above
// would drop speech as another speaker's (a hold running out; with `check.onSwitch`, a switch too),
// the segmenter keeps holding and asks for a check instead: a 'check' event naming the run's
// disputed audio (from the last target frame, or the run's start for a switch, at most
// `check.windowFrames` back, at least `check.minFrames`, waiting for that much speech if needed).
// The owner embeds that audio with the speaker encoder and answers with checked(id, cosine with
// the best-matching profile). At least `check.threshold`: it is still the enrolled speaker, the run
// holds as if the target had spoken up to the checked audio's end (so the next check comes at
// most once per hold). Below it (or null: no score): the rule applies as it would have, the
// segment closing at once when the trailing stretch has passed. A run gets one failed check, except
// that a near miss (at least `check.recheckFloor`) on a run still speaking is looked at once more,
// `check.recheckFrames` later, on the longer audio: short pieces are what the encoder gets wrong.
// What the check and its second look gain and cost (cuts, turn latency) is measured in
// models/PVAD_CARD.md, "End of segment"; most of the gain comes from checking switches, which is
// also what holds other speakers longer.
//
// Sentence end (`sentenceGuardFrames`; segmenter.sentence_guard_ms, acts with sentence files or a
// model with an end-of-utterance head):
// a little before the trailing stretch reaches the guard, the segmenter asks its owner
// (takeSentenceQuery()) whether the restricted search's best hypothesis is a sentence that nothing
// can continue; the answer comes back asynchronously (sentenceState()). If so, the segment closes
// once the trailing stretch reaches the guard instead of its full length ("turn on the kitchen
// lights" cannot go on); "set a timer for" is no sentence, so a stretch after it runs its full
// length as before, or with `incompleteTrailingFrames` (segmenter.sentence_incomplete_ms) that much
// longer when the answer is that what was said so far begins a sentence and fits the audio (the
// speaker stopped mid-command: natural pauses there are longer). An answer about an earlier stretch
// is ignored. Silence stays the fallback. Without a sentence that decides, the model's
// end-of-utterance head answers the same question ('end_of_utterance': done; 'incomplete': not done).
//
// Each close says which rule made it (`reason`, the transcript's closed_by): silence, speaker_change
// (the trailing stretch counted from speech the speaker-turn rules gave to another voice),
// sentence_complete, end_of_utterance, max_length, listen_timeout, stop, end_of_input.

export interface SegmenterOptions {
  mode: 'target' | 'any';
  /** a frame opens (counts towards min_speech) when its score is at least this */
  threshold: number;
  /** inside a segment, a frame holds it open when its score is above this (hysteresis) */
  closeThreshold: number;
  preRollFrames: number;
  /** the trailing stretch (frames in which no speech holds the segment) that closes it */
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
  /** speaker check before dropping speech as another speaker's (null: off) */
  check?: SpeakerCheckOptions | null;
  /** trailing stretch after which a complete sentence (sentenceState) closes the segment (0: off) */
  sentenceGuardFrames?: number;
  /** trailing stretch that closes the segment after the beginning of a sentence (sentenceState 'incomplete'; 0: trailingFrames) */
  incompleteTrailingFrames?: number;
  /** an undecided answer ('none') is asked again this many frames later in the same stretch (0:
   * once a stretch): the end-of-utterance head grows surer as the quiet goes on */
  reaskFrames?: number;
}

export interface SpeakerCheckOptions {
  /** cosine with the enrolled profile at or above which the disputed speech is the target's */
  threshold: number;
  /** longest audio checked (the most recent part of the disputed speech) */
  windowFrames: number;
  /** least audio checked: shorter disputed speech is checked with the run's speech before it, or waited for */
  minFrames: number;
  /** check a switch (a run turning out to be another voice) too, not only a hold running out */
  onSwitch: boolean;
  /** a failed check scoring at least this is asked again once, recheckFrames later (>= threshold: never) */
  recheckFloor: number;
  /** how much more audio the second look waits for */
  recheckFrames: number;
}

/** Variants of the speaker check that bench/pvad_segments.py measures against the shipped rule; no
 * configuration key sets them. */
export interface SpeakerCheckVariants {
  /** check the run's speech before the disputed part too (up to windowFrames), not only the disputed part */
  wholeRun?: boolean;
  /** check switches only in the run that opened the segment (a later run, after a pause, is dropped at once) */
  switchOpeningOnly?: boolean;
}

/** The recognizer's answer about a trailing stretch: what was said is a sentence nothing can
 * continue ('complete'), the model's end-of-utterance head says the speaker is done
 * ('end_of_utterance'), what was said begins a sentence that fits the audio or the head says the
 * speaker is not done ('incomplete'), or neither. */
export type SentenceState = 'complete' | 'end_of_utterance' | 'incomplete' | 'none';

export type CloseReason =
  'silence' | 'speaker_change' | 'sentence_complete' | 'end_of_utterance' | 'max_length' | 'listen_timeout' | 'stop' | 'end_of_input';

export type SegmentEvent =
  | {
      type: 'open';
      /** first frame of the segment (pre-roll included) */ startFrame: number;
      /** first speech frame */ speechStartFrame: number;
      forced: boolean;
    }
  | {
      type: 'close';
      startFrame: number;
      /** exclusive: the frame after the last one fed to the segment */
      endFrame: number;
      speechStartFrame: number;
      /** exclusive end of the last speech frame */
      speechEndFrame: number;
      reason: CloseReason;
    }
  | {
      /** speaker check: embed the audio of frames [fromFrame, toFrame) and answer with checked(id, score) */
      type: 'check';
      id: number;
      fromFrame: number;
      toFrame: number;
    };

/** The speech score a frame's posteriors [ns, tss, ntss] give in this mode. */
export function speechScore(mode: 'target' | 'any', ns: number, tss: number, ntss: number): number {
  return mode === 'target' ? tss : tss + ntss;
}

/** A stretch of speech inside an open segment, between pauses (speaker turns). */
interface Run {
  /** the run that opened the segment (or the first one after listen()) */
  opening: boolean;
  /** first frame of the run */
  start: number;
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
  /** a speaker check is due or pending: the run holds until it is answered */
  verify: { id: number; from: number; to: number; dropEnd: number; dueAt: number } | null;
  /** a speaker check said this run is not the target's */
  failed: boolean;
  /** the run had its second look */
  rechecked: boolean;
}

/** Any voice's speech score at or below this is non-speech for the speaker-turn runs: a pause need
 * not be clean silence (models/PVAD_CARD.md, "Speaker turns", compares the choices). */
const VOICE_THRESHOLD = 0.7;
/** p(other speech) above this is a confident "other" frame. */
const OTHER_THRESHOLD = 0.5;
/** A trailing stretch is asked about this many frames before it reaches the sentence guard: the
 * recognizer's look-ahead decode (RecognizerStream.peek) takes a few ms, longer on a busy core. */
const SENTENCE_ASK_LEAD = 5;

/** A run of speech inside a segment, not yet judged. */
function newRun(opening: boolean, start: number, prevEnd: number, targetFrames: number, lastTargetEnd: number): Run {
  return {
    opening,
    start,
    prevEnd,
    targetFrames,
    lastTargetEnd,
    otherRun: 0,
    holding: false,
    decided: false,
    verify: null,
    failed: false,
    rechecked: false,
  };
}

export class Segmenter {
  private frame = 0; // index of the next frame
  private run = 0; // consecutive speech frames while idle
  private open: { start: number; speechStart: number; lastSpeechEnd: number; forced: boolean; heardSpeech: boolean } | null = null;
  /** frames since the last speech that holds the segment: the trailing stretch so far */
  private trailing = 0;
  private continueAt = -1;
  private readonly turns: boolean;
  private turn: Run | null = null;
  private pause = 0; // consecutive non-speech frames (any voice) inside a segment
  private checkSeq = 0;
  /** the speaker-turn rules dropped speech since the target last spoke: the stretch closes as speaker_change */
  private dropped = false;
  /** trailing stretches so far: names the one a sentence query is about */
  private trailingSeq = 0;
  /** the stretch the last query was about (-1: none asked in this stretch) and its answer */
  private asked = -1;
  /** the trailing stretch's length at the last query, and whether its answer has come */
  private askedAt = 0;
  private answered = false;
  /** the answer says the speaker is done: closes at the guard, as this reason */
  private doneBy: 'sentence_complete' | 'end_of_utterance' | null = null;
  private sentenceOpen = false;

  constructor(
    readonly opts: SegmenterOptions,
    private readonly variants: SpeakerCheckVariants = {},
  ) {
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
        this.trailing = 0;
        this.run = 0;
        this.startTurns(i, 1);
        events.push({ type: 'open', startFrame: i, speechStartFrame: i, forced: false });
        return events;
      }
      if (this.run >= this.opts.minSpeechFrames) {
        const speechStart = i + 1 - this.run;
        const start = Math.max(0, speechStart - this.opts.preRollFrames);
        this.open = { start, speechStart, lastSpeechEnd: i + 1, forced: false, heardSpeech: true };
        this.trailing = 0;
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
        if (
          ++this.pause >= this.opts.pauseFrames &&
          !(this.turn?.holding && seg.lastSpeechEnd > this.turn.lastTargetEnd) &&
          !this.turn?.verify
        )
          this.turn = null;
      } else {
        this.pause = 0;
        this.turn ??= newRun(!seg.heardSpeech, i, seg.lastSpeechEnd, 0, -1);
      }
      run = this.turn;
    }
    if (isSpeech) {
      if (!seg.heardSpeech) seg.speechStart = i;
      seg.lastSpeechEnd = i + 1;
      seg.heardSpeech = true;
      this.trailing = 0;
      this.dropped = false;
      this.doneBy = null; // the next trailing stretch is asked about afresh
      this.sentenceOpen = false;
      if (run) {
        run.lastTargetEnd = i + 1;
        if (score >= this.opts.threshold) run.targetFrames++;
      }
    } else {
      if (this.trailing++ === 0) this.trailingSeq++;
    }
    if (run) this.judgeRun(run, seg, i, isSpeech, voice, ntss, events);
    if (seg.forced && !seg.heardSpeech && i + 1 - seg.speechStart >= this.opts.listenTimeoutFrames) {
      events.push(...this.close(i + 1, 'listen_timeout'));
    } else if (seg.heardSpeech && this.trailing >= this.trailingLimit()) {
      events.push(...this.close(i + 1, this.dropped ? 'speaker_change' : 'silence'));
    } else if (
      this.doneBy &&
      seg.heardSpeech &&
      this.opts.sentenceGuardFrames &&
      this.trailing >= this.opts.sentenceGuardFrames &&
      !run?.verify
    ) {
      events.push(...this.close(i + 1, this.doneBy));
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
    this.turn = this.turns ? newRun(true, speechStart, speechStart, targetFrames, this.frame) : null;
  }

  /** Holds the segment through other speech continuing the opening run, or drops a run that turns out to be another speaker's. */
  private judgeRun(
    run: Run,
    seg: NonNullable<Segmenter['open']>,
    i: number,
    isSpeech: boolean,
    voice: boolean,
    ntss: number,
    events: SegmentEvent[],
  ): void {
    const o = this.opts;
    const check = o.check;
    run.otherRun = ntss > OTHER_THRESHOLD ? run.otherRun + 1 : 0;
    if (run.verify) {
      // a speaker check is due or pending: speech holds the segment until it is answered
      if (voice && !isSpeech) {
        seg.lastSpeechEnd = i + 1;
        this.trailing = 0;
      }
      // a second look is due after more audio, or now if the run has stopped
      const due = i + 1 >= run.verify.dueAt || (!voice && this.pause >= o.pauseFrames);
      if (run.verify.id < 0 && check && due && i + 1 - run.start >= check.minFrames) this.requestCheck(run, i + 1, events);
      return;
    }
    // a rule is about to drop speech as another speaker's: check who it is first
    const verify = (dropEnd: number, from: number) => {
      run.verify = { id: -1, from, to: -1, dropEnd, dueAt: -1 };
      run.holding = false;
      run.decided = true;
      if (voice && !isSpeech) {
        seg.lastSpeechEnd = i + 1;
        this.trailing = 0;
      }
      if (i + 1 - run.start >= check!.minFrames) this.requestCheck(run, i + 1, events);
    };
    if (run.opening && !run.decided && o.holdOtherFrames > 0 && run.lastTargetEnd >= 0 && run.targetFrames >= o.holdMinTargetFrames) {
      run.holding = true;
      run.decided = true;
    }
    const drop = (end: number) => {
      // the run (or its tail) was another speaker: the segment's speech ended at `end`
      seg.lastSpeechEnd = Math.min(seg.lastSpeechEnd, end);
      this.trailing = i + 1 - Math.max(seg.lastSpeechEnd, seg.speechStart);
      this.dropped = true;
    };
    if (run.holding) {
      if (voice && !isSpeech) {
        if (i + 1 - run.lastTargetEnd <= o.holdOtherFrames) {
          seg.lastSpeechEnd = i + 1;
          this.trailing = 0;
        } else if (check && !run.failed) {
          verify(run.lastTargetEnd, run.lastTargetEnd);
        } else {
          run.holding = false;
          drop(run.lastTargetEnd);
        }
      }
    } else if (o.switchFrames > 0 && !run.decided && run.otherRun >= o.switchFrames) {
      if (check?.onSwitch && !run.failed && (run.opening || !this.variants.switchOpeningOnly)) {
        verify(run.prevEnd, run.start);
        return;
      }
      run.decided = true;
      drop(run.prevEnd);
    }
  }

  private requestCheck(run: Run, to: number, events: SegmentEvent[]): void {
    const c = this.opts.check!;
    const v = run.verify!;
    // the disputed speech (or the whole run), its last windowFrames; at least minFrames of the run
    let from = Math.max(this.variants.wholeRun ? run.start : v.from, to - c.windowFrames);
    if (to - from < c.minFrames) from = Math.max(run.start, to - c.minFrames);
    v.id = this.checkSeq++;
    v.from = from;
    v.to = to;
    events.push({ type: 'check', id: v.id, fromFrame: from, toFrame: to });
  }

  /** A speaker check is pending (its answer is awaited). */
  get checkPending(): boolean {
    return (this.turn?.verify?.id ?? -1) >= 0;
  }

  /**
   * The answer to a 'check' event: the cosine of the checked audio's embedding with the best
   * matching profile (null: no score). A stale answer (the segment closed meanwhile) is ignored.
   * Returns the close event when the check drops the speech and the trailing stretch has passed.
   */
  checked(id: number, score: number | null): SegmentEvent[] {
    const run = this.turn;
    const seg = this.open;
    const v = run?.verify;
    if (!seg || !run || !v || v.id !== id) return [];
    run.verify = null;
    const c = this.opts.check!;
    if (score !== null && score >= c.threshold) {
      // still the enrolled speaker: hold as if the target spoke up to the end of the checked audio
      run.holding = true;
      run.lastTargetEnd = Math.max(run.lastTargetEnd, v.to);
      return [];
    }
    if (score !== null && score >= c.recheckFloor && !run.rechecked && c.recheckFrames > 0) {
      // a near miss: hold on and look again at more of the same speech
      run.rechecked = true;
      run.verify = { ...v, id: -1, to: -1, dueAt: this.frame + c.recheckFrames };
      return [];
    }
    run.failed = true;
    // the model found the target again while the check ran: the speech up to there stays
    const end = run.lastTargetEnd > v.to ? run.lastTargetEnd : v.dropEnd;
    if (end === run.lastTargetEnd && run.lastTargetEnd > v.to) run.holding = true;
    seg.lastSpeechEnd = Math.min(seg.lastSpeechEnd, end);
    this.trailing = this.frame - Math.max(seg.lastSpeechEnd, seg.speechStart);
    this.dropped = true;
    if (seg.heardSpeech && this.trailing >= this.opts.trailingFrames) return this.close(this.frame, 'speaker_change');
    return [];
  }

  /**
   * The trailing stretch to ask the recognizer about, once per stretch, SENTENCE_ASK_LEAD frames
   * before it reaches the guard (the answer takes a few ms); null when nothing is to be asked now.
   * The owner answers with sentenceState(id, state).
   */
  takeSentenceQuery(): number | null {
    const guard = this.opts.sentenceGuardFrames ?? 0;
    if (guard <= 0 || !this.open?.heardSpeech) return null;
    if (this.asked === this.trailingSeq) {
      // asked already: again only after an undecided answer, reaskFrames on
      const reask = this.opts.reaskFrames ?? 0;
      if (!reask || !this.answered || this.doneBy || this.sentenceOpen || this.trailing < this.askedAt + reask) return null;
    } else if (this.trailing < Math.max(1, guard - SENTENCE_ASK_LEAD)) return null;
    this.asked = this.trailingSeq;
    this.askedAt = this.trailing;
    this.answered = false;
    return this.trailingSeq;
  }

  /**
   * The answer to takeSentenceQuery(): on the audio up to that trailing stretch, the recognizer's
   * best hypothesis is a sentence that nothing can continue ('complete': closes the segment now if
   * the stretch has reached the guard meanwhile, else push() does when it does), the beginning of
   * one ('incomplete': the stretch may last incompleteTrailingFrames), or neither. Ignored when the
   * stretch is over or the segment closed.
   */
  sentenceState(id: number, state: SentenceState): SegmentEvent[] {
    const seg = this.open;
    if (!seg || id !== this.trailingSeq || this.trailing === 0) return [];
    this.answered = true;
    this.doneBy = state === 'complete' ? 'sentence_complete' : state === 'end_of_utterance' ? 'end_of_utterance' : null;
    this.sentenceOpen = state === 'incomplete';
    if (
      this.doneBy &&
      this.trailing >= (this.opts.sentenceGuardFrames ?? 0) &&
      !this.turn?.verify &&
      this.trailing < this.opts.trailingFrames
    )
      return this.close(this.frame, this.doneBy);
    return [];
  }

  /** The trailing stretch that closes the segment now: longer after the beginning of a sentence,
   * unless the speaker-turn rules dropped speech (a speaker change is no pause to wait through). */
  private trailingLimit(): number {
    const longer = this.sentenceOpen && !this.dropped ? (this.opts.incompleteTrailingFrames ?? 0) : 0;
    return Math.max(this.opts.trailingFrames, longer);
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
    this.trailing = 0;
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
    this.trailing = 0;
    this.turn = null;
    this.dropped = false;
    this.doneBy = null;
    this.sentenceOpen = false;
    this.asked = -1;
    return [
      {
        type: 'close',
        startFrame: seg.start,
        endFrame,
        speechStartFrame: seg.speechStart,
        speechEndFrame: Math.max(seg.lastSpeechEnd, seg.speechStart),
        reason,
      },
    ];
  }
}
