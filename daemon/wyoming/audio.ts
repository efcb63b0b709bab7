// A Wyoming audio stream (rate, width in bytes, channels) to the engine's 16 kHz mono float,
// through the daemon's own PCM decoder and resampler.
import { PcmDecoder, type PcmFormat } from '../audio/pcm.js';
import { Resampler } from '../audio/resample.js';
import { SAMPLE_RATE } from '../frames.js';
import { ProtocolError } from './protocol.js';

export interface AudioFormat {
  rate: number;
  width: number;
  channels: number;
}

const WIDTHS: Record<number, PcmFormat> = { 1: 's8', 2: 's16le', 3: 's24le', 4: 's32le' };

/** The format an audio-start or audio-chunk announces; a clear error for one we cannot take. */
export function audioFormat(data: Record<string, unknown>, event: string): AudioFormat {
  const { rate, width, channels } = data;
  const bad = (what: string) => new ProtocolError(`${event}: ${what}`, 'bad-audio-format');
  if (typeof rate !== 'number' || !Number.isInteger(rate) || rate < 1000 || rate > 384000)
    throw bad(`rate must be an integer from 1000 to 384000 Hz, got ${JSON.stringify(rate)}`);
  if (typeof width !== 'number' || !(width in WIDTHS)) throw bad(`width must be 1, 2, 3 or 4 bytes, got ${JSON.stringify(width)}`);
  if (typeof channels !== 'number' || !Number.isInteger(channels) || channels < 1 || channels > 32)
    throw bad(`channels must be an integer from 1 to 32, got ${JSON.stringify(channels)}`);
  return { rate, width, channels };
}

export const sameFormat = (a: AudioFormat, b: AudioFormat) => a.rate === b.rate && a.width === b.width && a.channels === b.channels;

export class AudioConverter {
  private readonly decoder: PcmDecoder;
  private readonly resampler: Resampler;
  private samplesIn = 0;
  private samplesOut = 0;

  constructor(readonly format: AudioFormat) {
    this.decoder = new PcmDecoder(WIDTHS[format.width], format.channels);
    this.resampler = new Resampler(format.rate, SAMPLE_RATE);
  }

  push(bytes: Buffer): Float32Array {
    const mono = this.decoder.decode(bytes);
    this.samplesIn += mono.length;
    const out = this.resampler.push(mono);
    this.samplesOut += out.length;
    return out;
  }

  /** the resampler's tail: the last input samples' outputs */
  flush(): Float32Array {
    const tail = this.resampler.flush(this.samplesIn, this.samplesOut);
    this.samplesOut += tail.length;
    return tail;
  }
}
