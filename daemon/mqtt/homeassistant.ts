// Home Assistant MQTT discovery in the device form: one retained `<prefix>/device/earshot_<site>/config`
// with the device, an `origin` block and its components (`cmps`): a transcript sensor, a speech
// event, a "speaking" binary sensor, a mute switch, and sensors for the last speaker and the last
// intent, all tied to the retained availability topic. An extension: it announces on every
// (re)connect and when Home Assistant says `online` (throttled: a flood of those is a handful of
// announcements), and migrates the per-entity topics earlier versions published, following Home
// Assistant's `migrate_discovery` procedure (the unique_ids stay, so entities keep their history).
import type { Extension, Feature, Link } from '../extension.js';
import { childLogger } from '../log.js';
import { linkConfigOf } from './link.js';
import type { Topics } from './topics.js';

const log = childLogger('homeassistant');

export interface DiscoveryMessage {
  topic: string;
  payload: Record<string, unknown>;
}

export interface DiscoveryOptions {
  discoveryPrefix: string;
  topics: Topics;
  deviceName: string;
  version: string;
}

export const MIGRATE_PAYLOAD = JSON.stringify({ migrate_discovery: true });
/** the components earlier versions published one topic each, as <prefix>/<platform>/<node>/<id>/config */
const LEGACY = { transcript: 'sensor', speech: 'event', speaking: 'binary_sensor', mute: 'switch' } as const;

export const nodeId = (topics: Topics) => `earshot_${topics.site}`;

export function legacyTopics(opts: Pick<DiscoveryOptions, 'discoveryPrefix' | 'topics'>): string[] {
  const node = nodeId(opts.topics);
  return Object.entries(LEGACY).map(([id, platform]) => `${opts.discoveryPrefix}/${platform}/${node}/${id}/config`);
}

export function deviceDiscovery(opts: DiscoveryOptions): DiscoveryMessage {
  const { topics } = opts;
  const node = nodeId(topics);
  const ids = (id: string) => ({ unique_id: `${node}_${id}`, object_id: `${node}_${id}` });
  return {
    topic: `${opts.discoveryPrefix}/device/${node}/config`,
    payload: {
      device: {
        identifiers: [node],
        name: opts.deviceName,
        manufacturer: 'Earshot',
        model: 'Earshot voice front-end',
        sw_version: opts.version,
      },
      origin: { name: 'Earshot', sw_version: opts.version, support_url: 'https://github.com/earshot/earshot' },
      availability_topic: topics.status,
      payload_available: 'online',
      payload_not_available: 'offline',
      qos: 1,
      cmps: {
        transcript: {
          p: 'sensor',
          ...ids('transcript'),
          name: 'Transcript',
          icon: 'mdi:text-to-speech',
          state_topic: topics.transcript,
          // HA states are limited to 255 characters; the whole message is in the attributes
          value_template: '{{ value_json.text[:255] }}',
          json_attributes_topic: topics.transcript,
        },
        speech: {
          p: 'event',
          ...ids('speech'),
          name: 'Speech',
          icon: 'mdi:account-voice',
          state_topic: topics.transcript,
          event_types: ['transcript'],
        },
        speaking: {
          p: 'binary_sensor',
          ...ids('speaking'),
          name: 'Speaking',
          device_class: 'sound',
          state_topic: topics.vad,
          value_template: "{{ 'ON' if value_json.speaking else 'OFF' }}",
        },
        mute: {
          p: 'switch',
          ...ids('mute'),
          name: 'Mute',
          icon: 'mdi:microphone-off',
          command_topic: topics.cmd('mute'),
          state_topic: topics.muted,
          payload_on: 'ON',
          payload_off: 'OFF',
        },
        last_speaker: {
          p: 'sensor',
          ...ids('last_speaker'),
          name: 'Last speaker',
          icon: 'mdi:account-voice',
          state_topic: topics.transcript,
          // null speaker: no profile enrolled, or too little speech to tell
          value_template: "{{ value_json.speaker.name if value_json.speaker else 'unknown' }}",
          json_attributes_topic: topics.transcript,
          json_attributes_template:
            "{{ {'score': value_json.speaker.score if value_json.speaker else none, 'scores': value_json.speaker_scores} | tojson }}",
        },
        last_intent: {
          p: 'sensor',
          ...ids('last_intent'),
          name: 'Last intent',
          icon: 'mdi:target',
          state_topic: topics.transcript,
          // `intent` ({name, slots, score}) is there when sentence files are loaded; null when nothing matched
          value_template: "{{ value_json.intent.name if value_json.intent else 'none' }}",
          json_attributes_topic: topics.transcript,
          json_attributes_template: '{{ (value_json.intent if value_json.intent else {}) | tojson }}',
        },
      },
    },
  };
}

/** What the extension needs of the MQTT link. */
export type DiscoveryLink = Pick<Link, 'topics' | 'connected' | 'on' | 'off' | 'subscribe' | 'unsubscribe' | 'publish'>;

