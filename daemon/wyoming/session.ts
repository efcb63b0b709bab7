// One Wyoming client connection: describe -> info; transcribe, audio-start, audio-chunk...,
// audio-stop -> transcript {text, context?}. Audio is decoded while it arrives (the recognizer
// stream decodes on a native thread), so at audio-stop only the last chunk is left. Streaming
// sessions also send transcript-start, transcript-chunk (the text added since the last chunk),
// and after the transcript, transcript-stop. Events are handled strictly in order.
import type { Socket } from 'node:net';
import type { Engine } from '../extension.js';
import type { Logger } from '../log.js';
import type { DecodeResult, RecognizerStream } from '../native.js';
import { scoreSpeakers, type SpeakerMatch } from '../pipeline.js';
import { SAMPLE_RATE, samplesToSeconds } from '../frames.js';
import { AudioConverter, audioFormat, sameFormat } from './audio.js';
import { encodeEvent, EventParser, ProtocolError, type FrameLimits, type WyomingEvent } from './protocol.js';

export interface SessionOptions {
  limits: FrameLimits;
  /** send transcript-start / transcript-chunk / transcript-stop */
  streaming: boolean;
  /** longest utterance accepted, in seconds of audio */
  maxAudioS: number;
  /** the info event's data */
  info: () => Record<string, unknown>;
  /** the model's languages (the first is the one a transcript names when the client asks for another) */
  languages: () => string[];
}

/** The result of one utterance, as sent in the transcript event (also for tests and the bench). */
export interface TranscriptEvent {
  text: string;
  language?: string;
  context?: { speaker?: SpeakerMatch | null; speaker_scores?: SpeakerMatch[]; intent?: unknown };
}

/** replies a client may leave unread before it is disconnected */
const MAX_UNREAD_BYTES = 1 << 20;

interface Utterance {
  stream: RecognizerStream;
  converter: AudioConverter | undefined;
  /** 16 kHz audio kept for the speaker match */
  audio: Float32Array[];
  samples: number;
  started: boolean; // transcript-start sent
  sent: string; // text already sent in transcript-chunks
}

export class Session {
  private readonly parser: EventParser;
  private queue: Promise<void> = Promise.resolve();
  private utterance: Utterance | undefined;
  private language: string | undefined;
  private closed = false;
  /** utterances transcribed on this connection */
  transcripts = 0;

  constructor(
    private readonly socket: Socket,
    private readonly engine: Engine,
    private readonly opts: SessionOptions,
    private readonly log: Logger,
    private readonly onClose: (s: Session) => void,
  ) {
    this.parser = new EventParser(opts.limits);
    socket.on('data', (bytes) => this.onData(bytes));
    socket.on('error', (err) => this.log.debug({ err: err.message }, 'wyoming connection error'));
    socket.on('close', () => this.dispose());
  }

  private onData(bytes: Buffer): void {
    if (this.closed) return;
    let events: WyomingEvent[];
    try {
      events = this.parser.push(bytes);
    } catch (err) {
      this.fail(err as Error);
      return;
    }
    for (const ev of events) {
      // audio-chunks are synchronous work; chaining everything keeps the order after an await (audio-stop)
      this.waiting++;
      this.queue = this.queue
        .then(() => (this.closed ? undefined : this.handle(ev)))
        .catch((err) => this.fail(err as Error))
        .finally(() => {
          this.waiting--;
          if (this.waiting < 16 && this.socket.isPaused()) this.socket.resume();
        });
    }
    // events queue up behind a decoding audio-stop: stop reading rather than hold any number of them
    if (this.waiting > 64) this.socket.pause();
  }

  /** events parsed and not yet handled */
  private waiting = 0;

  private async handle(ev: WyomingEvent): Promise<void> {
    switch (ev.type) {
      case 'describe':
        this.send('info', this.opts.info());
        return;
      case 'transcribe':
        // a new request: whatever was half-sent before it is dropped
        this.dropUtterance();
        this.language = this.pickLanguage(ev.data.language);
        return;
      case 'audio-start':
        this.dropUtterance();
        this.startUtterance(ev);
        return;
      case 'audio-chunk':
        this.chunk(ev);
        return;
      case 'audio-stop':
        await this.stop();
        return;
      case 'ping':
        this.send('pong', typeof ev.data.text === 'string' ? { text: ev.data.text } : undefined);
        return;
      default:
        // peers ignore events they do not know (the protocol grows by adding events)
        this.log.debug({ type: ev.type }, 'wyoming: ignoring an event this server does not handle');
    }
  }

  /** The transcript names the language it was really transcribed in. */
  private pickLanguage(asked: unknown): string | undefined {
    if (typeof asked !== 'string' || !asked) return undefined;
    const langs = this.opts.languages();
    if (langs.includes(asked) || langs.includes(asked.split(/[-_]/)[0])) return asked;
    this.log.warn(
      { remote: this.remote, language: asked, model_languages: langs },
      'wyoming: the client asks for a language the model does not speak; transcribing in its own',
    );
    return langs[0];
  }

  private startUtterance(ev: WyomingEvent): Utterance {
    const fmt = audioFormat(ev.data, ev.type);
    const stream = this.engine.transducer().createStream(this.engine.recognizerOptions());
    this.utterance = { stream, converter: new AudioConverter(fmt), audio: [], samples: 0, started: false, sent: '' };
    return this.utterance;
  }

