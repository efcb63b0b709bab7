// Issue 18 acceptance: every inbound topic gets random bytes, JSON of every type and huge payloads
// on a real mosquitto while the daemon runs; it must stay up, keep its memory, and still transcribe.
import './helpers/quiet.js';
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { concat, DaemonProcess, Feeder, fixtureModels, silence, speech, writeConfig } from './helpers/daemon.js';
import { freePort, Mosquitto } from './helpers/mosquitto.js';
import { Subscriber } from './helpers/subscriber.js';
import { tmpDir } from './helpers/tmp.js';

const models = fixtureModels();
const words = speech('turn on the kitchen lights');

/** mulberry32: a failing run can be replayed from its seed */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

function payloads(rnd: () => number, site: string): Buffer[] {
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(rnd() * 256)));
  const deep = (n: number): unknown => (n === 0 ? {} : { siteId: site, a: deep(n - 1) });
  const json: unknown[] = [
    null,
    true,
    false,
    0,
    -1,
    1e308,
    -0,
    'text',
    '',
    [],
    [null],
    {},
    { siteId: null },
    { siteId: site },
    { siteId: site, sessionId: 42 },
    { siteId: site, sessionId: 'x'.repeat(5000) },
    { siteId: [site] },
    { siteId: { toString: 1 } },
    { name: null },
    { name: 'a b' },
    { name: 'x'.repeat(65) },
    { name: 'ok', seconds: 'ten' },
    { name: 'ok', seconds: 1e9 },
    { name: 'ok', seconds: -5 },
    { name: 'ok', seconds: null },
    { __proto__: { name: 'proto' } },
    { constructor: { prototype: { polluted: true } } },
    deep(200),
    [[[[[[[[]]]]]]]],
    'ON',
    'OFF',
  ];
  const out = json.map((j) => Buffer.from(JSON.stringify(j) ?? 'undefined'));
  for (const text of ['', ' ', 'on', 'OFF ', 'true', '0', '1', 'yes', 'null', '{', '{"siteId":', '\u0000', '\ud800', 'ON\nOFF'])
    out.push(Buffer.from(text));
  for (let i = 0; i < 12; i++) out.push(bytes(1 + Math.floor(rnd() * 300)));
  out.push(Buffer.from('{"siteId":"' + site + '","sessionId":"' + 'é'.repeat(20000) + '"}'));
  return out;
}

test('fuzz: random, every-type and huge payloads on every inbound topic; the daemon stays up, bounded, and transcribes', async (t) => {
  const dir = tmpDir('fuzz');
  const mq = new Mosquitto(path.join(dir, 'broker'), await freePort());
  await mq.start();
  t.teardown(() => mq.kill());
  const site = 'fz';
  const cfg = writeConfig(path.join(dir, 'earshot.yaml'), {
    site,
    state_dir: path.join(dir, 'state'),
    models: { transducer: models.transducer, pvad: models.pvad, speaker_encoder: models.speaker_encoder },
    audio: { source: 'stdin' },
    // MQTT 3.1.1: no maximum packet size to ask the broker for, so the daemon's own limit is what holds
    mqtt: { url: mq.url, protocol_version: 4 },
    segmenter: { trailing_ms: 300, listen_timeout_ms: 600 },
    hermes: { enabled: true },
    homeassistant: { enabled: true },
  });
  const d = DaemonProcess.start(['run', '--config', cfg], {}, 'pipe');
  t.teardown(() => d.kill('SIGKILL'));
  const sub = await Subscriber.connect(mq.url, [`earshot/${site}/#`]);
  t.teardown(() => sub.close());
  const feeder = new Feeder(d);
  t.teardown(() => feeder.stop());
  await sub.until(
    () => sub.on(`earshot/${site}/status`).at(-1)?.text === 'online' && sub.on(`earshot/${site}/status/detail`).length > 0,
    20000,
    'online',
  );
  const rss = () => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${d.proc.pid}/status`, 'utf8'))![1]) / 1024;
  const rssBefore = rss();

  const topics = [
    ...['mute', 'unmute', 'listen', 'stop', 'reload', 'enroll', 'nonsense', 'mute/extra'].map((c) => `earshot/${site}/cmd/${c}`),
    'hermes/asr/startListening',
    'hermes/asr/stopListening',
    'hermes/asr/toggleOn',
    'hermes/asr/toggleOff',
    'homeassistant/status',
  ];
  const rnd = prng(18);
  const pub = (topic: string, payload: Buffer, retain = false) =>
    new Promise<void>((resolve, reject) =>
      sub.client.publish(topic, payload, { qos: 1, retain }, (err) => (err ? reject(err) : resolve())),
    );
  let sent = 0;
  for (const topic of topics) {
    const all = payloads(rnd, site);
    for (let i = 0; i < all.length; i += 16) {
      await Promise.all(all.slice(i, i + 16).map((p) => pub(topic, p)));
      sent += Math.min(16, all.length - i);
    }
    // huge: 1 MB and 20 MB of noise on each topic
    for (const n of [1 << 20, 20 << 20]) {
      await pub(topic, Buffer.alloc(n, 0x7b));
      sent++;
    }
    t.is(d.proc.exitCode, null, `still running after ${topic}: ${d.stderr.slice(-2000)}`);
  }
  // a retained bad command too: it is there again at every reconnect
  await pub(`earshot/${site}/cmd/enroll`, Buffer.from('null'), true);
  t.true(sent >= 700, `${sent} messages`);

  // back to a known state, then speech
  await pub(`earshot/${site}/cmd/unmute`, Buffer.alloc(0));
  await pub('hermes/asr/toggleOn', Buffer.from(JSON.stringify({ siteId: site })));
  await pub(`earshot/${site}/cmd/stop`, Buffer.alloc(0));
  await sub.until(() => sub.on(`earshot/${site}/muted`).at(-1)?.text === 'OFF', 20000, 'unmuted');
  await new Promise((r) => setTimeout(r, 1500)); // the coalesced reloads and forced segments settle
  const before = sub.on(`earshot/${site}/transcript`).length;
  await feeder.say(concat(words, silence(1)));
  await sub.until(
    () =>
      sub
        .json(`earshot/${site}/transcript`)
        .slice(before)
        .some((m) => m.text.length > 0),
    20000,
    'a transcript after the fuzz',
  );
  t.is(d.proc.exitCode, null);
  const grown = rss() - rssBefore;
  t.true(grown < 300, `RSS grew by ${Math.round(grown)} MB (from ${Math.round(rssBefore)} MB)`);
  t.regex(d.stderr, /too large: dropped|command refused|malformed Hermes message/);
  await feeder.stop();
  d.kill('SIGTERM');
  t.is((await d.exit()).code, 0, d.stderr.slice(-3000));
});
