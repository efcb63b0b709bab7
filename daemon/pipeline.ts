// The frame pipeline: audio -> personal VAD (one stream per enrolled profile, or one plain VAD
// stream) -> segmenter -> streaming recognizer -> 'final' events. The recognizer is fed while the
// segment is open, so at close only the last chunk remains to decode. pVAD accept() is small
// synchronous work; recognition and speaker embedding run on the addon's native threads.
import { EventEmitter } from 'node:events';
import { childLogger } from './log.js';
import type { LoadedSpeakerEncoder } from './models.js';
import type {
  DecodeResult,
  PvadModel,
  PvadStream,
  RecognizerOptions,
  RecognizerStream,
  SpeakerEncoder,
  TokenInfo,
  TransducerModel,
} from './native.js';
import { cosine, type Profile } from './profiles.js';
import type { EndOfUtterance } from './recognizer-options.js';
import { resolveIntent, sentenceAccepted, streamOptions, type SentenceRecognizer } from './intents.js';
import type { IntentMatch } from './sentences.js';
import { Segmenter, type CloseReason, type SegmentEvent, type SegmenterOptions, type SentenceState } from './segmenter.js';
import { frameAtOrAfter, frameToSample, mostTarget, Posteriors, rebaseSeconds, SAMPLE_RATE } from './frames.js';

const log = childLogger('pipeline');
/** silence after the audio in the sentence-end look-ahead: enough for the model's last tokens,
 * which a streaming model emits some frames after their audio (finalize() pads more, to be sure) */
const SENTENCE_PEEK_PAD_MS = 300;
/** speaker embeddings of shorter speech are too noisy to report */
const MIN_EMBED_SAMPLES = SAMPLE_RATE / 2;

export interface SpeakerMatch {
  name: string;
  score: number;
}

/**
 * Cosine of the speech's embedding (the speaker encoder, on a native thread) with each profile,
 * best first; none when there is no encoder, no profile, or less than `minSamples` of audio.
 * The one place the daemon scores speakers: transcripts' `speaker_scores` and the segmenter's
 * speaker check (bench/pvad_segments.py uses it too).
 */
export async function scoreSpeakers(
  encoder: SpeakerEncoder | undefined,
  profiles: Profile[],
  speech: Float32Array,
  minSamples = MIN_EMBED_SAMPLES,
): Promise<SpeakerMatch[]> {
  if (!encoder || profiles.length === 0 || speech.length < minSamples) return [];
  const emb = await encoder.embed(speech);
  return profiles.map((p) => ({ name: p.name, score: cosine(emb, p.embedding) })).sort((a, b) => b.score - a.score);
}

/** Whether a closed segment is worth transcribing: one the VAD opened whose speech the speaker-turn
 * rules all dropped as another speaker's holds no target speech. */
export function hasTargetSpeech(ev: { forced: boolean; speechStartFrame: number; speechEndFrame: number }): boolean {
  return ev.forced || ev.speechEndFrame > ev.speechStartFrame;
}

export interface SegmentInfo {
  index: number;
  startFrame: number;
  speechStartFrame: number;
  forced: boolean;
}

export interface FinalSegment extends SegmentInfo {
  endFrame: number;
  speechEndFrame: number;
  reason: CloseReason;
  text: string;
  /** token start times in seconds from the start of the stream */
  tokens: TokenInfo[];
  speaker: SpeakerMatch | null;
  scores: SpeakerMatch[];
  /** with sentences: the matched intent, or null (text is then the unrestricted decoding) */
  intent?: IntentMatch | null;
  /** performance.now() when the segmenter closed the segment and when the text was final */
  closedAt: number;
  finalAt: number;
  model: string;
}

export interface PipelineEvents {
  open: [info: SegmentInfo];
  close: [info: SegmentInfo & { endFrame: number; speechEndFrame: number; reason: CloseReason }];
  final: [segment: FinalSegment];
  partial: [partial: { index: number; text: string }];
  error: [err: Error];
}

export interface PipelineModels {
  transducer: TransducerModel;
  pvad: PvadModel;
  speakerEncoder?: LoadedSpeakerEncoder;
}

