// Hermes protocol compatibility (Rhasspy / Snips): textCaptured for each transcript, voice
// activity up/down, and the ASR session and toggle commands addressed to our siteId. An extension
// (hermes.enabled): restarted with the MQTT link, since its subscriptions live there.
import type { Config } from '../config.js';
import type { Extension, ExtensionContext, Feature } from '../extension.js';
import { childLogger } from '../log.js';
import type { Transcript } from '../transcript.js';
import { linkConfigOf } from './link.js';
import { excerpt, jsonObject } from './payload.js';

const log = childLogger('hermes');

export const HERMES_IN = ['hermes/asr/startListening', 'hermes/asr/stopListening', 'hermes/asr/toggleOn', 'hermes/asr/toggleOff'] as const;

export function textCapturedTopic(): string {
  return 'hermes/asr/textCaptured';
}

export function textCaptured(t: Transcript, siteId: string, sessionId: string | null) {
  let offset = 0;
  const tokens = t.words.map((w) => {
    const rangeStart = t.text.indexOf(w.word, offset);
    const start = rangeStart < 0 ? offset : rangeStart;
    offset = start + w.word.length;
    return { value: w.word, confidence: w.conf, rangeStart: start, rangeEnd: start + w.word.length, time: { start: w.start, end: w.end } };
  });
  const likelihood = t.words.length ? t.words.reduce((s, w) => s + w.conf, 0) / t.words.length : 0;
  return {
    text: t.text,
    likelihood: Math.round(likelihood * 1000) / 1000,
    seconds: t.duration_s,
    siteId,
    sessionId,
    wakewordId: null,
    asrTokens: [tokens],
    lang: null,
  };
}

/** Rhasspy's NLU result for a transcript decoded with sentences: hermes/nlu/intentParsed and
 * hermes/intent/<name> (the same payload), or hermes/nlu/intentNotRecognized when no sentence
 * matched; nothing without sentences. */
export function intentMessages(t: Transcript, siteId: string, sessionId: string | null): [string, Record<string, unknown>][] {
  if (t.intent === undefined) return [];
  if (t.intent === null) return [['hermes/nlu/intentNotRecognized', { input: t.text, id: t.id, siteId, sessionId, customData: null }]];
  const { name, slots, score } = t.intent;
  const payload = {
    input: t.text,
    rawInput: t.text,
    intent: { intentName: name, confidenceScore: score },
    slots: Object.entries(slots).map(([slot, value]) => {
      const raw = typeof value === 'string' ? value : String(value);
      const at = t.text.indexOf(raw);
      return {
        entity: slot,
        slotName: slot,
        rawValue: raw,
        value: { kind: typeof value === 'number' ? 'Number' : 'Unknown', value },
        confidence: 1,
        range: at >= 0 ? { start: at, end: at + raw.length } : null,
      };
    }),
    id: t.id,
    siteId,
    sessionId,
    customData: null,
    asrTokens: textCaptured(t, siteId, sessionId).asrTokens,
    asrConfidence: null,
    wakewordId: null,
    lang: null,
  };
  return [
    ['hermes/nlu/intentParsed', payload],
    [`hermes/intent/${name}`, payload],
  ];
}

export function vadTopic(siteId: string, up: boolean): string {
  return `hermes/voiceActivity/${siteId}/${up ? 'vadUp' : 'vadDown'}`;
}

export function vadPayload(siteId: string, signalMs: number) {
  return { siteId, signalMs };
}

export type HermesCommand = { kind: 'startListening' | 'stopListening' | 'toggleOn' | 'toggleOff'; sessionId: string | null };

/** Parses an incoming Hermes message; null when it is not for this site, { error } when malformed. */
export function parseHermes(topic: string, payload: Buffer, siteId: string): HermesCommand | { error: string } | null {
  const kind = topic.slice('hermes/asr/'.length) as HermesCommand['kind'];
  if (!(HERMES_IN as readonly string[]).includes(topic)) return null;
  const parsed = jsonObject(payload);
  if (!parsed.ok) return { error: parsed.error };
  const body = parsed.value;
  const target = typeof body.siteId === 'string' ? body.siteId : 'default';
  if (target !== siteId) return null;
  return { kind, sessionId: typeof body.sessionId === 'string' ? body.sessionId : null };
}

export class HermesExtension implements Extension {
  readonly name = 'hermes';
  private readonly siteId: string;
  /** the session of the last startListening, carried by the transcripts until stopListening */
  private sessionId: string | null = null;
  private readonly onMessage = (topic: string, payload: Buffer) => this.message(topic, payload);

  constructor(
    private readonly ctx: ExtensionContext,
    cfg: Pick<Config, 'site' | 'hermes'>,
  ) {
    this.siteId = cfg.hermes.site_id ?? cfg.site;
  }

  async start(): Promise<void> {
    const { ctx } = this;
    const link = ctx.link();
    link.on('message', this.onMessage);
    for (const topic of HERMES_IN) link.subscribe(topic);
    const signalMs = (at: number) => Math.round(at - ctx.startedAt);
    ctx.events.on(this, 'speechStarted', (_segment, at) =>
      ctx.link().publishVolatile(vadTopic(this.siteId, true), vadPayload(this.siteId, signalMs(at)), 0),
    );
    ctx.events.on(this, 'speechEnded', (_segment, at) =>
      ctx.link().publishVolatile(vadTopic(this.siteId, false), vadPayload(this.siteId, signalMs(at)), 0),
    );
    ctx.events.on(this, 'transcript', (t) => {
      ctx.link().publishVolatile(textCapturedTopic(), textCaptured(t, this.siteId, this.sessionId), 1);
      for (const [topic, msg] of intentMessages(t, this.siteId, this.sessionId)) ctx.link().publishVolatile(topic, msg, 1);
    });
  }

  async stop(): Promise<void> {
    const link = this.ctx.link();
    link.off('message', this.onMessage);
    for (const topic of HERMES_IN) link.unsubscribe(topic);
    this.ctx.events.off(this);
  }

  private message(topic: string, payload: Buffer): void {
    const cmd = parseHermes(topic, payload, this.siteId);
    if (cmd && 'error' in cmd) {
      this.ctx.link().rejectInbound();
      log.warn({ topic, payload: excerpt(payload), err: cmd.error }, 'malformed Hermes message: dropped');
    } else if (cmd) this.command(cmd);
  }

  private command(cmd: HermesCommand): void {
    this.ctx.runCommand(`hermes ${cmd.kind}`, () => {
      if (cmd.kind === 'startListening') {
        this.sessionId = cmd.sessionId;
        this.ctx.listen();
      } else if (cmd.kind === 'stopListening') {
        this.ctx.finishSegment();
        this.sessionId = null;
      } else this.ctx.setMuted(cmd.kind === 'toggleOff');
    });
  }
}

export const hermes: Feature = {
  name: 'hermes',
  configOf: (cfg) => [linkConfigOf(cfg), cfg.hermes],
  create: (ctx, cfg) => (cfg.hermes.enabled ? new HermesExtension(ctx, cfg) : undefined),
};
