// A WAV file as a source: paced in real time (--realtime, for demos and latency figures) or as
// fast as the pipeline takes it, yielding to the event loop between chunks.
import { readWav16kMono, SAMPLE_RATE } from './wav.js';
import { AudioSource } from './source.js';

const CHUNK = SAMPLE_RATE / 50; // 20 ms

export class FileSource extends AudioSource {
  readonly kind = 'file' as const;
  readonly live: boolean;
  private timer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  private stopped = false;
  private samples: Float32Array | undefined;

  constructor(
    readonly device: string,
    private readonly realtime: boolean,
  ) {
    super();
    this.live = realtime;
  }

  /** Reads the file now so that a bad file fails before anything else starts. */
  load(): Float32Array {
    if (!this.samples) this.samples = readWav16kMono(this.device).samples;
    return this.samples;
  }

  start(): void {
    const samples = this.load();
    this.setState('capturing');
    let pos = 0;
    const startedAt = performance.now();
    const step = () => {
      if (this.stopped) return;
      // In real time, emit every chunk whose time has come (catches up after a slow tick).
      const due = this.realtime ? Math.min(samples.length, Math.floor(((performance.now() - startedAt) / 1000) * SAMPLE_RATE)) : Math.min(samples.length, pos + CHUNK * 5);
      while (pos + CHUNK <= due || (due === samples.length && pos < due)) {
        const end = Math.min(pos + CHUNK, samples.length);
        this.emit('audio', samples.subarray(pos, end));
        pos = end;
      }
      if (pos >= samples.length) {
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
    if (this.timer) {
      clearTimeout(this.timer as NodeJS.Timeout);
      clearImmediate(this.timer as NodeJS.Immediate);
    }
    if (this.current?.state !== 'ended') this.setState('stopped');
  }
}