export interface PipelineOptions {
  segmenter: SegmenterOptions;
  recognizer?: RecognizerOptions;
  /** decode restricted to sentence files too (daemon/intents.ts) */
  sentences?: SentenceRecognizer;
  /** the model's end-of-utterance head answers pauses that no sentence decides */
  endOfUtterance?: EndOfUtterance;
  profiles: Profile[];
  partials?: boolean;
  partialIntervalMs?: number;
}

/** Growable sample store addressed by absolute sample index, trimmed from the front. */
class SampleStore {
  private data = new Float32Array(SAMPLE_RATE * 4);
  private start = 0; // absolute index of data[0]
  private length = 0;

  get end(): number {
    return this.start + this.length;
  }

  append(samples: Float32Array): void {
    if (this.length + samples.length > this.data.length) {
      const grown = new Float32Array(Math.max(this.data.length * 2, this.length + samples.length));
      grown.set(this.data.subarray(0, this.length));
      this.data = grown;
    }
    this.data.set(samples, this.length);
    this.length += samples.length;
  }

  /** A copy of the samples [from, to). */
  slice(from: number, to: number): Float32Array {
    const a = Math.max(from, this.start) - this.start;
    const b = Math.min(to, this.end) - this.start;
    return b > a ? this.data.slice(a, b) : new Float32Array(0);
  }

  /** The samples [from, to) without a copy: valid only until the next append or trim (for the
   * engine's synchronous calls, which copy what they keep). At 100 pieces a second, a copy each
   * is garbage that only a scavenge frees, and it is malloc'd outside V8's heap. */
  view(from: number, to: number): Float32Array {
    const a = Math.max(from, this.start) - this.start;
    const b = Math.min(to, this.end) - this.start;
    return this.data.subarray(a, Math.max(a, b));
  }

  reset(at: number): void {
    this.start = at;
    this.length = 0;
  }

  trimBefore(index: number): void {
    const drop = Math.min(this.length, Math.max(0, index - this.start));
    if (drop < SAMPLE_RATE) return; // amortize the copy
    this.data.copyWithin(0, drop, this.length);
    this.length -= drop;
    this.start += drop;
  }
}

interface OpenSegment extends SegmentInfo {
  stream: RecognizerStream;
  fedUntil: number; // absolute sample index
  lastPartial: string;
}

export class Pipeline extends EventEmitter<PipelineEvents> {
  readonly segmenter: Segmenter;
  private readonly pvadStreams: PvadStream[];
  private readonly audio = new SampleStore();
  private total = 0; // samples received
  private pvadFed = 0; // absolute sample index fed to the pVAD streams
  private nextFrame = 0; // absolute frame index of the next posterior
  private open: OpenSegment | undefined;
  private segmentCount = 0;
  private finals: Promise<void> = Promise.resolve();
  private pendingFinals = 0;
  private readonly pendingSince: number[] = [];
  private partialTimer: NodeJS.Timeout | undefined;
  private mutedFlag = false;
  private checking: Promise<void> = Promise.resolve();
  /** speaker checks run (the segmenter's speaker check), for logs and benchmarks */
  checksRun = 0;
  /** sentence-end questions asked of the recognizer (segmenter.sentence_guard_ms) */
  sentenceAsks = 0;
  private sentencePending = 0;
  /** frames analysed; the watchdog compares it with the audio that arrived */
  framesProcessed = 0;

  constructor(
    private readonly models: PipelineModels,
    private readonly opts: PipelineOptions,
  ) {
    super();
    // the speaker check needs the speaker encoder and a profile to compare with
    const checks = opts.segmenter.check && models.speakerEncoder && opts.profiles.length > 0;
    this.segmenter = new Segmenter(checks ? opts.segmenter : { ...opts.segmenter, check: null });
    const embeddings = opts.profiles.length ? opts.profiles.map((p) => p.embedding) : [null];
    this.pvadStreams = embeddings.map((e) => models.pvad.createStream(e));
    if (opts.partials) {
      this.partialTimer = setInterval(() => this.emitPartial(), opts.partialIntervalMs ?? 250);
      this.partialTimer.unref();
    }
  }

  get muted(): boolean {
    return this.mutedFlag;
  }

  get samplesReceived(): number {
    return this.total;
  }

  /** samples still waiting for analysis (the pVAD's look-ahead plus anything unprocessed) */
  get backlogSamples(): number {
    return this.total - frameToSample(this.nextFrame);
  }

