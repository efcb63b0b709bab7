import './helpers/quiet.js';
import test from 'ava';
import { parseHermes, textCaptured, vadPayload, vadTopic } from '../daemon/mqtt/hermes.js';
import { transcriptFor } from './helpers/link.js';

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
  t.deepEqual(parseHermes('hermes/asr/startListening', msg({ siteId: 'kitchen', sessionId: 's1', stopOnSilence: true }), 'kitchen'), {
    kind: 'startListening',
    sessionId: 's1',
  });
  t.deepEqual(parseHermes('hermes/asr/stopListening', msg({ siteId: 'kitchen', sessionId: 's1' }), 'kitchen'), {
    kind: 'stopListening',
    sessionId: 's1',
  });
  t.deepEqual(parseHermes('hermes/asr/toggleOff', msg({ siteId: 'kitchen', reason: 'ttsSay' }), 'kitchen'), {
    kind: 'toggleOff',
    sessionId: null,
  });
  t.deepEqual(parseHermes('hermes/asr/toggleOn', msg({ siteId: 'kitchen' }), 'kitchen'), { kind: 'toggleOn', sessionId: null });
  t.is(parseHermes('hermes/asr/toggleOn', msg({ siteId: 'bedroom' }), 'kitchen'), null);
  // malformed: a reason to log, never a throw (null, arrays and other non-objects included)
  t.deepEqual(parseHermes('hermes/asr/startListening', Buffer.from('{not json'), 'kitchen'), { error: 'payload is not JSON' });
  t.deepEqual(parseHermes('hermes/asr/toggleOn', Buffer.from('null'), 'kitchen'), { error: 'payload must be a JSON object, got null' });
  t.deepEqual(parseHermes('hermes/asr/toggleOn', Buffer.from('[1]'), 'kitchen'), { error: 'payload must be a JSON object, got an array' });
  // no siteId means Rhasspy's "default"
  t.deepEqual(parseHermes('hermes/asr/toggleOn', msg({}), 'default'), { kind: 'toggleOn', sessionId: null });
});
