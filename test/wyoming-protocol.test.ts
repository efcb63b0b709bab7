import './helpers/quiet.js';
import test from 'ava';
import { encodeEvent, EventParser, ProtocolError } from '../daemon/wyoming/protocol.js';
import { frame } from '../bench/lib/wyoming-client.js';

const LIMITS = { headerBytes: 1024, dataBytes: 4096, payloadBytes: 65536 };

// A stream of events in both data styles, with payloads and a blank line between two events.
const payload = Buffer.from(Array.from({ length: 700 }, (_, i) => (i * 7) & 0xff));
const stream = Buffer.concat([
  frame('describe', undefined, undefined, 'block'),
  frame('transcribe', { language: 'en', context: { a: [1, 2] } }, undefined, 'inline'),
  Buffer.from('\n'),
  frame('audio-start', { rate: 16000, width: 2, channels: 1 }, undefined, 'block'),
  frame('audio-chunk', { rate: 16000, width: 2, channels: 1 }, payload, 'inline'),
  frame('audio-chunk', { rate: 16000, width: 2, channels: 1, timestamp: 5 }, payload.subarray(0, 3), 'block'),
  // data inline and in a block: the block is merged over the header's data
  Buffer.concat([
    Buffer.from('{"type":"audio-stop","data":{"timestamp":1,"keep":true},"data_length":15}\n'),
    Buffer.from('{"timestamp":9}'),
  ]),
]);
const expected = [
  { type: 'describe', data: {} },
  { type: 'transcribe', data: { language: 'en', context: { a: [1, 2] } } },
  { type: 'audio-start', data: { rate: 16000, width: 2, channels: 1 } },
  { type: 'audio-chunk', data: { rate: 16000, width: 2, channels: 1 }, payload },
  { type: 'audio-chunk', data: { rate: 16000, width: 2, channels: 1, timestamp: 5 }, payload: payload.subarray(0, 3) },
  { type: 'audio-stop', data: { timestamp: 9, keep: true } },
];

test('the parser reads the same events however the bytes are split: every split point, and byte by byte', (t) => {
  for (let cut = 0; cut <= stream.length; cut += 1) {
    const p = new EventParser(LIMITS);
    const got = [...p.push(stream.subarray(0, cut)), ...p.push(stream.subarray(cut))];
    if (cut % 97 === 0 || cut === stream.length) t.deepEqual(got, expected, `split at ${cut}`);
    else if (JSON.stringify(got) !== JSON.stringify(expected)) t.fail(`split at ${cut}`);
    t.is(p.bufferedBytes, 0);
  }
  const p = new EventParser(LIMITS);
  const got = [];
  for (let i = 0; i < stream.length; i++) got.push(...p.push(stream.subarray(i, i + 1)));
  t.deepEqual(got, expected);
});

test('what the server writes reads back through the parser; data goes in a data_length block, none when empty', (t) => {
  const bytes = encodeEvent('transcript', { text: 'turn on the lights', context: { speaker: { name: 'alice', score: 0.8 } } });
  const header = JSON.parse(bytes.subarray(0, bytes.indexOf(10)).toString());
  t.deepEqual(Object.keys(header).sort(), ['data_length', 'type']);
  t.is(header.data_length, bytes.length - bytes.indexOf(10) - 1);
  t.deepEqual(new EventParser(LIMITS).push(bytes), [
    { type: 'transcript', data: { text: 'turn on the lights', context: { speaker: { name: 'alice', score: 0.8 } } } },
  ]);
  t.is(encodeEvent('transcript-stop').toString(), '{"type":"transcript-stop"}\n');
  t.is(encodeEvent('transcript-stop', {}).toString(), '{"type":"transcript-stop"}\n');
});

test('limits are checked from the header alone (nothing of an oversized block is buffered); a failed parser stays failed', (t) => {
  const p = new EventParser(LIMITS);
  const err = t.throws(() => p.push(Buffer.from('{"type":"audio-chunk","payload_length":99999999}\n')), { instanceOf: ProtocolError });
  t.is(err!.code, 'too-large');
  t.is(p.bufferedBytes, 0);
  t.deepEqual(p.push(frame('describe', undefined, undefined, 'block')), []);
  // a header that never ends is cut at the limit, not buffered without bound
  const q = new EventParser(LIMITS);
  t.deepEqual(q.push(Buffer.alloc(1024, 0x20)), []);
  t.throws(() => q.push(Buffer.from(' ')), { message: /header line longer than 1024 bytes/ });
});
