// The recognizer's stream options from the configuration: the daemon's pipeline, its Wyoming
// server, `earshot serve` and `earshot transcribe` all decode with these.
import type { Config } from './config.js';
import type { LmHandle, RecognizerOptions } from './native.js';

/** `lm`: the compiled recognizer.lm (daemon/lm.ts loadLmFor), when it is on. */
export function recognizerOptions(cfg: Config, lm?: { lm: LmHandle; lmWeight: number }): RecognizerOptions {
  return {
    beam: cfg.recognizer.beam,
    chunkFrames: cfg.recognizer.chunk_frames ?? undefined,
    hotPhrases: cfg.recognizer.hot_phrases,
    ...lm,
  };
}
