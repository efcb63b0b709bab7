// Features that sit beside the microphone pipeline (the Wyoming server, Home Assistant discovery)
// are extensions: the daemon composes them, starts them once its models and link are up, and
// stops them before it shuts those down. Each reads what it needs through these narrow views.
import type { DecodeResult, RecognizerOptions, SpeakerEncoder, TransducerModel } from './native.js';
import type { Profile } from './profiles.js';

export interface Extension {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
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
