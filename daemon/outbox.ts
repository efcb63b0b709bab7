// Durable outbox for final transcripts. Each one is written to its own file in the state
// directory and fsynced (file and directory) before it is handed to MQTT; the file is removed only
// when the broker acknowledges it (PUBACK). After a broker outage or a crash, whatever is still in
// the journal is sent again with the same id. Bounded: when full, the oldest entry is dropped and
// counted, because a device that has been offline for days should keep its newest speech.
//
// One writer: every file operation runs in order on one queue, so concurrent transcripts never race
// on a file name. Entries are kept in a Map in journal order (oldest first), so the oldest entry and
// the next ones to send are found without sorting. When the journal cannot be written (read-only or
// full state directory), a transcript is still kept in memory and sent (at-least-once while the
// process lives); the failure is counted and reported in `journal`.
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
  /** the broker refused them (MQTT 5 PUBACK reason code): set aside, not retried */
  rejected: number;
}

export interface JournalState {
  state: 'ok' | 'failing';
  /** the last write error while failing */
  error: string | null;
  since: string | null;
  /** transcripts kept only in memory because the journal could not be written (ever) */
  unjournalled: number;
}

const ENTRY = /^(\d{12})-([A-Za-z0-9-]+)\.json$/;
const ID = /^[A-Za-z0-9-]{1,128}$/;

/** Why an entry cannot be published as it is (null when it can): a journal edited by hand or by
 * an older version must not make the broker drop the connection (a wildcard topic does). */
