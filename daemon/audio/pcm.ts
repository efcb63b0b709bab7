// Raw interleaved PCM bytes -> mono float, keeping a partial frame between chunks.
// s8 and s24le serve Wyoming clients (its width 1 is signed, as Python's audioop reads it).
export type PcmFormat = 's8' | 's16le' | 's24le' | 's32le' | 'f32le';

const BYTES: Record<PcmFormat, number> = { s8: 1, s16le: 2, s24le: 3, s32le: 4, f32le: 4 };

/** Float input can hold anything: NaN, infinities, 3e38. One such value poisons the models' state
 * for good (every later score NaN), so it is cleaned where the audio enters: NaN -> 0, the rest
 * clipped to [-1, 1] as a converter would. */
export function finiteSample(v: number): number {
  return v > 1 ? 1 : v < -1 ? -1 : v === v ? v : 0;
}

export class PcmDecoder {
  private rest = Buffer.alloc(0);
  private readonly bytes: number;

  constructor(
    private readonly format: PcmFormat,
    private readonly channels: number,
  ) {
    this.bytes = BYTES[format];
  }

  decode(chunk: Buffer): Float32Array {
    const buf = this.rest.length ? Buffer.concat([this.rest, chunk]) : chunk;
    const frameBytes = this.bytes * this.channels;
    const frames = Math.floor(buf.length / frameBytes);
    this.rest = Buffer.from(buf.subarray(frames * frameBytes));
    const out = new Float32Array(frames);
    let p = 0;
    for (let i = 0; i < frames; i++) {
      let sum = 0;
      for (let c = 0; c < this.channels; c++, p += this.bytes) {
        if (this.format === 's16le') sum += buf.readInt16LE(p) / 32768;
        else if (this.format === 's8') sum += buf.readInt8(p) / 128;
        else if (this.format === 's24le') sum += buf.readIntLE(p, 3) / 8388608;
        else if (this.format === 's32le') sum += buf.readInt32LE(p) / 2147483648;
        else sum += finiteSample(buf.readFloatLE(p));
      }
      out[i] = sum / this.channels;
    }
    return out;
  }

  reset(): void {
    this.rest = Buffer.alloc(0);
  }
}
