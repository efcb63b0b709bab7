// The final-transcript message, built from a pipeline result. Field names are the public MQTT
// contract documented in the README.
import { randomUUID } from 'node:crypto';
import type { TokenInfo } from './native.js';
import type { FinalSegment, SpeakerMatch } from './pipeline.js';
import type { IntentMatch } from './sentences.js';
import { framesToMs, framesToSeconds, rebaseSeconds } from './frames.js';

export interface Word {
  word: string;
  /** seconds from the transcript's start */
  start: number;
  end: number;
  conf: number;
}

export interface Transcript {
  id: string;
  /** lets Home Assistant's MQTT event entity take the message as is */
  event_type: 'transcript';
  site: string;
  segment: number;
  text: string;
  /** the recognizer's tokens; start in seconds from the transcript's start */
  tokens: TokenInfo[];
  words: Word[];
  /** wall clock (ISO 8601) of the first and last speech frame */
  start: string;
  end: string;
  duration_s: number;
  closed_by: FinalSegment['reason'];
  forced: boolean;
  speaker: SpeakerMatch | null;
  speaker_scores: SpeakerMatch[];
  /** with recognizer.sentences: the matched intent { name, slots, score }, or null */
  intent?: IntentMatch | null;
  latency: {
    /** from the end of speech to the segmenter closing the segment (the trailing stretch) */
    speech_end_to_close_ms: number;
    /** from the close to the final text being ready */
    close_to_final_ms: number;
    /** from the end of speech to the final text (wall clock; meaningful for live audio) */
    speech_end_to_final_ms: number;
  };
  model: string;
  created: string;
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

/** Groups tokens into words: a token starting with ▁ or a space begins a new word. */
export function wordsFromTokens(tokens: TokenInfo[], endS: number): Word[] {
  const words: { text: string; start: number; confs: number[] }[] = [];
  for (const t of tokens) {
    const startsWord = /^[▁\s]/.test(t.text) || words.length === 0;
    const piece = t.text.replace(/[▁\s]/g, '');
    if (startsWord) words.push({ text: piece, start: t.start, confs: [t.conf] });
    else {
      words[words.length - 1].text += piece;
      words[words.length - 1].confs.push(t.conf);
    }
  }
  return words
    .filter((w) => w.text)
    .map((w, i, all) => ({
      word: w.text,
      start: round3(w.start),
      end: round3(i + 1 < all.length ? all[i + 1].start : Math.max(endS, w.start)),
      conf: round3(Math.min(...w.confs)),
    }));
}

export function buildTranscript(seg: FinalSegment, site: string, wallMs: (frame: number) => number, nowMs = Date.now()): Transcript {
  const speechStartMs = wallMs(seg.speechStartFrame);
  const speechEndMs = wallMs(seg.speechEndFrame);
  const tokens = seg.tokens.map((t) => ({ ...t, start: rebaseSeconds(t.start, 0, seg.speechStartFrame) }));
  const durationS = round3(framesToSeconds(seg.speechEndFrame - seg.speechStartFrame));
  return {
    id: randomUUID(),
    event_type: 'transcript',
    site,
    segment: seg.index,
    text: seg.text,
    tokens,
    words: wordsFromTokens(tokens, durationS),
    start: new Date(speechStartMs).toISOString(),
    end: new Date(speechEndMs).toISOString(),
    duration_s: durationS,
    closed_by: seg.reason,
    forced: seg.forced,
    speaker: seg.speaker,
    speaker_scores: seg.scores,
    ...(seg.intent !== undefined ? { intent: seg.intent } : {}),
    latency: {
      speech_end_to_close_ms: framesToMs(seg.endFrame - seg.speechEndFrame),
      close_to_final_ms: Math.round(seg.finalAt - seg.closedAt),
      speech_end_to_final_ms: Math.round(nowMs - speechEndMs),
    },
    model: seg.model,
    created: new Date(nowMs).toISOString(),
  };
}
