// A small n-gram language model for shallow fusion in the open-vocabulary search: built at start
// from text files (one sentence a line) and from sentences sampled out of the sentence files.
import fs from 'node:fs';
import type { Config } from './config.js';
import type { SentenceRecognizer } from './intents.js';
import type { LmHandle, TransducerModel } from './native.js';
import { normalizeText, sampleSentences, SentenceError, type Grammar } from './sentences.js';

export interface LmSource {
  /** text files, one sentence a line ('#' starts a comment line) */
  files: string[];
  /** grammars whose sentences join the text (sampled: their sentences are never all listed) */
  grammars?: Grammar[];
  /** sentences sampled per grammar */
  samples?: number;
}

/** The normalized lines of an LM's text; a character that cannot be spoken is refused with the
 * file and line. */
export function lmLines(src: LmSource): string[] {
  const lines: string[] = [];
  for (const file of src.files) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      throw new Error(`language model text ${file} cannot be read: ${(err as Error).message}`);
    }
    text.split('\n').forEach((raw, i) => {
      if (!raw.trim() || raw.trimStart().startsWith('#')) return;
      lines.push(
        normalizeText(raw, (ch) => {
          throw new SentenceError(file, i + 1, 'language model text', `character "${ch}" cannot be spoken`);
        }).trim(),
      );
    });
  }
  for (const g of src.grammars ?? []) lines.push(...sampleSentences(g, src.samples ?? 2000, 1));
  return lines.filter((l) => l);
}

/** Builds the model's n-gram LM (order: context tokens + 1) from the source. */
export function buildLm(model: TransducerModel, src: LmSource, order: number): { handle: LmHandle; lines: number } {
  const lines = lmLines(src);
  if (!lines.length) throw new Error(`the language model has no text (files: ${src.files.join(', ') || 'none'})`);
  return { handle: model.compileLm(lines, order), lines: lines.length };
}

/** What recognizer.lm fuses: the model's text (models.lm_text), the listed files and, with
 * from_sentences, the sentence files' grammar. Undefined when recognizer.lm is off. */
export function lmSourceOf(cfg: Config, sentences?: SentenceRecognizer): LmSource | undefined {
  const c = cfg.recognizer.lm;
  if (!c) return undefined;
  const files = cfg.models.lm_text === null ? c.files : [cfg.models.lm_text, ...c.files];
  return { files, grammars: c.from_sentences && sentences ? [sentences.grammar] : [] };
}

/** recognizer.lm as createStream options (lm, lmWeight), or undefined when it is off or has no text. */
export function loadLmFor(
  cfg: Config,
  model: TransducerModel,
  sentences?: SentenceRecognizer,
): { lm: LmHandle; lmWeight: number } | undefined {
  const src = lmSourceOf(cfg, sentences);
  // on by default: with models.lm_text null and nothing else there is nothing to fuse
  if (!src || (!src.files.length && !src.grammars?.length)) return undefined;
  return { lm: buildLm(model, src, cfg.recognizer.lm!.order).handle, lmWeight: cfg.recognizer.lm!.weight };
}
