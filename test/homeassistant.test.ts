import './helpers/quiet.js';
import test from 'ava';
import { startEmbeddedBroker } from '../daemon/mqtt/broker.js';
import { HomeAssistantExtension, MIGRATE_PAYLOAD } from '../daemon/mqtt/homeassistant.js';
import { makeLink, transcriptFor } from './helpers/link.js';
import { Subscriber } from './helpers/subscriber.js';
import { tmpDir } from './helpers/tmp.js';

const DEVICE_TOPIC = 'homeassistant/device/earshot_test/config';
const LEGACY = {
  'homeassistant/sensor/earshot_test/transcript/config': 'transcript',
  'homeassistant/event/earshot_test/speech/config': 'speech',
  'homeassistant/binary_sensor/earshot_test/speaking/config': 'speaking',
  'homeassistant/switch/earshot_test/mute/config': 'mute',
};

async function setup(
  t: import('ava').ExecutionContext,
  opts: { announceIntervalMs?: number; migrationStepMs?: number } = {},
  before?: (url: string) => Promise<void>,
) {
  const broker = await startEmbeddedBroker('127.0.0.1', 0);
  t.teardown(() => broker.close());
  if (before) await before(broker.url);
  const sub = await Subscriber.connect(broker.url, ['homeassistant/#']);
  t.teardown(() => sub.close());
  const { link } = makeLink({}, tmpDir('ha'), broker.url);
  const ha = new HomeAssistantExtension(link, { discoveryPrefix: 'homeassistant', deviceName: 'Earshot test', version: '0.1.0', ...opts });
  await ha.start();
  link.start();
  t.teardown(async () => {
    await ha.stop();
    await link.stop();
  });
  return { broker, sub, link, ha };
}

test('one retained device configuration: device, origin, availability and six components, field by field', async (t) => {
  const { broker, sub } = await setup(t);
  await sub.until(() => sub.on(DEVICE_TOPIC).length >= 1, 5000, 'device discovery');
  const [cfg] = sub.json(DEVICE_TOPIC);
  t.deepEqual(cfg.device, {
    identifiers: ['earshot_test'],
    name: 'Earshot test',
    manufacturer: 'Earshot',
    model: 'Earshot voice front-end',
    sw_version: '0.1.0',
  });
  t.deepEqual(cfg.origin, { name: 'Earshot', sw_version: '0.1.0', support_url: 'https://github.com/earshot/earshot' });
  t.like(cfg, { availability_topic: 'earshot/test/status', payload_available: 'online', payload_not_available: 'offline', qos: 1 });
  t.deepEqual(Object.keys(cfg.cmps).sort(), ['last_intent', 'last_speaker', 'mute', 'speaking', 'speech', 'transcript']);
  // the unique_ids of the per-entity configurations: migrated entities keep their history
  for (const [id, c] of Object.entries<any>(cfg.cmps)) t.is(c.unique_id, `earshot_test_${id}`);
  t.like(cfg.cmps.transcript, {
    p: 'sensor',
    name: 'Transcript',
    state_topic: 'earshot/test/transcript',
    value_template: '{{ value_json.text[:255] }}',
    json_attributes_topic: 'earshot/test/transcript',
  });
  t.like(cfg.cmps.speech, { p: 'event', name: 'Speech', state_topic: 'earshot/test/transcript', event_types: ['transcript'] });
  t.like(cfg.cmps.speaking, {
    p: 'binary_sensor',
    device_class: 'sound',
    state_topic: 'earshot/test/vad',
    value_template: "{{ 'ON' if value_json.speaking else 'OFF' }}",
  });
  t.like(cfg.cmps.mute, {
    p: 'switch',
    command_topic: 'earshot/test/cmd/mute',
    state_topic: 'earshot/test/muted',
    payload_on: 'ON',
    payload_off: 'OFF',
  });
  t.like(cfg.cmps.last_speaker, {
    p: 'sensor',
    name: 'Last speaker',
    state_topic: 'earshot/test/transcript',
    value_template: "{{ value_json.speaker.name if value_json.speaker else 'unknown' }}",
  });
  t.like(cfg.cmps.last_intent, {
    p: 'sensor',
    name: 'Last intent',
    state_topic: 'earshot/test/transcript',
    value_template: "{{ value_json.intent.name if value_json.intent else 'none' }}",
  });
  // the speech event takes the transcript message as it is: it carries event_type
  t.is(transcriptFor(1).event_type, 'transcript');
  // nothing on the old per-entity topics; the device configuration is retained for a late subscriber
  t.is(sub.messages.filter((m) => m.topic in LEGACY).length, 0);
  const late = await Subscriber.connect(broker.url, ['homeassistant/#']);
  t.teardown(() => late.close());
  await late.until(() => late.on(DEVICE_TOPIC).length === 1, 3000, 'retained device configuration');
  t.true(late.on(DEVICE_TOPIC)[0].retain);
});

