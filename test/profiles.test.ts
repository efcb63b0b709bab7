import './helpers/quiet.js';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { readWav16kMono } from '../daemon/audio/wav.js';
import { concat, DaemonProcess, fixtureModels, silence, writeConfig, writeWav } from './helpers/daemon.js';
import { freePort } from './helpers/mosquitto.js';
import { Subscriber } from './helpers/subscriber.js';
import { repoRoot, tmpDir } from './helpers/tmp.js';

// The shipped personal VAD and speaker encoder; real recordings from the shared data set.
const shipped = { pvad: path.join(repoRoot, 'models', 'pvad.gguf'), speaker_encoder: path.join(repoRoot, 'models', 'spkenc.gguf') };
const libri = path.resolve(repoRoot, '../shared/data/librispeech-speakers/librispeech_train-clean-100');
const dir = tmpDir('profiles');
const fx = fixtureModels();

function flacPart(file: string, from: number, seconds: number, name: string): string {
  const out = path.join(dir, name);
  execFileSync('sox', [path.join(libri, file), '-r', '16000', '-c', '1', '-b', '16', out, 'trim', String(from), String(seconds)]);
  return out;
}

const aliceEnroll = flacPart('198-126831-0000.flac', 0, 12.5, 'alice-enroll.wav');
const aliceTest = flacPart('198-126831-0000.flac', 12.5, 4.6, 'alice-test.wav');
const bobEnroll = flacPart('229-130880-0000.flac', 0, 12.5, 'bob-enroll.wav');
const cfg = writeConfig(path.join(dir, 'shipped.yaml'), { models: { transducer: fx.transducer, ...shipped } });
const otherCfg = writeConfig(path.join(dir, 'other.yaml'), {
  models: { transducer: fx.transducer, pvad: fx.pvad, speaker_encoder: fx.otherSpeakerEncoder },
});

async function earshot(args: string[]) {
  const p = DaemonProcess.start(args);
  const { code } = await p.exit(60000);
  return { code, stderr: p.stderr, stdout: p.stdout };
}

test('enroll writes a profile tied to the speaker encoder (name and sha256)', async (t) => {
  const out = path.join(dir, 'alice.json');
  const r = await earshot(['enroll', '--config', cfg, '--out', out, aliceEnroll]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stderr, /enrolled "alice": \d+\.\d s of speech from 1 file\(s\), consistency 0\.\d\d ->/);
  t.notRegex(r.stderr, /note:/, 'ten seconds of one clean voice needs no advice');
  const p = JSON.parse(fs.readFileSync(out, 'utf8'));
  t.is(p.format, 'earshot-speaker-profile');
  t.is(p.version, 1);
  t.is(p.name, 'alice');
  t.true(Math.abs(Date.now() - Date.parse(p.created)) < 120000);
  t.is(p.model.name, 'earshot-spkenc-v1');
  t.is(p.model.sha256, crypto.createHash('sha256').update(fs.readFileSync(shipped.speaker_encoder)).digest('hex'));
  t.true(p.speech_seconds >= 10 && p.speech_seconds <= 12.5, `speech ${p.speech_seconds}`);
  const norm = Math.hypot(...p.embedding);
  t.true(Math.abs(norm - 1) < 1e-3);
  t.deepEqual(p.sources, ['alice-enroll.wav']);
  // the quality figure: the same speech, cut into 2 s pieces that agree with each other
  t.is(p.quality.speech_seconds, p.speech_seconds);
  t.is(p.quality.pieces, Math.floor(p.speech_seconds / 2));
  t.true(p.quality.consistency >= 0.7 && p.quality.consistency <= 1, `consistency ${p.quality.consistency}`);
  t.deepEqual(p.quality.advice, []);
});