export interface HomeAssistantOptions extends Omit<DiscoveryOptions, 'topics'> {
  /** at most one announcement per this many ms after `homeassistant/status online` (a trailing one
   * follows when more came meanwhile) */
  announceIntervalMs?: number;
  /** the pause between the migration's steps, for Home Assistant to act on each */
  migrationStepMs?: number;
}

export class HomeAssistantExtension implements Extension {
  readonly name = 'homeassistant';
  /** device configurations published (tests and the flood check read it) */
  announcements = 0;
  private readonly statusTopic: string;
  private readonly legacy: Set<string>;
  private readonly legacyFilter: string;
  private lastAnnounce = -Infinity;
  private trailing: NodeJS.Timeout | undefined;
  private readonly toMigrate = new Set<string>();
  private readonly toClear = new Set<string>();
  private migrationTimer: NodeJS.Timeout | undefined;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly onConnected = () => this.announce();
  private readonly onMessage = (topic: string, payload: Buffer) => this.message(topic, payload);

  constructor(
    private readonly link: DiscoveryLink,
    private readonly opts: HomeAssistantOptions,
  ) {
    this.statusTopic = `${opts.discoveryPrefix}/status`;
    this.legacy = new Set(legacyTopics({ discoveryPrefix: opts.discoveryPrefix, topics: link.topics }));
    this.legacyFilter = `${opts.discoveryPrefix}/+/${nodeId(link.topics)}/+/config`;
  }

  async start(): Promise<void> {
    this.link.on('connected', this.onConnected);
    this.link.on('message', this.onMessage);
    this.link.subscribe(this.statusTopic);
    // retained per-entity configs of an earlier version arrive here: they are migrated
    this.link.subscribe(this.legacyFilter);
    if (this.link.connected) this.announce();
  }

  async stop(): Promise<void> {
    this.link.off('connected', this.onConnected);
    this.link.off('message', this.onMessage);
    this.link.unsubscribe(this.statusTopic);
    this.link.unsubscribe(this.legacyFilter);
    clearTimeout(this.trailing);
    clearTimeout(this.migrationTimer);
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  private message(topic: string, payload: Buffer): void {
    if (topic === this.statusTopic) {
      if (payload.toString().trim() === 'online') this.announceSoon();
      return;
    }
    if (!this.legacy.has(topic) || payload.length === 0) return;
    // our own migration message (or one left by a process that stopped mid-migration) is cleared;
    // a real configuration is migrated first
    if (payload.toString() === MIGRATE_PAYLOAD) this.toClear.add(topic);
    else this.toMigrate.add(topic);
    // retained messages come in a burst after the subscription: take them together
    clearTimeout(this.migrationTimer);
    this.migrationTimer = setTimeout(() => this.migrate(), 200);
  }

  /** Home Assistant restarted: announce at once, then at most once per interval. */
  private announceSoon(): void {
    const interval = this.opts.announceIntervalMs ?? 2000;
    const wait = this.lastAnnounce + interval - performance.now();
    if (wait <= 0) {
      this.announce();
      log.info('Home Assistant came online: device announced again');
    } else if (!this.trailing) {
      this.trailing = setTimeout(() => {
        this.trailing = undefined;
        this.announce();
      }, wait);
    }
  }

  announce(): void {
    if (!this.link.connected) return;
    const m = deviceDiscovery({ ...this.opts, topics: this.link.topics });
    this.link.publish(m.topic, JSON.stringify(m.payload), { qos: 1, retain: true });
    this.announcements++;
    this.lastAnnounce = performance.now();
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  /** HA's procedure: migrate_discovery on each old topic (HA unloads the entity and keeps it in its
   * registry), then the device configuration (the same unique_ids take the entities over), then the
   * old topics emptied. */
  private migrate(): void {
    const migrate = [...this.toMigrate];
    const clear = [...new Set([...this.toClear, ...migrate])];
    this.toMigrate.clear();
    this.toClear.clear();
    const step = this.opts.migrationStepMs ?? 1000;
    if (migrate.length) {
      log.info({ topics: migrate }, 'migrating per-entity Home Assistant discovery to the device configuration');
      for (const topic of migrate) this.link.publish(topic, MIGRATE_PAYLOAD, { qos: 1, retain: true });
    }
    this.later(migrate.length ? step : 0, () => {
      if (migrate.length) this.announce();
      this.later(migrate.length ? 2 * step : 0, () => {
        for (const topic of clear) this.link.publish(topic, '', { qos: 1, retain: true });
        log.info({ topics: clear }, 'old per-entity discovery topics cleared');
      });
    });
  }
}

export const homeAssistant: Feature = {
  name: 'homeassistant',
  configOf: (cfg) => [linkConfigOf(cfg), cfg.homeassistant],
  create: (ctx, cfg) =>
    cfg.homeassistant.enabled
      ? new HomeAssistantExtension(ctx.link(), {
          discoveryPrefix: cfg.homeassistant.discovery_prefix,
          deviceName: cfg.homeassistant.device_name ?? `Earshot ${cfg.site}`,
          version: ctx.version,
        })
      : undefined,
};
