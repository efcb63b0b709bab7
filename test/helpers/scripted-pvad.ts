// A personal VAD whose posteriors are a script: exact segmenter triggers under real audio.
import type { ModelInfo, PvadModel, PvadStream } from '../../daemon/native.js';

/** '.' silence, 'T' target speech, 'O' another voice: one 10 ms frame each. */
export const SCRIPT_POSTERIORS: Record<string, [number, number, number]> = {
  '.': [0.9, 0.05, 0.05],
  T: [0.05, 0.9, 0.05],
  O: [0.05, 0.05, 0.9],
};

/** A pVAD whose posteriors are a script, one character per 10 ms frame ('.' after its end). */
export function scriptedPvad(script: string): PvadModel {
  const stream = (): PvadStream => {
    let frame = 0;
    let pending = 0;
    const accept = (samples: Int16Array | Float32Array) => {
      pending += samples.length;
      const n = Math.floor(pending / 160);
      pending -= n * 160;
      const out = new Float32Array(3 * n);
      for (let k = 0; k < n; k++) out.set(SCRIPT_POSTERIORS[script[frame++] ?? '.'], 3 * k);
      return out;
    };
    return { accept, reset: () => (frame = pending = 0) };
  };
  return { info: { name: 'scripted', architecture: 'earshot-pvad' } as ModelInfo, createStream: stream, dispose: () => {} };
}
