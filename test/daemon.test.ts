import './helpers/quiet.js';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { concat, DaemonProcess, Feeder, fixtureModels, journalIds, silence, speech, writeConfig, writeWav } from './helpers/daemon.js';
import { fileMicrophone, s16 } from './helpers/alsa.js';
import { freePort, Mosquitto } from './helpers/mosquitto.js';
import { NotifySocket } from './helpers/notify-socket.js';
import { Subscriber } from './helpers/subscriber.js';
import { tmpDir } from './helpers/tmp.js';

const models = fixtureModels();
const modelCfg = { transducer: models.transducer, pvad: models.pvad, speaker_encoder: models.speaker_encoder };
const words = speech('turn on the kitchen lights');

test('daemon killed with SIGKILL while transcripts are unacknowledged: they arrive after the restart, same ids', async (t) => {
  const dir = tmpDir('sigkill');
  const port = await freePort(); // no broker there yet: nothing can be acknowledged
  const url = `mqtt://127.0.0.1:${port}`;
  const cfg = writeConfig(path.join(dir, 'earshot.yaml'), {
    site: 'k',
    state_dir: path.join(dir, 'state'),
    models: modelCfg,
    mqtt: { url, reconnect_ms: 300 },
  });
  const wav = writeWav(
    path.join(dir, 'four.wav'),
    concat(silence(0.5), words, silence(1), words, silence(1), words, silence(1), words, silence(1)),
  );
  const first = DaemonProcess.start(['run', '--config', cfg, '--input', wav]);
  t.teardown(() => first.kill('SIGKILL'));
  const deadline = Date.now() + 30000;
  while (journalIds(path.join(dir, 'state')).length < 4) {
    if (Date.now() > deadline) throw new Error(`no journal after 30 s:\n${first.stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  first.kill('SIGKILL');
  t.is((await first.exit()).signal, 'SIGKILL');
  const journalled = journalIds(path.join(dir, 'state'));
  t.is(journalled.length, 4);

  const mq = new Mosquitto(path.join(dir, 'broker'), port);
  await mq.start();
  const sub = await Subscriber.connect(url, ['earshot/k/transcript']);
  const quiet = writeWav(path.join(dir, 'quiet.wav'), silence(0.5));
  const second = DaemonProcess.start(['run', '--config', cfg, '--input', quiet]);
  t.teardown(() => second.kill('SIGKILL'));
  t.teardown(() => mq.kill());
  t.teardown(() => sub.close());
  await sub.until(() => sub.messages.length >= 4, 30000, 'redelivered transcripts');
  const got = sub.json('earshot/k/transcript');
  t.deepEqual(got.map((m) => m.id).sort(), [...journalled].sort());
  t.true(got.every((m) => m.site === 'k' && m.model === 'fixture-transducer' && typeof m.text === 'string' && m.text.length > 0));
  t.is((await second.exit()).code, 0, second.stderr);
  t.deepEqual(journalIds(path.join(dir, 'state')), []);
  await sub.close();
  await mq.kill();
});

test('commands over MQTT: mute (also as the HA switch), unmute, listen; Hermes session and toggles', async (t) => {
  const dir = tmpDir('cmd');
  const port = await freePort();
  const url = `mqtt://127.0.0.1:${port}`;
  const cfg = writeConfig(path.join(dir, 'earshot.yaml'), {
    site: 'c',
    state_dir: path.join(dir, 'state'),
    models: modelCfg,
    audio: { source: 'stdin' },
    mqtt: { embedded: { port } },
    segmenter: { trailing_ms: 300, listen_timeout_ms: 600 },
    recognizer: { partials: true, partial_interval_ms: 100 },
    hermes: { enabled: true, site_id: 'kitchen' },
  });
  const d = DaemonProcess.start(['run', '--config', cfg], {}, 'pipe');
  t.teardown(() => d.kill('SIGKILL'));
  await d.waitForLog(/MQTT connected/);
  const sub = await Subscriber.connect(url, ['earshot/c/#', 'hermes/#']);
  t.teardown(() => sub.close());
  const feeder = new Feeder(d);
  t.teardown(() => feeder.stop());
  const transcripts = () => sub.json('earshot/c/transcript');
  const muted = () => sub.on('earshot/c/muted').at(-1)?.text;
  await sub.until(() => muted() === 'OFF' && sub.on('earshot/c/status').at(-1)?.text === 'online', 10000, 'online, unmuted');

  await feeder.say(concat(words, silence(0.6)));
  await sub.until(() => transcripts().length === 1, 10000, 'first transcript');
  const first = transcripts()[0];
  // partial hypotheses (QoS 0) came while the speech went on, before the final one
  const partials = sub.json('earshot/c/partial').filter((p) => p.segment === first.segment);
  t.true(partials.length >= 1 && partials.every((p) => p.site === 'c' && p.text.length > 0));
  t.true(sub.on('earshot/c/partial')[0].at <= sub.on('earshot/c/transcript')[0].at);
  t.true(['end_of_utterance', 'silence'].includes(first.closed_by), first.closed_by); // a pause rule closed it
  t.false(first.forced);
  t.true(first.duration_s > 1 && first.duration_s < 2.5, `duration ${first.duration_s}`);
  const vad = sub.json('earshot/c/vad');
  t.deepEqual(
    vad.slice(-2).map((v) => v.speaking),
    [true, false],
  );
  t.deepEqual(sub.on('hermes/voiceActivity/kitchen/vadUp').length, 1);
  t.deepEqual(sub.on('hermes/voiceActivity/kitchen/vadDown').length, 1);
  const captured = sub.json('hermes/asr/textCaptured');
  t.is(captured.length, 1);
  t.is(captured[0].text, first.text);
  t.is(captured[0].siteId, 'kitchen');
  t.is(captured[0].sessionId, null);

  // mute: speech is ignored
  sub.client.publish('earshot/c/cmd/mute', '');
  await sub.until(() => muted() === 'ON', 5000, 'muted');
  await feeder.say(concat(words, silence(1)));
  t.is(transcripts().length, 1, 'nothing transcribed while muted');
  // the HA switch turns it off again with OFF on cmd/mute
  sub.client.publish('earshot/c/cmd/mute', 'OFF');
  await sub.until(() => muted() === 'OFF', 5000, 'unmuted by the switch');
  await feeder.say(concat(words, silence(0.6)));
  await sub.until(() => transcripts().length === 2, 10000, 'second transcript');
  sub.client.publish('earshot/c/cmd/mute', 'ON');
  await sub.until(() => muted() === 'ON', 5000, 'muted again');
  sub.client.publish('earshot/c/cmd/unmute', '');
  await sub.until(() => muted() === 'OFF', 5000, 'cmd/unmute');

  // Hermes toggles, for our site only
  sub.client.publish('hermes/asr/toggleOff', JSON.stringify({ siteId: 'bedroom' }));
  sub.client.publish('hermes/asr/toggleOff', JSON.stringify({ siteId: 'kitchen', reason: 'ttsSay' }));
  await sub.until(() => muted() === 'ON', 5000, 'toggleOff');
  t.is(sub.on('earshot/c/muted').filter((m) => m.text === 'ON').length, 3, 'the bedroom toggle was ignored');
  sub.client.publish('hermes/asr/toggleOn', JSON.stringify({ siteId: 'kitchen' }));
  await sub.until(() => muted() === 'OFF', 5000, 'toggleOn');

  // listen opens a segment in silence; nobody speaks, it closes after listen_timeout_ms
  const vadBefore = sub.on('earshot/c/vad').length;
  sub.client.publish('earshot/c/cmd/listen', '');
  await sub.until(() => sub.on('earshot/c/vad').length >= vadBefore + 2, 5000, 'forced segment');
  const [open, close] = sub.json('earshot/c/vad').slice(vadBefore);
  t.true(open.speaking);
  t.false(close.speaking);
  const forcedMs = Date.parse(close.time) - Date.parse(open.time);
  t.true(forcedMs >= 500 && forcedMs <= 1000, `forced segment lasted ${forcedMs} ms`);

  // a Hermes session: its transcript carries the session id
  sub.client.publish('hermes/asr/startListening', JSON.stringify({ siteId: 'kitchen', sessionId: 'sess-1' }));
  await feeder.say(concat(words, silence(0.6)));
  await sub.until(() => sub.json('hermes/asr/textCaptured').some((c) => c.sessionId === 'sess-1'), 10000, 'session transcript');
  sub.client.publish('hermes/asr/stopListening', JSON.stringify({ siteId: 'kitchen', sessionId: 'sess-1' }));

  const detail = JSON.parse(sub.on('earshot/c/status/detail').at(-1)!.text);
  t.is(detail.mic.state, 'capturing');
  t.is(detail.outbox.pending, 0);
  t.is(detail.outbox.dropped, 0);
  await feeder.stop();
  d.kill('SIGTERM');
  t.is((await d.exit()).code, 0);
  await sub.close();
});

test('systemd: READY=1 after loading, WATCHDOG=1 only while audio flows, SIGTERM closes the open segment and exits 0', async (t) => {
  const dir = tmpDir('sd');
  const port = await freePort();
  const sock = await NotifySocket.bind(dir);
  const cfg = writeConfig(path.join(dir, 'earshot.yaml'), {
    site: 's',
    state_dir: path.join(dir, 'state'),
    models: modelCfg,
    audio: { source: 'stdin' },
    mqtt: { embedded: { port } },
    watchdog: { max_frame_gap_ms: 400 },
  });
  const d = DaemonProcess.start(['run', '--config', cfg], { NOTIFY_SOCKET: sock.path, WATCHDOG_USEC: '300000' }, 'pipe');
  t.teardown(() => d.kill('SIGKILL'));
  t.teardown(() => sock.close());
  await sock.until(() => sock.messages().some((m) => m.startsWith('READY=1')), 20000, 'READY=1');
  t.is(sock.messages()[0], 'STATUS=loading models');
  t.regex(
    sock.messages().find((m) => m.startsWith('READY=1'))!,
    /^READY=1\nSTATUS=listening on stdin:stdin/,
    'READY=1 comes once the models are loaded',
  );
  const sub = await Subscriber.connect(`mqtt://127.0.0.1:${port}`, ['earshot/s/#']);
  t.teardown(() => sub.close());
  const feeder = new Feeder(d);
  t.teardown(() => feeder.stop());
  const pings = () => sock.count((m) => m === 'WATCHDOG=1');
  await sock.until(() => pings() >= 5, 5000, 'watchdog pings');
  // the microphone stalls: pings stop and STATUS says why
  const unhealthy = () => sock.count((m) => /^STATUS=unhealthy: no audio frames for \d+ ms$/.test(m));
  const before = unhealthy(); // a busy CI machine may already have caused a short one
  feeder.pause();
  await sock.until(() => unhealthy() > before, 5000, 'unhealthy');
  const stalled = pings();
  await new Promise((r) => setTimeout(r, 800));
  t.is(pings(), stalled, 'no WATCHDOG=1 while no frames flow');
  feeder.resume();
  await sock.until(() => pings() >= stalled + 3, 5000, 'pings resume');
  // SIGTERM in the middle of speech: the segment is closed, transcribed and delivered first
  const speaking = feeder.say(words);
  await sub.until(() => sub.json('earshot/s/vad').some((v) => v.speaking), 5000, 'speech started');
  await speaking;
  d.kill('SIGTERM');
  const exit = await d.exit();
  t.is(exit.code, 0, d.stderr);
  await sub.until(() => sub.on('earshot/s/transcript').length === 1, 5000, 'transcript of the open segment');
  t.is(sub.json('earshot/s/transcript')[0].closed_by, 'stop');
  t.true(sock.messages().includes('STOPPING=1'));
  const stoppingAt = sock.messages().indexOf('STOPPING=1');
  t.false(sock.messages().slice(stoppingAt).includes('WATCHDOG=1'));
  t.true(sock.messages().some((m) => /^STATUS=listening on stdin:stdin/.test(m)));
  await feeder.stop();
  await sub.close();
  sock.close();
});

test('SIGHUP reloads the configuration; an invalid one is refused and the daemon keeps running', async (t) => {
  const dir = tmpDir('hup');
  const port = await freePort();
  const doc = {
    site: 'r1',
    state_dir: path.join(dir, 'state'),
    models: modelCfg,
    audio: { source: 'stdin' },
    mqtt: { embedded: { port } },
  };
  const cfg = writeConfig(path.join(dir, 'earshot.yaml'), doc);
  const d = DaemonProcess.start(['run', '--config', cfg], {}, 'pipe');
  t.teardown(() => d.kill('SIGKILL'));
  await d.waitForLog(/MQTT connected/);
  const sub = await Subscriber.connect(`mqtt://127.0.0.1:${port}`, ['earshot/+/status']);
  t.teardown(() => sub.close());
  const feeder = new Feeder(d);
  t.teardown(() => feeder.stop());
  await sub.until(() => sub.on('earshot/r1/status').at(-1)?.text === 'online', 5000, 'r1 online');
  writeConfig(cfg, { ...doc, site: 'r2' });
  d.kill('SIGHUP');
  await sub.until(
    () => sub.on('earshot/r2/status').at(-1)?.text === 'online' && sub.on('earshot/r1/status').at(-1)?.text === 'offline',
    10000,
    'renamed site',
  );
  fs.writeFileSync(cfg, 'site: [broken\n');
  d.kill('SIGHUP');
  await d.waitForLog(/reload refused: the configuration is invalid/);
  await feeder.say(concat(words, silence(0.8)));
  await d.waitForLog(/"msg":"transcript"/);
  t.is(sub.on('earshot/r2/status').at(-1)?.text, 'online');
  await feeder.stop();
  d.kill('SIGTERM');
  t.is((await d.exit()).code, 0);
  await sub.close();
});

test('bad input fails clearly and loses nothing: missing model, corrupt model, unsupported WAV', async (t) => {
  const dir = tmpDir('bad');
  const cfg = (m: Record<string, string>) =>
    writeConfig(path.join(dir, `c${Math.random()}.yaml`), { state_dir: path.join(dir, 'state'), models: { ...modelCfg, ...m } });
  const wav = writeWav(path.join(dir, 'w.wav'), concat(words, silence(0.5)));
  const missing = DaemonProcess.start(['transcribe', '--config', cfg({ transducer: path.join(dir, 'nope.gguf') }), wav]);
  t.is((await missing.exit()).code, 1);
  t.regex(missing.stderr, /speech recognition model .*nope\.gguf does not exist/);
  const corrupt = path.join(dir, 'corrupt.gguf');
  fs.writeFileSync(corrupt, fs.readFileSync(models.pvad).subarray(0, 1000));
  const bad = DaemonProcess.start(['transcribe', '--config', cfg({ pvad: corrupt }), wav]);
  t.is((await bad.exit()).code, 1);
  t.regex(bad.stderr, /cannot load the personal VAD model .*corrupt\.gguf: /);
  const notWav = path.join(dir, 'notes.wav');
  fs.writeFileSync(notWav, 'just some notes, not audio at all');
  const run = DaemonProcess.start(['run', '--config', cfg({}), '--input', notWav]);
  t.is((await run.exit()).code, 1);
  t.regex(run.stderr, /notes\.wav: not a WAV file/);
});

test('ALSA microphone: the recorder killed under the running daemon is reported on .../mic and capture resumes', async (t) => {
  const dir = tmpDir('alsa-daemon');
  const home = path.join(dir, 'home');
  const infile = path.join(dir, 'mic.raw');
  fs.writeFileSync(infile, s16(silence(1)));
  fileMicrophone(home, 'earshotmic', infile);
  const port = await freePort();
  const cfg = writeConfig(path.join(dir, 'earshot.yaml'), {
    site: 'a',
    state_dir: path.join(dir, 'state'),
    models: modelCfg,
    audio: { source: 'alsa', device: 'earshotmic', retry: { initial_ms: 200, max_ms: 1000 } },
    mqtt: { embedded: { port } },
  });
  const d = DaemonProcess.start(['run', '--config', cfg], { HOME: home });
  t.teardown(() => d.kill('SIGKILL'));
  await d.waitForLog(/MQTT connected/);
  const sub = await Subscriber.connect(`mqtt://127.0.0.1:${port}`, ['earshot/a/mic']);
  t.teardown(() => sub.close());
  const mic = () => sub.json('earshot/a/mic');
  await sub.until(() => mic().at(-1)?.state === 'capturing', 10000, 'capturing');
  const recorder = execFileSync('pgrep', ['-P', String(d.proc.pid), 'arecord'], { encoding: 'utf8' }).trim();
  process.kill(Number(recorder), 'SIGKILL');
  await sub.until(() => mic().some((m) => m.state === 'lost'), 5000, 'lost');
  const lost = mic().find((m) => m.state === 'lost');
  t.regex(lost.error, /arecord was killed by SIGKILL/);
  t.is(lost.retry_in_ms, 200);
  t.is(lost.device, 'earshotmic');
  await sub.until(() => mic().at(-1)?.state === 'capturing' && mic().at(-1)?.restarts === 1, 5000, 'capturing again');
  t.regex(d.stderr, /microphone capture resumed/);
  d.kill('SIGTERM');
  t.is((await d.exit()).code, 0);
});

test('a broker password from the environment authenticates and never appears in the log, even at trace level', async (t) => {
  const dir = tmpDir('pw');
  const secret = 'pw-Zq81-never-logged';
  const mq = new Mosquitto(path.join(dir, 'broker'), await freePort(), { users: { earshot: secret } });
  await mq.start();
  t.teardown(() => mq.kill());
  const sub = await Subscriber.connect(mq.url, ['earshot/pw/transcript'], { username: 'earshot', password: secret });
  t.teardown(() => sub.close());
  const cfg = writeConfig(path.join(dir, 'earshot.yaml'), {
    site: 'pw',
    log_level: 'trace',
    state_dir: path.join(dir, 'state'),
    models: modelCfg,
    mqtt: { url: mq.url, username: 'earshot', password_env: 'EARSHOT_MQTT_PASSWORD' },
  });
  const wav = writeWav(path.join(dir, 'w.wav'), concat(silence(0.3), words, silence(0.8)));
  const d = DaemonProcess.start(['run', '--config', cfg, '--input', wav], { EARSHOT_MQTT_PASSWORD: secret, EARSHOT_LOG_LEVEL: 'trace' });
  t.teardown(() => d.kill('SIGKILL'));
  t.is((await d.exit()).code, 0, d.stderr);
  t.is(sub.messages.length, 1);
  t.regex(d.stderr, /"user":"earshot"/);
  t.false(d.stderr.includes(secret));
  const check = DaemonProcess.start(['check-config', cfg], { EARSHOT_MQTT_PASSWORD: secret });
  t.is((await check.exit()).code, 0);
  t.false(check.stdout.includes(secret));
});
