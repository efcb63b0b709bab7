// Typed face of the C++ addon (native/addon). Everything heavy runs on native threads; calls that
// return promises never block the event loop, the synchronous ones are bounded small work.
import { createRequire } from 'node:module';
import path from 'node:path';
import { installRoot } from './paths.js';

export interface TokenInfo {
  text: string;
  /** seconds from the start of the stream */
  start: number;
  /** 0..1, the token's posterior */
  conf: number;
}

export interface DecodeResult {
  text: string;
  tokens: TokenInfo[];
  /** token boundaries (seconds) from the CIF head; empty for models without one */
  boundaries: number[];
  /** with `sentences`: the best whole sentence of the restricted search, or null when none is;
   * score = exp(its path score minus the unrestricted path's, per token), at most 1 */
  sentence?: { text: string; score: number; tokens: TokenInfo[] } | null;
  /** with `sentences`: the restricted search's best hypothesis is a sentence that nothing can
   * continue (the speaker has said all of it; the segmenter's sentence rule reads it from partial()) */
  sentenceComplete?: boolean;
  /** with `sentences`: the restricted search's top hypothesis, a whole sentence or a prefix of one
   * (null when empty), with its score as `sentence.score` is computed */
  sentencePrefix?: { text: string; score: number; /** inside a wildcard's free text: anything may follow */ wildcard: boolean } | null;
  /** with a model that has an end-of-utterance head: p(the utterance is over) at the last encoder
   * frame of the audio so far (a peek's padding excluded); absent without a head */
  endOfUtterance?: number;
}

/** A compiled sentence automaton (TransducerModel.compileSentences); opaque. */
export type SentenceHandle = { readonly __sentenceHandle: unique symbol };
/** A compiled n-gram language model (TransducerModel.compileLm); opaque. */
export type LmHandle = { readonly __lmHandle: unique symbol };

export interface ModelInfo {
  name: string;
  architecture: 'earshot-transducer' | 'earshot-pvad' | 'earshot-spkenc';
  sampleRate: number;
  /** bytes of tensor data */
  tensorBytes: number;
  /** tensor count per type, e.g. { F32: 54, Q4_0: 21 } */
  tensorTypes: Record<string, number>;
  kernel: string;
  metadata: Record<string, string | number | boolean>;
}

export interface HotPhrase {
  phrase: string;
  /** log-probability bonus per matched token, 0 to 10 (recognizer.hot_phrases[].boost), e.g. 1.5 */
  boost: number;
}

export interface RecognizerOptions {
  /** encoder frames (40 ms each) per decoding chunk, 1 to 64; default from the model file */
  chunkFrames?: number;
  /** 1 = greedy, 2 to 16 = modified beam search with that many active paths */
  beam?: number;
  hotPhrases?: HotPhrase[];
  /** decode also restricted to these sentences (DecodeResult.sentence) */
  sentences?: SentenceHandle;
  /** hypotheses of the restricted search, 1 to 16 (default 8) */
  sentenceBeam?: number;
  /** log-probability per token added when the restricted search ranks hypotheses, -20 to 20 (default 0) */
  sentenceTokenBonus?: number;
  /** shallow fusion of an n-gram model (compileLm) in the unrestricted search, with this weight (0 to 2) */
  lm?: LmHandle;
  lmWeight?: number;
  /** silence appended by finalize() so the model emits its last tokens (they come some frames after
   * their audio); 0 to 5000, default 500, 0 = none (exact comparisons with the PyTorch model) */
  tailPaddingMs?: number;
}

export interface RecognizerStream {
  /** Queue 16 kHz mono audio (Int16 or float in [-1, 1)); decoding proceeds on a native thread. */
  acceptWaveform(samples: Int16Array | Float32Array): void;
  /** Best hypothesis so far (cheap, synchronous). */
  partial(): DecodeResult;
  /** What finalize() would give now, with `padMs` (0 to 5000, default 300) of silence after the audio queued
   * so far, decoded on a copy of the stream's state (native thread): the model's last tokens come
   * out without waiting for real audio, and the stream goes on unchanged. */
  peek(padMs?: number): Promise<DecodeResult>;
  /** Flush the remaining audio, finish decoding, resolve with the final result; the stream can be reused after reset().
   * Calling it again resolves with the same result; acceptWaveform throws until reset(). */
  finalize(): Promise<DecodeResult>;
  reset(): void;
  dispose(): void;
}

