// `earshot run`: wires source -> pipeline -> MQTT, and owns the life cycle (start, SIGHUP reload,
// SIGTERM shutdown with a bounded wait for outbox acknowledgements, live enrollment).
import fs from 'node:fs';
import path from 'node:path';
import { PerformanceObserver, constants as perfConstants } from 'node:perf_hooks';
import v8 from 'node:v8';
import { AlsaSource } from './audio/alsa-source.js';
import { AudioClock } from './audio/clock.js';
import { FileSource } from './audio/file-source.js';
import type { AudioSource, MicState } from './audio/source.js';
import { StdinSource } from './audio/stdin-source.js';
import { frameToSample, SAMPLE_RATE, samplesToMs, samplesToSeconds } from './frames.js';
import { loadConfig, type Config, type ConfigOverrides } from './config.js';
import { enroll, MIN_SPEECH_SECONDS } from './enroll.js';
import { childLogger, setLogLevel } from './log.js';
import {
  checkHotPhrases,
  loadPvad,
  loadSpeakerEncoder,
  loadTransducer,
  pvadEmbedDim,
  pvadSpeakerEncoderName,
  type LoadedSpeakerEncoder,
} from './models.js';
import type { PvadModel, TransducerModel } from './native.js';
import { Outbox } from './outbox.js';
import { Pipeline, type FinalSegment } from './pipeline.js';
import { loadProfile, makeProfile, saveProfile, type Profile } from './profiles.js';
import { segmenterOptionsFromConfig } from './segmenter.js';
import { SystemdNotifier } from './sdnotify.js';
import { buildTranscript } from './transcript.js';
import { startEmbeddedBroker, type EmbeddedBroker } from './mqtt/broker.js';
import { intentMessages, textCaptured, textCapturedTopic, vadPayload, vadTopic, type HermesCommand } from './mqtt/hermes.js';
import { loadLmFor } from './lm.js';
import { loadSentencesFor, resolveIntent, streamOptions, type SentenceRecognizer } from './intents.js';
import { excerpt, jsonObject, switchPayload } from './mqtt/payload.js';
import { MqttLink } from './mqtt/link.js';
import { version } from './version.js';
import type { Engine, Extension } from './extension.js';
import { HomeAssistantExtension } from './mqtt/homeassistant.js';
import { WyomingServer } from './wyoming/server.js';
import { recognizerOptions } from './wyoming/serve.js';

const log = childLogger('daemon');

export interface DaemonOptions {
  configFile?: string;
  overrides?: ConfigOverrides;
  /** with file input: exit once the file is transcribed and delivered (else keep serving) */
  exitAtEnd?: boolean;
  notifier?: SystemdNotifier;
}

interface Models {
  transducer: TransducerModel;
  pvad: PvadModel;
  speakerEncoder?: LoadedSpeakerEncoder;
  paths: Config['models'];
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

export class Daemon {
  cfg: Config;
  private models!: Models;
  private profiles: Profile[] = [];
  /** recognizer.sentences compiled for the transducer (undefined: none configured) */
  private sentences: SentenceRecognizer | undefined;
  /** recognizer.lm for the transducer (createStream options) */
  private lm: ReturnType<typeof loadLmFor>;
  private outbox!: Outbox;
  private broker: EmbeddedBroker | undefined;
  link!: MqttLink;
  private source!: AudioSource;
  private pipeline!: Pipeline;
  private clock!: AudioClock;
  private readonly notifier: SystemdNotifier;
  private lastAudioAt = performance.now();
  private segments = 0;
  private readonly publishing = new Set<Promise<void>>();
  private stopping = false;
  private startedAt = Date.now();
  private detailTimer: NodeJS.Timeout | undefined;
  private memoryTimer: NodeJS.Timeout | undefined;
  private gcObserver: PerformanceObserver | undefined;
  private enrollment: { name: string; need: number; chunks: Float32Array[]; have: number } | undefined;
  private hermesSession: string | null = null;
  /** Home Assistant discovery and the Wyoming server, when configured: started after the link and pipeline */
  private extensions: Extension[] = [];
  private done: Promise<void>;
  private resolveDone!: () => void;

