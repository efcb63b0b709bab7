// Issue 18: bad input and faults against a running daemon and a real broker. One bad message must
// never stop it (retained ones included), commands in any order must never throw, and it keeps
// transcribing afterwards.
process.env.EARSHOT_LOG_LEVEL ??= 'error';
import './helpers/quiet.js';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { validateConfig } from '../daemon/config.js';
import { loadPvad, loadSpeakerEncoder, loadTransducer, pvadEmbedDim } from '../daemon/models.js';
import { loadProfile, makeProfile, saveProfile } from '../daemon/profiles.js';
import { Pipeline } from '../daemon/pipeline.js';
import { segmenterOptions } from '../daemon/segmenter-options.js';
import { concat, DaemonProcess, Feeder, fixtureModels, silence, speech, writeConfig, writeWav } from './helpers/daemon.js';
import { freePort, Mosquitto } from './helpers/mosquitto.js';
import { Subscriber } from './helpers/subscriber.js';
import { tmpDir } from './helpers/tmp.js';

const models = fixtureModels();
const modelCfg = { transducer: models.transducer, pvad: models.pvad, speaker_encoder: models.speaker_encoder };
const words = speech('turn on the kitchen lights');

/** A daemon on stdin audio, connected to a fresh mosquitto, with a subscriber on all its topics. */
async function rig(
  t: import('ava').ExecutionContext,
  site: string,
  extra: Record<string, unknown> = {},
  before?: (url: string) => Promise<void>,
) {
  const dir = tmpDir(`rb-${site}`);
  const port = await freePort();
  const mq = new Mosquitto(path.join(dir, 'broker'), port);
  await mq.start();
  t.teardown(() => mq.kill());
  if (before) await before(mq.url);
  const cfg = writeConfig(path.join(dir, 'earshot.yaml'), {
    site,
    state_dir: path.join(dir, 'state'),
    models: modelCfg,
    audio: { source: 'stdin' },
    mqtt: { url: mq.url, reconnect_ms: 200 },
    segmenter: { trailing_ms: 300, listen_timeout_ms: 600 },
    ...extra,
  });
  const d = DaemonProcess.start(['run', '--config', cfg], {}, 'pipe');
  t.teardown(() => d.kill('SIGKILL'));
  const sub = await Subscriber.connect(mq.url, [`earshot/${site}/#`, 'hermes/#']);
  t.teardown(() => sub.close());
  const feeder = new Feeder(d);
  t.teardown(() => feeder.stop());
  // status/detail is sent after the daemon's SUBSCRIBE, so commands from here on reach it
  await sub.until(
    () => sub.on(`earshot/${site}/status`).at(-1)?.text === 'online' && sub.on(`earshot/${site}/status/detail`).length > 0,
    20000,
    'online',
  );
  return { dir, mq, d, sub, feeder, cfg };
}

/** Publishes and waits for the broker's PUBACK. */
const pub = (sub: Subscriber, topic: string, payload: string | Buffer, retain = false) =>
  new Promise<void>((resolve, reject) => sub.client.publish(topic, payload, { qos: 1, retain }, (err) => (err ? reject(err) : resolve())));

async function transcribes(
  t: import('ava').ExecutionContext,
  r: Awaited<ReturnType<typeof rig>>,
  site: string,
  what: string,
): Promise<void> {
  const before = r.sub.on(`earshot/${site}/transcript`).length;
  await r.feeder.say(concat(words, silence(0.8)));
  await r.sub.until(() => r.sub.on(`earshot/${site}/transcript`).length > before, 15000, `a transcript ${what}`);
  t.is(r.d.proc.exitCode, null, 'still running');
}