test('enroll accepts about 5 s of speech and says that more would help', async (t) => {
  const out = path.join(dir, 'alice-short.json');
  const seven = writeWav(path.join(dir, 'alice-7s.wav'), readWav16kMono(aliceEnroll).samples.subarray(0, 16000 * 7));
  const r = await earshot(['enroll', '--config', cfg, '--out', out, seven]);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stderr, /note: more speech would help: \d\.\d s of speech; 10 s or more makes the speaker match more reliable/);
  const p = JSON.parse(fs.readFileSync(out, 'utf8'));
  t.true(p.speech_seconds >= 5 && p.speech_seconds < 7, `speech ${p.speech_seconds}`);
  t.is(p.quality.pieces, 2);
  t.true(p.quality.consistency >= 0.5, `consistency ${p.quality.consistency}`);
  t.is(p.quality.advice.length, 1);
  t.regex(p.quality.advice[0], /^more speech would help/);
  // the short profile still picks its speaker out: alice's test speech scores higher on it than bob's
  const bob = path.join(dir, 'bob-short.json');
  t.is((await earshot(['enroll', '--config', cfg, '--out', bob, bobEnroll])).code, 0);
  const lines = await earshot(['transcribe', '--config', cfg, '--profile', out, '--profile', bob, aliceTest]);
  t.is(lines.code, 0, lines.stderr);
  const longest = lines.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l))
    .reduce((a: any, b: any) => (b.end - b.start > a.end - a.start ? b : a));
  t.is(longest.speaker.name, 'alice-short', JSON.stringify(longest.speaker_scores));
});

test('enrollment speech of two voices gets a low consistency and the advice to record again', async (t) => {
  const out = path.join(dir, 'two.json');
  const a = readWav16kMono(aliceEnroll).samples.subarray(0, 16000 * 6);
  const b = readWav16kMono(bobEnroll).samples.subarray(0, 16000 * 6);
  const r = await earshot(['enroll', '--config', cfg, '--out', out, writeWav(path.join(dir, 'two.wav'), concat(a, b))]);
  t.is(r.code, 0, r.stderr);
  t.regex(
    r.stderr,
    /note: the speech does not sound like one voice throughout \(consistency 0\.\d\d, expected 0\.\d+ or more\): record again/,
  );
  const p = JSON.parse(fs.readFileSync(out, 'utf8'));
  // the same length of alice alone agrees with itself far better
  const aloneFile = path.join(dir, 'alice-alone.json');
  const aliceAlone = writeWav(path.join(dir, 'alice-alone.wav'), readWav16kMono(aliceEnroll).samples.subarray(0, 16000 * 12));
  t.is((await earshot(['enroll', '--config', cfg, '--out', aloneFile, aliceAlone])).code, 0);
  const alone = JSON.parse(fs.readFileSync(aloneFile, 'utf8'));
  t.true(p.quality.consistency < alone.quality.consistency - 0.2, `${p.quality.consistency} vs ${alone.quality.consistency}`);
});

test('a profile made before the quality figure still loads; a malformed quality is refused', async (t) => {
  const made = path.join(dir, 'alice-q.json');
  t.is((await earshot(['enroll', '--config', cfg, '--out', made, aliceEnroll])).code, 0);
  const doc = JSON.parse(fs.readFileSync(made, 'utf8'));
  const old = path.join(dir, 'alice-old.json');
  const { quality, ...rest } = doc;
  t.truthy(quality);
  fs.writeFileSync(old, JSON.stringify(rest));
  const r = await earshot(['vad', '--config', cfg, '--profile', old, aliceTest]);
  t.is(r.code, 0, r.stderr);
  const bad = path.join(dir, 'alice-badq.json');
  fs.writeFileSync(bad, JSON.stringify({ ...doc, quality: { ...quality, consistency: 'high' } }));
  const r2 = await earshot(['vad', '--config', cfg, '--profile', bad, aliceTest]);
  t.is(r2.code, 1);
  t.regex(r2.stderr, /alice-badq\.json is corrupted or not a profile: quality\.consistency: Expected number, received string/);
});

test('enroll refuses too little audio, too little speech, and what is not speech', async (t) => {
  const short = writeWav(path.join(dir, 'short.wav'), readWav16kMono(aliceEnroll).samples.subarray(0, 16000 * 4));
  const r1 = await earshot(['enroll', '--config', cfg, '--out', path.join(dir, 'x.json'), short]);
  t.is(r1.code, 1);
  t.regex(r1.stderr, /too little audio: the recordings last 4\.0 s; at least 5 s of speech is needed/);
  const sparse = writeWav(path.join(dir, 'sparse.wav'), concat(readWav16kMono(aliceEnroll).samples.subarray(0, 16000 * 4), silence(8)));
  const r2 = await earshot(['enroll', '--config', cfg, '--out', path.join(dir, 'x.json'), sparse]);
  t.is(r2.code, 1);
  t.regex(r2.stderr, /too little speech: \d+\.\d s found in 12\.0 s of audio; at least 5 s is needed/);
  const noise = path.join(dir, 'hum.wav');
  execFileSync('sox', ['-n', '-r', '16000', '-c', '1', '-b', '16', noise, 'synth', '12', 'sine', '50', 'vol', '0.01']);
  const r3 = await earshot(['enroll', '--config', cfg, '--out', path.join(dir, 'x.json'), noise]);
  t.is(r3.code, 1);
  t.regex(r3.stderr, /do not sound like speech|too little speech/);
  t.false(fs.existsSync(path.join(dir, 'x.json')), 'no profile written');
});

