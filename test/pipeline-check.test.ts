// The pipeline's speaker check with the real speaker encoder (models/spkenc.gguf) on real
// LibriSpeech speech, under constructed pVAD posteriors (so the rule's trigger is exact), and
// segments whose speech was all dropped as another voice's not being transcribed.
import './helpers/quiet.js';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import test from 'ava';
import { readWav16kMono } from '../daemon/audio/wav.js';
import { configSchema } from '../daemon/config.js';
import { loadSpeakerEncoder, loadTransducer } from '../daemon/models.js';
import { Pipeline, type FinalSegment } from '../daemon/pipeline.js';
import type { Profile } from '../daemon/profiles.js';
import { segmenterOptions } from '../daemon/segmenter-options.js';
import { concat, silence } from './helpers/daemon.js';
import { scriptedPvad } from './helpers/scripted-pvad.js';
import { repoRoot, tmpDir } from './helpers/tmp.js';

const libri = path.resolve(repoRoot, '../shared/data/librispeech-speakers/librispeech_train-clean-100');
const dir = tmpDir('pipeline-check');

function flacPart(file: string, from: number, seconds: number): Float32Array {
  const out = path.join(dir, `${path.basename(file, '.flac')}-${from}-${seconds}.wav`);
  execFileSync('sox', [path.join(libri, file), '-r', '16000', '-c', '1', '-b', '16', out, 'trim', String(from), String(seconds)]);
  return readWav16kMono(out).samples;
}

const models = (async () => {
  const [transducer, speakerEncoder] = await Promise.all([
    loadTransducer(path.join(repoRoot, 'models', 'earshot-en-int4.gguf')),
    loadSpeakerEncoder(path.join(repoRoot, 'models', 'spkenc.gguf')),
  ]);
  const embedding = await speakerEncoder.encoder.embed(flacPart('198-126831-0000.flac', 0, 12.5));
  const alice: Profile = { name: 'alice', file: 'alice.json', embedding, data: {} as Profile['data'] };
  return { transducer, speakerEncoder, alice };
})();

const aliceSpeech = () => flacPart('198-126831-0000.flac', 12.5, 4);
const bobSpeech = () => flacPart('229-130880-0000.flac', 12.5, 4);

/** Runs the audio through a pipeline (checks answered before the next 100 ms, as `earshot transcribe` does). */
async function transcribe(audio: Float32Array, script: string, segmenter: Record<string, unknown>) {
  const m = await models;
  const cfg = configSchema.parse({ segmenter });
  const p = new Pipeline(
    { transducer: m.transducer, pvad: scriptedPvad(script), speakerEncoder: m.speakerEncoder },
    { segmenter: segmenterOptions(cfg, { profiles: 1, speakerEncoder: true }), profiles: [m.alice] },
  );
  const finals: FinalSegment[] = [];
  const closes: number[][] = [];
  p.on('final', (f) => finals.push(f));
  p.on('close', (c) => closes.push([c.speechStartFrame, c.speechEndFrame, c.endFrame]));
  for (let i = 0; i < audio.length; i += 1600) {
    p.push(audio.subarray(i, Math.min(audio.length, i + 1600)));
    if (p.checkPending) await p.settleChecks();
  }
  p.endOfInput();
  await p.drain();
  p.dispose();
  return { finals, closes, checks: p.checksRun };
}

// 0.5 s of silence, 300 ms the pVAD gives to the target, then 2.7 s it gives to another voice
const script = '.'.repeat(50) + 'T'.repeat(30) + 'O'.repeat(270) + '.'.repeat(100);
const check = { speaker_check: true, speaker_check_threshold: 0.3 };

test('the enrolled speaker the pVAD lost mid-utterance: the check keeps the segment to the end of the speech', async (t) => {
  const audio = concat(silence(0.5), aliceSpeech().subarray(0, 16000 * 3), silence(1));
  const off = await transcribe(audio, script, { speaker_check: false });
  t.deepEqual(off.closes, [[50, 80, 201]], 'without the check: cut when the hold (1200 ms) runs out');
  const on = await transcribe(audio, script, check);
  t.deepEqual(on.closes, [[50, 350, 380]], 'with it: held to the end of the speech, then the trailing stretch');
  t.is(on.checks, 2, 'checked when the hold ran out, and once more one hold later');
  t.is(on.finals.length, 1);
  t.is(on.finals[0].speaker?.name, 'alice');
  t.true(on.finals[0].speaker!.score > 0.5, `speaker score ${on.finals[0].speaker?.score}`);
});

test('another speaker after the target: the check fails and the segment closes where the target stopped', async (t) => {
  const audio = concat(silence(0.5), aliceSpeech().subarray(0, 4800), bobSpeech().subarray(0, 16000 * 2.7), silence(1));
  const on = await transcribe(audio, script, check);
  t.is(on.checks, 1);
  // asked at frame 200 for [80, 200) of Bob's speech: answered before the next 100 ms of audio
  t.is(on.closes.length, 1);
  const [start, speechEnd, end] = on.closes[0];
  t.deepEqual([start, speechEnd], [50, 80]);
  t.true(end >= 200 && end <= 210, `closed at frame ${end}`);
  t.is(on.finals.length, 1);
});

test('a segment whose speech is all dropped as another voice is closed but not transcribed', async (t) => {
  // 120 ms "target" opens a segment on Bob, then the pVAD finds him another voice (switch);
  // later Alice speaks: that segment is transcribed
  const s2 = '.'.repeat(50) + 'T'.repeat(12) + 'O'.repeat(200) + '.'.repeat(50) + 'T'.repeat(100) + '.'.repeat(60);
  const audio = concat(silence(0.5), bobSpeech().subarray(0, 16000 * 2.12), silence(0.5), aliceSpeech().subarray(0, 16000), silence(0.6));
  // (with the switch checked: the check waits for 500 ms of the run, then Bob's first 0.5 s scores
  // 0.34 against Alice's profile: short pieces are noisy, hence the threshold 0.4 here)
  for (const seg of [{ speaker_check: false }, { ...check, speaker_check_switch: true, speaker_check_threshold: 0.4 }]) {
    const r = await transcribe(audio, s2, seg);
    t.is(r.closes.length, 2, JSON.stringify(seg));
    t.deepEqual(r.closes[0].slice(0, 2), [50, 50], 'no target speech left in the first segment');
    t.deepEqual(
      r.finals.map((f) => [f.index, f.speechStartFrame, f.speechEndFrame]),
      [[1, 312, 412]],
      'only the second segment is transcribed',
    );
  }
});