export function entryProblem(e: Partial<OutboxEntry>): string | null {
  if (typeof e.id !== 'string' || !ID.test(e.id)) return 'bad id';
  if (typeof e.topic !== 'string' || e.topic.length === 0) return 'no topic';
  if (/[#+\u0000]/.test(e.topic)) return `topic ${JSON.stringify(e.topic.slice(0, 100))} has a wildcard or NUL`;
  if (Buffer.byteLength(e.topic) > 65535) return 'topic too long';
  if (typeof e.payload !== 'string') return 'no payload';
  if (typeof e.created !== 'number' || !Number.isFinite(e.created)) return 'bad creation time';
  return null;
}

/** mkdir -p that reports the real cause (a recursive mkdir says ENOENT on a read-only filesystem). */
function makeDir(dir: string): void {
  try {
    fs.mkdirSync(dir, { mode: 0o750 });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return;
    if (code !== 'ENOENT') throw err;
    fs.mkdirSync(dir, { recursive: true, mode: 0o750 });
  }
}

type Stored = OutboxEntry & { file: string | null };

export class Outbox {
  private readonly entries = new Map<string, Stored>();
  private seq = 0;
  private counters: Counters = { dropped: 0, expired: 0, rejected: 0 };
  private readonly countersFile: string;
  private io: Promise<void> = Promise.resolve();
  private readonly journalState: JournalState = { state: 'ok', error: null, since: null, unjournalled: 0 };

  constructor(
    readonly dir: string,
    private readonly maxEntries: number,
  ) {
    this.countersFile = path.join(dir, 'counters.json');
  }

  /** Loads what a previous run left unacknowledged. An unusable directory is reported, not fatal. */
  open(): void {
    let names: string[];
    try {
      makeDir(this.dir);
      names = fs.readdirSync(this.dir).sort();
    } catch (err) {
      this.failing(err as Error);
      return;
    }
    try {
      const saved = JSON.parse(fs.readFileSync(this.countersFile, 'utf8')) as Partial<Counters>;
      for (const k of ['dropped', 'expired', 'rejected'] as const)
        if (Number.isSafeInteger(saved[k]) && saved[k]! >= 0) this.counters[k] = saved[k]!;
    } catch {
      // no counters yet (or unreadable): start from zero
    }
    for (const name of names) {
      const file = path.join(this.dir, name);
      if (name.endsWith('.tmp')) {
        fs.rmSync(file, { force: true }); // a write that never completed: it was never published either
        continue;
      }
      const m = ENTRY.exec(name);
      if (!m) continue;
      try {
        const st = fs.statSync(file);
        if (!st.isFile() || st.size > 1024 * 1024) throw new Error('not a regular file of at most 1 MiB');
        const entry = JSON.parse(fs.readFileSync(file, 'utf8')) as OutboxEntry;
        const problem = entry && typeof entry === 'object' ? entryProblem(entry) : 'not an object';
        if (problem) throw new Error(problem);
        if (this.entries.has(entry.id)) throw new Error(`duplicate id ${entry.id}`);
        this.entries.set(entry.id, {
          id: entry.id,
          topic: entry.topic,
          payload: entry.payload,
          created: entry.created,
          seq: Number(m[1]),
          file,
        });
        this.seq = Math.max(this.seq, Number(m[1]) + 1);
      } catch (err) {
        // (JSON.parse's message would quote the file)
        log.error({ file, err: err instanceof SyntaxError ? 'not JSON' : (err as Error).message }, 'unusable outbox entry moved aside');
        try {
          fs.renameSync(file, `${file}.corrupt`);
        } catch {
          // cannot even rename it (read-only): it is skipped again next time
        }
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

  get rejected(): number {
    return this.counters.rejected;
  }

  get journal(): JournalState {
    return { ...this.journalState };
  }

  /** Oldest first (a snapshot). */
  list(): OutboxEntry[] {
    return [...this.entries.values()];
  }

  /** Oldest first, live: for walking the first few entries without copying the whole journal. */
  values(): IterableIterator<OutboxEntry> {
    return this.entries.values();
  }

  has(id: string): boolean {
    return this.entries.has(id);
  }

  /** Resolves once every file operation queued so far has finished. */
  settled(): Promise<void> {
    return this.io;
  }

  private queue<T>(op: () => Promise<T>): Promise<T> {
    const run = this.io.then(op);
    this.io = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** Journals an entry durably (resolves once it is on disk, or kept in memory when the journal
   * cannot be written). Throws only for an entry that could never be published. */
  add(id: string, topic: string, payload: string, created = Date.now()): Promise<OutboxEntry> {
    const problem = entryProblem({ id, topic, payload, created });
    if (problem) return Promise.reject(new Error(`refusing an outbox entry: ${problem}`));
    return this.queue(async () => {
      while (this.entries.size >= this.maxEntries) {
        const oldest = this.entries.values().next().value!;
        log.warn({ id: oldest.id }, 'outbox full: dropping the oldest unacknowledged transcript');
        this.entries.delete(oldest.id);
        this.counters.dropped++;
        await this.unlink(oldest.file);
        await this.saveCounters();
      }
      const seq = this.seq++;
      const entry: OutboxEntry = { id, topic, payload, created, seq };
      let file: string | null = path.join(this.dir, `${String(seq).padStart(12, '0')}-${id}.json`);
      try {
        // the directory may be missing (it could not be made at start): make it now, or say why not
        if (this.journalState.state === 'failing') makeDir(this.dir);
        await this.writeDurably(file, JSON.stringify(entry));
        this.recovered();
      } catch (err) {
        this.failing(err as Error);
        this.journalState.unjournalled++;
        file = null;
      }
      this.entries.set(id, { ...entry, file });
      return entry;
    });
  }

  /** The broker acknowledged it: it is no longer pending at once (so it is never sent twice);
   * its file goes on the writer's queue. */
  ack(id: string): Promise<void> {
    return this.forget(id);
  }

  /** Too old to be worth delivering (MQTT 5 expiry passed while it waited). */
  expire(id: string): Promise<void> {
    if (!this.entries.has(id)) return this.io;
    this.counters.expired++;
    return this.forget(id, true);
  }

  /** The broker refused it (an ACL, a reason code): kept on disk as .rejected, never retried. */
  reject(id: string): Promise<void> {
    const e = this.entries.get(id);
    if (!e) return this.io;
    this.entries.delete(id);
    this.counters.rejected++;
    return this.queue(async () => {
      if (e.file) await fs.promises.rename(e.file, `${e.file}.rejected`).catch(() => this.unlink(e.file));
      await this.saveCounters();
    });
  }

  private forget(id: string, saveCounters = false): Promise<void> {
    const e = this.entries.get(id);
    if (!e) return this.io;
    this.entries.delete(id);
    return this.queue(async () => {
      await this.unlink(e.file);
      if (saveCounters) await this.saveCounters();
    });
  }

  private async unlink(file: string | null): Promise<void> {
    if (!file) return;
    try {
      await fs.promises.rm(file, { force: true });
    } catch (err) {
      // left behind, it is sent again after a restart (a duplicate, never a loss)
      this.failing(err as Error);
    }
  }

  private async saveCounters(): Promise<void> {
    try {
      await this.writeDurably(this.countersFile, JSON.stringify(this.counters), false);
    } catch (err) {
      this.failing(err as Error);
    }
  }

  private async writeDurably(file: string, text: string, sync = true): Promise<void> {
    const tmp = `${file}.tmp`;
    try {
      const fh = await fs.promises.open(tmp, 'w', 0o640);
      try {
        await fh.writeFile(text);
        if (sync) await fh.sync();
      } finally {
        await fh.close();
      }
      await fs.promises.rename(tmp, file);
    } catch (err) {
      await fs.promises.rm(tmp, { force: true }).catch(() => {});
      throw err;
    }
    // The rename is durable only once the directory entry is on disk too.
    if (sync) {
      const dh = await fs.promises.open(this.dir, 'r');
      try {
        await dh.sync();
      } finally {
        await dh.close();
      }
    }
  }

  private failing(err: Error): void {
    const code = (err as NodeJS.ErrnoException).code ?? err.message;
    if (this.journalState.state !== 'failing') {
      log.error(
        { dir: this.dir, err: code },
        'cannot write the outbox journal: transcripts are still sent, but kept only in memory until it works again',
      );
      this.journalState.since = new Date().toISOString();
    }
    this.journalState.state = 'failing';
    this.journalState.error = code;
  }

  private recovered(): void {
    if (this.journalState.state === 'ok') return;
    log.info({ dir: this.dir }, 'the outbox journal can be written again');
    this.journalState.state = 'ok';
    this.journalState.error = null;
    this.journalState.since = null;
  }
}