  constructor(private readonly opts: DaemonOptions) {
    this.cfg = loadConfig(opts.configFile, opts.overrides);
    this.notifier = opts.notifier ?? new SystemdNotifier();
    this.done = new Promise((r) => (this.resolveDone = r));
  }

  /** Resolves when the daemon has shut down. */
  finished(): Promise<void> {
    return this.done;
  }

  get brokerUrl(): string {
    return this.cfg.mqtt.url ?? this.broker!.url;
  }

  async start(): Promise<void> {
    setLogLevel(process.env.EARSHOT_LOG_LEVEL ?? this.cfg.log_level); // the environment wins, for debugging
    this.notifier.status('loading models');
    // A bad input file should fail before the slow parts.
    const source = this.makeSource(this.cfg);
    if (source instanceof FileSource) source.load();
    this.models = await this.loadModels(this.cfg);
    checkHotPhrases(this.models.transducer, this.cfg.recognizer.hot_phrases);
    this.sentences = loadSentencesFor(this.cfg, this.models.transducer);
    this.lm = loadLmFor(this.cfg, this.models.transducer, this.sentences);
    this.profiles = this.loadProfiles(this.cfg, this.models);
    this.outbox = new Outbox(path.join(this.cfg.state_dir, 'outbox'), this.cfg.outbox.max_entries);
    this.outbox.open();
    if (this.stopping) return; // SIGTERM while the models loaded: shutdown() has finished already
    await this.startLink(this.cfg);
    this.pipeline = this.makePipeline(this.cfg);
    this.source = source;
    this.startSource();
    try {
      await this.startExtensions(this.cfg);
    } catch (err) {
      // e.g. the Wyoming port is taken: stop what runs so the process exits with the reason
      await this.shutdown('an extension did not start');
      throw err;
    }
    this.publishMuted();
    this.detailTimer = setInterval(() => this.publishDetail(), 30_000);
    this.detailTimer.unref();
    this.startMemoryLog();
    this.notifier.ready(this.statusLine());
    this.notifier.startWatchdog(() => this.healthProblem());
    log.info(
      {
        site: this.cfg.site,
        source: this.source.kind,
        device: this.source.device,
        model: this.models.transducer.info.name,
        profiles: this.profiles.map((p) => p.name),
      },
      'earshot running',
    );
  }

  private async startExtensions(cfg: Config): Promise<void> {
    // read at each use: a reload or a live enrollment replaces models and profiles
    const engine: Engine = {
      transducer: () => this.models.transducer,
      recognizerOptions: () =>
        this.sentences ? { ...recognizerOptions(this.cfg), ...streamOptions(this.sentences) } : recognizerOptions(this.cfg),
      speakerEncoder: () => this.models.speakerEncoder?.encoder,
      profiles: () => this.profiles,
      resolve: (result) => (this.sentences ? resolveIntent(this.sentences, result) : { text: result.text, intent: undefined }),
    };
    const ha = cfg.homeassistant;
    if (ha.enabled)
      this.extensions.push(
        new HomeAssistantExtension(this.link, {
          discoveryPrefix: ha.discovery_prefix,
          deviceName: ha.device_name ?? `Earshot ${cfg.site}`,
          version,
        }),
      );
    if (cfg.wyoming.enabled) this.extensions.push(new WyomingServer({ cfg: cfg.wyoming, engine, version, site: cfg.site }));
    for (const e of this.extensions) await e.start();
  }

  private async stopExtensions(): Promise<void> {
    for (const e of this.extensions.splice(0).reverse()) {
      await e.stop().catch((err) => log.error({ extension: e.name, err: (err as Error).message }, 'stopping an extension failed'));
    }
  }