test('item 1: null and other non-objects on cmd/enroll and hermes/asr/*, retained too, are dropped; the daemon starts, stays up and transcribes', async (t) => {
  const r = await rig(t, 'n1', { hermes: { enabled: true, site_id: 'n1' } }, async (url) => {
    // retained before the daemon starts: it receives them while it connects
    const early = await Subscriber.connect(url, ['earshot/n1/status']);
    for (const topic of ['earshot/n1/cmd/enroll', 'hermes/asr/toggleOn', 'hermes/asr/startListening'])
      await pub(early, topic, 'null', true);
    await early.close();
  });
  await transcribes(t, r, 'n1', 'after retained nulls');
  for (const payload of ['null', '[]', '42', '"x"', 'true', '{"siteId": null}', '{"siteId": ["n1"]}', '\u0000\u00ff']) {
    for (const topic of [
      'earshot/n1/cmd/enroll',
      'hermes/asr/toggleOn',
      'hermes/asr/toggleOff',
      'hermes/asr/startListening',
      'hermes/asr/stopListening',
    ])
      await pub(r.sub, topic, payload);
  }
  // the refusals say why on enroll/result
  await r.sub.until(() => r.sub.json('earshot/n1/enroll/result').filter((m) => m.ok === false).length >= 9, 10000, 'enroll refusals');
  t.regex(r.sub.json('earshot/n1/enroll/result')[0].error, /must be a JSON object, got null/);
  t.is(r.sub.on('earshot/n1/muted').at(-1)!.text, 'OFF', 'no toggle took effect');
  await transcribes(t, r, 'n1', 'after the bad payloads');
  r.d.kill('SIGTERM');
  t.is((await r.d.exit()).code, 0, r.d.stderr);
});

test('item 2: unmute then listen at once, and Rhasspy toggleOn + startListening, never crash it', async (t) => {
  const r = await rig(t, 'n2', { hermes: { enabled: true, site_id: 'n2' } });
  const muted = () => r.sub.on('earshot/n2/muted').at(-1)?.text;
  for (let i = 0; i < 5; i++) {
    await pub(r.sub, 'earshot/n2/cmd/mute', 'ON');
    await r.sub.until(() => muted() === 'ON', 5000, 'muted');
    await new Promise((res) => setTimeout(res, 150)); // audio goes by unanalysed while muted
    r.sub.client.publish('earshot/n2/cmd/unmute', '');
    r.sub.client.publish('earshot/n2/cmd/listen', '');
    await r.sub.until(() => muted() === 'OFF', 5000, 'unmuted');
    r.sub.client.publish('hermes/asr/toggleOff', JSON.stringify({ siteId: 'n2' }));
    await r.sub.until(() => muted() === 'ON', 5000, 'toggled off');
    await new Promise((res) => setTimeout(res, 150));
    r.sub.client.publish('hermes/asr/toggleOn', JSON.stringify({ siteId: 'n2' }));
    r.sub.client.publish('hermes/asr/startListening', JSON.stringify({ siteId: 'n2', sessionId: `s${i}` }));
    await r.sub.until(() => muted() === 'OFF', 5000, 'toggled on');
    await new Promise((res) => setTimeout(res, 100));
    t.is(r.d.proc.exitCode, null, r.d.stderr.slice(-2000));
  }
  await transcribes(t, r, 'n2', 'after the command pairs');
  t.notRegex(r.d.stderr, /cannot skip frames/);
  r.d.kill('SIGTERM');
  t.is((await r.d.exit()).code, 0, r.d.stderr);
});