  get segmentOpen(): boolean {
    return this.open !== undefined;
  }

  push(samples: Float32Array): void {
    this.audio.append(samples);
    this.total += samples.length;
    if (this.mutedFlag) {
      this.audio.trimBefore(this.total - frameToSample(this.opts.segmenter.preRollFrames));
      return;
    }
    if (this.total <= this.pvadFed) return;
    const feed = this.audio.view(this.pvadFed, this.total); // accept() copies it synchronously
    this.pvadFed = this.total;
    const posts = this.pvadStreams.map((s) => new Posteriors(s.accept(feed)));
    let sentenceQuery: number | undefined;
    for (let j = 0; j < posts[0].frames; j++) {
      const frame = this.nextFrame++;
      const best = mostTarget(posts, j);
      for (const q of posts) if (!q.isFinite(j)) return this.restartPvad();
      if (this.segmenter.frames < frame) this.segmenter.advanceTo(frame);
      this.handle(this.segmenter.push(best.nonSpeech(j), best.target(j), best.other(j)));
      if (this.open && (this.opts.sentences || this.opts.endOfUtterance)) sentenceQuery ??= this.segmenter.takeSentenceQuery() ?? undefined;
      this.framesProcessed++;
    }
    if (this.open) this.feedRecognizer(frameToSample(this.nextFrame));
    // asked after the audio is queued, so the look-ahead decode has all of it
    if (this.open && sentenceQuery !== undefined) this.askSentence(this.open, sentenceQuery);
    const keepFrom = this.open
      ? frameToSample(this.open.startFrame)
      : frameToSample(this.nextFrame - this.opts.segmenter.preRollFrames - 2);
    this.audio.trimBefore(keepFrom);
  }

  private handle(events: SegmentEvent[]): void {
    for (const ev of events) {
      if (ev.type === 'open') this.openSegment(ev.startFrame, ev.speechStartFrame, ev.forced);
      else if (ev.type === 'close') this.closeSegment(ev.endFrame, ev.speechEndFrame, ev.speechStartFrame, ev.reason);
      else this.speakerCheck(ev.id, ev.fromFrame, ev.toFrame);
    }
  }

  /** The segmenter asks whether speech the pVAD gives to another voice is the enrolled speaker's:
   * its answer comes when the speaker encoder has embedded it (a few ms on a native thread). */
  private speakerCheck(id: number, fromFrame: number, toFrame: number): void {
    const speech = this.audio.slice(frameToSample(fromFrame), frameToSample(toFrame));
    const started = performance.now();
    this.checksRun++;
    this.checking = this.checking.then(async () => {
      let score: number | null = null;
      try {
        score = (await scoreSpeakers(this.models.speakerEncoder?.encoder, this.opts.profiles, speech, 1))[0]?.score ?? null;
      } catch (err) {
        log.warn({ err: (err as Error).message }, 'speaker check failed');
      }
      log.debug({ fromFrame, toFrame, score, ms: Math.round(performance.now() - started) }, 'speaker check');
      if (!this.mutedFlag) this.handle(this.segmenter.checked(id, score));
    });
  }

  /** Resolves when the speaker checks asked for so far have been answered (offline runs wait for
   * them so that their segments do not depend on the machine's speed). */
  settleChecks(): Promise<void> {
    return this.checking;
  }

  /** a speaker check or a sentence-end question awaits its answer */
  get checkPending(): boolean {
    return this.segmenter.checkPending || this.sentencePending > 0;
  }

  /** A pipeline started mid-stream (reload): frame numbers continue from this sample position. */
  alignTo(samples: number): void {
    this.total = samples;
    this.nextFrame = frameAtOrAfter(samples);
    this.pvadFed = frameToSample(this.nextFrame);
    this.segmenter.advanceTo(this.nextFrame);
    this.audio.reset(samples);
  }

  /** performance.now() of the last time the pVAD gave non-finite scores (-Infinity: never) */
  pvadFaultAt = -Infinity;
  pvadFaults = 0;

