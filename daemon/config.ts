// Configuration: YAML file -> zod schema -> typed, fully defaulted Config. Every error names the key.
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';
import { defaultStateDir, installRoot } from './paths.js';

// A time in ms. Node's timers overflow above 2^31-1 ms (and then fire every 1 ms): nothing here
// needs more than an hour.
const ms = (def: number, min = 0, max = 3_600_000) => z.number().int().min(min).max(max).default(def);
/** A topic level or prefix: no wildcards, spaces or control characters, short. */
const topicPart = (what: string, max: number) =>
  z
    .string()
    .max(max, `must be at most ${max} characters`)
    .regex(/^[^#+\s\u0000-\u001f\u007f]+$/, `must be ${what} without wildcards, spaces or control characters`);
/** Used in topic names. */
const siteName = z
  .string()
  .max(64, 'must be at most 64 characters')
  .regex(/^[A-Za-z0-9_-]+$/, 'must be letters, digits, _ or - (it is used in topic names)');

const audioSchema = z
  .object({
    source: z.enum(['alsa', 'file', 'stdin']).default('alsa'),
    /** arecord -D name */
    device: z.string().min(1).default('default'),
    file: z.string().min(1).nullable().default(null),
    realtime: z.boolean().default(false),
    /** raw PCM on stdin */
    stdin: z
      .object({
        sample_rate: z.number().int().min(4000).max(384000).default(16000),
        channels: z.number().int().min(1).max(32).default(1),
        format: z.enum(['s16le', 's32le', 'f32le']).default('s16le'),
      })
      .strict()
      .default({}),
    retry: z
      .object({ initial_ms: ms(500, 10), max_ms: ms(30000, 10) })
      .strict()
      .default({}),
  })
  .strict()
  .refine((a) => a.source !== 'file' || a.file !== null, { message: 'audio.source is "file" but audio.file is not set', path: ['file'] })
  .refine((a) => a.retry.initial_ms <= a.retry.max_ms, { message: 'must not exceed audio.retry.max_ms', path: ['retry', 'initial_ms'] });

const modelsSchema = z
  .object({
    transducer: z.string().min(1).default('models/earshot-en-int4.gguf'),
    pvad: z.string().min(1).default('models/pvad.gguf'),
    speaker_encoder: z.string().min(1).default('models/spkenc.gguf'),
    /** the recognizer's language-model text (training/lm_text.py: its commands, words and digits),
     * fused when recognizer.lm is on; null: none */
    lm_text: z.string().min(1).nullable().default('models/earshot-en-lm.txt'),
  })
  .strict()
  .default({});

const recognizerSchema = z
  .object({
    beam: z.number().int().min(1).max(16).default(4),
    chunk_frames: z.number().int().min(1).max(64).nullable().default(null),
    hot_phrases: z
      .array(z.object({ phrase: z.string().min(1).max(200), boost: z.number().min(0).max(10).default(1.5) }).strict())
      .max(100)
      .default([]),
    partials: z.boolean().default(false),
    partial_interval_ms: ms(250, 50, 60_000),
    /** Home Assistant sentence files (hassil format): transcripts carry the matched intent */
    sentences: z.array(z.string().min(1)).default([]),
    /** a sentence scoring below this (0..1, against the unrestricted decoding) is no intent */
    sentence_min_score: z.number().min(0).max(1).default(0.5),
    /** a sentence with fewer characters than this share of the unrestricted text is no intent */
    sentence_min_coverage: z.number().min(0).max(1).default(0.67),
    /** shallow fusion of a character n-gram model (daemon/lm.ts) of models.lm_text and these texts; null: none */
    lm: z
      .object({
        /** text files, one sentence a line, beside models.lm_text */
        files: z.array(z.string().min(1)).default([]),
        /** sentences sampled from recognizer.sentences join the text */
        from_sentences: z.boolean().default(true),
        order: z.number().int().min(2).max(8).default(6),
        weight: z.number().min(0).max(2).default(0.1),
      })
      .strict()
      .nullable()
      .default({}),
  })
  .strict()
  .default({});

const profileSchema = z.object({ name: z.string().min(1).optional(), file: z.string().min(1) }).strict();

const vadSchema = z
  .object({
    /** target: only enrolled speakers open/hold a segment; any: every voice does */
    mode: z.enum(['target', 'any']).default('target'),
    threshold: z.number().gt(0).lt(1).default(0.5),
    /** a frame above this keeps an open segment open (hysteresis; bench/pvad_segments.py) */
    close_threshold: z.number().gt(0).lt(1).default(0.3),
    profiles: z.array(profileSchema).default([]),
    /** cmd/enroll over MQTT may add a profile (anyone who can publish there changes whose voice counts) */
    live_enrollment: z.boolean().default(false),
    /** profiles in all, configured and live-enrolled: each one is another pVAD stream per frame */
    max_profiles: z.number().int().min(1).max(16).default(4),
  })
  .strict()
  .refine((v) => v.close_threshold <= v.threshold, { message: 'must not exceed vad.threshold', path: ['close_threshold'] })
  .refine((v) => v.profiles.length <= v.max_profiles, { message: 'more profiles than vad.max_profiles', path: ['profiles'] })
  .default({});

const segmenterSchema = z
  .object({
    pre_roll_ms: ms(300),
    trailing_ms: ms(300, 10),
    max_segment_ms: ms(15000, 500),
    min_speech_ms: ms(100, 10),
    listen_timeout_ms: ms(5000, 100),
    /** speaker turns (vad.mode target; daemon/segmenter.ts, models/PVAD_CARD.md): non-speech that ends a run of speech */
    pause_ms: ms(40, 10),
    /** other speech continuing the run that opened a segment holds it this long after the last target frame (0: off) */
    hold_other_ms: ms(1200),
    /** target speech the opening run needs before hold_other_ms applies */
    hold_min_target_ms: ms(200),
    /** a later run scoring other speech this long without a break is another speaker's (0: off) */
    switch_ms: ms(100),
    /** speaker check: before a hold (or switch) drops speech as another speaker's, embed it with the speaker encoder and keep it if it matches a profile */
    speaker_check: z.boolean().default(true),
    /** cosine with the best-matching profile at or above which the checked speech is the enrolled speaker's */
    speaker_check_threshold: z.number().gt(-1).lt(1).default(0.25),
    /** longest audio a check embeds (the latest part of the disputed speech) */
    speaker_check_ms: ms(1600, 100),
    /** least audio a check embeds (waited for when the run is shorter) */
    speaker_check_min_ms: ms(300, 100),
    /** check switches too, not only holds running out */
    speaker_check_switch: z.boolean().default(true),
    /** a failed check that still scored at least this gets a second look on longer audio (>= the threshold: never) */
    speaker_check_recheck_above: z.number().gt(-1).lt(1).default(0.1),
    /** how much more of the speech the second look waits for */
    speaker_check_recheck_ms: ms(300, 0),
    /** with recognizer.sentences (or the model's end-of-utterance head): a sentence that is complete and that nothing can continue (or p(done) >= end_of_utterance) closes the segment after this much non-speech instead of trailing_ms (0: off) */
    sentence_guard_ms: ms(100),
    /** with recognizer.sentences: in a pause after the beginning of a sentence ("set a timer for"), the trailing stretch is this long instead of trailing_ms (0: trailing_ms) */
    sentence_incomplete_ms: ms(600),
    /** with a model that has an end-of-utterance head: when no sentence decides, a pause closes the segment after sentence_guard_ms if the head's p(done) is at least this (0: off) */
    end_of_utterance: z.number().min(0).max(1).default(0.8),
    /** below this p(done) the speaker has more to say: the trailing stretch is sentence_incomplete_ms (0: never) */
    end_of_utterance_hold: z.number().min(0).max(1).default(0.05),
  })
  .strict()
  .refine((s) => s.sentence_guard_ms < s.trailing_ms, {
    message: 'must be shorter than segmenter.trailing_ms (0 turns the sentence rule off)',
    path: ['sentence_guard_ms'],
  })
  .refine((s) => s.end_of_utterance_hold <= s.end_of_utterance || s.end_of_utterance === 0, {
    message: 'must not exceed segmenter.end_of_utterance',
    path: ['end_of_utterance_hold'],
  })
  .refine((s) => s.sentence_incomplete_ms === 0 || s.sentence_incomplete_ms >= s.trailing_ms, {
    message: 'must be at least segmenter.trailing_ms (0: trailing_ms)',
    path: ['sentence_incomplete_ms'],
  })
  .default({});

const mqttSchema = z
  .object({
    /** null: start the embedded broker */
    url: z
      .string()
      .regex(/^mqtts?:\/\/[^\s]+$/, 'must be an mqtt:// or mqtts:// URL')
      .max(2048)
      .refine(validBrokerUrl, 'must be an mqtt:// or mqtts:// URL with a host and a port from 1 to 65535')
      .nullable()
      .default(null),
    embedded: z
      .object({ host: z.string().min(1).default('127.0.0.1'), port: z.number().int().min(0).max(65535).default(1883) })
      .strict()
      .default({}),
    prefix: topicPart('a topic prefix', 128).default('earshot'),
    client_id: z
      .string()
      .min(1)
      .max(128)
      .regex(/^[^\u0000-\u001f\u007f]+$/, 'must not contain control characters')
      .nullable()
      .default(null),
    protocol_version: z.union([z.literal(4), z.literal(5)]).default(5),
    username: z.string().min(1).nullable().default(null),
    password: z.string().nullable().default(null),
    /** read the password from this environment variable (kept out of the config file) */
    password_env: z
      .string()
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name')
      .nullable()
      .default(null),
    ca: z.string().min(1).nullable().default(null),
    cert: z.string().min(1).nullable().default(null),
    key: z.string().min(1).nullable().default(null),
    reject_unauthorized: z.boolean().default(true),
    keepalive_s: z.number().int().min(1).max(3600).default(30),
    reconnect_ms: ms(2000, 100),
    /** MQTT 5 message expiry for transcripts; 0 = none */
    message_expiry_s: z.number().int().min(0).max(2_592_000, 'must be at most 2592000 (30 days)').default(0),
  })
  .strict()
  .refine((m) => (m.cert === null) === (m.key === null), { message: 'mqtt.cert and mqtt.key must be given together', path: ['cert'] })
  .refine((m) => m.password === null || m.password_env === null, {
    message: 'give mqtt.password or mqtt.password_env, not both',
    path: ['password_env'],
  })
  .refine((m) => m.url !== null || m.username === null || m.password !== null || m.password_env !== null, {
    message: 'the embedded broker needs mqtt.password or mqtt.password_env with mqtt.username',
    path: ['username'],
  })
  .default({});

const outboxSchema = z
  .object({
    max_entries: z.number().int().min(1).max(100_000).default(1000),
    /** on SIGTERM, how long to wait for the broker to acknowledge what is pending */
    drain_timeout_ms: ms(5000),
    retry_ms: ms(5000, 100),
  })
  .strict()
  .default({});

const homeAssistantSchema = z
  .object({
    enabled: z.boolean().default(true),
    discovery_prefix: topicPart('a topic prefix', 128).default('homeassistant'),
    device_name: z.string().min(1).max(128).nullable().default(null),
  })
  .strict()
  .default({});

const hermesSchema = z
  .object({
    enabled: z.boolean().default(false),
    /** defaults to the site name */
    site_id: siteName.nullable().default(null),
  })
  .strict()
  .default({});

/** Wyoming speech-to-text server (daemon/wyoming/): Home Assistant's Assist pipeline, Rhasspy 3 */
const wyomingSchema = z
  .object({
    enabled: z.boolean().default(false),
    uri: z
      .string()
      .regex(/^(tcp:\/\/(\[[0-9A-Fa-f:.]+\]|[^\s:/\[\]]+):\d{1,5}|unix:\/\/\S+)$/, 'must be tcp://HOST:PORT or unix://PATH')
      .refine((u) => !u.startsWith('tcp:') || Number(u.slice(u.lastIndexOf(':') + 1)) <= 65535, 'the port must be at most 65535')
      .default('tcp://0.0.0.0:10300'),
    /** advertise as _wyoming._tcp over mDNS (Home Assistant discovers it) */
    zeroconf: z.boolean().default(true),
    /** the advertised instance name; null: earshot-<site>-<hostname> */
    zeroconf_name: z.string().min(1).max(63).nullable().default(null),
    /** send transcript-start / transcript-chunk / transcript-stop while audio arrives */
    streaming: z.boolean().default(true),
    max_clients: z.number().int().min(1).max(64).default(8),
    /** a connection that sends nothing this long is closed */
    idle_timeout_s: z.number().int().min(1).max(3600).default(60),
    /** per event: the header line, the data block, the payload (an audio chunk) */
    max_header_bytes: z.number().int().min(256).max(1048576).default(16384),
    max_data_bytes: z.number().int().min(256).max(16777216).default(1048576),
    max_payload_bytes: z.number().int().min(1024).max(16777216).default(1048576),
    /** the longest utterance accepted, in seconds of audio */
    max_audio_s: z.number().int().min(1).max(600).default(60),
  })
  .strict()
  .default({});

const watchdogSchema = z
  .object({
    /** WATCHDOG=1 stops when no audio frame arrived for this long... */
    max_frame_gap_ms: ms(2000, 10),
    /** ...or when the pipeline is this far behind the audio */
    max_lag_ms: ms(3000, 10),
  })
  .strict()
  .default({});

export const configSchema = z
  .object({
    site: siteName.default('default'),
    log_level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'),
    state_dir: z.string().min(1).nullable().default(null),
    audio: audioSchema.default({}),
    models: modelsSchema,
    recognizer: recognizerSchema,
    vad: vadSchema,
    segmenter: segmenterSchema,
    mqtt: mqttSchema,
    outbox: outboxSchema,
    homeassistant: homeAssistantSchema,
    hermes: hermesSchema,
    wyoming: wyomingSchema,
    watchdog: watchdogSchema,
  })
  .strict();

export type Config = z.infer<typeof configSchema> & { state_dir: string };
/** the segmenter.* keys, fully defaulted (tests and the bench build variations of them) */
export type SegmenterConfig = Config['segmenter'];

const MAX_CONFIG_BYTES = 1024 * 1024;

function validBrokerUrl(u: string): boolean {
  try {
    const url = new URL(u);
    return url.hostname !== '' && (url.port === '' || (Number(url.port) >= 1 && Number(url.port) <= 65535));
  } catch {
    return false;
  }
}

export class ConfigError extends Error {
  constructor(
    message: string,
    readonly key?: string,
  ) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Overrides from the command line, applied before validation. */
export interface ConfigOverrides {
  input?: string;
  realtime?: boolean;
  mqttUrl?: string;
  site?: string;
  embeddedPort?: number;
  stateDir?: string;
  logLevel?: string;
}

function describeIssue(issue: z.ZodIssue): ConfigError {
  const key = issue.path.join('.');
  let message = issue.message;
  if (issue.code === 'unrecognized_keys') {
    const where = key ? `${key}.` : '';
    return new ConfigError(`unknown key ${issue.keys.map((k) => `"${where}${k}"`).join(', ')}`, `${where}${issue.keys[0]}`);
  }
  if (issue.code === 'invalid_type')
    message = issue.received === 'undefined' ? 'is required' : `expected ${issue.expected}, got ${issue.received}`;
  if (issue.code === 'invalid_enum_value')
    message = `must be one of ${issue.options.map((o) => JSON.stringify(o)).join(', ')}, got ${JSON.stringify(issue.received)}`;
  return new ConfigError(`${key || '(root)'}: ${message}`, key);
}

/** Validates a parsed document (plus overrides) into a Config; throws ConfigError naming the key. */
export function validateConfig(doc: unknown, overrides: ConfigOverrides = {}, baseDir = process.cwd()): Config {
  if (doc === null || doc === undefined) doc = {};
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError('the configuration must be a YAML mapping of keys to values');
  const raw = structuredClone(doc) as Record<string, any>;
  const section = (name: string) => (raw[name] && typeof raw[name] === 'object' ? raw[name] : (raw[name] = {}));
  if (overrides.input !== undefined) Object.assign(section('audio'), { source: 'file', file: overrides.input });
  if (overrides.realtime !== undefined) section('audio').realtime = overrides.realtime;
  if (overrides.mqttUrl !== undefined) section('mqtt').url = overrides.mqttUrl;
  if (overrides.site !== undefined) raw.site = overrides.site;
  if (overrides.stateDir !== undefined) raw.state_dir = overrides.stateDir;
  if (overrides.logLevel !== undefined) raw.log_level = overrides.logLevel;
  if (overrides.embeddedPort !== undefined) {
    const mqtt = section('mqtt');
    mqtt.embedded = { ...(mqtt.embedded ?? {}), port: overrides.embeddedPort };
  }
  const result = configSchema.safeParse(raw);
  if (!result.success) throw describeIssue(result.error.issues[0]);
  const cfg = result.data;
  // Paths in the file are relative to the file; model paths fall back to the installation root
  // so the shipped config works from anywhere.
  const rel = (p: string | null) => (p === null || path.isAbsolute(p) ? p : path.resolve(baseDir, p));
  const modelPath = (p: string) => {
    if (path.isAbsolute(p)) return p;
    const local = path.resolve(baseDir, p);
    return fs.existsSync(local) ? local : path.resolve(installRoot(), p);
  };
  cfg.audio.file = overrides.input !== undefined ? path.resolve(overrides.input) : rel(cfg.audio.file);
  cfg.models = {
    transducer: modelPath(cfg.models.transducer),
    pvad: modelPath(cfg.models.pvad),
    speaker_encoder: modelPath(cfg.models.speaker_encoder),
    lm_text: cfg.models.lm_text === null ? null : modelPath(cfg.models.lm_text),
  };
  cfg.vad.profiles = cfg.vad.profiles.map((p) => ({ ...p, file: rel(p.file)! }));
  cfg.recognizer.sentences = cfg.recognizer.sentences.map((p) => rel(p)!);
  if (cfg.recognizer.lm) cfg.recognizer.lm.files = cfg.recognizer.lm.files.map((p) => rel(p)!);
  cfg.mqtt.ca = rel(cfg.mqtt.ca);
  cfg.mqtt.cert = rel(cfg.mqtt.cert);
  cfg.mqtt.key = rel(cfg.mqtt.key);
  if (cfg.mqtt.password_env !== null && process.env[cfg.mqtt.password_env] === undefined) {
    throw new ConfigError(`mqtt.password_env: environment variable ${cfg.mqtt.password_env} is not set`, 'mqtt.password_env');
  }
  const stateDir = cfg.state_dir === null ? defaultStateDir() : rel(cfg.state_dir)!;
  // missing is fine (it is made at start); something else in its place never works
  const st = fs.statSync(stateDir, { throwIfNoEntry: false });
  if (st && !st.isDirectory()) throw new ConfigError(`state_dir: ${stateDir} exists and is not a directory`, 'state_dir');
  return { ...cfg, state_dir: stateDir };
}

/** Reads and validates a YAML file. */
export function loadConfig(file: string | undefined, overrides: ConfigOverrides = {}): Config {
  if (file === undefined) return validateConfig({}, overrides);
  let text: string;
  try {
    // a FIFO or a device would hang or never end: only a regular file of sane size is read
    const st = fs.statSync(file);
    if (!st.isFile()) throw new ConfigError(`configuration file ${file} is not a regular file`);
    if (st.size > MAX_CONFIG_BYTES)
      throw new ConfigError(`configuration file ${file} is ${st.size} bytes; at most ${MAX_CONFIG_BYTES} are read`);
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`cannot read configuration file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = YAML.parse(text, { prettyErrors: true });
  } catch (err) {
    throw new ConfigError(`${file} is not valid YAML: ${(err as Error).message}`);
  }
  try {
    return validateConfig(doc, overrides, path.dirname(path.resolve(file)));
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigError(`${file}: ${err.message}`, err.key);
    throw err;
  }
}

/** The effective configuration as printed by check-config: the password never appears. */
export function redactedConfig(cfg: Config): Config {
  // a password can also sit in the URL (mqtt://user:password@host)
  const url = cfg.mqtt.url === null ? null : cfg.mqtt.url.replace(/^(mqtts?:\/\/[^:@/]*):[^@/]*@/, '$1:(set)@');
  return { ...cfg, mqtt: { ...cfg.mqtt, url, password: cfg.mqtt.password === null ? null : '(set)' } };
}
