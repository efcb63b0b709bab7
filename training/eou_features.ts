// The end-of-utterance head's inputs (training/eou.py): for each query, the encoder output of the
// last frame of the audio so far, computed as the engine's look-ahead decode does it (the audio up
// to the query, then the peek's 300 ms of digital silence, chunk by chunk from the segment's start).
//   node --import=tsx training/eou_features.ts DIR MODEL     (DIR from `python3 -m training.eou data`)
// Writes DIR/features.f32: [queries x d_model] float32.
import fs from 'node:fs';
import path from 'node:path';
import { FRAME_SAMPLES, msToSamples } from '../daemon/frames.js';
import { loadTransducer } from '../daemon/models.js';

const PEEK_PAD_MS = 300; // daemon/pipeline.ts SENTENCE_PEEK_PAD_MS
/** Kaldi fbank frames (25 ms window, 10 ms shift, edges snipped) of n samples, as the engine counts them. */
const fbankFrames = (n: number) => (n < msToSamples(25) ? 0 : 1 + Math.floor((n - msToSamples(25)) / FRAME_SAMPLES));

const [dir, modelPath] = process.argv.slice(2);
if (!dir || !modelPath) throw new Error('usage: training/eou_features.ts DIR MODEL');
const read = (name: string) => fs.readFileSync(path.join(dir, name));
const audioBuf = read('audio.i16');
const audio = new Int16Array(audioBuf.buffer, audioBuf.byteOffset, audioBuf.byteLength / 2);
const offsets = new BigInt64Array(new Uint8Array(read('offsets.i64')).buffer);
const queries = new BigInt64Array(new Uint8Array(read('queries.i64')).buffer); // [Q x 5]: example, tau, label, kind, after
const model = await loadTransducer(modelPath);
const d = Number(model.info.metadata.d_model);
const stack = Number(model.info.metadata.stack);
const n = queries.length / 5;
const out = new Float32Array(n * d);
const pad = msToSamples(PEEK_PAD_MS);
const t0 = performance.now();
for (let q = 0; q < n; q++) {
  const ex = Number(queries[q * 5]);
  const tau = Number(queries[q * 5 + 1]);
  const start = Number(offsets[ex]);
  const x = new Int16Array(tau + pad);
  x.set(audio.subarray(start, start + tau));
  const enc = model.debugEncode(x);
  const last = Math.floor(fbankFrames(tau) / stack) - 1;
  out.set(enc.subarray(last * d, (last + 1) * d), q * d);
  if (q % 5000 === 0) console.error(`${q}/${n} queries, ${((performance.now() - t0) / 1000).toFixed(0)} s`);
}
fs.writeFileSync(path.join(dir, 'features.f32'), Buffer.from(out.buffer));
console.error(`${n} queries x ${d} -> ${dir}/features.f32 (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
model.dispose();
