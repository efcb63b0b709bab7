// `earshot run`, the composition root: loads the models, wires source -> pipeline -> MQTT, composes
// the features beside them (extensions: daemon/extension.ts), and owns the life cycle (start,
// SIGHUP reload, SIGTERM shutdown with a bounded wait for outbox acknowledgements).
import fs from 'node:fs';
import path from 'node:path';
import { AlsaSource } from './audio/alsa-source.js';
import { AudioClock } from './audio/clock.js';
import { FileSource } from './audio/file-source.js';
import type { AudioSource, MicState } from './audio/source.js';
import { StdinSource } from './audio/stdin-source.js';
import { frameToSample, samplesToMs } from './frames.js';
import { loadConfig, type Config, type ConfigOverrides } from './config.js';
import { EventBus } from './event-bus.js';
import type { DaemonEvents, DaemonStatus, Engine, Extension, ExtensionContext, Feature } from './extension.js';
import { liveEnrollment, liveProfileDir } from './live-enrollment.js';
import { childLogger, setLogLevel } from './log.js';
import { memoryLog } from './memory-log.js';
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
import { loadProfile, type Profile } from './profiles.js';
import { segmenterOptions } from './segmenter-options.js';
import { SystemdNotifier } from './sdnotify.js';
import { statusDetail, statusLine } from './status.js';
import { buildTranscript } from './transcript.js';
import { startEmbeddedBroker, type EmbeddedBroker } from './mqtt/broker.js';
import { hermes } from './mqtt/hermes.js';
import { homeAssistant } from './mqtt/homeassistant.js';
import { loadLmFor } from './lm.js';
import { endOfUtteranceOptions, recognizerOptions } from './recognizer-options.js';
import { loadSentencesFor, resolveIntent, streamOptions, type SentenceRecognizer } from './intents.js';
import { excerpt, switchPayload } from './mqtt/payload.js';
import { linkConfigOf, MqttLink } from './mqtt/link.js';
import { version } from './version.js';
import { wyoming } from './wyoming/server.js';

const log = childLogger('daemon');

/** The features beside the pipeline, in start order (they stop in reverse: status/detail last, with
 * the final counts). A new feature is one file exporting a Feature, and one entry here. */
const FEATURES: Feature[] = [statusDetail, memoryLog, liveEnrollment, hermes, homeAssistant, wyoming];

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