test('a flood of homeassistant/status online (10,000) re-announces a handful of times, not 10,000', async (t) => {
  const { sub, ha } = await setup(t, { announceIntervalMs: 500 });
  await sub.until(() => sub.on(DEVICE_TOPIC).length >= 1, 5000, 'first announcement');
  const start = ha.announcements;
  for (let i = 0; i < 10_000; i++) sub.client.publish('homeassistant/status', 'online', { qos: 0 });
  await new Promise((r) => setTimeout(r, 1500));
  // after the flood Home Assistant still gets the configuration again (the trailing announcement)
  const sent = ha.announcements - start;
  t.log(`10,000 online messages -> ${sent} announcements, ${sub.on(DEVICE_TOPIC).length - 1} device configurations received`);
  t.true(sent >= 1 && sent <= 6, `${sent} announcements`);
  t.true(sub.on(DEVICE_TOPIC).length - 1 <= 6);
  // a single online later: announced at once
  const before = sub.on(DEVICE_TOPIC).length;
  sub.client.publish('homeassistant/status', 'online');
  await sub.until(() => sub.on(DEVICE_TOPIC).length > before, 3000, 're-announcement');
  t.pass();
});

test('migration from per-entity topics: migrate_discovery on each, then the device configuration, then the old topics emptied', async (t) => {
  // what an earlier version left retained on the broker
  const seed = async (url: string) => {
    const old = await Subscriber.connect(url, ['earshot-test/none']);
    for (const [topic, id] of Object.entries(LEGACY))
      await old.client.publishAsync(topic, JSON.stringify({ unique_id: `earshot_test_${id}`, name: id }), { qos: 1, retain: true });
    await old.close();
  };
  const { broker, sub } = await setup(t, { migrationStepMs: 150 }, seed);
  await sub.until(() => Object.keys(LEGACY).every((topic) => sub.on(topic).some((m) => m.text === '')), 8000, 'old topics emptied');
  for (const topic of Object.keys(LEGACY)) {
    const seq = sub.messages
      .filter((m) => m.topic === topic || m.topic === DEVICE_TOPIC)
      .map((m) => (m.topic === DEVICE_TOPIC ? 'device' : m.text === '' ? 'empty' : m.text === MIGRATE_PAYLOAD ? 'migrate' : 'old'));
    // HA's order: the old config, migrate_discovery, the device configuration (again), the old topic emptied
    const migrate = seq.indexOf('migrate');
    t.true(migrate > seq.indexOf('old'), `${topic}: ${seq}`);
    t.true(seq.indexOf('device', migrate) > migrate, `${topic}: ${seq}`);
    t.true(seq.indexOf('empty') > seq.indexOf('device', migrate), `${topic}: ${seq}`);
  }
  // afterwards the broker keeps the device configuration only (aedes may hand an emptied topic's
  // empty payload to a new subscriber: that is the same as nothing for Home Assistant)
  const late = await Subscriber.connect(broker.url, ['homeassistant/#']);
  t.teardown(() => late.close());
  await late.until(() => late.on(DEVICE_TOPIC).length === 1, 3000, 'retained device configuration');
  await new Promise((r) => setTimeout(r, 300));
  t.deepEqual(
    late.messages.filter((m) => m.text !== '').map((m) => m.topic),
    [DEVICE_TOPIC],
  );
});
