// The daemon's state for people and supervisors: the retained <site>/status/detail message (on
// connect, on every change it shows, every 30 s, and with the final counts when the daemon stops)
// and systemd's STATUS= line after each transcript. An extension, always on.
import type { DaemonStatus, Extension, ExtensionContext, Feature } from './extension.js';

const REFRESH_MS = 30_000;
/** acknowledgements come in bursts: their counts are published at most this often */
const SOON_MS = 200;

/** systemd's STATUS= line (READY=1 carries it too). */
export function statusLine(s: DaemonStatus): string {
  const journal = s.outbox.journal.state === 'failing' ? `, journal failing (${s.outbox.journal.error})` : '';
  return `${s.muted ? 'muted' : 'listening'} on ${s.source.kind}:${s.source.device} (${s.mic?.state ?? 'starting'}); ${s.transcripts} transcripts; outbox ${s.outbox.pending} pending, ${s.outbox.dropped} dropped${journal}`;
}

export class StatusExtension implements Extension {
  readonly name = 'status';
  private refresh: NodeJS.Timeout | undefined;
  private soon: NodeJS.Timeout | undefined;
  /** the journal state last published: a change shows at once */
  private journalShown: 'ok' | 'failing' = 'ok';

  constructor(private readonly ctx: ExtensionContext) {}

  async start(): Promise<void> {
    const { events } = this.ctx;
    events.on(this, 'mqttConnected', () => this.publish());
    events.on(this, 'stateChanged', () => this.publish());
    events.on(this, 'transcriptAcked', () => this.publishSoon());
    events.on(this, 'transcriptStored', () => {
      if (this.ctx.status().outbox.journal.state !== this.journalShown) this.publishSoon();
    });
    events.on(this, 'transcript', () => this.ctx.notifier.status(statusLine(this.ctx.status())));
    this.refresh = setInterval(() => this.publish(), REFRESH_MS);
    this.refresh.unref();
  }

  /** The final counts (journal failures included), before the link goes offline. */
  async stop(): Promise<void> {
    this.ctx.events.off(this);
    clearInterval(this.refresh);
    clearTimeout(this.soon);
    this.publish();
  }

  private publishSoon(): void {
    if (this.soon) return;
    this.soon = setTimeout(() => {
      this.soon = undefined;
      this.publish();
    }, SOON_MS);
  }

  private publish(): void {
    const s = this.ctx.status();
    const link = this.ctx.link();
    this.journalShown = s.outbox.journal.state;
    link.publishRetained(link.topics.statusDetail, {
      state: s.stopping ? 'stopping' : 'running',
      site: this.ctx.cfg().site,
      version: this.ctx.version,
      model: s.model,
      muted: s.muted,
      mic: s.mic ?? null,
      profiles: s.profiles,
      transcripts: s.transcripts,
      outbox: {
        pending: s.outbox.pending,
        dropped: s.outbox.dropped,
        expired: s.outbox.expired,
        rejected: s.outbox.rejected,
        journal: s.outbox.journal,
      },
      inbound_rejected: link.rejected,
      uptime_s: Math.round((Date.now() - this.ctx.startedAt) / 1000),
    });
  }
}

export const statusDetail: Feature = { name: 'status', create: (ctx) => new StatusExtension(ctx) };