/** Small deterministic PRNG (mulberry32) so a failing interleaving can be replayed from its seed. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

test('item 2 property: random interleavings of mute/unmute/listen/stop/reload with audio never throw', async (t) => {
  const [transducer, pvad, speakerEncoder] = await Promise.all([
    loadTransducer(models.transducer),
    loadPvad(models.pvad),
    loadSpeakerEncoder(models.speaker_encoder),
  ]);
  const cfg = validateConfig({ vad: { mode: 'any' }, segmenter: { trailing_ms: 200, listen_timeout_ms: 300 } });
  const make = () =>
    new Pipeline(
      { transducer, pvad, speakerEncoder },
      { segmenter: segmenterOptions(cfg, { profiles: 0, speakerEncoder: true }), profiles: [] },
    );
  const audio = concat(silence(0.3), words, silence(0.5));
  let finals = 0;
  for (let seed = 1; seed <= 40; seed++) {
    const rnd = prng(seed);
    let p = make();
    p.on('final', () => finals++);
    let pos = 0;
    let received = 0;
    const ops: string[] = [];
    try {
      for (let step = 0; step < 120; step++) {
        const r = rnd();
        if (r < 0.55) {
          const n = 1 + Math.floor(rnd() * 800); // any chunk size, not just whole frames
          const chunk = new Float32Array(n);
          for (let i = 0; i < n; i++) chunk[i] = audio[(pos + i) % audio.length];
          pos += n;
          received += n;
          ops.push(`push ${n}`);
          p.push(chunk);
        } else {
          const op = ['mute', 'unmute', 'listen', 'stop', 'reload'][Math.floor(rnd() * 5)];
          ops.push(op);
          if (op === 'mute') p.mute();
          else if (op === 'unmute') p.unmute();
          else if (op === 'listen') p.listen();
          else if (op === 'stop') p.finish('stop');
          else {
            // what the daemon's reload does: a new pipeline aligned to the audio received so far
            const old = p;
            old.finish('stop');
            await old.drain();
            old.dispose();
            p = make();
            p.on('final', () => finals++);
            p.alignTo(received);
            if (old.muted) p.mute();
          }
        }
      }
      p.endOfInput();
      await p.drain();
      p.dispose();
    } catch (err) {
      t.fail(`seed ${seed} threw ${(err as Error).message} after: ${ops.slice(-12).join(', ')}`);
      return;
    }
  }
  t.true(finals > 0, 'segments were transcribed along the way');
  transducer.dispose();
  pvad.dispose();
  speakerEncoder.encoder.dispose();
});

test('item 3 in the daemon: a read-only state directory still delivers every transcript and says so on status/detail', async (t) => {
  const ro = tmpDir('ro-state');
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k,ro', 'tmpfs', ro]);
  t.teardown(() => execFileSync('umount', ['-l', ro]));
  const dir = tmpDir('ro');
  const mq = new Mosquitto(path.join(dir, 'broker'), await freePort());
  await mq.start();
  t.teardown(() => mq.kill());
  const sub = await Subscriber.connect(mq.url, ['earshot/ro/#']);
  t.teardown(() => sub.close());
  const wav = writeWav(path.join(dir, 'three.wav'), concat(silence(0.5), words, silence(1), words, silence(1), words, silence(1)));
  const cfg = writeConfig(path.join(dir, 'earshot.yaml'), { site: 'ro', state_dir: ro, models: modelCfg, mqtt: { url: mq.url } });
  const d = DaemonProcess.start(['run', '--config', cfg, '--input', wav]);
  t.teardown(() => d.kill('SIGKILL'));
  t.is((await d.exit(30000)).code, 0, d.stderr);
  t.is(sub.on('earshot/ro/transcript').length, 3);
  const detail = sub.json('earshot/ro/status/detail').at(-1);
  t.is(detail.outbox.journal.state, 'failing');
  t.is(detail.outbox.journal.error, 'EROFS');
  t.is(detail.outbox.journal.unjournalled, 3);
  t.regex(d.stderr, /cannot write the outbox journal/);
});

test('item 4 in the daemon: SIGINT with the broker down and a 10k-entry journal exits within drain_timeout_ms', async (t) => {
  const dir = tmpDir('sigint');
  const state = path.join(dir, 'state');
  const outbox = path.join(state, 'outbox');
  fs.mkdirSync(outbox, { recursive: true });
  for (let i = 0; i < 10_000; i++) {
    const id = `old-${i}`;
    fs.writeFileSync(
      path.join(outbox, `${String(i).padStart(12, '0')}-${id}.json`),
      JSON.stringify({ id, topic: 'earshot/si/transcript', payload: '{}', created: Date.now(), seq: i }),
    );
  }
  const cfg = writeConfig(path.join(dir, 'earshot.yaml'), {
    site: 'si',
    state_dir: state,
    models: modelCfg,
    audio: { source: 'stdin' },
    mqtt: { url: `mqtt://127.0.0.1:${await freePort()}`, reconnect_ms: 200 },
    outbox: { max_entries: 10_000, drain_timeout_ms: 1000 },
  });
  const d = DaemonProcess.start(['run', '--config', cfg], {}, 'pipe');
  t.teardown(() => d.kill('SIGKILL'));
  const feeder = new Feeder(d);
  t.teardown(() => feeder.stop());
  await d.waitForLog(/earshot running/, 30000);
  await feeder.say(concat(words, silence(0.8))); // one more transcript: the full journal drops the oldest
  await new Promise((r) => setTimeout(r, 1000));
  const t0 = Date.now();
  d.kill('SIGINT');
  t.is((await d.exit(10000)).code, 0, d.stderr);
  const took = Date.now() - t0;
  t.true(took < 1000 + 2500, `shutdown took ${took} ms`);
  const left = fs.readdirSync(outbox).filter((f) => /^\d{12}-.*\.json$/.test(f));
  t.is(left.length, 10_000, 'the journal is kept for the next start');
  t.false(left.includes('000000000000-old-0.json'), 'the oldest was dropped for the new transcript');
});

test('item 7 in the daemon: a hot phrase the model cannot spell refuses the start and a reload; the running daemon keeps transcribing', async (t) => {
  const dir = tmpDir('hot');
  const bad = writeConfig(path.join(dir, 'bad.yaml'), {
    site: 'h',
    state_dir: path.join(dir, 'state'),
    models: modelCfg,
    audio: { source: 'stdin' },
    mqtt: { embedded: { port: await freePort() } },
    recognizer: { hot_phrases: [{ phrase: '厨房的灯' }] },
  });
  const refused = DaemonProcess.start(['run', '--config', bad]);
  t.teardown(() => refused.kill('SIGKILL'));
  t.is((await refused.exit(30000)).code, 2, refused.stderr);
  t.regex(refused.stderr, /recognizer\.hot_phrases: .*cannot be spelled/);

  const r = await rig(t, 'h');
  const cfgText = fs.readFileSync(r.cfg, 'utf8');
  fs.writeFileSync(r.cfg, `${cfgText}recognizer:\n  hot_phrases: [{phrase: "厨房的灯"}]\n`);
  r.sub.client.publish('earshot/h/cmd/reload', '');
  await r.d.waitForLog(/reload refused/);
  await transcribes(t, r, 'h', 'after the refused reload');
  r.d.kill('SIGTERM');
  t.is((await r.d.exit()).code, 0, r.d.stderr);
});

test('item 9: live enrollment is off by default, and bounded by vad.max_profiles when on', async (t) => {
  const r = await rig(t, 'e');
  const results = () => r.sub.json('earshot/e/enroll/result');
  r.sub.client.publish('earshot/e/cmd/enroll', JSON.stringify({ name: 'mallory', seconds: 5 }));
  await r.sub.until(() => results().length === 1, 5000, 'refusal');
  t.is(results()[0].ok, false);
  t.regex(results()[0].error, /live enrollment is off/);
  t.false(fs.existsSync(path.join(r.dir, 'state', 'profiles')), 'nothing recorded, nothing stored');
  await transcribes(t, r, 'e', 'after the refused enrollment');
  r.d.kill('SIGTERM');
  t.is((await r.d.exit()).code, 0, r.d.stderr);

  // on, with the one allowed profile already enrolled: a second name is refused, the existing one may be redone
  const [pvad, encoder] = await Promise.all([loadPvad(models.pvad), loadSpeakerEncoder(models.speaker_encoder)]);
  const dim = pvadEmbedDim(pvad)!;
  const profiles = path.join(r.dir, 'state', 'profiles');
  saveProfile(
    path.join(profiles, 'carol.json'),
    makeProfile('carol', new Float32Array(dim).fill(1 / Math.sqrt(dim)), encoder, 12, ['live']),
  );
  saveProfile(
    path.join(profiles, 'dave.json'),
    makeProfile('dave', new Float32Array(dim).fill(-1 / Math.sqrt(dim)), encoder, 12, ['live']),
  );
  pvad.dispose();
  encoder.encoder.dispose();
  fs.appendFileSync(r.cfg, 'vad:\n  live_enrollment: true\n  max_profiles: 1\n');
  const sub = await Subscriber.connect(r.mq.url, ['earshot/e/#']);
  t.teardown(() => sub.close());
  const d = DaemonProcess.start(['run', '--config', r.cfg], {}, 'pipe');
  t.teardown(() => d.kill('SIGKILL'));
  await sub.until(() => sub.json('earshot/e/status/detail').some((m) => m.state === 'running' && m.mic), 20000, 'running');
  t.deepEqual(sub.json('earshot/e/status/detail').at(-1).profiles, ['carol'], 'the profile over the cap is not loaded');
  t.regex(d.stderr, /vad\.max_profiles reached/);
  const before = sub.json('earshot/e/enroll/result').length;
  sub.client.publish('earshot/e/cmd/enroll', JSON.stringify({ name: 'mallory', seconds: 5 }));
  sub.client.publish('earshot/e/cmd/enroll', JSON.stringify({ name: 'carol', seconds: 5 }));
  await sub.until(() => sub.json('earshot/e/enroll/result').length >= before + 2, 5000, 'answers');
  const [mallory, carol] = sub.json('earshot/e/enroll/result').slice(before);
  t.like(mallory, { ok: false, name: 'mallory' });
  t.regex(mallory.error, /already 1 profiles \(vad.max_profiles: 1\)/);
  t.like(carol, { ok: null, name: 'carol', state: 'recording' });
  d.kill('SIGTERM');
  t.is((await d.exit()).code, 0, d.stderr);
});

/** A 32-bit float WAV, any values (a converter or a broken source can write NaN and 3e38). */
function floatWav(file: string, samples: Float32Array): string {
  const h = Buffer.alloc(44);
  h.write('RIFF', 0);
  h.writeUInt32LE(36 + samples.length * 4, 4);
  h.write('WAVEfmt ', 8);
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(3, 20); // IEEE float
  h.writeUInt16LE(1, 22);
  h.writeUInt32LE(16000, 24);
  h.writeUInt32LE(64000, 28);
  h.writeUInt16LE(4, 32);
  h.writeUInt16LE(32, 34);
  h.write('data', 36);
  h.writeUInt32LE(samples.length * 4, 40);
  fs.writeFileSync(file, Buffer.concat([h, Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength)]));
  return file;
}

