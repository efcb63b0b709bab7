// Offline runs over WAV files (`earshot transcribe`, `earshot vad`) through the same pVAD,
// segmenter and recognizer as the daemon.
import { readWav16kMono } from './audio/wav.js';
import { FRAME_MS, frameToSample, framesToSeconds, mostTarget, msToSamples, Posteriors } from './frames.js';
import type { Config } from './config.js';
import { loadPvad, loadSpeakerEncoder, loadTransducer, pvadEmbedDim, type LoadedSpeakerEncoder } from './models.js';
import type { PvadModel } from './native.js';
import { hasTargetSpeech, Pipeline, scoreSpeakers, type FinalSegment, type SpeakerMatch } from './pipeline.js';
import { loadProfile, type Profile } from './profiles.js';
import { loadSentencesFor } from './intents.js';
import { loadLmFor } from './lm.js';
import { endOfUtteranceOptions, recognizerOptions } from './recognizer-options.js';
import type { IntentMatch } from './sentences.js';
import { Segmenter } from './segmenter.js';
import { segmenterOptions } from './segmenter-options.js';
import fs from 'node:fs';

/** samples per push into the pipeline, the size of a capture device's chunks */
const CHUNK = msToSamples(100);

export async function loadProfilesFor(
  files: string[],
  cfg: Config,
  pvad: PvadModel,
): Promise<{ profiles: Profile[]; encoder?: LoadedSpeakerEncoder }> {
  const all = [...cfg.vad.profiles.map((p) => p.file), ...files];
  if (all.length === 0) return { profiles: [] };
  if (!fs.existsSync(cfg.models.speaker_encoder))
    throw new Error(`speaker profiles need the speaker encoder model ${cfg.models.speaker_encoder}, which does not exist`);
  const encoder = await loadSpeakerEncoder(cfg.models.speaker_encoder);
  const dim = pvadEmbedDim(pvad);
  return { profiles: all.map((f) => loadProfile(f, encoder, dim)), encoder };
}

/** Posteriors [ns, tss, ntss] per frame; with several profiles, the frame's best-scoring one. */
export function framePosteriors(pvad: PvadModel, samples: Float32Array, profiles: Profile[]): number[][] {
  const embeddings = profiles.length ? profiles.map((p) => p.embedding) : [null];
  const posts = embeddings.map((e) => new Posteriors(pvad.createStream(e).accept(samples)));
  const out: number[][] = [];
  for (let j = 0; j < posts[0].frames; j++) {
    const best = mostTarget(posts, j);
    out.push([best.nonSpeech(j), best.target(j), best.other(j)]);
  }
  return out;
}

export interface VadResult {
  file: string;
  frame_ms: number;
  scores?: number[][];
  segments?: { segment: number; start: number; end: number }[];
}

export async function runVad(
  files: string[],
  cfg: Config,
  profileFiles: string[],
  frames: boolean,
  emit: (r: VadResult) => void,
): Promise<void> {
  const pvad = await loadPvad(cfg.models.pvad);
  const { profiles, encoder } = await loadProfilesFor(profileFiles, cfg, pvad);
  // the same speaker check as the pipeline's, answered before the next frame
  const segOpts = segmenterOptions(cfg, { profiles: profiles.length, speakerEncoder: encoder !== undefined });
  for (const file of files) {
    const { samples } = readWav16kMono(file);
    const scores = framePosteriors(pvad, samples, profiles);
    if (frames) {
      emit({ file, frame_ms: FRAME_MS, scores: scores.map((s) => s.map((x) => Math.round(x * 10000) / 10000)) });
      continue;
    }
    const seg = new Segmenter(segOpts);
    const segments: { segment: number; start: number; end: number }[] = [];
    const take = async (evs: ReturnType<Segmenter['push']>): Promise<void> => {
      for (const ev of evs) {
        if (ev.type === 'close' && hasTargetSpeech({ ...ev, forced: false }))
          segments.push({ segment: segments.length, start: framesToSeconds(ev.speechStartFrame), end: framesToSeconds(ev.speechEndFrame) });
        if (ev.type === 'check') {
          const best = (
            await scoreSpeakers(encoder?.encoder, profiles, samples.slice(frameToSample(ev.fromFrame), frameToSample(ev.toFrame)), 1)
          )[0];
          await take(seg.checked(ev.id, best?.score ?? null));
        }
      }
    };
    for (const [ns, tss, ntss] of scores) await take(seg.push(ns, tss, ntss));
    await take(seg.finish('end_of_input'));
    emit({ file, frame_ms: FRAME_MS, segments });
  }
}

export interface TranscribeLine {
  file: string;
  segment: number;
  start: number;
  end: number;
  text: string;
  tokens: { text: string; start: number; conf: number }[];
  /** with profiles: the best-matching one and every profile's cosine, best first, as in the MQTT transcript */
  speaker?: SpeakerMatch | null;
  speaker_scores?: SpeakerMatch[];
  /** with sentences: the matched intent, or null (text is then the unrestricted decoding) */
  intent?: IntentMatch | null;
  /** the rule that closed the segment, as in the MQTT transcript */
  closed_by: FinalSegment['reason'];
}

export async function runTranscribe(
  files: string[],
  cfg: Config,
  profileFiles: string[],
  emit: (line: TranscribeLine) => void,
): Promise<void> {
  const [transducer, pvad] = await Promise.all([loadTransducer(cfg.models.transducer), loadPvad(cfg.models.pvad)]);
  const { profiles, encoder } = await loadProfilesFor(profileFiles, cfg, pvad);
  const sentences = loadSentencesFor(cfg, transducer);
  const lm = loadLmFor(cfg, transducer, sentences);
  const eou = endOfUtteranceOptions(cfg, transducer);
  const decoded = files.map((f) => ({ file: f, samples: readWav16kMono(f).samples })); // fail early on a bad file
  for (const { file, samples } of decoded) {
    const pipeline = new Pipeline(
      { transducer, pvad, speakerEncoder: encoder },
      {
        segmenter: segmenterOptions(cfg, {
          profiles: profiles.length,
          speakerEncoder: encoder !== undefined,
          endOfUtterance: eou !== undefined,
        }),
        recognizer: recognizerOptions(cfg, lm),
        endOfUtterance: eou,
        sentences,
        profiles,
      },
    );
    let n = 0;
    let failure: Error | undefined;
    pipeline.on('error', (err) => (failure = err));
    pipeline.on('final', (seg: FinalSegment) => {
      const who = profiles.length ? { speaker: seg.speaker, speaker_scores: seg.scores } : {};
      const said = sentences ? { intent: seg.intent ?? null } : {};
      emit({
        file,
        segment: n++,
        start: framesToSeconds(seg.speechStartFrame),
        end: framesToSeconds(seg.speechEndFrame),
        text: seg.text,
        tokens: seg.tokens,
        ...who,
        ...said,
        closed_by: seg.reason,
      });
    });
    for (let i = 0; i < samples.length; i += CHUNK) {
      pipeline.push(samples.subarray(i, Math.min(samples.length, i + CHUNK)));
      // let finished segments come out while the file is still being read
      if (pipeline.pendingFinalCount > 0) await new Promise((r) => setImmediate(r));
      // a speaker check is answered before the next audio, as on a machine fast enough for it
      if (pipeline.checkPending) await pipeline.settleChecks();
    }
    pipeline.endOfInput();
    await pipeline.drain();
    pipeline.dispose();
    if (failure) throw failure;
  }
}
