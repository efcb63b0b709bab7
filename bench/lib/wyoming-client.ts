// A Wyoming client (test/wyoming.test.ts and bench/wyoming.ts) written from the specification
// (OHF-Voice/wyoming README, "Format") on its own: it shares no code with daemon/wyoming, so the
// server's framing is checked byte for byte against an independent reading. Events go out with data inline in the header or as a data_length block.
import net from 'node:net';

export interface Ev {
  type: string;
  data: Record<string, any>;
  payload?: Buffer;
  /** the raw header line as received */
  header: Record<string, any>;
  at: number;
}

export type DataStyle = 'inline' | 'block';

export function frame(type: string, data: Record<string, unknown> | undefined, payload: Buffer | undefined, style: DataStyle): Buffer {
  const header: Record<string, unknown> = { type };
  let block: Buffer | undefined;
  if (data && style === 'inline') header.data = data;
  if (data && style === 'block') {
    block = Buffer.from(JSON.stringify(data));
    header.data_length = block.length;
  }
  if (payload) header.payload_length = payload.length;
  return Buffer.concat([Buffer.from(JSON.stringify(header) + '\n'), block ?? Buffer.alloc(0), payload ?? Buffer.alloc(0)]);
}

/** 16-bit little-endian PCM of float samples. */
export function s16(samples: Float32Array): Buffer {
  const b = Buffer.alloc(samples.length * 2);
  for (let i = 0; i < samples.length; i++) b.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(samples[i] * 32767))), i * 2);
  return b;
}

export class WyomingClient {
  readonly events: Ev[] = [];
  closed = false;
  private buf = Buffer.alloc(0);
  private waiters: (() => void)[] = [];

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.parse();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => {});
  }

  static connect(target: { port: number; host?: string } | { path: string }): Promise<WyomingClient> {
    return new Promise((resolve, reject) => {
      const s = 'path' in target ? net.connect(target.path) : net.connect(target.port, target.host ?? '127.0.0.1');
      s.once('connect', () => resolve(new WyomingClient(s)));
      s.once('error', reject);
    });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  private parse(): void {
    for (;;) {
      const nl = this.buf.indexOf(10);
      if (nl < 0) return;
      const header = JSON.parse(this.buf.subarray(0, nl).toString());
      const dl = header.data_length ?? 0;
      const pl = header.payload_length ?? 0;
      if (this.buf.length < nl + 1 + dl + pl) return;
      let data = header.data ?? {};
      if (dl) data = { ...data, ...JSON.parse(this.buf.subarray(nl + 1, nl + 1 + dl).toString()) };
      const payload = pl ? Buffer.from(this.buf.subarray(nl + 1 + dl, nl + 1 + dl + pl)) : undefined;
      this.buf = this.buf.subarray(nl + 1 + dl + pl);
      this.events.push({ type: header.type, data, payload, header, at: performance.now() });
      this.wake();
    }
  }

  write(bytes: Buffer): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.destroyed) return resolve();
      this.socket.write(bytes, () => resolve());
    });
  }

  send(type: string, data?: Record<string, unknown>, payload?: Buffer, style: DataStyle = 'block'): Promise<void> {
    return this.write(frame(type, data, payload, style));
  }

  /** Sends a whole utterance: transcribe, audio-start, chunks (optionally paced in real time), audio-stop. */
  async utterance(
    pcm: Buffer,
    fmt: { rate: number; width: number; channels: number },
    opts: { style?: DataStyle; chunkBytes?: number; realtime?: boolean; transcribe?: boolean } = {},
  ): Promise<number> {
    const style = opts.style ?? 'block';
    const chunk = opts.chunkBytes ?? 2048;
    if (opts.transcribe !== false) await this.send('transcribe', { language: 'en' }, undefined, style);
    await this.send('audio-start', { ...fmt, timestamp: 0 }, undefined, style);
    const bytesPerS = fmt.rate * fmt.width * fmt.channels;
    const t0 = performance.now();
    for (let o = 0; o < pcm.length; o += chunk) {
      await this.send(
        'audio-chunk',
        { ...fmt, timestamp: Math.round((o / bytesPerS) * 1000) },
        pcm.subarray(o, Math.min(pcm.length, o + chunk)),
        style,
      );
      if (opts.realtime) {
        const wait = t0 + ((o + chunk) / bytesPerS) * 1000 - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
    }
    await this.send('audio-stop', { timestamp: Math.round((pcm.length / bytesPerS) * 1000) }, undefined, style);
    return performance.now();
  }

  /** Waits for an event of this type after index `from`. */
  async next(type: string, timeoutMs = 30000, from = 0): Promise<Ev> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const ev = this.events.slice(from).find((e) => e.type === type);
      if (ev) return ev;
      if (this.closed) throw new Error(`connection closed before "${type}"; got ${this.events.map((e) => e.type).join(', ')}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no "${type}" within ${timeoutMs} ms; got ${this.events.map((e) => e.type).join(', ')}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  async waitClosed(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error('the server did not close the connection');
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  close(): void {
    this.socket.destroy();
  }
}
