// A WAV file as a source: paced in real time (--realtime, for demos and latency figures) or as
// fast as the pipeline takes it, yielding to the event loop between chunks. The file is streamed
// (a second at a time), so a file of any length takes the same memory.
import { msToSamples, SAMPLE_RATE } from '../frames.js';
import { WavStream } from './wav.js';
import { AudioSource } from './source.js';

const CHUNK = msToSamples(20);

export class FileSource extends AudioSource {
  readonly kind = 'file' as const;
  readonly live: boolean;
  private timer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  private stopped = false;
  private wav: WavStream | undefined;
  private buf = new Float32Array(0);
  private at = 0;
  private eof = false;

  constructor(
    readonly device: string,
    private readonly realtime: boolean,
  ) {
    super();
    this.live = realtime;
  }

  /** Opens the file and checks its header now, so that a bad file fails before anything else starts. */
  load(): void {
    this.wav ??= new WavStream(this.device);
  }

  /** At most n samples (fewer only at the end of the file); empty when it is all out. */
  private take(n: number): Float32Array {
    while (this.buf.length - this.at < n && !this.eof) {
      const next = this.wav!.read(1);
      if (next === null) this.eof = true;
      else {
        const merged = new Float32Array(this.buf.length - this.at + next.length);
        merged.set(this.buf.subarray(this.at));
        merged.set(next, this.buf.length - this.at);
        this.buf = merged;
        this.at = 0;
      }
    }
    const out = this.buf.subarray(this.at, Math.min(this.buf.length, this.at + n));
    this.at += out.length;
    return out;
  }

  start(): void {
    this.load();
    this.setState('capturing');
    let emitted = 0;
    const startedAt = performance.now();
    const step = () => {
      if (this.stopped) return;
      // In real time, emit every chunk whose time has come (catches up after a slow tick).
      const due = this.realtime ? Math.floor(((performance.now() - startedAt) / 1000) * SAMPLE_RATE) : emitted + CHUNK * 5;
      let piece: Float32Array = new Float32Array(0);
      while (emitted + CHUNK <= due && (piece = this.take(CHUNK)).length > 0) {
        this.emit('audio', piece);
        emitted += piece.length;
        if (piece.length < CHUNK) break;
      }
      if (this.eof && this.at >= this.buf.length) {
        this.wav!.close();
        this.setState('ended');
        this.emit('end');
        return;
      }
      this.timer = this.realtime ? setTimeout(step, 10) : setImmediate(step);
    };
    step();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wav?.close();
    if (this.timer) {
      clearTimeout(this.timer as NodeJS.Timeout);
      clearImmediate(this.timer as NodeJS.Immediate);
    }
    if (this.current?.state !== 'ended') this.setState('stopped');
  }
}
