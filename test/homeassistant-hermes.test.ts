import './helpers/quiet.js';
import test from 'ava';
import { startEmbeddedBroker } from '../daemon/mqtt/broker.js';
import { parseHermes, textCaptured, vadPayload, vadTopic } from '../daemon/mqtt/hermes.js';
import { makeLink, transcriptFor } from './helpers/link.js';
import { Subscriber } from './helpers/subscriber.js';
import { tmpDir } from './helpers/tmp.js';

const device = {
  identifiers: ['earshot_test'],
  name: 'Earshot test',
  manufacturer: 'Earshot',
  model: 'Earshot voice front-end',
  sw_version: '0.1.0',
};
const availability = { availability_topic: 'earshot/test/status', payload_available: 'online', payload_not_available: 'offline' };

test('Home Assistant discovery: every entity, field by field, retained; re-announced when HA comes online', async (t) => {
  const broker = await startEmbeddedBroker('127.0.0.1', 0);
  const sub = await Subscriber.connect(broker.url, ['homeassistant/#']);
  const { link } = makeLink({}, tmpDir('ha'), broker.url);
  link.start();
  await sub.until(() => sub.messages.length >= 4, 5000, 'discovery');
  const config = (topic: string) => {
    const m = sub.on(topic);
    t.true(m.length >= 1, topic);
    return JSON.parse(m[0].text);
  };
  t.deepEqual(config('homeassistant/sensor/earshot_test/transcript/config'), {
    unique_id: 'earshot_test_transcript',
    object_id: 'earshot_test_transcript',
    device,
    ...availability,
    name: 'Transcript',
    icon: 'mdi:text-to-speech',
    state_topic: 'earshot/test/transcript',
    value_template: '{{ value_json.text[:255] }}',
    json_attributes_topic: 'earshot/test/transcript',
  });
  t.deepEqual(config('homeassistant/event/earshot_test/speech/config'), {
    unique_id: 'earshot_test_speech',
    object_id: 'earshot_test_speech',
    device,
    ...availability,
    name: 'Speech',
    icon: 'mdi:account-voice',
    state_topic: 'earshot/test/transcript',
    event_types: ['transcript'],
  });
  t.deepEqual(config('homeassistant/binary_sensor/earshot_test/speaking/config'), {
    unique_id: 'earshot_test_speaking',
    object_id: 'earshot_test_speaking',
    device,
    ...availability,
    name: 'Speaking',
    device_class: 'sound',
    state_topic: 'earshot/test/vad',
    value_template: "{{ 'ON' if value_json.speaking else 'OFF' }}",
  });
  t.deepEqual(config('homeassistant/switch/earshot_test/mute/config'), {
    unique_id: 'earshot_test_mute',
    object_id: 'earshot_test_mute',
    device,
    ...availability,
    name: 'Mute',
    icon: 'mdi:microphone-off',
    command_topic: 'earshot/test/cmd/mute',
    state_topic: 'earshot/test/muted',
    payload_on: 'ON',
    payload_off: 'OFF',
  });
  // the event entity takes the transcript as is: it carries event_type
  t.is(transcriptFor(1).event_type, 'transcript');
  // retained: a subscriber arriving later still gets them
  const late = await Subscriber.connect(broker.url, ['homeassistant/+/earshot_test/+/config']);
  await late.until(() => late.messages.length === 4, 3000, 'retained discovery');
  t.true(late.messages.every((m) => m.retain));
  // HA restarts and says it is online: everything is announced again
  const before = sub.messages.length;
  sub.client.publish('homeassistant/status', 'online');
  await sub.until(() => sub.messages.filter((m) => m.topic.endsWith('/config')).length >= 8, 5000, 're-announce');
  t.true(sub.messages.length > before);
  await link.stop();
  await Promise.all([sub.close(), late.close()]);
  await broker.close();
});

test('Hermes textCaptured from a transcript, field by field', (t) => {
  const tr = transcriptFor(2);
  const hc = textCaptured(tr, 'kitchen', 'session-9');
  t.deepEqual(Object.keys(hc).sort(), ['asrTokens', 'lang', 'likelihood', 'seconds', 'sessionId', 'siteId', 'text', 'wakewordId']);
  t.is(hc.text, 'turn on light 2');
  t.is(hc.siteId, 'kitchen');
  t.is(hc.sessionId, 'session-9');
  t.is(hc.seconds, 0.2);
  t.is(hc.wakewordId, null);
  t.is(hc.lang, null);
  t.is(hc.likelihood, Math.round(((0.9 + 0.8 + 0.95 + 0.7) / 4) * 1000) / 1000);
  t.is(hc.asrTokens.length, 1);
  t.deepEqual(
    hc.asrTokens[0].map((w) => [w.value, w.rangeStart, w.rangeEnd, w.confidence]),
    [
      ['turn', 0, 4, 0.9],
      ['on', 5, 7, 0.8],
      ['light', 8, 13, 0.95],
      ['2', 14, 15, 0.7],
    ],
  );
  for (const w of hc.asrTokens[0]) t.is(hc.text.slice(w.rangeStart, w.rangeEnd), w.value);
  // word times are relative to the utterance start, in order
  const times = hc.asrTokens[0].map((w) => w.time);
  t.deepEqual(times[0], { start: 0, end: 0.2 });
  t.true(times.every((x, i) => i === 0 || x.start >= times[i - 1].start));
});

test('Hermes voice activity topics and the commands addressed to our site only', (t) => {
  t.is(vadTopic('kitchen', true), 'hermes/voiceActivity/kitchen/vadUp');
  t.is(vadTopic('kitchen', false), 'hermes/voiceActivity/kitchen/vadDown');
  t.deepEqual(vadPayload('kitchen', 1234), { siteId: 'kitchen', signalMs: 1234 });
  const msg = (o: unknown) => Buffer.from(JSON.stringify(o));
  t.deepEqual(parseHermes('hermes/asr/startListening', msg({ siteId: 'kitchen', sessionId: 's1', stopOnSilence: true }), 'kitchen'), { kind: 'startListening', sessionId: 's1' });
  t.deepEqual(parseHermes('hermes/asr/stopListening', msg({ siteId: 'kitchen', sessionId: 's1' }), 'kitchen'), { kind: 'stopListening', sessionId: 's1' });
  t.deepEqual(parseHermes('hermes/asr/toggleOff', msg({ siteId: 'kitchen', reason: 'ttsSay' }), 'kitchen'), { kind: 'toggleOff', sessionId: null });
  t.deepEqual(parseHermes('hermes/asr/toggleOn', msg({ siteId: 'kitchen' }), 'kitchen'), { kind: 'toggleOn', sessionId: null });
  t.is(parseHermes('hermes/asr/toggleOn', msg({ siteId: 'bedroom' }), 'kitchen'), null);
  t.is(parseHermes('hermes/asr/startListening', Buffer.from('{not json'), 'kitchen'), null);
  // no siteId means Rhasspy's "default"
  t.deepEqual(parseHermes('hermes/asr/toggleOn', msg({}), 'default'), { kind: 'toggleOn', sessionId: null });
});
