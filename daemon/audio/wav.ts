// WAV reading: RIFF/WAVE with PCM 8/16/24/32-bit integer or 32/64-bit float (plain or
// WAVE_FORMAT_EXTENSIBLE), any rate and channel count, converted to 16 kHz mono float.
// Errors say what is wrong with the file rather than returning noise.
import fs from 'node:fs';
import { finiteSample } from './pcm.js';
import { resample, Resampler } from './resample.js';
import { SAMPLE_RATE } from '../frames.js';

export class WavError extends Error {
  constructor(file: string, problem: string) {
    super(`${file}: ${problem}`);
    this.name = 'WavError';
  }
}

export interface WavFormat {
  formatTag: 'pcm' | 'float';
  channels: number;
  sampleRate: number;
  bitsPerSample: number;
}

export interface DecodedWav {
  format: WavFormat;
  /** per channel, float in [-1, 1) at the file's rate */
  channels: Float32Array[];
}

const WAVE_FORMAT_PCM = 1;
const WAVE_FORMAT_IEEE_FLOAT = 3;
const WAVE_FORMAT_EXTENSIBLE = 0xfffe;

interface WavLayout {
  format: WavFormat;
  /** where the samples start and how many bytes of them there are */
  dataOffset: number;
  dataLength: number;
}

/** Reads the header through `read(offset, length)` (a buffer or a file), so a file's samples can
 * be streamed after it. */
function parseLayout(read: (offset: number, length: number) => Buffer, total: number, name: string): WavLayout {
  const fail = (problem: string): never => {
    throw new WavError(name, problem);
  };
  if (total < 12) fail(`too short to be a WAV file (${total} bytes)`);
  const head = read(0, 12);
  const riff = head.toString('latin1', 0, 4);
  if (riff === 'RIFX' || riff === 'RF64') fail(`${riff} files are not supported (only little-endian RIFF WAVE)`);
  if (riff !== 'RIFF' || head.toString('latin1', 8, 12) !== 'WAVE') fail('not a WAV file (no RIFF/WAVE header)');

  let format: WavFormat | undefined;
  let offset = 12;
  while (offset + 8 <= total) {
    const chunk = read(offset, 8);
    const id = chunk.toString('latin1', 0, 4);
    let size = chunk.readUInt32LE(4);
    const body = offset + 8;
    if (id === 'fmt ') {
      if (size < 16 || body + size > total) fail(`fmt chunk is truncated (${size} bytes declared)`);
      const fmt = read(body, Math.min(size, 64));
      let tag = fmt.readUInt16LE(0);
      const channels = fmt.readUInt16LE(2);
      const sampleRate = fmt.readUInt32LE(4);
      const blockAlign = fmt.readUInt16LE(12);
      const bits = fmt.readUInt16LE(14);
      if (tag === WAVE_FORMAT_EXTENSIBLE) {
        if (size < 40) fail('WAVE_FORMAT_EXTENSIBLE fmt chunk is truncated');
        tag = fmt.readUInt16LE(24); // first two bytes of the sub-format GUID
      }
      if (tag !== WAVE_FORMAT_PCM && tag !== WAVE_FORMAT_IEEE_FLOAT) {
        fail(`unsupported encoding (format tag ${tag}); only PCM integer and IEEE float WAV can be read`);
      }
      if (channels < 1) fail('fmt chunk says 0 channels');
      if (sampleRate < 1000 || sampleRate > 768000) fail(`unsupported sample rate ${sampleRate} Hz`);
      const okBits = tag === WAVE_FORMAT_PCM ? [8, 16, 24, 32] : [32, 64];
      if (!okBits.includes(bits)) fail(`unsupported sample width: ${bits}-bit ${tag === WAVE_FORMAT_PCM ? 'PCM' : 'float'}`);
      if (blockAlign !== (channels * bits) / 8) fail(`inconsistent fmt chunk: block align ${blockAlign} for ${channels} x ${bits}-bit`);
      format = { formatTag: tag === WAVE_FORMAT_PCM ? 'pcm' : 'float', channels, sampleRate, bitsPerSample: bits };
    } else if (id === 'data') {
      if (!format) fail('data chunk comes before the fmt chunk');
      // 0xFFFFFFFF (or 0) marks a stream whose length was never filled in: read to the end.
      if (size === 0xffffffff || (size === 0 && body < total)) size = total - body;
      if (body + size > total) {
        fail(`truncated: the data chunk declares ${size} bytes but only ${total - body} follow`);
      }
      const frameBytes = (format!.channels * format!.bitsPerSample) / 8;
      if (size % frameBytes !== 0) fail(`truncated: data length ${size} is not a whole number of ${frameBytes}-byte frames`);
      return { format: format!, dataOffset: body, dataLength: size };
    }
    offset = body + size + (size & 1); // chunks are padded to even length
  }
  if (!format) fail('no fmt chunk');
  return fail('no data chunk');
}

export function parseWav(buf: Buffer, name = 'WAV data'): DecodedWav {
  const { format, dataOffset, dataLength } = parseLayout((o, n) => buf.subarray(o, o + n), buf.length, name);
  return { format, channels: decodeInterleaved(buf.subarray(dataOffset, dataOffset + dataLength), format) };
}