  /** Debugging aid (bench/e2e.ts uses it): EARSHOT_MEMORY_LOG_MS=N logs the process's memory every
   * N ms at info level ("memory": rss, V8 heap, external and ArrayBuffer bytes in MiB, the audio
   * received so far in seconds, and the V8 heap in use just after the last full garbage collection,
   * the live JS heap, which a leak in JS would make grow). */
  private startMemoryLog(): void {
    const every = Number(process.env.EARSHOT_MEMORY_LOG_MS ?? 0);
    if (!(every > 0)) return;
    const mib = (n: number) => Math.round((n / 2 ** 20) * 100) / 100;
    let majorGcs = 0;
    let liveHeap = NaN;
    this.gcObserver = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        if (((e as { detail?: unknown }).detail as { kind?: number } | undefined)?.kind !== perfConstants.NODE_PERFORMANCE_GC_MAJOR)
          continue;
        majorGcs++;
        liveHeap = v8.getHeapStatistics().used_heap_size;
      }
    });
    this.gcObserver.observe({ entryTypes: ['gc'] });
    const sample = () => {
      const m = process.memoryUsage();
      const audioS = this.clock ? Math.round(samplesToSeconds(this.clock.samples) * 100) / 100 : 0;
      log.info(
        {
          rss: mib(m.rss),
          heap_total: mib(m.heapTotal),
          heap_used: mib(m.heapUsed),
          external: mib(m.external),
          array_buffers: mib(m.arrayBuffers),
          heap_after_major_gc: majorGcs ? mib(liveHeap) : null,
          major_gcs: majorGcs,
          audio_s: audioS,
          transcripts: this.segments,
          outbox: this.outbox.pending,
        },
        'memory',
      );
    };
    sample();
    this.memoryTimer = setInterval(sample, every);
    this.memoryTimer.unref();
  }

  private async loadModels(cfg: Config): Promise<Models> {
    const [transducer, pvad] = await Promise.all([loadTransducer(cfg.models.transducer), loadPvad(cfg.models.pvad)]);
    // The speaker encoder is needed only for enrollment and speaker scores.
    let speakerEncoder: LoadedSpeakerEncoder | undefined;
    if (fs.existsSync(cfg.models.speaker_encoder)) speakerEncoder = await loadSpeakerEncoder(cfg.models.speaker_encoder);
    else if (cfg.vad.profiles.length)
      throw new Error(`speaker profiles are configured but the speaker encoder model ${cfg.models.speaker_encoder} does not exist`);
    if (speakerEncoder) {
      const expected = pvadSpeakerEncoderName(pvad);
      if (expected && expected !== speakerEncoder.encoder.info.name) {
        throw new Error(
          `the personal VAD ${cfg.models.pvad} was trained with speaker encoder "${expected}", but ${cfg.models.speaker_encoder} is "${speakerEncoder.encoder.info.name}"`,
        );
      }
    }
    return { transducer, pvad, speakerEncoder, paths: cfg.models };
  }

  private profileDir(cfg: Config): string {
    return path.join(cfg.state_dir, 'profiles');
  }

  private loadProfiles(cfg: Config, models: Models): Profile[] {
    const dim = pvadEmbedDim(models.pvad);
    const profiles = cfg.vad.profiles.map((p) => loadProfile(p.file, models.speakerEncoder, dim, p.name));
    // Profiles enrolled live over MQTT live in the state directory.
    const dir = this.profileDir(cfg);
    if (fs.existsSync(dir)) {
      for (const f of fs
        .readdirSync(dir)
        .filter((n) => n.endsWith('.json'))
        .sort()) {
        if (profiles.length >= cfg.vad.max_profiles) {
          // each profile is one more pVAD stream per frame: the cap keeps real time
          log.error(
            { file: path.join(dir, f), max_profiles: cfg.vad.max_profiles },
            'ignoring an enrolled profile: vad.max_profiles reached',
          );
          continue;
        }
        try {
          profiles.push(loadProfile(path.join(dir, f), models.speakerEncoder, dim));
        } catch (err) {
          log.error({ err: (err as Error).message }, 'ignoring an enrolled profile');
        }
      }
    }
    return profiles;
  }

  private makeSource(cfg: Config): AudioSource {
    const a = cfg.audio;
    if (a.source === 'file') return new FileSource(a.file!, a.realtime);
    if (a.source === 'stdin') return new StdinSource(a.stdin);
    return new AlsaSource({ device: a.device, retry: a.retry });
  }

  private startSource(): void {
    const source = this.source;
    this.clock = new AudioClock(source.live);
    source.on('audio', (samples) => {
      if (source !== this.source) return;
      this.lastAudioAt = performance.now();
      this.clock.arrived(samples.length);
      this.pipeline.push(samples);
      if (this.enrollment) this.collectEnrollment(samples);
    });
    source.on('state', (state: MicState) => {
      this.link.publishRetained(this.link.topics.mic, state);
      this.publishDetail();
    });
    source.on('end', () => void this.onInputEnd(source));
    source.start();
  }

  private async onInputEnd(source: AudioSource): Promise<void> {
    if (source !== this.source) return;
    this.pipeline.endOfInput();
    await this.pipeline.drain();
    await Promise.all(this.publishing);
    log.info({ segments: this.segments }, 'end of input');
    if (this.opts.exitAtEnd) await this.shutdown('end of input');
  }

  private makePipeline(cfg: Config): Pipeline {
    const pipeline = new Pipeline(
      { transducer: this.models.transducer, pvad: this.models.pvad, speakerEncoder: this.models.speakerEncoder },
      {
        segmenter: segmenterOptionsFromConfig(this.profiles.length ? cfg.vad : { ...cfg.vad, mode: 'any' }, cfg.segmenter),
        recognizer: {
          beam: cfg.recognizer.beam,
          chunkFrames: cfg.recognizer.chunk_frames ?? undefined,
          hotPhrases: cfg.recognizer.hot_phrases,
          ...this.lm,
        },
        sentences: this.sentences,
        profiles: this.profiles,
        partials: cfg.recognizer.partials,
        partialIntervalMs: cfg.recognizer.partial_interval_ms,
      },
    );
    const hermesSite = cfg.hermes.site_id ?? cfg.site;
    pipeline.on('open', (seg) => {
      this.link.publishRetained(this.link.topics.vad, {
        speaking: true,
        segment: seg.index,
        time: new Date(this.clock.wallMs(frameToSample(seg.speechStartFrame))).toISOString(),
      });
      if (cfg.hermes.enabled)
        this.link.publishVolatile(
          vadTopic(hermesSite, true),
          vadPayload(hermesSite, Math.round(this.clock.wallMs(frameToSample(seg.speechStartFrame)) - this.startedAt)),
          0,
        );
    });
    pipeline.on('close', (seg) => {
      const at = (frame: number) => new Date(this.clock.wallMs(frameToSample(frame))).toISOString();
      this.link.publishRetained(this.link.topics.vad, {
        speaking: false,
        segment: seg.index,
        time: at(seg.endFrame),
        speech_end: at(seg.speechEndFrame),
      });
      if (cfg.hermes.enabled)
        this.link.publishVolatile(
          vadTopic(hermesSite, false),
          vadPayload(hermesSite, Math.round(this.clock.wallMs(frameToSample(seg.speechEndFrame)) - this.startedAt)),
          0,
        );
    });
    pipeline.on('partial', (p) =>
      this.link.publishVolatile(this.link.topics.partial, { site: cfg.site, segment: p.index, text: p.text }, 0),
    );
    pipeline.on('final', (seg) => this.onFinal(seg, cfg));
    pipeline.on('error', () => {}); // logged by the pipeline; the daemon goes on with the next segment
    return pipeline;
  }

  private onFinal(seg: FinalSegment, cfg: Config): void {
    if (!seg.text.trim()) {
      log.debug({ segment: seg.index }, 'segment without words: nothing to publish');
      return;
    }
    const t = buildTranscript(seg, cfg.site, (frame) => this.clock.wallMs(frameToSample(frame)));
    this.segments++;
    log.info({ id: t.id, text: t.text, speaker: t.speaker?.name ?? null, latency: t.latency }, 'transcript');
    const p = this.link
      .publishDurable(t.id, this.link.topics.transcript, t)
      .catch((err) => log.error({ id: t.id, err: (err as Error).message }, 'cannot journal a transcript'))
      .finally(() => {
        this.publishing.delete(p);
        // a journal that started or stopped failing shows on status/detail
        if (this.outbox.journal.state !== this.journalShown) this.publishDetailSoon();
      });
    this.publishing.add(p);
    if (cfg.hermes.enabled)
      this.link.publishVolatile(textCapturedTopic(), textCaptured(t, cfg.hermes.site_id ?? cfg.site, this.hermesSession), 1);
    if (cfg.hermes.enabled)
      for (const [topic, msg] of intentMessages(t, cfg.hermes.site_id ?? cfg.site, this.hermesSession))
        this.link.publishVolatile(topic, msg, 1);
    this.notifier.status(this.statusLine());
  }

  private async startLink(cfg: Config): Promise<void> {
    if (cfg.mqtt.url === null && !this.broker) {
      const password = cfg.mqtt.password_env ? process.env[cfg.mqtt.password_env] : cfg.mqtt.password;
      const auth = cfg.mqtt.username !== null && password ? { username: cfg.mqtt.username, password } : undefined;
      this.broker = await startEmbeddedBroker(cfg.mqtt.embedded.host, cfg.mqtt.embedded.port, auth);
    }
    this.link = new MqttLink({
      cfg,
      url: cfg.mqtt.url ?? this.broker!.url,
      outbox: this.outbox,
      version,
      modelName: this.models.transducer.info.name,
    });
    this.link.on('command', (name, payload) => this.onCommand(name, payload));
    this.link.on('hermes', (cmd) => this.onHermes(cmd));
    this.link.on('connected', () => this.publishDetail());
    this.link.on('acked', () => this.publishDetailSoon());
    this.link.start();
  }

  /** Commands run one at a time, in arrival order, each against the pipeline the previous one left
   * (a reload swaps it); a failing one is logged and the next still runs. */
  private commands: Promise<void> = Promise.resolve();
  private reloadQueued = false;

  private runCommand(what: string, fn: () => void | Promise<void>): void {
    this.commands = this.commands.then(async () => {
      if (this.stopping) return;
      try {
        await fn();
      } catch (err) {
        log.error({ command: what, err: (err as Error).message }, 'command failed');
      }
    });
  }

  /** cmd/reload and SIGHUP: a flood of them is one reload after the one running now. */
  requestReload(): void {
    if (this.reloadQueued) return;
    this.reloadQueued = true;
    this.runCommand('reload', () => {
      this.reloadQueued = false;
      return this.reload();
    });
  }

  private onCommand(name: string, payload: Buffer): void {
    log.info({ command: name.slice(0, 64), payload: excerpt(payload, 200) }, 'command');
    const reject = (error: string) => log.warn({ command: name.slice(0, 64), payload: excerpt(payload), err: error }, 'command refused');
    switch (name) {
      case 'mute': {
        // HA's switch sends ON/OFF to this one topic
        const on = switchPayload(payload);
        if (!on.ok) return reject(on.error);
        this.runCommand(name, () => this.setMuted(on.value));
        break;
      }
      case 'unmute':
        this.runCommand(name, () => this.setMuted(false));
        break;
      case 'listen':
        this.runCommand(name, () => this.pipeline.listen());
        break;
      case 'stop':
        this.runCommand(name, () => this.pipeline.finish('stop'));
        break;
      case 'reload':
        this.requestReload();
        break;
      case 'enroll':
        this.runCommand(name, () => this.startEnrollment(payload));
        break;
      default:
        reject('unknown command (known: mute, unmute, listen, stop, reload, enroll)');
    }
  }

  private onHermes(cmd: HermesCommand): void {
    this.runCommand(`hermes ${cmd.kind}`, () => {
      if (cmd.kind === 'startListening') {
        this.hermesSession = cmd.sessionId;
        this.pipeline.listen();
      } else if (cmd.kind === 'stopListening') {
        this.pipeline.finish('stop');
        this.hermesSession = null;
      } else this.setMuted(cmd.kind === 'toggleOff');
    });
  }

  setMuted(muted: boolean): void {
    if (muted) this.pipeline.mute();
    else this.pipeline.unmute();
    this.publishMuted();
  }

  private publishMuted(): void {
    this.link.publishRetained(this.link.topics.muted, this.pipeline.muted ? 'ON' : 'OFF');
    this.publishDetail();
  }

  private startEnrollment(payload: Buffer): void {
    const refuse = (error: string, name?: string) => {
      log.warn({ err: error }, 'enrollment refused');
      this.link.publishVolatile(this.link.topics.enrollResult, { ok: false, ...(name ? { name } : {}), error }, 1);
    };
    const req = jsonObject(payload);
    if (!req.ok) return refuse(`${req.error}; enroll needs {"name": "<letters, digits, _ or ->", "seconds": 15}`);
    const { name, seconds = 15 } = req.value;
    if (typeof name !== 'string' || !/^[\w-]{1,64}$/.test(name)) return refuse('enroll needs "name": 1 to 64 letters, digits, _ or -');
    if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 5 || seconds > 120)
      return refuse('"seconds" must be a number from 5 to 120', name);
    if (!this.cfg.vad.live_enrollment)
      return refuse('live enrollment is off (set vad.live_enrollment: true, and protect cmd/# with a broker ACL)', name);
    const replaces = this.profiles.some((p) => p.file === path.join(this.profileDir(this.cfg), `${name}.json`));
    if (!replaces && this.profiles.length >= this.cfg.vad.max_profiles)
      return refuse(`already ${this.profiles.length} profiles (vad.max_profiles: ${this.cfg.vad.max_profiles})`, name);
    if (!this.models.speakerEncoder) return refuse('no speaker encoder model is installed', name);
    log.info({ name, seconds }, 'live enrollment: recording');
    this.enrollment = { name, need: seconds * SAMPLE_RATE, chunks: [], have: 0 };
    this.link.publishVolatile(this.link.topics.enrollResult, { ok: null, name, state: 'recording', seconds }, 1);
  }

  private collectEnrollment(samples: Float32Array): void {
    const e = this.enrollment!;
    e.chunks.push(samples.slice());
    e.have += samples.length;
    if (e.have < e.need) return;
    this.enrollment = undefined;
    const audio = new Float32Array(e.have);
    let o = 0;
    for (const c of e.chunks) {
      audio.set(c, o);
      o += c.length;
    }
    void (async () => {
      try {
        const res = await enroll([audio], this.models.pvad, this.models.speakerEncoder!, {
          minSpeechSeconds: Math.min(MIN_SPEECH_SECONDS, samplesToSeconds(e.need) * 0.6),
          threshold: this.cfg.vad.threshold,
        });
        const file = path.join(this.profileDir(this.cfg), `${e.name}.json`);
        saveProfile(file, makeProfile(e.name, res.embedding, this.models.speakerEncoder!, res.speechSeconds, ['live'], res.quality));
        log.info(
          { name: e.name, file, speech_s: res.speechSeconds, consistency: res.quality.consistency, advice: res.quality.advice },
          'enrolled',
        );
        const { consistency, advice } = res.quality;
        this.link.publishVolatile(
          this.link.topics.enrollResult,
          { ok: true, name: e.name, speech_seconds: res.speechSeconds, file, consistency, advice },
          1,
        );
        this.rebuildPipeline(this.cfg);
        this.publishDetail();
      } catch (err) {
        log.warn({ name: e.name, err: (err as Error).message }, 'enrollment failed');
        this.link.publishVolatile(this.link.topics.enrollResult, { ok: false, name: e.name, error: (err as Error).message }, 1);
      }
    })();
  }

  private rebuildPipeline(cfg: Config): void {
    const old = this.pipeline;
    const muted = old.muted;
    old.finish('stop');
    // The old pipeline finishes its pending segments on its own; its events stay wired.
    void old.drain().then(() => old.dispose());
    this.profiles = this.loadProfiles(cfg, this.models);
    this.pipeline = this.makePipeline(cfg);
    // Keep frame numbers (and so wall-clock times) continuous with the audio already received.
    this.pipeline.alignTo(this.clock.samples);
    if (muted) this.pipeline.mute();
  }

  /** SIGHUP / cmd/reload: re-read the configuration file; a bad one is reported and ignored. */
  async reload(): Promise<void> {
    let next: Config;
    try {
      next = loadConfig(this.opts.configFile, this.opts.overrides);
    } catch (err) {
      log.error({ err: (err as Error).message }, 'reload refused: the configuration is invalid; keeping the current one');
      return;
    }
    try {
      if (same(next.models, this.cfg.models)) checkHotPhrases(this.models.transducer, next.recognizer.hot_phrases);
    } catch (err) {
      log.error({ err: (err as Error).message }, 'reload refused: keeping the current configuration');
      return;
    }
    let sentences: SentenceRecognizer | undefined;
    let lm: ReturnType<typeof loadLmFor>;
    try {
      sentences = loadSentencesFor(next, this.models.transducer);
      lm = loadLmFor(next, this.models.transducer, sentences);
    } catch (err) {
      log.error(
        { err: (err as Error).message },
        'reload refused: a sentence or language model file is invalid; keeping the current configuration and sentences',
      );
      return;
    }
    try {
      setLogLevel(process.env.EARSHOT_LOG_LEVEL ?? next.log_level);
      if (!same(next.models, this.cfg.models)) {
        const models = await this.loadModels(next);
        checkHotPhrases(models.transducer, next.recognizer.hot_phrases);
        this.models = models;
        sentences = loadSentencesFor(next, this.models.transducer);
        lm = loadLmFor(next, this.models.transducer, sentences);
      }
      this.sentences = sentences;
      this.lm = lm;
      this.rebuildPipeline(next);
      if (!same(next.audio, this.cfg.audio)) {
        await this.source.stop();
        this.source = this.makeSource(next);
        this.startSource();
      }
      const linkKeys = (c: Config) => [c.site, c.mqtt, c.homeassistant, c.hermes];
      const restartExtensions = !same([...linkKeys(next), next.wyoming], [...linkKeys(this.cfg), this.cfg.wyoming]);
      if (restartExtensions) await this.stopExtensions();
      if (!same(linkKeys(next), linkKeys(this.cfg))) {
        await this.link.stop();
        if (!same(next.mqtt.embedded, this.cfg.mqtt.embedded) || next.mqtt.url !== null) {
          await this.broker?.close();
          this.broker = undefined;
        }
        await this.startLink(next);
      }
      this.cfg = next;
      if (restartExtensions) await this.startExtensions(next);
      this.publishMuted();
      log.info('configuration reloaded');
    } catch (err) {
      log.error({ err: (err as Error).message }, 'reload failed; parts of the new configuration may not be applied');
    }
  }

  /** null when healthy; else why the watchdog ping is withheld. */
  healthProblem(): string | null {
    const now = performance.now();
    const gap = now - this.lastAudioAt;
    if (this.source.live && gap > this.cfg.watchdog.max_frame_gap_ms) return `no audio frames for ${Math.round(gap)} ms`;
    const backlogMs = samplesToMs(this.pipeline.backlogSamples);
    if (backlogMs > this.cfg.watchdog.max_lag_ms) return `pipeline ${Math.round(backlogMs)} ms behind the audio`;
    // non-finite scores (restarted each time): a pipeline that keeps producing them is not working
    if (now - this.pipeline.pvadFaultAt < this.cfg.watchdog.max_lag_ms) return 'the personal VAD gave non-finite scores';
    const waiting = this.pipeline.oldestPendingMs(now);
    if (waiting > this.cfg.watchdog.max_lag_ms) return `a segment has waited ${Math.round(waiting)} ms for its transcript`;
    return null;
  }

  private statusLine(): string {
    const mic = this.source?.state();
    const journal = this.outbox?.journal.state === 'failing' ? `, journal failing (${this.outbox.journal.error})` : '';
    return `${this.pipeline?.muted ? 'muted' : 'listening'} on ${this.source?.kind}:${this.source?.device} (${mic?.state ?? 'starting'}); ${this.segments} transcripts; outbox ${this.outbox?.pending ?? 0} pending, ${this.outbox?.dropped ?? 0} dropped${journal}`;
  }

  private detailSoon: NodeJS.Timeout | undefined;

  private publishDetailSoon(): void {
    if (this.detailSoon) return;
    this.detailSoon = setTimeout(() => {
      this.detailSoon = undefined;
      this.publishDetail();
    }, 200);
  }

  private journalShown: 'ok' | 'failing' = 'ok';

  private publishDetail(): void {
    if (!this.link || !this.pipeline) return;
    this.journalShown = this.outbox.journal.state;
    this.link.publishRetained(this.link.topics.statusDetail, {
      state: this.stopping ? 'stopping' : 'running',
      site: this.cfg.site,
      version,
      model: this.models.transducer.info.name,
      muted: this.pipeline.muted,
      mic: this.source?.state() ?? null,
      profiles: this.profiles.map((p) => p.name),
      transcripts: this.segments,
      outbox: {
        pending: this.outbox.pending,
        dropped: this.outbox.dropped,
        expired: this.outbox.expired,
        rejected: this.outbox.rejected,
        journal: this.outbox.journal,
      },
      inbound_rejected: this.link.rejected,
      uptime_s: Math.round((Date.now() - this.startedAt) / 1000),
    });
  }

  /** SIGTERM: stop capture, close the open segment, wait (bounded) for acknowledgements. */
  async shutdown(reason: string): Promise<void> {
    if (this.stopping) return this.done;
    this.stopping = true;
    if (!this.link) {
      // still loading: nothing captured, nothing to deliver
      log.info({ reason }, 'stopped during start-up');
      this.resolveDone();
      return;
    }
    log.info({ reason }, 'shutting down');
    this.notifier.stopping();
    clearInterval(this.detailTimer);
    clearInterval(this.memoryTimer);
    this.gcObserver?.disconnect();
    clearTimeout(this.detailSoon);
    await this.source?.stop();
    await this.stopExtensions();
    // One deadline for everything after capture stops, whatever state the broker or disk are in.
    const deadline = Date.now() + this.cfg.outbox.drain_timeout_ms;
    const until = (p: Promise<unknown>) => Promise.race([p, new Promise((r) => setTimeout(r, Math.max(0, deadline - Date.now())).unref())]);
    if (this.pipeline) {
      this.pipeline.finish('stop');
      await until(this.pipeline.drain());
      this.pipeline.dispose();
    }
    await until(Promise.all(this.publishing));
    if (this.link) {
      const acked = await this.link.drain(Math.max(0, deadline - Date.now()));
      if (!acked)
        log.warn(
          { pending: this.outbox.pending },
          'exiting with unacknowledged transcripts; they are journalled and will be sent at the next start',
        );
      this.publishDetail(); // the final counts (journal failures included), before offline
      await this.link.stop();
    }
    await this.broker?.close();
    if (this.models) {
      this.models.transducer.dispose();
      this.models.pvad.dispose();
      this.models.speakerEncoder?.encoder.dispose();
    }
    log.info({ pending: this.outbox?.pending ?? 0 }, 'stopped');
    this.resolveDone();
  }
}