test('item 8: huge and non-finite float samples, then speech: the speech is still transcribed (WAV and raw f32 input)', async (t) => {
  const dir = tmpDir('f32');
  const poison = new Float32Array(8000);
  for (let i = 0; i < poison.length; i++) poison[i] = [3e38, -3e38, NaN, Infinity, -Infinity][i % 5];
  const wav = floatWav(path.join(dir, 'poison.wav'), concat(silence(0.3), poison, silence(0.5), words, silence(0.8)));
  const cfg = writeConfig(path.join(dir, 'c.yaml'), { models: modelCfg, vad: { mode: 'any' } });
  const p = DaemonProcess.start(['transcribe', '--config', cfg, wav]);
  t.is((await p.exit(60000)).code, 0, p.stderr);
  const lines = p.stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
  t.true(
    lines.some((l) => typeof l.text === 'string' && l.text.length > 0),
    `transcripts: ${p.stdout}`,
  );
  // raw f32le (stdin) goes through the same cleaning
  const { PcmDecoder } = await import('../daemon/audio/pcm.js');
  const out = new PcmDecoder('f32le', 2).decode(Buffer.from(new Float32Array([3e38, 3e38, NaN, 0.5, -Infinity, -0.25]).buffer));
  t.deepEqual([...out], [1, 0.25, -0.625]);
});

