// Live enrollment over MQTT: cmd/enroll {"name", "seconds"} records that much of the microphone,
// enrolls the speech in it as a profile in the state directory, and says how it went on
// <site>/enroll/result; the pipeline then runs with the new profile. An extension, always on: with
// vad.live_enrollment off it refuses, saying why.
import path from 'node:path';
import type { Config } from './config.js';
import { enroll, MIN_SPEECH_SECONDS } from './enroll.js';
import type { Extension, ExtensionContext, Feature } from './extension.js';
import { SAMPLE_RATE, samplesToSeconds } from './frames.js';
import { childLogger } from './log.js';
import { jsonObject } from './mqtt/payload.js';
import { makeProfile, saveProfile } from './profiles.js';

const log = childLogger('daemon');

/** Where profiles enrolled live are kept (the daemon loads them at each start and reload). */
export const liveProfileDir = (cfg: Pick<Config, 'state_dir'>): string => path.join(cfg.state_dir, 'profiles');

interface Recording {
  name: string;
  /** samples to record */
  need: number;
  chunks: Float32Array[];
  have: number;
}

export class LiveEnrollment implements Extension {
  readonly name = 'live-enrollment';
  private recording: Recording | undefined;

  constructor(private readonly ctx: ExtensionContext) {}

  async start(): Promise<void> {
    this.ctx.handleCommand('enroll', (payload) => this.request(payload));
    this.ctx.events.on(this, 'audio', (samples) => {
      if (this.recording) this.collect(this.recording, samples);
    });
  }

  async stop(): Promise<void> {
    this.ctx.events.off(this);
    this.recording = undefined;
  }

  private publishResult(result: Record<string, unknown>): void {
    const link = this.ctx.link();
    link.publishVolatile(link.topics.enrollResult, result, 1);
  }

  private request(payload: Buffer): void {
    const refuse = (error: string, name?: string) => {
      log.warn({ err: error }, 'enrollment refused');
      this.publishResult({ ok: false, ...(name ? { name } : {}), error });
    };
    const req = jsonObject(payload);
    if (!req.ok) return refuse(`${req.error}; enroll needs {"name": "<letters, digits, _ or ->", "seconds": 15}`);
    const { name, seconds = 15 } = req.value;
    if (typeof name !== 'string' || !/^[\w-]{1,64}$/.test(name)) return refuse('enroll needs "name": 1 to 64 letters, digits, _ or -');
    if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 5 || seconds > 120)
      return refuse('"seconds" must be a number from 5 to 120', name);
    const cfg = this.ctx.cfg();
    if (!cfg.vad.live_enrollment)
      return refuse('live enrollment is off (set vad.live_enrollment: true, and protect cmd/# with a broker ACL)', name);
    const profiles = this.ctx.engine.profiles();
    const replaces = profiles.some((p) => p.file === path.join(liveProfileDir(cfg), `${name}.json`));
    if (!replaces && profiles.length >= cfg.vad.max_profiles)
      return refuse(`already ${profiles.length} profiles (vad.max_profiles: ${cfg.vad.max_profiles})`, name);
    if (!this.ctx.models().speakerEncoder) return refuse('no speaker encoder model is installed', name);
    log.info({ name, seconds }, 'live enrollment: recording');
    this.recording = { name, need: seconds * SAMPLE_RATE, chunks: [], have: 0 };
    this.publishResult({ ok: null, name, state: 'recording', seconds });
  }

  private collect(rec: Recording, samples: Float32Array): void {
    rec.chunks.push(samples.slice());
    rec.have += samples.length;
    if (rec.have < rec.need) return;
    this.recording = undefined;
    const audio = new Float32Array(rec.have);
    let o = 0;
    for (const c of rec.chunks) {
      audio.set(c, o);
      o += c.length;
    }
    void this.enrollRecorded(rec, audio);
  }

  private async enrollRecorded(rec: Recording, audio: Float32Array): Promise<void> {
    try {
      const cfg = this.ctx.cfg();
      const { pvad, speakerEncoder } = this.ctx.models();
      const res = await enroll([audio], pvad, speakerEncoder!, {
        minSpeechSeconds: Math.min(MIN_SPEECH_SECONDS, samplesToSeconds(rec.need) * 0.6),
        threshold: cfg.vad.threshold,
      });
      const file = path.join(liveProfileDir(cfg), `${rec.name}.json`);
      saveProfile(file, makeProfile(rec.name, res.embedding, speakerEncoder!, res.speechSeconds, ['live'], res.quality));
      log.info(
        { name: rec.name, file, speech_s: res.speechSeconds, consistency: res.quality.consistency, advice: res.quality.advice },
        'enrolled',
      );
      const { consistency, advice } = res.quality;
      this.publishResult({ ok: true, name: rec.name, speech_seconds: res.speechSeconds, file, consistency, advice });
      this.ctx.profilesChanged();
    } catch (err) {
      log.warn({ name: rec.name, err: (err as Error).message }, 'enrollment failed');
      this.publishResult({ ok: false, name: rec.name, error: (err as Error).message });
    }
  }
}

export const liveEnrollment: Feature = { name: 'live-enrollment', create: (ctx) => new LiveEnrollment(ctx) };
