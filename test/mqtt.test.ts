import './helpers/quiet.js';
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { startEmbeddedBroker } from '../daemon/mqtt/broker.js';
import { Outbox } from '../daemon/outbox.js';
import { freePort, makeTestCa, Mosquitto } from './helpers/mosquitto.js';
import { makeLink, transcriptFor } from './helpers/link.js';
import { Subscriber } from './helpers/subscriber.js';
import { tmpDir } from './helpers/tmp.js';

const T = 'earshot/test';

test('embedded broker: transcripts (QoS 1) arrive with their ids, retained status online then offline', async (t) => {
  const dir = tmpDir('mqtt');
  const broker = await startEmbeddedBroker('127.0.0.1', 0);
  t.teardown(() => broker.close());
  const sub = await Subscriber.connect(broker.url, [`${T}/#`]);
  t.teardown(() => sub.close());
  const { link, outbox } = makeLink({ mqtt: { url: null } }, dir, broker.url);
  t.teardown(() => link.stop());
  link.start();
  await sub.until(() => sub.on(`${T}/status`).some((m) => m.text === 'online'), 5000, 'online');
  const sent = [0, 1, 2, 3, 4].map((i) => transcriptFor(i));
  for (const tr of sent) await link.publishDurable(tr.id, link.topics.transcript, tr);
  await sub.until(() => sub.on(`${T}/transcript`).length === 5, 5000, 'transcripts');
  t.deepEqual(
    sub.json(`${T}/transcript`).map((m) => m.id),
    sent.map((s) => s.id),
  );
  t.deepEqual(sub.json(`${T}/transcript`)[2], sent[2]);
  t.true(await link.drain(2000));
  t.is(outbox.pending, 0);
  t.deepEqual(
    fs.readdirSync(path.join(dir, 'outbox')).filter((f) => f.endsWith('.json') && f !== 'counters.json'),
    [],
  );
  await link.stop();
  await sub.until(() => sub.on(`${T}/status`).at(-1)?.text === 'offline', 5000, 'offline');
  // a late subscriber sees the retained availability
  const late = await Subscriber.connect(broker.url, [`${T}/status`]);
  t.teardown(() => late.close());
  await late.until(() => late.messages.length > 0, 3000, 'retained status');
  t.is(late.messages[0].text, 'offline');
  t.true(late.messages[0].retain);
  await Promise.all([sub.close(), late.close()]);
  await broker.close();
});

test('mosquitto: last will says offline when the connection dies without a goodbye', async (t) => {
  const dir = tmpDir('mqtt');
  const mq = new Mosquitto(dir, await freePort());
  await mq.start();
  t.teardown(() => mq.kill());
  const sub = await Subscriber.connect(mq.url, [`${T}/status`]);
  t.teardown(() => sub.close());
  const { link } = makeLink({ mqtt: { url: mq.url, keepalive_s: 1 } }, dir, mq.url);
  t.teardown(() => link.stop());
  link.start();
  await sub.until(() => sub.messages.at(-1)?.text === 'online', 5000, 'online');
  // cut the TCP connection under the client: the broker publishes the will
  (link as any).client.options.reconnectPeriod = 0;
  (link as any).client.stream.destroy();
  await sub.until(() => sub.messages.at(-1)?.text === 'offline', 5000, 'will');
  t.is(sub.messages.at(-1)!.text, 'offline');
  await sub.close();
  await link.stop();
  await mq.kill();
});

test('mosquitto over TLS with a test CA and a client certificate; MQTT 5 message expiry is set', async (t) => {
  const dir = tmpDir('tls');
  const tls = makeTestCa(dir);
  const port = await freePort();
  const mq = new Mosquitto(path.join(dir, 'broker'), port, { tls });
  await mq.start();
  t.teardown(() => mq.kill());
  const url = `mqtts://127.0.0.1:${port}`;
  const sub = await Subscriber.connect(url, [`${T}/transcript`], {
    ca: fs.readFileSync(tls.ca),
    cert: fs.readFileSync(tls.clientCert),
    key: fs.readFileSync(tls.clientKey),
    protocolVersion: 5,
  });
  t.teardown(() => sub.close());
  const { link, outbox } = makeLink(
    { mqtt: { url, ca: tls.ca, cert: tls.clientCert, key: tls.clientKey, protocol_version: 5, message_expiry_s: 60 } },
    path.join(dir, 'state'),
    url,
  );
  t.teardown(() => link.stop());
  link.start();
  const tr = transcriptFor(7);
  await link.publishDurable(tr.id, link.topics.transcript, tr);
  await sub.until(() => sub.messages.length === 1, 10000, 'transcript over TLS');
  t.is(JSON.parse(sub.messages[0].text).id, tr.id);
  const expiry = sub.messages[0].properties?.messageExpiryInterval as number;
  t.true(expiry > 55 && expiry <= 60, `expiry ${expiry}`);
  t.true(await link.drain(3000));
  t.is(outbox.pending, 0);
  await link.stop();
  await sub.close();
  await mq.kill();
});