test('item 8: a pVAD whose scores go non-finite is restarted and reported for the watchdog; later speech is still transcribed', async (t) => {
  const [transducer, pvad] = await Promise.all([loadTransducer(models.transducer), loadPvad(models.pvad)]);
  // the real fixture pVAD, poisoned from its 40th frame until it is reset
  let poisonedOnce = false;
  const faulty = {
    ...pvad,
    info: pvad.info,
    createStream: (e: Float32Array | null) => {
      const s = pvad.createStream(e);
      let frames = 0;
      let poisoned = false;
      return {
        ...s,
        accept: (x: Float32Array | Int16Array) => {
          const out = s.accept(x);
          for (let k = 0; k < out.length / 3; k++, frames++) {
            if (frames === 40 && !poisonedOnce) poisoned = poisonedOnce = true;
            if (poisoned) out.fill(NaN, 3 * k, 3 * k + 3);
          }
          return out;
        },
        reset: () => {
          poisoned = false;
          s.reset();
        },
      };
    },
  } as typeof pvad;
  const cfg = validateConfig({ vad: { mode: 'any' } });
  const p = new Pipeline(
    { transducer, pvad: faulty },
    { segmenter: segmenterOptions(cfg, { profiles: 0, speakerEncoder: false }), profiles: [] },
  );
  const finals: string[] = [];
  p.on('final', (f) => finals.push(f.text));
  const audio = concat(silence(1), words, silence(1));
  for (let i = 0; i < audio.length; i += 320) p.push(audio.subarray(i, i + 320));
  p.endOfInput();
  await p.drain();
  p.dispose();
  t.is(p.pvadFaults, 1);
  t.true(p.pvadFaultAt > 0);
  t.true(
    finals.some((f) => f.length > 0),
    'speech after the fault is transcribed',
  );
  transducer.dispose();
  pvad.dispose();
});

