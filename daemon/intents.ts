// Decoding with sentences: the compiled sentence files on a loaded model, and what a decoding
// result means once they are on (the sentence and its intent, or no intent and the free text).
// Used by the pipeline (daemon, `earshot transcribe`) and by anything that decodes audio on its own.
import type { Config } from './config.js';
import { childLogger } from './log.js';
import type { DecodeResult, SentenceHandle, TransducerModel } from './native.js';
import { loadSentences, matchSentence, type Grammar, type IntentMatch } from './sentences.js';

const log = childLogger('sentences');

/** A sentence whose score (0..1, bench/sentences.ts) is below this is no match: the audio fits the
 * unrestricted decoding much better than any sentence. */
export const DEFAULT_MIN_SCORE = 0.5;

/** A sentence shorter than this share of the unrestricted text (characters) is no match: the score
 * only compares the paths over the words the sentence has, so a short command found inside a long
 * utterance ("cancel the timer" in 15 s of prose) scores well while a third or more of what was
 * heard is left unexplained. Two thirds: below what commands read correctly reach, above most
 * out-of-grammar speech (README, Sentences and intents, has the figures). */
export const DEFAULT_MIN_COVERAGE = 0.67;

/** Restricted search defaults, chosen with bench/sentences.ts --beam / --bonus (README, Sentences and intents). */
export const DEFAULT_BEAM = 8;
export const DEFAULT_TOKEN_BONUS = 0;

export interface SentenceRecognizer {
  files: string[];
  grammar: Grammar;
  /** the automaton on the model's tokens, shared by every stream */
  handle: SentenceHandle;
  minScore: number;
  /** least share of the unrestricted text's characters the sentence must have (DEFAULT_MIN_COVERAGE) */
  minCoverage: number;
  /** hypotheses of the restricted search */
  beam: number;
  /** per-token bonus when the restricted search ranks hypotheses (keeps it up with the speech) */
  tokenBonus: number;
}

/** Loads and compiles sentence files for a model; throws SentenceError (file, line, construct) or
 * an Error when the model cannot spell a character they use. */
export function prepareSentences(
  model: TransducerModel,
  files: string[],
  opts: { minScore?: number; minCoverage?: number; beam?: number; tokenBonus?: number } = {},
): SentenceRecognizer {
  const grammar = loadSentences(files);
  const handle = model.compileSentences(grammar.automaton);
  return {
    files,
    grammar,
    handle,
    minScore: opts.minScore ?? DEFAULT_MIN_SCORE,
    minCoverage: opts.minCoverage ?? DEFAULT_MIN_COVERAGE,
    beam: opts.beam ?? DEFAULT_BEAM,
    tokenBonus: opts.tokenBonus ?? DEFAULT_TOKEN_BONUS,
  };
}

/** The configuration's recognizer.sentences for a model, or undefined when it lists none. */
export function loadSentencesFor(cfg: Config, model: TransducerModel): SentenceRecognizer | undefined {
  if (!cfg.recognizer.sentences.length) return undefined;
  const sr = prepareSentences(model, cfg.recognizer.sentences, {
    minScore: cfg.recognizer.sentence_min_score,
    minCoverage: cfg.recognizer.sentence_min_coverage,
  });
  log.info({ files: sr.files, states: sr.grammar.stats.states, compile_ms: Math.round(sr.grammar.stats.compileMs) }, 'sentences loaded');
  return sr;
}

export interface IntentResult {
  /** the matched sentence, or the unrestricted text when nothing matched */
  text: string;
  intent: IntentMatch | null;
}

/** The sentence's length over the unrestricted text's, at most 1 (1 when that text is empty: a
 * sentence longer than the free reading is judged by its score alone). */
export function sentenceCoverage(result: DecodeResult): number {
  const s = result.sentence;
  if (!s) return 0;
  return result.text.length ? Math.min(1, s.text.length / result.text.length) : 1;
}

/** Whether the restricted search's sentence is what was said: it fits the audio nearly as well as
 * the unrestricted path (score) and accounts for nearly all that path read (coverage). */
export function sentenceAccepted(sr: SentenceRecognizer, result: DecodeResult): boolean {
  const s = result.sentence;
  return !!s && s.score >= sr.minScore && sentenceCoverage(result) >= sr.minCoverage;
}

/** Reads a stream's result (created with `streamOptions(sr)`) into text and intent. */
export function resolveIntent(sr: SentenceRecognizer, result: DecodeResult): IntentResult {
  const s = result.sentence;
  if (!s || !sentenceAccepted(sr, result)) return { text: result.text, intent: null };
  const m = matchSentence(sr.grammar, s.text);
  if (!m) return { text: result.text, intent: null };
  return { text: s.text, intent: { ...m, score: Math.round(s.score * 1000) / 1000 } };
}

/** createStream options that add the restricted search. */
export function streamOptions(sr: SentenceRecognizer): { sentences: SentenceHandle; sentenceBeam: number; sentenceTokenBonus: number } {
  return { sentences: sr.handle, sentenceBeam: sr.beam, sentenceTokenBonus: sr.tokenBonus };
}

/** Decodes one utterance (16 kHz mono) with sentences: for callers outside the pipeline. */
export async function decodeWithSentences(
  model: TransducerModel,
  sr: SentenceRecognizer,
  samples: Float32Array | Int16Array,
): Promise<IntentResult & { result: DecodeResult }> {
  const stream = model.createStream(streamOptions(sr));
  try {
    stream.acceptWaveform(samples);
    const result = await stream.finalize();
    return { ...resolveIntent(sr, result), result };
  } finally {
    stream.dispose();
  }
}