  /** A pVAD whose state went non-finite would stay so (deaf for good): close what is open and
   * start its streams again on the next frame boundary, as unmute does; the watchdog is told. */
  private restartPvad(): void {
    this.pvadFaults++;
    this.pvadFaultAt = performance.now();
    log.error({ faults: this.pvadFaults, frame: this.nextFrame }, 'the personal VAD gave non-finite scores: restarting its streams');
    this.finish('stop');
    for (const s of this.pvadStreams) s.reset();
    this.nextFrame = frameAtOrAfter(this.total);
    this.pvadFed = frameToSample(this.nextFrame);
    this.segmenter.advanceTo(this.nextFrame);
    this.audio.trimBefore(this.total - frameToSample(this.opts.segmenter.preRollFrames));
  }

  /** Opens a segment now, without waiting for the VAD. */
  listen(): void {
    if (this.mutedFlag) return;
    for (const ev of this.segmenter.listen()) if (ev.type === 'open') this.openSegment(ev.startFrame, ev.speechStartFrame, ev.forced);
    if (this.open) this.feedRecognizer(frameToSample(this.nextFrame));
  }

  /** Closes the open segment (stop listening, end of input, shutdown) and transcribes it. */
  finish(reason: CloseReason): void {
    for (const ev of this.segmenter.finish(reason))
      if (ev.type === 'close') this.closeSegment(ev.endFrame, ev.speechEndFrame, ev.speechStartFrame, ev.reason);
  }

  /** End of input: the pVAD's look-ahead frames are not coming, close what is open. */
  endOfInput(): void {
    if (this.open) this.feedRecognizer(this.total);
    this.finish('end_of_input');
  }

  mute(): void {
    if (this.mutedFlag) return;
    this.finish('stop');
    this.mutedFlag = true;
  }

  unmute(): void {
    if (!this.mutedFlag) return;
    this.mutedFlag = false;
    // Restart the pVAD on a frame boundary so its frame numbers stay aligned with the audio.
    for (const s of this.pvadStreams) s.reset();
    this.nextFrame = frameAtOrAfter(this.total);
    this.pvadFed = frameToSample(this.nextFrame);
    // The segmenter skips the muted audio now: a listen() before the next audio opens its segment here.
    this.segmenter.advanceTo(this.nextFrame);
  }

  /** Resolves when every closed segment's final result has been emitted. */
  drain(): Promise<void> {
    return this.finals;
  }

  /** ms the oldest closed segment has been waiting for its final text (0 when none) */
  oldestPendingMs(now = performance.now()): number {
    return this.pendingSince.length ? now - this.pendingSince[0] : 0;
  }

  get pendingFinalCount(): number {
    return this.pendingFinals;
  }

  dispose(): void {
    clearInterval(this.partialTimer);
  }

  private openSegment(startFrame: number, speechStartFrame: number, forced: boolean): void {
    const sentences = this.opts.sentences;
    const stream = this.models.transducer.createStream(
      sentences ? { ...this.opts.recognizer, ...streamOptions(sentences) } : this.opts.recognizer,
    );
    const index = this.segmentCount++;
    this.open = { index, startFrame, speechStartFrame, forced, stream, fedUntil: frameToSample(startFrame), lastPartial: '' };
    log.debug({ segment: index, startFrame, forced }, 'segment open');
    this.emit('open', { index, startFrame, speechStartFrame, forced });
  }

  private feedRecognizer(until: number): void {
    const seg = this.open!;
    const upto = Math.min(until, this.total);
    if (upto <= seg.fedUntil) return;
    seg.stream.acceptWaveform(this.audio.view(seg.fedUntil, upto)); // copied into the stream's queue
    seg.fedUntil = upto;
  }

