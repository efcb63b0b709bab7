// Issue 18 items 3-6: the outbox under faults, counted at a persistent QoS 1 subscriber on a real
// mosquitto: a full disk and a read-only state directory (real tmpfs mounts: CI runs as root), a
// full outbox under concurrent writes, a 10k-entry journal, duplicates on a healthy link, and a
// journal entry whose topic is a wildcard.
import './helpers/quiet.js';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { Outbox } from '../daemon/outbox.js';
import { freePort, Mosquitto } from './helpers/mosquitto.js';
import { makeLink, transcriptFor } from './helpers/link.js';
import { Subscriber } from './helpers/subscriber.js';
import { tmpDir } from './helpers/tmp.js';

const T = 'earshot/test';

/** A tmpfs of `size` at a new directory, unmounted at the end of the test. */
function mountTmpfs(t: import('ava').ExecutionContext, size: string): string {
  const dir = tmpDir('mnt');
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
  t.teardown(() => execFileSync('umount', ['-l', dir]));
  return dir;
}

/** A persistent session (clean: false, fixed client id) that counts every delivery per id. */
async function counter(url: string) {
  const sub = await Subscriber.connect(url, [`${T}/transcript`], {
    clean: false,
    clientId: `count-${Math.random().toString(16).slice(2)}`,
  });
  const seen = new Map<string, number>();
  let parsed = 0;
  // incremental: until() re-checks on every message, and a 10k run must not re-parse them all each time
  const counts = () => {
    for (const m of sub.messages.slice(parsed)) {
      if (m.topic !== `${T}/transcript`) continue;
      const id = JSON.parse(m.text).id as string;
      seen.set(id, (seen.get(id) ?? 0) + 1);
    }
    parsed = sub.messages.length;
    return seen;
  };
  return { sub, counts };
}

async function broker(t: import('ava').ExecutionContext): Promise<Mosquitto> {
  const mq = new Mosquitto(path.join(tmpDir('mq'), 'broker'), await freePort());
  await mq.start();
  t.teardown(() => mq.kill());
  return mq;
}

/** Every id exactly once: nothing lost, nothing duplicated. */
async function exactlyOnce(t: import('ava').ExecutionContext, c: Awaited<ReturnType<typeof counter>>, ids: string[], timeoutMs = 20000) {
  // counted once per message, and the size first: a full scan per message made a 10k run quadratic
  const allSeen = () => {
    const seen = c.counts();
    return seen.size >= ids.length && ids.every((id) => seen.has(id));
  };
  await c.sub.until(allSeen, timeoutMs, `${ids.length} ids`);
  await new Promise((r) => setTimeout(r, 500)); // room for a duplicate to show up
  const counts = c.counts();
  t.deepEqual(
    ids.filter((id) => !counts.has(id)),
    [],
    'none lost',
  );
  t.deepEqual(
    [...counts].filter(([, n]) => n > 1),
    [],
    'none duplicated',
  );
  t.is(counts.size, ids.length, 'nothing else');
}

test('item 4: a full outbox under concurrent writes drops exactly the oldest, never a new one', async (t) => {
  const dir = tmpDir('full');
  const o = new Outbox(dir, 5);
  o.open();
  const ids = Array.from({ length: 40 }, (_, i) => `id-${i}`);
  // all at once, as segments closing close together do: one writer, so no race on file names
  await Promise.all(ids.map((id) => o.add(id, 'x/transcript', '{}')));
  t.deepEqual(
    o.list().map((e) => e.id),
    ids.slice(-5),
  );
  t.is(o.dropped, 35);
  await o.settled();
  const again = new Outbox(dir, 5);
  again.open();
  t.deepEqual(
    again.list().map((e) => e.id),
    ids.slice(-5),
  );
  t.is(again.dropped, 35);
  t.false(fs.readdirSync(dir).some((f) => f.endsWith('.tmp')));
});

