// The recognizer's stream options from the configuration: the daemon's pipeline, its Wyoming
// server, `earshot serve` and `earshot transcribe` all decode with these.
import type { Config } from './config.js';
import type { LmHandle, RecognizerOptions, TransducerModel } from './native.js';

/** `lm`: the compiled recognizer.lm (daemon/lm.ts loadLmFor), when it is on. */
export function recognizerOptions(cfg: Pick<Config, 'recognizer'>, lm?: { lm: LmHandle; lmWeight: number }): RecognizerOptions {
  return {
    beam: cfg.recognizer.beam,
    chunkFrames: cfg.recognizer.chunk_frames ?? undefined,
    hotPhrases: cfg.recognizer.hot_phrases,
    ...lm,
  };
}

/** The end-of-utterance rule's thresholds (segmenter.end_of_utterance), when the model has the head
 * and the rule is on. */
export interface EndOfUtterance {
  /** p(done) at or above which a pause closes the segment at the guard */
  threshold: number;
  /** p(done) below which the speaker has more to say (the longer trailing stretch) */
  holdBelow: number;
}

export function endOfUtteranceOptions(cfg: Pick<Config, 'segmenter'>, model: TransducerModel): EndOfUtterance | undefined {
  const threshold = cfg.segmenter.end_of_utterance;
  if (!threshold || !Number(model.info.metadata.eou_hidden)) return undefined;
  return { threshold, holdBelow: cfg.segmenter.end_of_utterance_hold };
}
