// The bundled sample's ground truth (samples/sample.json): speech segments with start/end in
// seconds and the expected text. Read leniently about key names, like bench/e2e.ts.
import fs from 'node:fs';

export interface TruthSegment {
  start: number;
  end: number;
  text: string;
}

export function readTruth(file: string): TruthSegment[] {
  const raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  const list: any[] = Array.isArray(raw) ? raw : (raw.commands ?? raw.segments ?? raw.utterances ?? []);
  const num = (o: any, keys: string[]) => keys.map((k) => o[k]).find((v) => typeof v === 'number') as number;
  return list
    .map((s) => ({
      start: num(s, ['start', 'speech_start', 'start_s']),
      end: num(s, ['end', 'speech_end', 'end_s']),
      text: String(s.text ?? s.transcript ?? ''),
    }))
    .sort((a, b) => a.start - b.start);
}

export const normalize = (s: string) =>
  s
    .toLowerCase()
    .replace(/[^a-z' ]/g, ' ')
    .split(/\s+/)
    .filter(Boolean);

/** Word error rate of hyp against ref (Levenshtein over words). */
export function wer(ref: string[], hyp: string[]): number {
  const d = Array.from({ length: ref.length + 1 }, (_, i) => [i, ...Array(hyp.length).fill(0)]);
  for (let j = 1; j <= hyp.length; j++) d[0][j] = j;
  for (let i = 1; i <= ref.length; i++)
    for (let j = 1; j <= hyp.length; j++)
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (ref[i - 1] === hyp[j - 1] ? 0 : 1));
  return ref.length ? d[ref.length][hyp.length] / ref.length : hyp.length;
}

export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}
