// ALSA capture through node-record-lpcm16 + arecord, supervised: node-record-lpcm16 neither restarts
// a recorder that exits nor reports a vanished device usefully, so this class watches the child
// process, reports 'lost' with arecord's own last error line, and retries with exponential
// back-off until the device is back. The daemon keeps running throughout.
import type { ChildProcess } from 'node:child_process';
import recorder from 'node-record-lpcm16';
import { childLogger } from '../log.js';
import { PcmDecoder } from './pcm.js';
import { AudioSource } from './source.js';
import { SAMPLE_RATE } from '../frames.js';

const log = childLogger('alsa');

export interface AlsaOptions {
  device: string;
  retry: { initial_ms: number; max_ms: number };
  /** a recorder that produces nothing for this long is considered hung and restarted */
  stallMs?: number;
}

interface Recording {
  process: ChildProcess;
  stream(): NodeJS.ReadableStream;
  stop(): void;
}

export class AlsaSource extends AudioSource {
  readonly kind = 'alsa' as const;
  readonly live = true;
  readonly device: string;
  private recording: Recording | undefined;
  private decoder = new PcmDecoder('s16le', 1);
  private backoff: number;
  private retryTimer: NodeJS.Timeout | undefined;
  private stallTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private restarts = 0;
  private lastError = '';
  private startedAt = 0;

  constructor(private readonly opts: AlsaOptions) {
    super();
    this.device = opts.device;
    this.backoff = opts.retry.initial_ms;
  }

  /** pid of the running arecord (tests kill it to prove recovery) */
  get recorderPid(): number | undefined {
    return this.recording?.process.pid;
  }

  start(): void {
    this.stopped = false;
    this.spawn();
  }

  private spawn(): void {
    this.setState('starting', { restarts: this.restarts });
    this.lastError = '';
    this.decoder.reset();
    let rec: Recording;
    try {
      rec = recorder.record({
        recorder: 'arecord',
        device: this.device,
        sampleRate: SAMPLE_RATE,
        channels: 1,
        audioType: 'raw',
      }) as unknown as Recording;
    } catch (err) {
      this.lost(`cannot start arecord: ${(err as Error).message}`);
      return;
    }
    this.recording = rec;
    this.startedAt = Date.now();
    const child = rec.process;
    let announced = false;
    child.stderr?.on('data', (d: Buffer) => {
      const line = d.toString().trim().split('\n').pop();
      if (line) this.lastError = line;
    });
    child.on('error', (err) => {
      this.lastError = err.message.includes('ENOENT') ? 'arecord is not installed (apt install alsa-utils)' : err.message;
    });
    const stream = rec.stream();
    // node-record-lpcm16 emits a plain string as 'error' when arecord exits non-zero; the exit
    // handler below reports it, this listener only keeps it from being an unhandled error.
    stream.on('error', () => {});
    stream.on('data', (chunk: Buffer) => {
      if (this.recording !== rec) return;
      if (!announced) {
        announced = true;
        this.setState('capturing', { restarts: this.restarts });
        if (this.restarts > 0) log.info({ device: this.device, restarts: this.restarts }, 'microphone capture resumed');
      }
      // Data has flowed for a while: the device is healthy again, forget the back-off.
      if (Date.now() - this.startedAt > 2000) this.backoff = this.opts.retry.initial_ms;
      this.armStallTimer(rec);
      const samples = this.decoder.decode(chunk);
      if (samples.length) this.emit('audio', samples);
    });
    this.armStallTimer(rec);
    child.once('close', (code, signal) => {
      if (this.recording !== rec) return;
      this.recording = undefined;
      clearTimeout(this.stallTimer);
      if (this.stopped) return;
      const why = signal ? `arecord was killed by ${signal}` : `arecord exited with code ${code}`;
      this.lost(this.lastError ? `${why}: ${this.lastError}` : why);
    });
  }

  private armStallTimer(rec: Recording): void {
    clearTimeout(this.stallTimer);
    this.stallTimer = setTimeout(() => {
      if (this.recording !== rec || this.stopped) return;
      this.lastError = `no audio for ${this.opts.stallMs ?? 3000} ms`;
      log.warn({ device: this.device }, 'recorder hung, restarting it');
      rec.process.kill('SIGKILL');
    }, this.opts.stallMs ?? 3000);
  }

  private lost(error: string): void {
    const wait = this.backoff;
    this.backoff = Math.min(this.opts.retry.max_ms, this.backoff * 2);
    this.restarts++;
    log.warn({ device: this.device, error, retry_in_ms: wait }, 'microphone lost');
    this.setState('lost', { error, retry_in_ms: wait, restarts: this.restarts });
    this.retryTimer = setTimeout(() => {
      if (!this.stopped) this.spawn();
    }, wait);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.stallTimer);
    const rec = this.recording;
    this.recording = undefined;
    if (rec && rec.process.exitCode === null && rec.process.signalCode === null) {
      const closed = new Promise<void>((resolve) => rec.process.once('close', () => resolve()));
      rec.process.kill('SIGTERM');
      await Promise.race([closed, new Promise((r) => setTimeout(r, 1000))]);
    }
    this.setState('stopped', { restarts: this.restarts });
  }
}
