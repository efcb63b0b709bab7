// Durable outbox for final transcripts. Each one is written to its own file in the state
// directory and fsynced (file and directory) before it is handed to MQTT; the file is removed only
// when the broker acknowledges it (PUBACK). After a broker outage or a crash, whatever is still in
// the journal is sent again with the same id. Bounded: when full, the oldest entry is dropped and
// counted, because a device that has been offline for days should keep its newest speech.
import fs from 'node:fs';
import path from 'node:path';
import { childLogger } from './log.js';

const log = childLogger('outbox');

export interface OutboxEntry {
  id: string;
  topic: string;
  payload: string;
  /** epoch ms when it was created, for message expiry on late redelivery */
  created: number;
  seq: number;
}

interface Counters {
  dropped: number;
  expired: number;
}

const ENTRY = /^(\d{12})-([A-Za-z0-9-]+)\.json$/;

export class Outbox {
  private readonly entries = new Map<string, OutboxEntry & { file: string }>();
  private seq = 0;
  private counters: Counters = { dropped: 0, expired: 0 };
  private readonly countersFile: string;

  constructor(
    readonly dir: string,
    private readonly maxEntries: number,
  ) {
    this.countersFile = path.join(dir, 'counters.json');
  }

  /** Loads what a previous run left unacknowledged. */
  open(): void {
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o750 });
    try {
      this.counters = { dropped: 0, expired: 0, ...JSON.parse(fs.readFileSync(this.countersFile, 'utf8')) };
    } catch {
      // no counters yet (or unreadable): start from zero
    }
    for (const name of fs.readdirSync(this.dir).sort()) {
      const file = path.join(this.dir, name);
      if (name.includes('.tmp')) {
        fs.rmSync(file, { force: true }); // a write that never completed: it was never published either
        continue;
      }
      const m = ENTRY.exec(name);
      if (!m) continue;
      try {
        const entry = JSON.parse(fs.readFileSync(file, 'utf8')) as OutboxEntry;
        if (typeof entry.id !== 'string' || typeof entry.topic !== 'string' || typeof entry.payload !== 'string') throw new Error('missing fields');
        this.entries.set(entry.id, { ...entry, seq: Number(m[1]), file });
        this.seq = Math.max(this.seq, Number(m[1]) + 1);
      } catch (err) {
        log.error({ file, err: (err as Error).message }, 'unreadable outbox entry moved aside');
        fs.renameSync(file, `${file}.corrupt`);
      }
    }
    if (this.entries.size) log.info({ pending: this.entries.size }, 'unacknowledged transcripts from a previous run will be sent again');
  }

  get pending(): number {
    return this.entries.size;
  }

  get dropped(): number {
    return this.counters.dropped;
  }

  get expired(): number {
    return this.counters.expired;
  }

  /** Oldest first. */
  list(): OutboxEntry[] {
    return [...this.entries.values()].sort((a, b) => a.seq - b.seq);
  }

  has(id: string): boolean {
    return this.entries.has(id);
  }

  /** Journals an entry durably; resolves once it is on disk. */
  async add(id: string, topic: string, payload: string, created = Date.now()): Promise<OutboxEntry> {
    while (this.entries.size >= this.maxEntries) {
      const oldest = this.list()[0];
      log.warn({ id: oldest.id }, 'outbox full: dropping the oldest unacknowledged transcript');
      await this.remove(oldest.id);
      this.counters.dropped++;
      await this.saveCounters();
    }
    const seq = this.seq++;
    const entry: OutboxEntry = { id, topic, payload, created, seq };
    const file = path.join(this.dir, `${String(seq).padStart(12, '0')}-${id}.json`);
    const tmp = `${file}.tmp`;
    const fh = await fs.promises.open(tmp, 'w', 0o640);
    try {
      await fh.writeFile(JSON.stringify(entry));
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.promises.rename(tmp, file);
    await this.syncDir();
    this.entries.set(id, { ...entry, file });
    return entry;
  }

  /** The broker acknowledged it. */
  async ack(id: string): Promise<void> {
    await this.remove(id);
  }

  /** Too old to be worth delivering (MQTT 5 expiry passed while it waited). */
  async expire(id: string): Promise<void> {
    await this.remove(id);
    this.counters.expired++;
    await this.saveCounters();
  }

  private async remove(id: string): Promise<void> {
    const e = this.entries.get(id);
    if (!e) return;
    // counted as pending until the file is really gone
    await fs.promises.rm(e.file, { force: true });
    this.entries.delete(id);
  }

  private async saveCounters(): Promise<void> {
    const tmp = `${this.countersFile}.tmp`;
    await fs.promises.writeFile(tmp, JSON.stringify(this.counters));
    await fs.promises.rename(tmp, this.countersFile);
  }

  private async syncDir(): Promise<void> {
    // The rename is durable only once the directory entry is on disk too.
    const dh = await fs.promises.open(this.dir, 'r');
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
  }
}
