// Running the real `earshot` CLI as a child process, with models and audio made for the test.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { encodeWav16, readWav16kMono } from '../../daemon/audio/wav.js';
import { repoRoot, tmpDir } from './tmp.js';

export const EARSHOT = path.join(repoRoot, 'bin', 'earshot');

let fixtures: string | undefined;

/** The fixture models (test/fixtures/make_models.py), made once per test process. */
export function fixtureModels(): { transducer: string; pvad: string; speaker_encoder: string; otherSpeakerEncoder: string } {
  if (!fixtures) {
    fixtures = tmpDir('models');
    const r = spawnSync('/usr/bin/python3', [path.join(repoRoot, 'test', 'fixtures', 'make_models.py'), fixtures], {
      cwd: repoRoot,
      encoding: 'utf8',
    });
    if (r.status !== 0) throw new Error(`making fixture models failed: ${r.stderr}`);
  }
  const f = (n: string) => path.join(fixtures!, n);
  return {
    transducer: f('transducer.gguf'),
    pvad: f('pvad.gguf'),
    speaker_encoder: f('spkenc.gguf'),
    otherSpeakerEncoder: f('spkenc-other.gguf'),
  };
}

/** espeak-ng speech at 16 kHz mono. */
export function speech(text: string, voice = 'en-us'): Float32Array {
  const dir = tmpDir('tts');
  const raw = path.join(dir, 'tts.wav');
  execFileSync('espeak-ng', ['-v', voice, '-w', raw, text]);
  const out = path.join(dir, 'tts16.wav');
  execFileSync('sox', [raw, '-r', '16000', '-c', '1', '-b', '16', out]);
  return readWav16kMono(out).samples;
}

export const silence = (seconds: number) => new Float32Array(Math.round(seconds * 16000));

export function concat(...parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function writeWav(file: string, samples: Float32Array): string {
  fs.writeFileSync(file, encodeWav16(samples));
  return file;
}

export function writeConfig(file: string, doc: Record<string, unknown>): string {
  fs.writeFileSync(file, YAML.stringify(doc));
  return file;
}

export class DaemonProcess {
  stderr = '';
  stdout = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(readonly proc: ChildProcess) {
    proc.stderr!.on('data', (d) => (this.stderr += d.toString()));
    proc.stdout?.on('data', (d) => (this.stdout += d.toString()));
    // the daemon may exit while a feeder is still writing: that is not the test's failure
    proc.stdin?.on('error', () => {});
    this.exited = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
  }

  static start(args: string[], env: NodeJS.ProcessEnv = {}, stdin: 'pipe' | 'ignore' = 'ignore'): DaemonProcess {
    return new DaemonProcess(
      spawn(process.execPath, [EARSHOT, ...args], {
        env: { ...process.env, EARSHOT_LOG_LEVEL: 'info', ...env },
        stdio: [stdin, 'pipe', 'pipe'],
      }),
    );
  }

  /** Writes audio to stdin as raw S16_LE in real time (20 ms chunks); resolves when done. */
  async feed(samples: Float32Array, realtime = true): Promise<void> {
    const chunk = 320;
    const t0 = performance.now();
    for (let i = 0; i < samples.length; i += chunk) {
      if (this.proc.exitCode !== null || this.proc.signalCode !== null) throw new Error('the daemon has exited');
      const part = samples.subarray(i, Math.min(samples.length, i + chunk));
      const b = Buffer.alloc(part.length * 2);
      for (let j = 0; j < part.length; j++) b.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(part[j] * 32767))), j * 2);
      if (!this.proc.stdin!.write(b)) {
        const drained = await Promise.race([
          new Promise((r) => this.proc.stdin!.once('drain', () => r(true))),
          this.exited.then(() => false),
        ]);
        if (!drained) throw new Error('the daemon has exited');
      }
      if (realtime) {
        const due = t0 + ((i + chunk) / 16000) * 1000;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
    }
  }

  async waitForLog(pattern: RegExp, timeoutMs = 20000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(this.stderr)) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern} in the daemon's log:\n${this.stderr.slice(-3000)}`);
      if (this.proc.exitCode !== null)
        throw new Error(`daemon exited (${this.proc.exitCode}) before ${pattern}:\n${this.stderr.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** The exit, or a rejection with the log tail when it does not come in time. */
  exit(timeoutMs = 20000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    return Promise.race([
      this.exited,
      new Promise<never>((_, reject) =>
        setTimeout(
          () => reject(new Error(`the daemon did not exit within ${timeoutMs} ms:\n${this.stderr.slice(-3000)}`)),
          timeoutMs,
        ).unref(),
      ),
    ]);
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill(signal);
  }
}

/** Journal entries (transcripts not yet acknowledged) in a state directory. */
export function journalIds(stateDir: string): string[] {
  const dir = path.join(stateDir, 'outbox');
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => /^\d{12}-.*\.json$/.test(f))
    .sort()
    .map((f) => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')).id as string);
}

/** Keeps a daemon's stdin fed in real time: queued audio, else silence; pause() stops the flow. */
export class Feeder {
  private queue: { samples: Float32Array; done: () => void }[] = [];
  private running = true;
  private paused = false;
  private dead = false;
  private readonly loop: Promise<void>;

  constructor(private readonly daemon: DaemonProcess) {
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    const block = 0.1;
    while (this.running) {
      if (this.paused) {
        await new Promise((r) => setTimeout(r, 20));
        continue;
      }
      const next = this.queue.shift();
      try {
        if (next) {
          await this.daemon.feed(next.samples);
          next.done();
        } else await this.daemon.feed(silence(block));
      } catch {
        // the daemon went away: fail what is still queued instead of leaving it pending
        for (const q of this.queue.splice(0)) q.done();
        this.dead = true;
        return;
      }
    }
  }

  /** Plays audio; resolves once it has all been written. */
  say(samples: Float32Array): Promise<void> {
    if (this.dead || !this.running) return Promise.resolve();
    return new Promise((done) => this.queue.push({ samples, done }));
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
  }

  async stop(): Promise<void> {
    this.running = false;
    this.paused = false;
    await this.loop;
  }
}