test('item 5: a healthy link delivers each id exactly once, however fast transcripts come', async (t) => {
  const mq = await broker(t);
  const c = await counter(mq.url);
  t.teardown(() => c.sub.close());
  const { link, outbox } = makeLink({ mqtt: { url: mq.url } }, tmpDir('dup'), mq.url);
  t.teardown(() => link.stop());
  link.start();
  await new Promise<void>((r) => link.once('connected', () => r()));
  const sent = Array.from({ length: 400 }, (_, i) => transcriptFor(i));
  // bursts of concurrent transcripts (each add flushes while earlier PUBACKs are coming in)
  for (let i = 0; i < sent.length; i += 20)
    await Promise.all(sent.slice(i, i + 20).map((tr) => link.publishDurable(tr.id, link.topics.transcript, tr)));
  await exactlyOnce(
    t,
    c,
    sent.map((s) => s.id),
  );
  t.true(await link.drain(5000));
  t.is(outbox.pending, 0);
});

test('items 4-5: a 10k-entry journal is delivered exactly once alongside new transcripts, without hogging the process', async (t) => {
  const mq = await broker(t);
  const c = await counter(mq.url);
  t.teardown(() => c.sub.close());
  const state = tmpDir('10k');
  const dir = path.join(state, 'outbox');
  fs.mkdirSync(dir, { recursive: true });
  const old = Array.from({ length: 10_000 }, (_, i) => transcriptFor(100_000 + i));
  old.forEach((tr, i) =>
    fs.writeFileSync(
      path.join(dir, `${String(i).padStart(12, '0')}-${tr.id}.json`),
      JSON.stringify({ id: tr.id, topic: `${T}/transcript`, payload: JSON.stringify(tr), created: Date.now(), seq: i }),
    ),
  );
  const { link, outbox } = makeLink({ mqtt: { url: mq.url }, outbox: { max_entries: 20_000 } }, state, mq.url);
  t.teardown(() => link.stop());
  t.is(outbox.pending, 10_000);
  // the event loop stays responsive while the journal goes out: the longest gap between ticks
  let worst = 0;
  let last = performance.now();
  const ticker = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last);
    last = now;
  }, 10);
  t.teardown(() => clearInterval(ticker));
  link.start();
  const fresh = Array.from({ length: 24 }, (_, i) => transcriptFor(i));
  for (const tr of fresh) {
    await link.publishDurable(tr.id, link.topics.transcript, tr);
    await new Promise((r) => setTimeout(r, 50));
  }
  await exactlyOnce(
    t,
    c,
    [...old, ...fresh].map((s) => s.id),
    90_000,
  );
  clearInterval(ticker);
  t.true(worst < 1000, `the event loop stalled for ${Math.round(worst)} ms`);
  t.true(await link.drain(10_000));
  t.deepEqual(
    fs.readdirSync(dir).filter((f) => /^\d{12}-/.test(f)),
    [],
  );
});

test('item 3: a full disk, then a read-only state directory: transcripts are still delivered (once each), and the failure is counted', async (t) => {
  const mq = await broker(t);
  const c = await counter(mq.url);
  t.teardown(() => c.sub.close());
  for (const fault of ['full', 'read-only'] as const) {
    const state = mountTmpfs(t, '64k');
    fs.mkdirSync(path.join(state, 'outbox'));
    // the state directory turns read-only under the running daemon (as a remounted disk does)
    if (fault === 'read-only') execFileSync('mount', ['-o', 'remount,ro', state]);
    else {
      // fill the filesystem to the last block
      const fd = fs.openSync(path.join(state, 'filler'), 'w');
      try {
        for (;;) fs.writeSync(fd, Buffer.alloc(4096));
      } catch (err) {
        t.is((err as NodeJS.ErrnoException).code, 'ENOSPC');
      } finally {
        fs.closeSync(fd);
      }
    }
    const { link, outbox } = makeLink({ site: 'test', mqtt: { url: mq.url } }, state, mq.url);
    t.teardown(() => link.stop());
    link.start();
    const sent = Array.from({ length: 24 }, (_, i) => transcriptFor(fault === 'full' ? i : 100 + i));
    for (const tr of sent) await link.publishDurable(tr.id, link.topics.transcript, tr);
    await exactlyOnce(
      t,
      c,
      [...c.counts().keys(), ...sent.map((s) => s.id)].filter((v, i, a) => a.indexOf(v) === i),
    );
    const journal = outbox.journal;
    t.is(journal.state, 'failing', fault);
    t.regex(journal.error!, fault === 'full' ? /ENOSPC/ : /EROFS/);
    t.is(journal.unjournalled, 24);
    t.true(await link.drain(5000));
    await link.stop();
  }
});