test('embedded broker: mqtt.username and a password are required of every client; listening beyond loopback without them is warned about', async (t) => {
  const dir = tmpDir('auth');
  const port = await freePort();
  const cfg = writeConfig(path.join(dir, 'earshot.yaml'), {
    site: 'au',
    state_dir: path.join(dir, 'state'),
    models: modelCfg,
    audio: { source: 'stdin' },
    mqtt: { embedded: { host: '0.0.0.0', port }, username: 'earshot', password_env: 'EARSHOT_TEST_BROKER_PW' },
  });
  const d = DaemonProcess.start(['run', '--config', cfg], { EARSHOT_TEST_BROKER_PW: 's3cret' }, 'pipe');
  t.teardown(() => d.kill('SIGKILL'));
  await d.waitForLog(/MQTT connected/, 30000);
  t.notRegex(d.stderr, /without authentication/);
  await t.throwsAsync(Subscriber.connect(`mqtt://127.0.0.1:${port}`, ['earshot/au/#'], { reconnectPeriod: 0 }), {
    message: /Not authorized|Bad username or password/i,
  });
  await t.throwsAsync(
    Subscriber.connect(`mqtt://127.0.0.1:${port}`, ['earshot/au/#'], { reconnectPeriod: 0, username: 'earshot', password: 'wrong' }),
    { message: /Not authorized|Bad username or password/i },
  );
  const sub = await Subscriber.connect(`mqtt://127.0.0.1:${port}`, ['earshot/au/#'], { username: 'earshot', password: 's3cret' });
  t.teardown(() => sub.close());
  const feeder = new Feeder(d);
  t.teardown(() => feeder.stop());
  await feeder.say(concat(words, silence(0.8)));
  await sub.until(() => sub.on('earshot/au/transcript').length > 0, 15000, 'a transcript');
  await feeder.stop();
  d.kill('SIGTERM');
  t.is((await d.exit()).code, 0, d.stderr);

  // the same on all interfaces without credentials: it runs, and says what that exposes
  const open = writeConfig(path.join(dir, 'open.yaml'), {
    site: 'au',
    state_dir: path.join(dir, 'state'),
    models: modelCfg,
    audio: { source: 'stdin' },
    mqtt: { embedded: { host: '0.0.0.0', port } },
  });
  const o = DaemonProcess.start(['run', '--config', open], {}, 'pipe');
  t.teardown(() => o.kill('SIGKILL'));
  await o.waitForLog(/listens beyond this machine without authentication/, 30000);
  o.kill('SIGTERM');
  t.is((await o.exit()).code, 0, o.stderr);
});