test('TLS with the wrong CA does not connect, and the transcript waits in the outbox', async (t) => {
  const dir = tmpDir('tls');
  const tls = makeTestCa(dir);
  const other = makeTestCa(fs.mkdtempSync(path.join(dir, 'other-')));
  const port = await freePort();
  const mq = new Mosquitto(path.join(dir, 'broker'), port, { tls });
  await mq.start();
  t.teardown(() => mq.kill());
  const url = `mqtts://127.0.0.1:${port}`;
  const { link, outbox } = makeLink(
    { mqtt: { url, ca: other.ca, cert: tls.clientCert, key: tls.clientKey, reconnect_ms: 200 } },
    path.join(dir, 'state'),
    url,
  );
  t.teardown(() => link.stop());
  link.start();
  const tr = transcriptFor(1);
  await link.publishDurable(tr.id, link.topics.transcript, tr);
  await new Promise((r) => setTimeout(r, 1000));
  t.false(link.connected);
  t.is(outbox.pending, 1);
  t.true(outbox.has(tr.id));
  await link.stop();
  await mq.kill();
});

test('username and password from the environment', async (t) => {
  const dir = tmpDir('auth');
  const mq = new Mosquitto(dir, await freePort(), { users: { earshot: 's3cret-pw' } });
  await mq.start();
  t.teardown(() => mq.kill());
  const sub = await Subscriber.connect(mq.url, [`${T}/transcript`], { username: 'earshot', password: 's3cret-pw' });
  t.teardown(() => sub.close());
  process.env.EARSHOT_TEST_MQTT_PW = 's3cret-pw';
  const { link, outbox } = makeLink(
    { mqtt: { url: mq.url, username: 'earshot', password_env: 'EARSHOT_TEST_MQTT_PW' } },
    path.join(dir, 'state'),
    mq.url,
  );
  t.teardown(() => link.stop());
  link.start();
  const tr = transcriptFor(3);
  await link.publishDurable(tr.id, link.topics.transcript, tr);
  await sub.until(() => sub.messages.length === 1, 5000, 'authenticated transcript');
  t.true(await link.drain(2000));
  t.is(outbox.pending, 0);
  await link.stop();
  // a wrong password is refused: nothing is delivered, the outbox keeps it
  process.env.EARSHOT_TEST_MQTT_PW = 'wrong';
  const bad = makeLink(
    { mqtt: { url: mq.url, username: 'earshot', password_env: 'EARSHOT_TEST_MQTT_PW', reconnect_ms: 200 } },
    path.join(dir, 'state2'),
    mq.url,
  );
  t.teardown(() => bad.link.stop());
  bad.link.start();
  const tr2 = transcriptFor(4);
  await bad.link.publishDurable(tr2.id, bad.link.topics.transcript, tr2);
  await new Promise((r) => setTimeout(r, 800));
  t.false(bad.link.connected);
  t.is(bad.outbox.pending, 1);
  t.is(sub.messages.length, 1);
  await bad.link.stop();
  await sub.close();
  await mq.kill();
});