test('item 6: a journal entry with a wildcard topic is set aside; the rest is delivered and the connection stays up', async (t) => {
  const mq = await broker(t);
  const c = await counter(mq.url);
  t.teardown(() => c.sub.close());
  const state = tmpDir('wild');
  const dir = path.join(state, 'outbox');
  fs.mkdirSync(dir, { recursive: true });
  const good = [transcriptFor(1), transcriptFor(2)];
  const write = (seq: number, id: string, topic: string, payload: string) =>
    fs.writeFileSync(
      path.join(dir, `${String(seq).padStart(12, '0')}-${id}.json`),
      JSON.stringify({ id, topic, payload, created: Date.now(), seq }),
    );
  write(0, good[0].id, `${T}/transcript`, JSON.stringify(good[0]));
  write(1, 'wild', 'earshot/test/#', '{}');
  write(2, 'plus', 'earshot/+/transcript', '{}');
  write(3, good[1].id, `${T}/transcript`, JSON.stringify(good[1]));
  const { link, outbox } = makeLink({ mqtt: { url: mq.url, reconnect_ms: 200 } }, state, mq.url);
  t.teardown(() => link.stop());
  let connects = 0;
  link.on('connected', () => connects++);
  t.is(outbox.pending, 2);
  link.start();
  await exactlyOnce(
    t,
    c,
    good.map((g) => g.id),
  );
  await new Promise((r) => setTimeout(r, 1000));
  t.is(connects, 1, 'never kicked off the broker');
  t.deepEqual(
    fs
      .readdirSync(dir)
      .filter((f) => f.endsWith('.corrupt'))
      .sort(),
    ['000000000001-wild.json.corrupt', '000000000002-plus.json.corrupt'],
  );
});

test('a transcript the broker refuses (MQTT 5 reason code from an ACL) is logged, counted and set aside, not retried forever', async (t) => {
  const dir = tmpDir('acl');
  // anonymous clients may publish status and the like, but not transcripts
  const mq = new Mosquitto(path.join(dir, 'broker'), await freePort(), {
    acl: 'topic readwrite earshot/test/status\ntopic readwrite earshot/test/status/#\ntopic read earshot/test/cmd/#\ntopic read #\n',
  });
  await mq.start();
  t.teardown(() => mq.kill());
  const { link, outbox } = makeLink(
    { mqtt: { url: mq.url, protocol_version: 5 }, outbox: { retry_ms: 100 } },
    path.join(dir, 'state'),
    mq.url,
  );
  t.teardown(() => link.stop());
  let connects = 0;
  link.on('connected', () => connects++);
  link.start();
  const tr = transcriptFor(7);
  await link.publishDurable(tr.id, link.topics.transcript, tr);
  const deadline = Date.now() + 5000;
  while (outbox.rejected === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  t.is(outbox.rejected, 1);
  t.is(outbox.pending, 0);
  await outbox.settled();
  t.true(fs.readdirSync(path.join(dir, 'state', 'outbox')).some((f) => f.endsWith(`${tr.id}.json.rejected`)));
  await new Promise((r) => setTimeout(r, 500)); // several retry periods: nothing is offered again
  t.is(outbox.rejected, 1);
  t.is(connects, 1);
});