  private chunk(ev: WyomingEvent): void {
    // a chunk without audio-start starts the utterance itself (its fields name the format)
    const u = this.utterance ?? this.startUtterance(ev);
    const fmt = audioFormat({ ...u.converter!.format, ...ev.data }, ev.type);
    if (!sameFormat(fmt, u.converter!.format)) {
      // the format changed mid-stream: finish the old converter's tail, go on in the new one
      this.feed(u, u.converter!.flush());
      u.converter = new AudioConverter(fmt);
    }
    if (!ev.payload) return;
    this.feed(u, u.converter!.push(ev.payload));
    if (this.opts.streaming) {
      if (!u.started) {
        u.started = true;
        this.send('transcript-start', this.language ? { language: this.language } : undefined);
      }
      this.sendDelta(u, u.stream.partial().text);
    }
  }

  private feed(u: Utterance, samples: Float32Array): void {
    if (!samples.length) return;
    if (u.samples + samples.length > this.opts.maxAudioS * SAMPLE_RATE)
      throw new ProtocolError(`utterance longer than ${this.opts.maxAudioS} s of audio`, 'too-long');
    u.stream.acceptWaveform(samples);
    u.audio.push(samples);
    u.samples += samples.length;
  }

  /** transcript-chunk with the text added since the last one; a revised hypothesis waits for the transcript */
  private sendDelta(u: Utterance, text: string): void {
    if (text.length > u.sent.length && text.startsWith(u.sent)) {
      this.send('transcript-chunk', { text: text.slice(u.sent.length) });
      u.sent = text;
    }
  }

  private async stop(): Promise<void> {
    const u = this.utterance;
    this.utterance = undefined;
    if (!u) {
      // audio-stop with no audio: an empty transcript, as for silence
      if (this.opts.streaming) this.send('transcript-start', this.language ? { language: this.language } : undefined);
      this.send('transcript', { text: '' });
      if (this.opts.streaming) this.send('transcript-stop');
      return;
    }
    if (u.converter) this.feed(u, u.converter.flush());
    const audio = new Float32Array(u.samples);
    let o = 0;
    for (const a of u.audio) {
      audio.set(a, o);
      o += a.length;
    }
    u.audio = [];
    const profiles = this.engine.profiles();
    let result: DecodeResult;
    let scores: SpeakerMatch[];
    try {
      [result, scores] = await Promise.all([u.stream.finalize(), scoreSpeakers(this.engine.speakerEncoder(), profiles, audio)]);
    } finally {
      u.stream.dispose();
    }
    if (this.closed) return;
    const said = this.engine.resolve ? this.engine.resolve(result) : { text: result.text, intent: undefined };
    const t = transcriptEvent(said.text, scores, profiles.length > 0, said.intent, this.language);
    this.transcripts++;
    this.log.info(
      { text: t.text, speaker: t.context?.speaker?.name ?? null, audio_s: Math.round(samplesToSeconds(u.samples) * 100) / 100 },
      'wyoming transcript',
    );
    if (this.opts.streaming) {
      if (!u.started) this.send('transcript-start', this.language ? { language: this.language } : undefined);
      this.sendDelta(u, t.text);
    }
    this.send('transcript', t as unknown as Record<string, unknown>);
    if (this.opts.streaming) this.send('transcript-stop');
  }

  private send(type: string, data?: Record<string, unknown>): void {
    if (this.closed || this.socket.destroyed) return;
    this.socket.write(encodeEvent(type, data));
    // a client that asks (describe, describe, ...) and never reads would grow this buffer without end
    if (this.socket.writableLength > MAX_UNREAD_BYTES && type !== 'error') {
      this.fail(new ProtocolError(`the client leaves more than ${MAX_UNREAD_BYTES} bytes of replies unread`, 'not-reading'));
    }
  }

  /** Closes this connection only, saying why in the log (and to the client, best effort). */
  private fail(err: Error): void {
    if (this.closed) return;
    const code = err instanceof ProtocolError ? err.code : 'internal';
    this.log.warn({ remote: this.remote, code, reason: err.message }, 'wyoming: closing a connection');
    this.send('error', { text: err.message, code });
    this.closed = true;
    this.socket.end();
    // a client that does not read its end of the socket does not keep it open
    setTimeout(() => this.socket.destroy(), 1000).unref();
    this.dispose();
  }

  get remote(): string {
    return this.socket.remoteAddress ? `${this.socket.remoteAddress}:${this.socket.remotePort}` : 'unix socket';
  }

  private dropUtterance(): void {
    const u = this.utterance;
    this.utterance = undefined;
    u?.stream.dispose();
  }

  /** The client went away or the server stops: free the recognizer stream at once. */
  dispose(): void {
    if (!this.closed) this.closed = true;
    this.dropUtterance();
    this.onClose(this);
  }

  /** Server shutdown: close the socket. */
  close(): void {
    this.dispose();
    this.socket.destroy();
  }
}

export function transcriptEvent(
  text: string,
  scores: SpeakerMatch[],
  withProfiles: boolean,
  intent: unknown,
  language?: string,
): TranscriptEvent {
  const context: NonNullable<TranscriptEvent['context']> = {};
  // speaker: the best-matching profile, as in the MQTT transcript (null for too little speech)
  if (withProfiles) {
    context.speaker = scores[0] ?? null;
    context.speaker_scores = scores;
  }
  // with sentence files (recognizer.sentences): the matched intent, null when no sentence matched
  if (intent !== undefined) context.intent = intent;
  const t: TranscriptEvent = { text };
  if (language) t.language = language;
  if (Object.keys(context).length) t.context = context;
  return t;
}