/**
 * A WAV file read a block at a time, as 16 kHz mono: however long the file, only a block is in
 * memory. The header is checked when it is opened, so a bad file fails before anything starts.
 * Gives the same samples as readWav16kMono.
 */
export class WavStream {
  readonly format: WavFormat;
  private fd: number | null;
  private pos: number;
  private readonly end: number;
  private readonly frameBytes: number;
  private readonly resampler: Resampler;
  private framesIn = 0;
  private produced = 0;

  constructor(readonly file: string) {
    try {
      this.fd = fs.openSync(file, 'r');
    } catch (err) {
      throw new WavError(file, `cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    try {
      const st = fs.fstatSync(this.fd);
      if (!st.isFile()) throw new WavError(file, 'not a regular file');
      const fd = this.fd;
      const read = (offset: number, length: number) => {
        const b = Buffer.alloc(length);
        return b.subarray(0, fs.readSync(fd, b, 0, length, offset));
      };
      const layout = parseLayout(read, st.size, file);
      this.format = layout.format;
      this.pos = layout.dataOffset;
      this.end = layout.dataOffset + layout.dataLength;
      this.frameBytes = (this.format.channels * this.format.bitsPerSample) / 8;
      this.resampler = new Resampler(this.format.sampleRate, SAMPLE_RATE);
    } catch (err) {
      this.close();
      throw err;
    }
  }

  /** The next piece (about `seconds` of audio at the file's rate); null once the file is done. */
  read(seconds = 1): Float32Array | null {
    if (this.fd === null) return null;
    if (this.pos >= this.end) {
      this.close();
      const tail = this.resampler.flush(this.framesIn, this.produced);
      return tail.length ? tail : null;
    }
    const frames = Math.max(1, Math.floor(seconds * this.format.sampleRate));
    const want = Math.min(this.end - this.pos, frames * this.frameBytes);
    const block = Buffer.alloc(want);
    const got = fs.readSync(this.fd, block, 0, want, this.pos);
    if (got < want) {
      this.close();
      throw new WavError(this.file, `truncated while reading (the file shrank to ${this.pos + got} bytes)`);
    }
    this.pos += want;
    const mono = downmix(decodeInterleaved(block, this.format));
    this.framesIn += mono.length;
    const out = this.resampler.push(mono);
    this.produced += out.length;
    return out;
  }

  close(): void {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }
}

function decodeInterleaved(data: Buffer, f: WavFormat): Float32Array[] {
  const bytes = f.bitsPerSample / 8;
  const frames = data.length / (bytes * f.channels);
  const out = Array.from({ length: f.channels }, () => new Float32Array(frames));
  let p = 0;
  for (let i = 0; i < frames; i++) {
    for (let c = 0; c < f.channels; c++, p += bytes) {
      let v: number;
      if (f.formatTag === 'float') v = finiteSample(bytes === 4 ? data.readFloatLE(p) : data.readDoubleLE(p));
      else if (bytes === 1)
        v = (data[p] - 128) / 128; // 8-bit WAV is unsigned
      else if (bytes === 2) v = data.readInt16LE(p) / 32768;
      else if (bytes === 3) v = data.readIntLE(p, 3) / 8388608;
      else v = data.readInt32LE(p) / 2147483648;
      out[c][i] = v;
    }
  }
  return out;
}

export function downmix(channels: Float32Array[]): Float32Array {
  if (channels.length === 1) return channels[0];
  const n = channels[0].length;
  const out = new Float32Array(n);
  for (const ch of channels) for (let i = 0; i < n; i++) out[i] += ch[i];
  for (let i = 0; i < n; i++) out[i] /= channels.length;
  return out;
}

/** Any supported WAV -> 16 kHz mono float. */
export function toMono16k(decoded: DecodedWav): Float32Array {
  return resample(downmix(decoded.channels), decoded.format.sampleRate, SAMPLE_RATE);
}

export function readWav16kMono(file: string): { samples: Float32Array; format: WavFormat } {
  let buf: Buffer;
  try {
    // a FIFO or a device would be read forever
    if (!fs.statSync(file).isFile()) throw new WavError(file, 'not a regular file');
    buf = fs.readFileSync(file);
  } catch (err) {
    if (err instanceof WavError) throw err;
    throw new WavError(file, `cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const decoded = parseWav(buf, file);
  return { samples: toMono16k(decoded), format: decoded.format };
}

/** 16-bit PCM mono WAV (used by enrollment recordings and tests). */
export function encodeWav16(samples: Float32Array, sampleRate = SAMPLE_RATE): Buffer {
  const buf = Buffer.alloc(44 + samples.length * 2);
  buf.write('RIFF', 0, 'latin1');
  buf.writeUInt32LE(36 + samples.length * 2, 4);
  buf.write('WAVEfmt ', 8, 'latin1');
  buf.writeUInt32LE(16, 16);
  buf.writeUInt16LE(1, 20);
  buf.writeUInt16LE(1, 22);
  buf.writeUInt32LE(sampleRate, 24);
  buf.writeUInt32LE(sampleRate * 2, 28);
  buf.writeUInt16LE(2, 32);
  buf.writeUInt16LE(16, 34);
  buf.write('data', 36, 'latin1');
  buf.writeUInt32LE(samples.length * 2, 40);
  for (let i = 0; i < samples.length; i++) buf.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(samples[i] * 32768))), 44 + i * 2);
  return buf;
}