test('profiles: a symlink to a secret file never prints its contents; a FIFO and an oversized file are refused unread', (t) => {
  const dir = tmpDir('prof');
  const secret = path.join(dir, 'shadow');
  fs.writeFileSync(secret, 'root:$6$verysecrethash:19000:0:99999:7:::\n');
  const link = path.join(dir, 'alice.json');
  fs.symlinkSync(secret, link);
  const err = t.throws(() => loadProfile(link, undefined, undefined))!;
  t.regex(err.message, /alice\.json is corrupted \(not JSON\)/);
  t.false(err.message.includes('root') || err.message.includes('secret'), err.message);
  const fifo = path.join(dir, 'fifo.json');
  execFileSync('mkfifo', [fifo]);
  t.throws(() => loadProfile(fifo, undefined, undefined), { message: /fifo\.json is not a regular file/ });
  const big = path.join(dir, 'big.json');
  fs.writeFileSync(big, '');
  fs.truncateSync(big, 144 * 1024 * 1024);
  t.throws(() => loadProfile(big, undefined, undefined), { message: /big\.json is 150994944 bytes; a profile is at most 1048576/ });
});

test('a cmd/reload flood is coalesced: a few reloads, memory level, and it still transcribes', async (t) => {
  const r = await rig(t, 'rl');
  const rss = () => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${r.d.proc.pid}/status`, 'utf8'))![1]) / 1024;
  const before = rss();
  for (let i = 0; i < 1000; i++) r.sub.client.publish('earshot/rl/cmd/reload', '');
  await new Promise<void>((resolve) => r.sub.client.publish('earshot/rl/cmd/reload', '', { qos: 1 }, () => resolve()));
  await new Promise((res) => setTimeout(res, 3000));
  const reloads = (r.d.stderr.match(/configuration reloaded/g) ?? []).length;
  t.log(`${reloads} reloads for 1001 requests`);
  t.true(reloads >= 1 && reloads <= 20, `${reloads} reloads for 1001 requests`);
  t.true(rss() - before < 150, `RSS ${Math.round(before)} -> ${Math.round(rss())} MB`);
  await transcribes(t, r, 'rl', 'after the flood');
  r.d.kill('SIGTERM');
  t.is((await r.d.exit()).code, 0, r.d.stderr);
});

test('cmd/mute takes only the switch payloads; cmd/enroll says why it refuses', async (t) => {
  const r = await rig(t, 'st', { vad: { live_enrollment: true } });
  const muted = () => r.sub.on('earshot/st/muted').at(-1)?.text;
  for (const p of ['maybe', '{}', 'null', 'ONN', 'x'.repeat(100)]) await pub(r.sub, 'earshot/st/cmd/mute', p);
  await pub(r.sub, 'earshot/st/cmd/mute', 'on');
  await r.sub.until(() => muted() === 'ON', 5000, 'muted by "on"');
  t.is(r.sub.on('earshot/st/muted').filter((m) => m.text === 'ON').length, 1, 'none of the bad payloads muted it');
  t.is((r.d.stderr.match(/command refused/g) ?? []).length, 5);
  await pub(r.sub, 'earshot/st/cmd/mute', '0');
  await r.sub.until(() => muted() === 'OFF', 5000, 'unmuted by "0"');
  const results = () => r.sub.json('earshot/st/enroll/result');
  for (const p of ['alice', '{"name": "alice", "seconds": "ten"}', '{"name": "alice", "seconds": 500}', '{"name": "a b"}', '{}'])
    await pub(r.sub, 'earshot/st/cmd/enroll', p);
  await r.sub.until(() => results().length === 5, 5000, 'five refusals');
  t.deepEqual(
    results().map((m) => [m.ok, m.error.replace(/;.*/, '')]),
    [
      [false, 'payload is not JSON'],
      [false, '"seconds" must be a number from 5 to 120'],
      [false, '"seconds" must be a number from 5 to 120'],
      [false, 'enroll needs "name": 1 to 64 letters, digits, _ or -'],
      [false, 'enroll needs "name": 1 to 64 letters, digits, _ or -'],
    ],
  );
  r.d.kill('SIGTERM');
  t.is((await r.d.exit()).code, 0, r.d.stderr);
});