/** A command's handler, run on arrival: it queues its work (runCommand), or returns why it refuses. */
type CommandHandler = (payload: Buffer) => string | void;

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
  private clock: AudioClock | undefined;
  private readonly notifier: SystemdNotifier;
  private lastAudioAt = performance.now();
  private segments = 0;
  private readonly publishing = new Set<Promise<void>>();
  private stopping = false;
  private readonly startedAt = Date.now();
  readonly events = new EventBus<DaemonEvents>();
  /** the extensions running, each with the feature that made it, in FEATURES order */
  private running: { feature: Feature; extension: Extension }[] = [];
  /** cmd/<name> handlers: the daemon's own, then those extensions register */
  private readonly commandHandlers = new Map<string, CommandHandler>();
  private readonly context: ExtensionContext;
  private done: Promise<void>;
  private resolveDone!: () => void;

  constructor(private readonly opts: DaemonOptions) {
    this.cfg = loadConfig(opts.configFile, opts.overrides);
    this.notifier = opts.notifier ?? new SystemdNotifier();
    this.done = new Promise((r) => (this.resolveDone = r));
    this.context = this.makeContext();
    const queued = (name: string, fn: () => void | Promise<void>) => () => this.runCommand(name, fn);
    this.commandHandlers.set('mute', (payload) => {
      // HA's switch sends ON/OFF to this one topic
      const on = switchPayload(payload);
      if (!on.ok) return on.error;
      this.runCommand('mute', () => this.setMuted(on.value));
    });
    this.commandHandlers.set(
      'unmute',
      queued('unmute', () => this.setMuted(false)),
    );
    this.commandHandlers.set(
      'listen',
      queued('listen', () => this.pipeline.listen()),
    );
    this.commandHandlers.set(
      'stop',
      queued('stop', () => this.pipeline.finish('stop')),
    );
    this.commandHandlers.set('reload', () => this.requestReload());
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
    await this.makeLink(this.cfg);
    this.pipeline = this.makePipeline(this.cfg);
    this.source = source;
    this.startSource();
    try {
      await this.startExtensions(this.cfg, FEATURES);
    } catch (err) {
      // e.g. the Wyoming port is taken: stop what runs so the process exits with the reason
      await this.shutdown('an extension did not start');
      throw err;
    }
    // after the extensions: a retained command or Hermes message finds its listener
    this.link.start();
    this.publishMuted();
    this.notifier.ready(statusLine(this.status()));
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

  /** The daemon as its extensions see it: read at each use (a reload or live enrollment changes it). */
  private makeContext(): ExtensionContext {
    const engine: Engine = {
      transducer: () => this.models.transducer,
      recognizerOptions: () =>
        this.sentences
          ? { ...recognizerOptions(this.cfg, this.lm), ...streamOptions(this.sentences) }
          : recognizerOptions(this.cfg, this.lm),
      speakerEncoder: () => this.models.speakerEncoder?.encoder,
      profiles: () => this.profiles,
      resolve: (result) => (this.sentences ? resolveIntent(this.sentences, result) : { text: result.text, intent: undefined }),
    };
    return {
      events: this.events,
      version,
      startedAt: this.startedAt,
      engine,
      notifier: this.notifier,
      cfg: () => this.cfg,
      link: () => this.link,
      models: () => ({ pvad: this.models.pvad, speakerEncoder: this.models.speakerEncoder }),
      status: () => this.status(),
      runCommand: (what, fn) => this.runCommand(what, fn),
      handleCommand: (name, fn) => this.commandHandlers.set(name, (payload) => this.runCommand(name, () => fn(payload))),
      listen: () => this.pipeline.listen(),
      finishSegment: () => this.pipeline.finish('stop'),
      setMuted: (muted) => this.setMuted(muted),
      profilesChanged: () => {
        this.rebuildPipeline(this.cfg);
        this.events.emit('stateChanged');
      },
    };
  }

  private status(): DaemonStatus {
    return {
      stopping: this.stopping,
      muted: this.pipeline?.muted ?? false,
      mic: this.source?.state(),
      source: { kind: this.source?.kind, device: this.source?.device },
      model: this.models.transducer.info.name,
      profiles: this.profiles.map((p) => p.name),
      transcripts: this.segments,
      outbox: this.outbox,
      audioSamples: this.clock?.samples ?? 0,
    };
  }

  /** Makes the extensions of these features that the configuration turns on, and starts them. */
  private async startExtensions(cfg: Config, features: Feature[]): Promise<void> {
    for (const feature of features) {
      const extension = feature.create(this.context, cfg);
      if (!extension) continue;
      this.running.push({ feature, extension });
      this.running.sort((a, b) => FEATURES.indexOf(a.feature) - FEATURES.indexOf(b.feature));
      await extension.start();
    }
  }

  /** Stops the running extensions of these features (all by default), in reverse order. */
  private async stopExtensions(features: Feature[] = FEATURES): Promise<void> {
    const stopping = this.running.filter((r) => features.includes(r.feature)).reverse();
    this.running = this.running.filter((r) => !features.includes(r.feature));
    for (const { extension: e } of stopping) {
      await e.stop().catch((err) => log.error({ extension: e.name, err: (err as Error).message }, 'stopping an extension failed'));
    }
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

  private loadProfiles(cfg: Config, models: Models): Profile[] {
    const dim = pvadEmbedDim(models.pvad);
    const profiles = cfg.vad.profiles.map((p) => loadProfile(p.file, models.speakerEncoder, dim, p.name));
    // Profiles enrolled live over MQTT live in the state directory.
    const dir = liveProfileDir(cfg);
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
    const clock = new AudioClock(source.live);
    this.clock = clock;
    source.on('audio', (samples) => {
      if (source !== this.source) return;
      this.lastAudioAt = performance.now();
      clock.arrived(samples.length);
      this.pipeline.push(samples);
      this.events.emit('audio', samples);
    });
    source.on('state', (state: MicState) => {
      this.link.publishRetained(this.link.topics.mic, state);
      this.events.emit('stateChanged');
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

  /** Wall-clock ms (since the epoch) of a frame of the audio received so far. */
  private wallMs(frame: number): number {
    return this.clock!.wallMs(frameToSample(frame));
  }

  private makePipeline(cfg: Config): Pipeline {
    const eou = endOfUtteranceOptions(cfg, this.models.transducer);
    const pipeline = new Pipeline(
      { transducer: this.models.transducer, pvad: this.models.pvad, speakerEncoder: this.models.speakerEncoder },
      {
        segmenter: segmenterOptions(cfg, {
          profiles: this.profiles.length,
          speakerEncoder: this.models.speakerEncoder !== undefined,
          endOfUtterance: eou !== undefined,
        }),
        recognizer: recognizerOptions(cfg, this.lm),
        endOfUtterance: eou,
        sentences: this.sentences,
        profiles: this.profiles,
        partials: cfg.recognizer.partials,
        partialIntervalMs: cfg.recognizer.partial_interval_ms,
      },
    );
    const iso = (frame: number) => new Date(this.wallMs(frame)).toISOString();
    pipeline.on('open', (seg) => {
      this.link.publishRetained(this.link.topics.vad, { speaking: true, segment: seg.index, time: iso(seg.speechStartFrame) });
      this.events.emit('speechStarted', seg.index, this.wallMs(seg.speechStartFrame));
    });
    pipeline.on('close', (seg) => {
      this.link.publishRetained(this.link.topics.vad, {
        speaking: false,
        segment: seg.index,
        time: iso(seg.endFrame),
        speech_end: iso(seg.speechEndFrame),
      });
      this.events.emit('speechEnded', seg.index, this.wallMs(seg.speechEndFrame));
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
    const t = buildTranscript(seg, cfg.site, (frame) => this.wallMs(frame));
    this.segments++;
    log.info({ id: t.id, text: t.text, speaker: t.speaker?.name ?? null, latency: t.latency }, 'transcript');
    const p = this.link
      .publishDurable(t.id, this.link.topics.transcript, t)
      .catch((err) => log.error({ id: t.id, err: (err as Error).message }, 'cannot journal a transcript'))
      .finally(() => {
        this.publishing.delete(p);
        this.events.emit('transcriptStored', t.id);
      });
    this.publishing.add(p);
    this.events.emit('transcript', t);
  }

  /** Makes the MQTT link (and the embedded broker if it is the one to use); started by the caller
   * once the extensions listen. */
  private async makeLink(cfg: Config): Promise<void> {
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
    this.link.on('connected', () => this.events.emit('mqttConnected'));
    this.link.on('acked', (id) => this.events.emit('transcriptAcked', id));
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
    const handler = this.commandHandlers.get(name);
    const refused = handler ? handler(payload) : `unknown command (known: ${[...this.commandHandlers.keys()].join(', ')})`;
    if (refused) log.warn({ command: name.slice(0, 64), payload: excerpt(payload), err: refused }, 'command refused');
  }

  setMuted(muted: boolean): void {
    if (muted) this.pipeline.mute();
    else this.pipeline.unmute();
    this.publishMuted();
  }

  private publishMuted(): void {
    this.link.publishRetained(this.link.topics.muted, this.pipeline.muted ? 'ON' : 'OFF');
    this.events.emit('stateChanged');
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
    this.pipeline.alignTo(this.clock!.samples);
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
      const restarting = FEATURES.filter((f) => f.configOf && !same(f.configOf(next), f.configOf(this.cfg)));
      await this.stopExtensions(restarting);
      const newLink = !same(linkConfigOf(next), linkConfigOf(this.cfg));
      if (newLink) {
        await this.link.stop();
        if (!same(next.mqtt.embedded, this.cfg.mqtt.embedded) || next.mqtt.url !== null) {
          await this.broker?.close();
          this.broker = undefined;
        }
        await this.makeLink(next);
      }
      this.cfg = next;
      await this.startExtensions(next, restarting);
      if (newLink) this.link.start();
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
    await this.source?.stop();
    // One deadline for everything after capture stops, whatever state the broker or disk are in.
    const deadline = Date.now() + this.cfg.outbox.drain_timeout_ms;
    const until = (p: Promise<unknown>) => Promise.race([p, new Promise((r) => setTimeout(r, Math.max(0, deadline - Date.now())).unref())]);
    if (this.pipeline) {
      this.pipeline.finish('stop');
      await until(this.pipeline.drain());
      this.pipeline.dispose();
    }
    await until(Promise.all(this.publishing));
    const acked = await this.link.drain(Math.max(0, deadline - Date.now()));
    if (!acked)
      log.warn(
        { pending: this.outbox.pending },
        'exiting with unacknowledged transcripts; they are journalled and will be sent at the next start',
      );
    // after the last transcript, before offline: Hermes sends its textCaptured, status/detail the final counts
    await this.stopExtensions();
    await this.link.stop();
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