test("another model's profile, and a corrupted one, are refused clearly", async (t) => {
  const foreign = path.join(dir, 'foreign.json');
  const made = await earshot(['enroll', '--config', otherCfg, '--out', foreign, aliceEnroll]);
  t.is(made.code, 0, made.stderr);
  const r = await earshot(['vad', '--config', cfg, '--profile', foreign, aliceTest]);
  t.is(r.code, 1);
  t.regex(
    r.stderr,
    /foreign\.json was made with speaker encoder "fixture-other-spkenc" .* but the configured one is "earshot-spkenc-v1" .*: enroll again with this model/,
  );
  const broken = path.join(dir, 'broken.json');
  fs.writeFileSync(broken, fs.readFileSync(foreign, 'utf8').slice(0, 80));
  const r2 = await earshot(['vad', '--config', cfg, '--profile', broken, aliceTest]);
  t.is(r2.code, 1);
  t.regex(r2.stderr, /speaker profile .*broken\.json is corrupted \(not JSON/);
  const wrong = path.join(dir, 'wrong.json');
  fs.writeFileSync(wrong, JSON.stringify({ ...JSON.parse(fs.readFileSync(foreign, 'utf8')), embedding: 'oops' }));
  const r3 = await earshot(['vad', '--config', cfg, '--profile', wrong, aliceTest]);
  t.is(r3.code, 1);
  t.regex(r3.stderr, /wrong\.json is corrupted or not a profile: embedding: Expected array, received string/);
});

test('earshot vad --frames prints per-frame posteriors; without it, segments', async (t) => {
  const r = await earshot(['vad', '--config', cfg, '--frames', aliceTest]);
  t.is(r.code, 0, r.stderr);
  const lines = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  t.is(lines.length, 1);
  t.deepEqual(Object.keys(lines[0]), ['file', 'frame_ms', 'scores']);
  t.is(lines[0].frame_ms, 10);
  const n = readWav16kMono(aliceTest).samples.length;
  t.is(lines[0].scores.length, Math.floor((n - 400) / 160) + 1);
  for (const s of lines[0].scores) t.true(s.length === 3 && Math.abs(s[0] + s[1] + s[2] - 1) < 1e-3);
  const seg = await earshot(['vad', '--config', cfg, aliceTest]);
  const segs = JSON.parse(seg.stdout).segments;
  t.true(segs.length >= 1);
  t.true(segs.every((s: any) => s.end > s.start && s.start >= 0 && s.end <= n / 16000 + 0.01));
});

test('several enrolled profiles: the transcript says which speaker matched and how well', async (t) => {
  const alice = path.join(dir, 'alice2.json');
  const bob = path.join(dir, 'bob.json');
  t.is((await earshot(['enroll', '--config', cfg, '--out', alice, '--name', 'alice', aliceEnroll])).code, 0);
  t.is((await earshot(['enroll', '--config', cfg, '--out', bob, bobEnroll])).code, 0);
  const port = await freePort();
  const run = writeConfig(path.join(dir, 'run.yaml'), {
    site: 'p',
    state_dir: path.join(dir, 'state'),
    models: { transducer: fx.transducer, ...shipped },
    vad: { profiles: [{ file: alice }, { file: bob }] },
    mqtt: { embedded: { port } },
  });
  const input = writeWav(path.join(dir, 'alice-pause.wav'), concat(silence(0.5), readWav16kMono(aliceTest).samples, silence(1)));
  const d = DaemonProcess.start(['run', '--config', run, '--input', input, '--realtime']);
  t.teardown(() => d.kill('SIGKILL'));
  await d.waitForLog(/MQTT connected/);
  const sub = await Subscriber.connect(`mqtt://127.0.0.1:${port}`, ['earshot/p/transcript']);
  t.teardown(() => sub.close());
  t.is((await d.exit(30000)).code, 0, d.stderr);
  const got = sub.json('earshot/p/transcript');
  t.true(got.length >= 1, d.stderr);
  // speaker scores need half a second of speech; shorter bursts carry speaker: null
  for (const tr of got.filter((g: any) => g.duration_s >= 0.5)) {
    t.deepEqual(tr.speaker_scores.map((s: any) => s.name).sort(), ['alice', 'bob']);
    t.is(tr.speaker.name, tr.speaker_scores[0].name);
    t.true(tr.speaker.score >= tr.speaker_scores[1].score);
  }
  const longest = got.reduce((a: any, b: any) => (b.duration_s > a.duration_s ? b : a));
  t.is(longest.speaker.name, 'alice', JSON.stringify(longest.speaker_scores));
  // earshot transcribe says the same per line
  const offline = await earshot(['transcribe', '--config', cfg, '--profile', alice, '--profile', bob, input]);
  t.is(offline.code, 0, offline.stderr);
  const lines = offline.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  t.true(lines.length >= 1);
  for (const l of lines) {
    t.deepEqual(Object.keys(l), ['file', 'segment', 'start', 'end', 'text', 'tokens', 'speaker', 'speaker_scores', 'closed_by']);
    if (l.end - l.start < 0.5) continue;
    t.deepEqual(l.speaker_scores.map((s: any) => s.name).sort(), ['alice', 'bob']);
    t.is(l.speaker.name, l.speaker_scores[0].name);
  }
  const longestLine = lines.reduce((a: any, b: any) => (b.end - b.start > a.end - a.start ? b : a));
  t.is(longestLine.speaker.name, 'alice', JSON.stringify(longestLine.speaker_scores));
  t.true(longestLine.speaker.score > longestLine.speaker_scores[1].score);
});

test('live enrollment over MQTT: cmd/enroll records the microphone, stores the profile and uses it', async (t) => {
  const port = await freePort();
  const state = path.join(dir, 'live-state');
  const run = writeConfig(path.join(dir, 'live.yaml'), {
    site: 'l',
    state_dir: state,
    models: { transducer: fx.transducer, ...shipped },
    audio: { source: 'stdin' },
    mqtt: { embedded: { port } },
    vad: { live_enrollment: true },
  });
  const d = DaemonProcess.start(['run', '--config', run], {}, 'pipe');
  t.teardown(() => d.kill('SIGKILL'));
  await d.waitForLog(/MQTT connected/);
  const sub = await Subscriber.connect(`mqtt://127.0.0.1:${port}`, ['earshot/l/enroll/result', 'earshot/l/status/detail']);
  t.teardown(() => sub.close());
  // 8 s of recording: about 6 s of speech is enough now
  sub.client.publish('earshot/l/cmd/enroll', JSON.stringify({ name: 'carol', seconds: 8 }));
  await sub.until(() => sub.json('earshot/l/enroll/result').some((r) => r.state === 'recording'), 5000, 'recording');
  await d.feed(concat(readWav16kMono(aliceEnroll).samples.subarray(0, 16000 * 8), silence(0.5)), false);
  await sub.until(() => sub.json('earshot/l/enroll/result').some((r) => r.ok !== null), 30000, 'enrollment result');
  const result = sub.json('earshot/l/enroll/result').find((r) => r.ok !== null);
  t.true(result.ok, JSON.stringify(result));
  t.is(result.name, 'carol');
  t.true(result.speech_seconds >= 5 && result.speech_seconds < 8, `speech ${result.speech_seconds}`);
  t.true(result.consistency >= 0.5, `consistency ${result.consistency}`);
  t.is(result.advice.length, 1);
  t.regex(result.advice[0], /^more speech would help/);
  const profile = JSON.parse(fs.readFileSync(path.join(state, 'profiles', 'carol.json'), 'utf8'));
  t.is(profile.model.name, 'earshot-spkenc-v1');
  t.deepEqual(profile.quality.advice, result.advice);
  await sub.until(() => sub.json('earshot/l/status/detail').some((s) => s.profiles.includes('carol')), 5000, 'profile in use');
  d.kill('SIGTERM');
  t.is((await d.exit()).code, 0);
});
