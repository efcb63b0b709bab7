// The extension contract in-process: the typed event bus, and the Hermes and status extensions
// against a fake daemon (context) and link, without models or a broker.
import './helpers/quiet.js';
import { EventEmitter } from 'node:events';
import test from 'ava';
import { validateConfig, type Config } from '../daemon/config.js';
import { EventBus } from '../daemon/event-bus.js';
import type { DaemonEvents, DaemonStatus, ExtensionContext, Link } from '../daemon/extension.js';
import { hermes } from '../daemon/mqtt/hermes.js';
import { Topics } from '../daemon/mqtt/topics.js';
import type { Outbox } from '../daemon/outbox.js';
import type { SystemdNotifier } from '../daemon/sdnotify.js';
import { statusDetail } from '../daemon/status.js';
import { tmpDir } from './helpers/tmp.js';
import { transcriptFor } from './helpers/link.js';

test('event bus: typed listeners per owner, off(owner) removes only its own, a throwing listener stays contained', (t) => {
  const bus = new EventBus<{ ping: [n: number]; pong: [] }>();
  const a = {};
  const b = {};
  const got: string[] = [];
  bus.on(a, 'ping', (n) => got.push(`a${n}`));
  bus.on(a, 'pong', () => got.push('a-pong'));
  bus.on(b, 'ping', () => {
    throw new Error('a bug in b');
  });
  bus.on(b, 'ping', (n) => got.push(`b${n}`));
  bus.emit('ping', 1);
  bus.emit('pong');
  t.deepEqual(got, ['a1', 'b1', 'a-pong'], 'the listener after the throwing one still ran');
  bus.off(a);
  t.is(bus.listenerCount('ping'), 2);
  t.is(bus.listenerCount('pong'), 0);
  bus.emit('ping', 2);
  t.deepEqual(got, ['a1', 'b1', 'a-pong', 'b2']);
});

class FakeLink extends EventEmitter implements Link {
  readonly topics = new Topics('earshot', 'k');
  connected = true;
  rejected = 0;
  readonly subs = new Set<string>();
  readonly sent: { topic: string; payload: unknown; retained: boolean }[] = [];
  subscribe(filter: string): void {
    this.subs.add(filter);
  }
  unsubscribe(filter: string): void {
    this.subs.delete(filter);
  }
  publish(topic: string, payload: string): void {
    this.sent.push({ topic, payload, retained: false });
  }
  publishRetained(topic: string, payload: unknown): void {
    this.sent.push({ topic, payload, retained: true });
  }
  publishVolatile(topic: string, payload: unknown): void {
    this.sent.push({ topic, payload, retained: false });
  }
  rejectInbound(): void {
    this.rejected++;
  }
}

function fakeDaemon(doc: Record<string, unknown>) {
  const cfg: Config = validateConfig({ site: 'k', state_dir: tmpDir('ext'), ...doc });
  const link = new FakeLink();
  const events = new EventBus<DaemonEvents>();
  const calls: string[] = [];
  const statusLines: string[] = [];
  const outbox = { pending: 2, dropped: 0, expired: 0, rejected: 0, journal: { state: 'ok', error: null } } as unknown as Outbox;
  const status: DaemonStatus = {
    stopping: false,
    muted: false,
    mic: undefined,
    source: { kind: 'stdin', device: 'stdin' },
    model: 'test-model',
    profiles: [],
    transcripts: 1,
    outbox,
    audioSamples: 0,
  };
  const ctx: ExtensionContext = {
    events,
    version: '0.1.0',
    startedAt: 1000,
    engine: undefined as unknown as ExtensionContext['engine'],
    notifier: { status: (line: string) => statusLines.push(line) } as unknown as SystemdNotifier,
    cfg: () => cfg,
    link: () => link,
    models: () => {
      throw new Error('no models here');
    },
    status: () => status,
    runCommand: (what, fn) => {
      calls.push(what);
      void fn();
    },
    handleCommand: () => {},
    listen: () => calls.push('listen'),
    finishSegment: () => calls.push('finish'),
    setMuted: (muted) => calls.push(muted ? 'mute' : 'unmute'),
    profilesChanged: () => {},
  };
  return { cfg, ctx, link, events, calls, status, statusLines };
}

test('hermes: off by default; on, it subscribes, answers its site only, counts malformed messages and carries the session', async (t) => {
  t.is(hermes.create(fakeDaemon({}).ctx, fakeDaemon({}).cfg), undefined);
  const d = fakeDaemon({ hermes: { enabled: true, site_id: 'kitchen' } });
  const ext = hermes.create(d.ctx, d.cfg)!;
  await ext.start();
  t.true(d.link.subs.has('hermes/asr/startListening') && d.link.subs.has('hermes/asr/toggleOff'));
  const msg = (topic: string, body: unknown) => d.link.emit('message', topic, Buffer.from(JSON.stringify(body)));
  msg('hermes/asr/toggleOff', { siteId: 'bedroom' });
  msg('hermes/asr/toggleOff', { siteId: 'kitchen' });
  d.link.emit('message', 'hermes/asr/toggleOn', Buffer.from('null'));
  t.is(d.link.rejected, 1);
  msg('hermes/asr/startListening', { siteId: 'kitchen', sessionId: 's1' });
  t.deepEqual(d.calls, ['hermes toggleOff', 'mute', 'hermes startListening', 'listen']);
  d.events.emit('speechStarted', 0, 1500);
  d.events.emit('transcript', transcriptFor(0, 'k'));
  const sent = (topic: string) => d.link.sent.filter((m) => m.topic === topic).map((m) => m.payload as Record<string, unknown>);
  t.deepEqual(sent('hermes/voiceActivity/kitchen/vadUp'), [{ siteId: 'kitchen', signalMs: 500 }]);
  t.is(sent('hermes/asr/textCaptured')[0].sessionId, 's1');
  await ext.stop();
  t.is(d.link.subs.size, 0);
  t.is(d.link.listenerCount('message'), 0);
  d.events.emit('transcript', transcriptFor(1, 'k'));
  t.is(sent('hermes/asr/textCaptured').length, 1, 'stopped: no longer listening');
});

test('status: status/detail on connect and on changes, STATUS= after a transcript, the final counts when it stops', async (t) => {
  const d = fakeDaemon({});
  const ext = statusDetail.create(d.ctx, d.cfg)!;
  await ext.start();
  const details = () => d.link.sent.filter((m) => m.topic === 'earshot/k/status/detail').map((m) => m.payload as Record<string, unknown>);
  d.events.emit('mqttConnected');
  d.events.emit('stateChanged');
  t.is(details().length, 2);
  t.like(details()[0], { state: 'running', site: 'k', version: '0.1.0', model: 'test-model', transcripts: 1, inbound_rejected: 0 });
  d.events.emit('transcript', transcriptFor(0, 'k'));
  t.deepEqual(d.statusLines, ['listening on stdin:stdin (starting); 1 transcripts; outbox 2 pending, 0 dropped']);
  d.status.stopping = true;
  await ext.stop();
  t.is(details().length, 3);
  t.is(details()[2].state, 'stopping');
});
