// The daemon's own segmenter over saved pVAD posteriors, for bench/pvad_segments.py: reads the
// posteriors (float32 [frames, 3] back to back) and a job (rules, lengths, and for the speaker check
// the mixtures' audio); prints, per rule and per mixture, the segments as [first speech frame,
// frame of the close decision, has target speech], the checks run and their engine cost.
//
//   node --import=tsx bench/segmenter_driver.ts POSTS.f32 JOB.json
import fs from 'node:fs';
import { readWav16kMono } from '../daemon/audio/wav.js';
import { configSchema } from '../daemon/config.js';
import { loadSpeakerEncoder } from '../daemon/models.js';
import type { SpeakerEncoder } from '../daemon/native.js';
import { scoreSpeakers } from '../daemon/pipeline.js';
import type { Profile } from '../daemon/profiles.js';
import { Segmenter, type SegmentEvent } from '../daemon/segmenter.js';
import { segmenterOptions } from '../daemon/segmenter-options.js';
import { frameToSample, framesToSeconds, msToFrames, Posteriors } from '../daemon/frames.js';

interface Rule {
  vad?: object;
  segmenter?: object;
  check_whole_run?: boolean;
  check_switch_opening_only?: boolean;
  check_delay_ms?: number;
}

interface Job {
  rules: Rule[];
  /** frames of each posterior array */
  lengths: number[];
  /** a check's answer reaches the segmenter this much later (the engine's time) */
  check_delay_ms: number;
  /** for the speaker check: per posterior array its audio and target, each target's enrollment */
  wavs?: string[];
  targets?: string[];
  enroll?: Record<string, string>;
  spkenc?: string;
}

type Segment = [start: number, close: number, hasTarget: 0 | 1];
type CheckLog = [mixture: number, fromFrame: number, toFrame: number, score: number | null];

const stats = { engine_ms: [] as number[], engine_cpu_ms: [] as number[], audio_s: 0 };

/** Speaker checks through the daemon's own scoring (scoreSpeakers); the profile is the embedding
 * of the target's enrollment recording (what the posteriors used). */
function checker(job: Job, enc: SpeakerEncoder | undefined) {
  const profiles = new Map<string, Profile[]>();
  const scores = new Map<string, number | null>();
  let audio: { mixture: number; samples: Float32Array } | undefined;
  const need = <T>(v: T | undefined, what: string): T => {
    if (v === undefined) throw new Error(`a rule has the speaker check on but the job has no ${what}`);
    return v;
  };
  async function profileOf(name: string): Promise<Profile[]> {
    if (!profiles.has(name)) {
      const embedding = await need(enc, 'spkenc').embed(readWav16kMono(need(job.enroll, 'enroll')[name]).samples);
      profiles.set(name, [{ name, embedding } as Profile]); // scoreSpeakers reads these two only
    }
    return profiles.get(name)!;
  }
  return async (m: number, from: number, to: number): Promise<number | null> => {
    const key = `${m}:${from}:${to}`;
    if (!scores.has(key)) {
      if (audio?.mixture !== m) audio = { mixture: m, samples: readWav16kMono(need(job.wavs, 'wavs')[m]).samples };
      const speech = audio.samples.slice(frameToSample(from), frameToSample(to));
      const prof = await profileOf(need(job.targets, 'targets')[m]);
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      const best = (await scoreSpeakers(enc, prof, speech, 1))[0];
      const c = process.cpuUsage(c0);
      stats.engine_ms.push(performance.now() - t0);
      stats.engine_cpu_ms.push((c.user + c.system) / 1000);
      stats.audio_s += framesToSeconds(to - from);
      scores.set(key, best ? best.score : null);
    }
    return scores.get(key)!;
  };
}

async function main() {
  const [postsFile, jobFile] = process.argv.slice(2);
  if (!postsFile || !jobFile) {
    console.error('usage: node --import=tsx bench/segmenter_driver.ts POSTS.f32 JOB.json');
    process.exit(2);
  }
  const job = JSON.parse(fs.readFileSync(jobFile, 'utf8')) as Job;
  // a copy: small reads share a pooled buffer
  const posts = new Posteriors(new Float32Array(new Uint8Array(fs.readFileSync(postsFile)).buffer));
  const enc = job.spkenc ? (await loadSpeakerEncoder(job.spkenc)).encoder : undefined;
  const check = checker(job, enc);
  const out: Segment[][][] = [];
  const checks: CheckLog[][] = [];
  const thresholds: (number | null)[] = []; // each rule's effective check threshold
  for (const rule of job.rules) {
    // No sentence files here: the sentence rules are off, so a swept trailing_ms meets no bound of theirs.
    const segmenter = { sentence_guard_ms: 0, sentence_incomplete_ms: 0, ...(rule.segmenter ?? {}) };
    const cfg = configSchema.parse({ vad: rule.vad ?? {}, segmenter });
    // the posteriors are scored against each mixture's target; checks are answered with job.spkenc
    const opts = segmenterOptions(cfg, { profiles: 1, speakerEncoder: true });
    const variants = { wholeRun: rule.check_whole_run, switchOpeningOnly: rule.check_switch_opening_only };
    const delay = msToFrames(rule.check_delay_ms ?? job.check_delay_ms);
    const perRule: Segment[][] = [];
    const log: CheckLog[] = [];
    let at = 0; // frame in the posteriors of all mixtures
    for (let m = 0; m < job.lengths.length; m++) {
      const n = job.lengths[m];
      const s = new Segmenter(opts, variants);
      const segs: Segment[] = [];
      const due: [frame: number, id: number, score: number | null][] = [];
      const take = async (evs: SegmentEvent[], i: number) => {
        for (const e of evs) {
          if (e.type === 'close') segs.push([e.speechStartFrame, e.endFrame - 1, e.speechEndFrame > e.speechStartFrame ? 1 : 0]);
          if (e.type === 'check') {
            const score = await check(m, e.fromFrame, e.toFrame);
            log.push([m, e.fromFrame, e.toFrame, score]);
            due.push([i + delay, e.id, score]);
          }
        }
      };
      for (let i = 0; i < n; i++, at++) {
        while (due.length && due[0][0] <= i) {
          const [, id, sc] = due.shift()!;
          await take(s.checked(id, sc), i);
        }
        await take(s.push(posts.nonSpeech(at), posts.target(at), posts.other(at)), i + 1);
      }
      await take(s.finish('end_of_input'), n);
      perRule.push(segs);
    }
    out.push(perRule);
    checks.push(log);
    thresholds.push(opts.check?.threshold ?? null);
  }
  const pct = (v: number[], q: number) =>
    v.length ? [...v].sort((a, b) => a - b)[Math.min(v.length - 1, Math.floor(q * v.length))] : null;
  const cost = {
    checks: stats.engine_ms.length,
    audio_s: stats.audio_s,
    engine_ms_p50: pct(stats.engine_ms, 0.5),
    engine_ms_p90: pct(stats.engine_ms, 0.9),
    engine_cpu_ms_p50: pct(stats.engine_cpu_ms, 0.5),
    engine_cpu_ms_p90: pct(stats.engine_cpu_ms, 0.9),
  };
  process.stdout.write(JSON.stringify({ segments: out, checks, thresholds, cost }));
}

main().catch((err) => {
  console.error(`bench/segmenter_driver: ${(err as Error).stack ?? err}`);
  process.exit(1);
});
