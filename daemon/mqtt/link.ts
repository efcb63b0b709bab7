// The daemon's MQTT connection: availability with a last will, retained state topics re-sent on
// every (re)connect, commands in, and transcripts out through the durable outbox. mqtt.js keeps a
// QoS 1 message it has sent in its own store and replays it after a reconnect until PUBACK, so an
// outbox entry is handed to it once per process; a restarted daemon hands over the whole journal.
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Config } from '../config.js';
import { childLogger } from '../log.js';
import type { Outbox, OutboxEntry } from '../outbox.js';
import { excerpt, MAX_INBOUND_BYTES } from './payload.js';
import { Topics } from './topics.js';

const log = childLogger('mqtt');
/** transcripts handed to mqtt.js and not yet acknowledged, at most */
const IN_FLIGHT = 32;

export interface LinkEvents {
  command: [name: string, payload: Buffer];
  connected: [];
  disconnected: [];
  acked: [id: string];
  /** a message on a topic an extension subscribed to */
  message: [topic: string, payload: Buffer];
}

export interface LinkOptions {
  cfg: Pick<Config, 'site' | 'mqtt' | 'outbox'>;
  url: string;
  outbox: Outbox;
  version: string;
  modelName: string;
}

/** The configuration a link is made from: a reload that changes it replaces the link (and restarts
 * the extensions subscribed there). */
export const linkConfigOf = (cfg: Pick<Config, 'site' | 'mqtt'>): unknown => [cfg.site, cfg.mqtt];

/** The URL with any user:password@ removed, for logs. */
export function safeUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//');
}

export class MqttLink extends EventEmitter<LinkEvents> {
  readonly topics: Topics;
  private client: MqttClient | undefined;
  private readonly retained = new Map<string, string>();
  private readonly handed = new Set<string>();
  private readonly cfg: LinkOptions['cfg'];