test('broker killed and restarted several times during a run: every transcript id arrives', async (t) => {
  const dir = tmpDir('outage');
  const mq = new Mosquitto(path.join(dir, 'broker'), await freePort());
  await mq.start();
  t.teardown(() => mq.kill());
  const sub = await Subscriber.connect(mq.url, [`${T}/transcript`]);
  t.teardown(() => sub.close());
  // the daemon reconnects more slowly than the subscriber, so the subscriber is always back first
  const { link, outbox } = makeLink({ mqtt: { url: mq.url, reconnect_ms: 600, keepalive_s: 2 } }, path.join(dir, 'state'), mq.url);
  t.teardown(() => link.stop());
  link.start();
  const ids: string[] = [];
  let producing = true;
  const producer = (async () => {
    for (let i = 0; producing; i++) {
      const tr = transcriptFor(i);
      ids.push(tr.id);
      await link.publishDurable(tr.id, link.topics.transcript, tr);
      await new Promise((r) => setTimeout(r, 40));
    }
  })();
  for (let round = 0; round < 3; round++) {
    await new Promise((r) => setTimeout(r, 500));
    await mq.kill('SIGKILL');
    await new Promise((r) => setTimeout(r, 700));
    t.true(outbox.pending > 0, 'transcripts wait in the outbox while the broker is down');
    await mq.start();
    await sub.until(() => sub.client.connected, 5000, 'subscriber back');
    await new Promise((r) => setTimeout(r, 100));
  }
  await new Promise((r) => setTimeout(r, 300));
  producing = false;
  await producer;
  const received = () => new Set(sub.json(`${T}/transcript`).map((m) => m.id));
  await sub.until(
    () => {
      const got = received(); // parsed once per check, not once per id
      return ids.every((id) => got.has(id));
    },
    20000,
    'all ids',
  );
  t.true(ids.length > 50, `${ids.length} transcripts`);
  t.deepEqual(
    [...received()].filter((id) => !ids.includes(id)),
    [],
  );
  t.true(await link.drain(5000));
  t.is(outbox.pending, 0);
  await link.stop();
  await sub.close();
  await mq.kill();
});

test('outbox: durable across processes, bounded with a drop counter, stray temp files ignored', async (t) => {
  const dir = tmpDir('outbox');
  const a = new Outbox(dir, 3);
  a.open();
  for (let i = 0; i < 5; i++) await a.add(`id-${i}`, 'x/transcript', `{"n":${i}}`);
  t.is(a.pending, 3);
  t.is(a.dropped, 2);
  fs.writeFileSync(path.join(dir, '000000000099-torn.json.tmp'), '{"half');
  const b = new Outbox(dir, 3);
  b.open();
  t.deepEqual(
    b.list().map((e) => e.id),
    ['id-2', 'id-3', 'id-4'],
  );
  t.is(b.dropped, 2);
  t.false(fs.readdirSync(dir).some((f) => f.includes('.tmp')));
  await b.ack('id-3');
  await b.add('id-5', 'x/transcript', '{}');
  const c = new Outbox(dir, 3);
  c.open();
  t.deepEqual(
    c.list().map((e) => e.id),
    ['id-2', 'id-4', 'id-5'],
  );
});

test('MQTT 5 message expiry: a transcript that waited too long in the outbox is dropped and counted, not delivered late', async (t) => {
  const dir = tmpDir('expiry');
  const mq = new Mosquitto(path.join(dir, 'broker'), await freePort());
  await mq.start();
  t.teardown(() => mq.kill());
  const sub = await Subscriber.connect(mq.url, [`${T}/transcript`], { protocolVersion: 5 });
  t.teardown(() => sub.close());
  // a previous run journalled two transcripts: one 2 minutes ago, one just now
  const state = path.join(dir, 'state');
  const journal = new Outbox(path.join(state, 'outbox'), 10);
  journal.open();
  const stale = transcriptFor(1);
  const fresh = transcriptFor(2);
  await journal.add(stale.id, `${T}/transcript`, JSON.stringify(stale), Date.now() - 120_000);
  await journal.add(fresh.id, `${T}/transcript`, JSON.stringify(fresh));
  const { link, outbox } = makeLink({ mqtt: { url: mq.url, message_expiry_s: 60 } }, state, mq.url);
  t.teardown(() => link.stop());
  link.start();
  await sub.until(() => sub.messages.length === 1, 5000, 'fresh transcript');
  t.true(await link.drain(3000));
  await new Promise((r) => setTimeout(r, 300));
  t.deepEqual(
    sub.json(`${T}/transcript`).map((m) => m.id),
    [fresh.id],
  );
  t.is(outbox.expired, 1);
  t.is(outbox.pending, 0);
});
