// Features beside the microphone pipeline (status, memory telemetry, live enrollment, Hermes, Home
// Assistant discovery, the Wyoming server) are extensions: the daemon composes them from a list of
// features, starts them once its models, pipeline and link exist (before the link connects, so no
// retained message comes before its listener), and stops them after the last transcript is out,
// before the link goes offline. They read the daemon through the narrow views below and hear it
// through typed events; none of them is known to the daemon by name.
import type { MicState } from './audio/source.js';
import type { Config } from './config.js';
import type { EventBus } from './event-bus.js';
import type { LoadedSpeakerEncoder } from './models.js';
import type { DecodeResult, PvadModel, RecognizerOptions, SpeakerEncoder, TransducerModel } from './native.js';
import type { Outbox } from './outbox.js';
import type { Profile } from './profiles.js';
import type { SystemdNotifier } from './sdnotify.js';
import type { Topics } from './mqtt/topics.js';
import type { Transcript } from './transcript.js';

export interface Extension {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** One feature as the composition root lists it. */
export interface Feature {
  readonly name: string;
  /** the configuration its extension is made from: a reload that changes it makes a new one
   * (absent: made once, reading the configuration in force at each use) */
  configOf?(cfg: Config): unknown;
  /** undefined: the feature is off in this configuration */
  create(ctx: ExtensionContext, cfg: Config): Extension | undefined;
}

/** What the daemon tells its extensions. Times are wall-clock ms since the epoch. */
export interface DaemonEvents {
  /** a segment opened; `at`: its first speech frame */
  speechStarted: [segment: number, at: number];
  /** a segment closed; `at`: the end of its last speech frame */
  speechEnded: [segment: number, at: number];
  /** a transcript with words, handed to the outbox for <site>/transcript */
  transcript: [transcript: Transcript];
  /** the outbox journalled a transcript or failed to (its journal state may have changed) */
  transcriptStored: [id: string];
  /** the broker acknowledged a transcript */
  transcriptAcked: [id: string];
  /** captured audio (16 kHz mono), right after the pipeline got it */
  audio: [samples: Float32Array];
  /** the MQTT link (re)connected */
  mqttConnected: [];
  /** something status/detail shows changed: the microphone, mute, the profiles in use */
  stateChanged: [];
}

/** The recognition side of the daemon, read at each use (a reload or live enrollment changes it). */
export interface Engine {
  transducer(): TransducerModel;
  /** options for a new recognizer stream (beam, hot phrases; a sentence grammar when one is loaded) */
  recognizerOptions(): RecognizerOptions;
  speakerEncoder(): SpeakerEncoder | undefined;
  profiles(): Profile[];
  /** with sentence files (recognizer.sentences): the matched sentence's text and its intent
   * ({name, slots, score}; null when no sentence matched). Absent: the result's text, no intent. */
  resolve?(result: DecodeResult): { text: string; intent: unknown };
}

/** What extensions may do with the daemon's MQTT connection (a reload that changes it replaces it). */
export interface Link {
  readonly topics: Topics;
  readonly connected: boolean;
  /** inbound messages dropped as malformed or too large */
  readonly rejected: number;
  on(event: 'connected', fn: () => void): unknown;
  on(event: 'message', fn: (topic: string, payload: Buffer) => void): unknown;
  off(event: 'connected', fn: () => void): unknown;
  off(event: 'message', fn: (topic: string, payload: Buffer) => void): unknown;
  /** kept across reconnects; its messages come as 'message' events */
  subscribe(filter: string): void;
  unsubscribe(filter: string): void;
  publish(topic: string, payload: string, opts: { qos: 0 | 1; retain: boolean }): void;
  publishRetained(topic: string, payload: unknown): void;
  publishVolatile(topic: string, payload: unknown, qos?: 0 | 1): void;
  /** an extension dropped an inbound message as malformed: counted in `rejected` */
  rejectInbound(): void;
}

/** The daemon's state as status/detail and the logs show it. */
export interface DaemonStatus {
  stopping: boolean;
  muted: boolean;
  /** undefined until the source has started */
  mic: MicState | undefined;
  source: { kind: string; device: string };
  model: string;
  profiles: string[];
  /** transcripts published since the start */
  transcripts: number;
  outbox: Outbox;
  /** audio received since the start, in samples */
  audioSamples: number;
}

export interface ExtensionContext {
  readonly events: EventBus<DaemonEvents>;
  readonly version: string;
  readonly startedAt: number;
  readonly engine: Engine;
  readonly notifier: SystemdNotifier;
  /** the configuration in force */
  cfg(): Config;
  link(): Link;
  models(): { pvad: PvadModel; speakerEncoder: LoadedSpeakerEncoder | undefined };
  status(): DaemonStatus;
  /** Queues fn behind the commands before it: one at a time, in arrival order, each against the
   * pipeline the previous one left; a failing one is logged and the next still runs. */
  runCommand(what: string, fn: () => void | Promise<void>): void;
  /** cmd/<name> payloads go to fn, through runCommand (a later handler of the same name replaces it) */
  handleCommand(name: string, fn: (payload: Buffer) => void | Promise<void>): void;
  /** the microphone pipeline: open a segment now (cmd/listen), close the open one (cmd/stop), mute */
  listen(): void;
  finishSegment(): void;
  setMuted(muted: boolean): void;
  /** the profiles in the state directory changed (live enrollment): the pipeline is rebuilt with them */
  profilesChanged(): void;
}
