// Raw PCM on standard input (e.g. `parec ... | earshot run`), resampled to 16 kHz mono.
import type { Readable } from 'node:stream';
import { PcmDecoder, type PcmFormat } from './pcm.js';
import { Resampler } from './resample.js';
import { AudioSource } from './source.js';
import { SAMPLE_RATE } from '../frames.js';

export class StdinSource extends AudioSource {
  readonly kind = 'stdin' as const;
  readonly device = 'stdin';
  readonly live = true;
  private readonly decoder: PcmDecoder;
  private readonly resampler: Resampler;
  private onData = (chunk: Buffer) => this.emit('audio', this.resampler.push(this.decoder.decode(chunk)));
  private onEnd = () => {
    this.setState('ended');
    this.emit('end');
  };

  constructor(
    opts: { sample_rate: number; channels: number; format: PcmFormat },
    private readonly input: Readable = process.stdin,
  ) {
    super();
    this.decoder = new PcmDecoder(opts.format, opts.channels);
    this.resampler = new Resampler(opts.sample_rate, SAMPLE_RATE);
  }

  start(): void {
    this.setState('capturing');
    this.input.on('data', this.onData);
    this.input.once('end', this.onEnd);
  }

  async stop(): Promise<void> {
    this.input.off('data', this.onData);
    this.input.off('end', this.onEnd);
    this.input.pause();
    this.setState('stopped');
  }
}