  constructor(private readonly opts: LinkOptions) {
    super();
    this.cfg = opts.cfg;
    this.topics = new Topics(this.cfg.mqtt.prefix, this.cfg.site);
  }

  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  private clientOptions(): IClientOptions {
    const m = this.cfg.mqtt;
    const read = (file: string, what: string) => {
      try {
        return fs.readFileSync(file);
      } catch (err) {
        throw new Error(`cannot read the MQTT ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
    };
    const embedded = this.cfg.mqtt.url === null;
    return {
      clientId: m.client_id ?? `earshot-${this.cfg.site}-${Math.random().toString(16).slice(2, 8)}`,
      // aedes speaks MQTT 3.1.1 only
      protocolVersion: embedded ? 4 : m.protocol_version,
      clean: true,
      keepalive: m.keepalive_s,
      reconnectPeriod: m.reconnect_ms,
      connectTimeout: 10_000,
      queueQoSZero: false,
      username: m.username ?? undefined,
      password: m.password_env ? process.env[m.password_env] : (m.password ?? undefined),
      ca: m.ca ? read(m.ca, 'CA certificate') : undefined,
      cert: m.cert ? read(m.cert, 'client certificate') : undefined,
      key: m.key ? read(m.key, 'client key') : undefined,
      rejectUnauthorized: m.reject_unauthorized,
      will: { topic: this.topics.status, payload: Buffer.from('offline'), qos: 1, retain: true },
      // MQTT 5: the broker itself drops bigger messages for us (3.1.1 has no such limit: the
      // broker's message_size_limit is the guard there, see README)
      properties: embedded || m.protocol_version !== 5 ? undefined : { maximumPacketSize: MAX_INBOUND_BYTES + 1024 },
    };
  }

  start(): void {
    const options = this.clientOptions();
    log.info({ url: safeUrl(this.opts.url), clientId: options.clientId, user: options.username ?? null }, 'connecting to MQTT broker');
    const client = mqtt.connect(this.opts.url, options);
    this.client = client;
    client.on('connect', () => this.onConnect());
    client.on('close', () => {
      if (this.wasConnected && !this.stopping) log.warn('MQTT connection lost; transcripts stay in the outbox until it is back');
      this.wasConnected = false;
      this.emit('disconnected');
    });
    client.on('error', (err) => log.warn({ err: err.message }, 'MQTT error'));
    client.on('message', (topic, payload, packet) => this.onMessage(topic, payload, packet.retain));
    // Safety net: an entry whose hand-over failed is offered again even without a reconnect.
    this.retryTimer = setInterval(() => this.flush(), this.cfg.outbox.retry_ms);
    this.retryTimer.unref();
  }

  private retryTimer: NodeJS.Timeout | undefined;

  private wasConnected = false;
  private stopping = false;

  private onConnect(): void {
    const client = this.client!;
    this.wasConnected = true;
    log.info({ url: safeUrl(this.opts.url) }, 'MQTT connected');
    client.publish(this.topics.status, 'online', { qos: 1, retain: true });
    for (const [topic, payload] of this.retained) client.publish(topic, payload, { qos: 1, retain: true });
    client.subscribe([this.topics.cmdWildcard, ...this.extraSubs], { qos: 1 });
    this.emit('connected');
    this.flush();
  }

  private onMessage(topic: string, payload: Buffer, retained = false): void {
    // Whatever arrives (retained too), a bad message is logged and dropped: it never stops the daemon.
    try {
      if (payload.length > MAX_INBOUND_BYTES) {
        this.rejected++;
        log.warn(
          { topic: excerpt(Buffer.from(topic)), bytes: payload.length, limit: MAX_INBOUND_BYTES },
          'inbound message too large: dropped',
        );
        return;
      }
      this.dispatch(topic, payload);
    } catch (err) {
      this.rejected++;
      log.error(
        { topic: excerpt(Buffer.from(topic)), retained, payload: excerpt(payload), err: (err as Error).message },
        'handling an inbound message failed: dropped',
      );
    }
  }

  /** inbound messages dropped as malformed or too large */
  rejected = 0;

  private dispatch(topic: string, payload: Buffer): void {
    if (topic.startsWith(this.topics.cmdPrefix)) this.emit('command', topic.slice(this.topics.cmdPrefix.length), payload);
    else this.emit('message', topic, payload);
  }

  /** Extensions: an inbound message they dropped as malformed counts here too. */
  rejectInbound(): void {
    this.rejected++;
  }

  private readonly extraSubs = new Set<string>();

  /** Extensions: a subscription kept across reconnects; its messages come as 'message' events. */
  subscribe(filter: string): void {
    this.extraSubs.add(filter);
    if (this.connected) this.client!.subscribe(filter, { qos: 1 });
  }

  unsubscribe(filter: string): void {
    if (this.extraSubs.delete(filter) && this.connected) this.client!.unsubscribe(filter);
  }

  /** Extensions: a plain publish while connected (dropped while not). */
  publish(topic: string, payload: string, opts: { qos: 0 | 1; retain: boolean }): void {
    if (this.connected) this.client!.publish(topic, payload, opts);
  }

  /** Retained state (mic, muted, status detail, vad): kept and re-sent after a reconnect. */
  publishRetained(topic: string, payload: unknown): void {
    const text = typeof payload === 'string' ? payload : JSON.stringify(payload);
    this.retained.set(topic, text);
    if (this.connected) this.client!.publish(topic, text, { qos: 1, retain: true });
  }

  /** Fire-and-forget (partials, extensions' notices): dropped while disconnected. */
  publishVolatile(topic: string, payload: unknown, qos: 0 | 1 = 0): void {
    if (!this.connected) return;
    this.client!.publish(topic, typeof payload === 'string' ? payload : JSON.stringify(payload), { qos });
  }

  /** Journals a transcript (durable before anything is sent), then sends it. */
  async publishDurable(id: string, topic: string, payload: unknown): Promise<void> {
    await this.opts.outbox.add(id, topic, typeof payload === 'string' ? payload : JSON.stringify(payload));
    this.flush();
  }

  /** Hands journalled entries not yet given to mqtt.js over to it, oldest first, at most
   * IN_FLIGHT at a time (each PUBACK lets the next one go): bounded work per call, however long
   * the journal is. */
  flush(): void {
    if (!this.connected || this.stopping) return;
    for (const entry of this.opts.outbox.values()) {
      if (this.handed.size >= IN_FLIGHT || !this.connected) break;
      if (this.handed.has(entry.id)) continue;
      this.send(entry);
    }
  }

  /** transcripts the broker refused (MQTT 5 reason code), set aside */
  get refused(): number {
    return this.opts.outbox.rejected;
  }

  private send(entry: OutboxEntry): void {
    const expiry = this.cfg.mqtt.message_expiry_s;
    const v5 = this.cfg.mqtt.url !== null && this.cfg.mqtt.protocol_version === 5;
    const options: mqtt.IClientPublishOptions = { qos: 1 };
    if (expiry > 0) {
      const left = expiry - Math.floor((Date.now() - entry.created) / 1000);
      if (left <= 0) {
        log.warn({ id: entry.id }, 'transcript expired before it could be delivered');
        void this.opts.outbox.expire(entry.id);
        return;
      }
      if (v5) options.properties = { messageExpiryInterval: left };
    }
    this.handed.add(entry.id);
    this.client!.publish(entry.topic, entry.payload, options, (err) => {
      this.handed.delete(entry.id);
      const reason = (err as { code?: unknown } | undefined)?.code;
      if (err && typeof reason === 'number') {
        // the broker answered with a failure reason code (e.g. 0x87 not authorized): retrying
        // the same message would fail the same way forever
        log.error(
          { id: entry.id, topic: entry.topic, reason_code: reason, err: err.message },
          'the broker refused a transcript: set aside in the outbox directory, not retried',
        );
        void this.opts.outbox.reject(entry.id);
      } else if (err) {
        // mqtt.js gave up on it (client ended): it stays journalled for the next process
        return;
      } else {
        // no longer pending from here on, so no flush can send it again
        void this.opts.outbox.ack(entry.id);
        this.emit('acked', entry.id);
      }
      this.flush();
    });
  }

  /** Waits until the outbox is empty or the time is up; true when everything was acknowledged. */
  async drain(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.opts.outbox.pending > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const left = Math.max(0, deadline - Date.now());
    await Promise.race([this.opts.outbox.settled(), new Promise((r) => setTimeout(r, left).unref())]);
    return this.opts.outbox.pending === 0;
  }

  /** Publishes offline (the will is only for crashes) and disconnects. */
  async stop(): Promise<void> {
    const client = this.client;
    if (!client || this.stopping) return;
    this.stopping = true;
    clearInterval(this.retryTimer);
    if (client.connected) {
      await new Promise<void>((resolve) => client.publish(this.topics.status, 'offline', { qos: 1, retain: true }, () => resolve()));
    }
    await new Promise<void>((resolve) => client.end(!client.connected, {}, () => resolve()));
  }
}