  private closeSegment(endFrame: number, speechEndFrame: number, speechStartFrame: number, reason: CloseReason): void {
    const seg = this.open;
    if (!seg) return;
    this.feedRecognizer(Math.min(frameToSample(endFrame), this.total));
    this.open = undefined;
    const closedAt = performance.now();
    const info = { index: seg.index, startFrame: seg.startFrame, speechStartFrame, forced: seg.forced, endFrame, speechEndFrame, reason };
    log.debug(info, 'segment closed');
    this.emit('close', info);
    if (!hasTargetSpeech(info)) {
      // the speaker-turn rules gave all of its speech to another voice: nothing to transcribe
      log.debug({ segment: seg.index }, 'segment without target speech: not transcribed');
      seg.stream.dispose();
      return;
    }
    const decoding = seg.stream.finalize();
    const speechAudio = this.audio.slice(frameToSample(speechStartFrame), frameToSample(speechEndFrame));
    const matching = this.matchSpeaker(speechAudio);
    this.pendingFinals++;
    this.pendingSince.push(closedAt);
    // Results are emitted in segment order even if a later one finishes decoding first.
    this.finals = this.finals.then(async () => {
      try {
        const [result, match] = await Promise.all([decoding, matching]);
        const said = this.opts.sentences ? resolveIntent(this.opts.sentences, result) : null;
        const tokens = said?.intent && result.sentence ? result.sentence.tokens : result.tokens;
        this.emit('final', {
          ...info,
          text: said ? said.text : result.text,
          ...(said ? { intent: said.intent } : {}),
          tokens: tokens.map((t) => ({
            text: t.text,
            start: rebaseSeconds(t.start, seg.startFrame, 0),
            conf: Math.round(t.conf * 1000) / 1000,
          })),
          speaker: match.best,
          scores: match.scores,
          closedAt,
          finalAt: performance.now(),
          model: this.models.transducer.info.name,
        });
      } catch (err) {
        log.error({ segment: seg.index, err: (err as Error).message }, 'decoding a segment failed');
        this.emit('error', err as Error);
      } finally {
        this.pendingFinals--;
        this.pendingSince.shift();
        seg.stream.dispose();
      }
    });
  }

  private async matchSpeaker(speech: Float32Array): Promise<{ best: SpeakerMatch | null; scores: SpeakerMatch[] }> {
    const scores = (await scoreSpeakers(this.models.speakerEncoder?.encoder, this.opts.profiles, speech)).map((s) => ({
      name: s.name,
      score: Math.round(s.score * 1000) / 1000,
    }));
    return { best: scores[0] ?? null, scores };
  }

  /** The segmenter asks, in a trailing stretch, whether the speech so far is a sentence nothing can
   * continue and that will count as a match (its score at least the sentences' minimum), or the
   * beginning of one that fits the audio as well; when no sentence decides, the model's
   * end-of-utterance head answers whether the speaker is done. The stream's look-ahead decode
   * answers (silence padding brings out the last word's tokens, which a streaming model emits some
   * frames late); the answer is handed back when it comes. */
  private askSentence(seg: OpenSegment, id: number): void {
    this.sentenceAsks++;
    const sr = this.opts.sentences;
    const eou = this.opts.endOfUtterance;
    const bySentence = (p: DecodeResult): SentenceState => {
      if (!sr) return 'none';
      // complete, and the sentence that will be taken (the transcript's intent)
      if (p.sentenceComplete === true && sentenceAccepted(sr, p)) return 'complete';
      // the beginning of a sentence, not yet one ("set the porch light to forty" may be all the
      // speaker says), that fits the audio as well as the unrestricted decoding; not inside a
      // wildcard, which fits any speech
      const pre = p.sentencePrefix;
      const covers = pre && (p.text.length ? pre.text.length / p.text.length : 1) >= sr.minCoverage;
      return pre && !pre.wildcard && pre.score >= sr.minScore && covers && pre.text !== p.sentence?.text ? 'incomplete' : 'none';
    };
    const asked = seg.stream.peek(SENTENCE_PEEK_PAD_MS).then(
      (p): SentenceState => {
        const state = bySentence(p);
        if (state !== 'none' || !eou || p.endOfUtterance === undefined) return state;
        if (p.endOfUtterance >= eou.threshold) return 'end_of_utterance';
        return p.endOfUtterance < eou.holdBelow ? 'incomplete' : 'none';
      },
      (): SentenceState => 'none', // the segment closed and its stream went meanwhile
    );
    this.sentencePending++;
    this.checking = this.checking.then(async () => {
      const complete = await asked;
      this.sentencePending--;
      if (this.open === seg && !this.mutedFlag) this.handle(this.segmenter.sentenceState(id, complete));
    });
  }

  private emitPartial(): void {
    const seg = this.open;
    if (!seg) return;
    const { text } = seg.stream.partial();
    if (text && text !== seg.lastPartial) {
      seg.lastPartial = text;
      this.emit('partial', { index: seg.index, text });
    }
  }
}
