// Raw interleaved PCM bytes -> mono float, keeping a partial frame between chunks.
export type PcmFormat = 's16le' | 's32le' | 'f32le';

export class PcmDecoder {
  private rest = Buffer.alloc(0);
  private readonly bytes: number;

  constructor(
    private readonly format: PcmFormat,
    private readonly channels: number,
  ) {
    this.bytes = format === 's16le' ? 2 : 4;
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
        else if (this.format === 's32le') sum += buf.readInt32LE(p) / 2147483648;
        else sum += buf.readFloatLE(p);
      }
      out[i] = sum / this.channels;
    }
    return out;
  }

  reset(): void {
    this.rest = Buffer.alloc(0);
  }
}