export interface TransducerModel {
  info: ModelInfo;
  /** Throws on bad options, e.g. a hot phrase the model's tokens cannot spell; a number out of its
   * range is a RangeError naming the option and the range (the configuration's, where it has the option). */
  createStream(options?: RecognizerOptions): RecognizerStream;
  /** Maps a sentence automaton (daemon/sentences.ts) onto the model's tokens; throws when the
   * model cannot spell one of its characters. */
  compileSentences(automaton: import('./sentences.js').Automaton): SentenceHandle;
  /** An n-gram model (order 2..8) of text lines spelled with the model's tokens (daemon/lm.ts). */
  compileLm(lines: string[], order: number): LmHandle;
  /** Streams already created keep working; the model's memory goes with the last of them. */
  dispose(): void;
  /** Test hook (synchronous, blocks): encoder output [frames * d_model] of the audio, chunk by chunk
   * (chunkFrames >= 1, default the model's). */
  debugEncode(samples: Int16Array | Float32Array, chunkFrames?: number): Float32Array;
  /** Test hook: the engine's raw log-mel frames [frames * 80] of the audio (before CMVN). */
  debugFbank(samples: Int16Array | Float32Array): Float32Array;
  /** Test hook: joiner log-probabilities [vocab] for one encoder frame and a token history (oldest first). */
  debugJoint(encFrame: Float32Array, history: Int32Array): Float32Array;
}

export interface PvadStream {
  /** Feed 16 kHz mono audio; returns posteriors [ns, tss, ntss] for each completed 10 ms frame, flattened.
   * Runs on the calling (JS) thread: a frame is small, bounded work (bench:engine measures it). */
  accept(samples: Int16Array | Float32Array): Float32Array;
  /** Forget the state. */
  reset(): void;
}

export interface PvadModel {
  info: ModelInfo;
  /** embedding: the enrolled speaker's (length = spkenc embed_dim) or null for plain VAD */
  createStream(embedding: Float32Array | null): PvadStream;
  dispose(): void;
}

export interface SpeakerEncoder {
  info: ModelInfo;
  /** L2-normalized embedding of 16 kHz mono speech (runs on a native thread). */
  embed(samples: Int16Array | Float32Array): Promise<Float32Array>;
  dispose(): void;
}

export interface NativeBinding {
  loadTransducer(file: string): Promise<TransducerModel>;
  loadPvad(file: string): Promise<PvadModel>;
  loadSpeakerEncoder(file: string): Promise<SpeakerEncoder>;
  /** Sends one sd_notify datagram to $NOTIFY_SOCKET (a path or an @abstract name); false when there is
   * none; throws when the socket cannot be reached. */
  sdNotify(state: string): boolean;
  kernelName(): string;
  /** Kernel families this CPU runs, best first. */
  availableKernels(): string[];
  /** For benchmarks and tests: switch the kernel family process-wide; false if this CPU lacks it. */
  useKernel(name: string): boolean;
  /** Threads sharing each matrix product, process-wide (default 1: the benchmarks' single thread);
   * returns the count now in effect. */
  setThreads(n: number): number;
}

let cached: NativeBinding | undefined;

/** Loads build/Release/earshot.node once; throws with a hint when the addon is not built. */
export function native(): NativeBinding {
  if (cached) return cached;
  const require = createRequire(import.meta.url);
  const file = process.env.EARSHOT_ADDON ?? path.join(installRoot(), 'build', 'Release', 'earshot.node');
  try {
    cached = require(file) as NativeBinding;
  } catch (err) {
    throw new Error(`cannot load the Earshot engine addon at ${file} (run "npm install" to build it): ${(err as Error).message}`);
  }
  return cached;
}
