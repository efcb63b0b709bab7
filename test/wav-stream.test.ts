// Streaming WAV input (issue 18): `--input` reads the file a second at a time, so a file of any
// length takes the same memory, and gives exactly the samples the whole-file reader gives.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { FileSource } from '../daemon/audio/file-source.js';
import { readWav16kMono, WavError, WavStream } from '../daemon/audio/wav.js';
import { tmpDir } from './helpers/tmp.js';

const dir = tmpDir('wavstream');

test('streamed pieces equal the whole-file reader, for every width, rate and channel count', (t) => {
  const cases: [string, string[]][] = [
    ['u8-8000-1', ['-r', '8000', '-c', '1', '-b', '8', '-e', 'unsigned-integer']],
    ['s16-44100-2', ['-r', '44100', '-c', '2', '-b', '16', '-e', 'signed-integer']],
    ['s24-48000-1', ['-r', '48000', '-c', '1', '-b', '24', '-e', 'signed-integer']],
    ['f32-22050-2', ['-r', '22050', '-c', '2', '-b', '32', '-e', 'floating-point']],
    ['f64-16000-1', ['-r', '16000', '-c', '1', '-b', '64', '-e', 'floating-point']],
  ];
  for (const [name, args] of cases) {
    const file = path.join(dir, `${name}.wav`);
    execFileSync('sox', ['-n', ...args, file, 'synth', '3.3', 'sine', '300-3000', 'vol', '0.5']);
    const whole = readWav16kMono(file).samples;
    for (const seconds of [0.01, 0.37, 1]) {
      const w = new WavStream(file);
      const parts: number[] = [];
      for (let p = w.read(seconds); p !== null; p = w.read(seconds)) parts.push(...p);
      t.is(parts.length, whole.length, `${name} in ${seconds} s pieces`);
      t.deepEqual(Float32Array.from(parts), whole, `${name} in ${seconds} s pieces`);
    }
  }
});

test('a bad file fails when it is opened, with the same reasons; a FIFO is refused', (t) => {
  const good = path.join(dir, 'good.wav');
  execFileSync('sox', ['-n', '-r', '16000', '-c', '1', '-b', '16', good, 'synth', '1', 'sine', '440']);
  const trunc = path.join(dir, 'trunc.wav');
  fs.writeFileSync(trunc, fs.readFileSync(good).subarray(0, 1001));
  t.throws(() => new WavStream(trunc), { instanceOf: WavError, message: /trunc\.wav: truncated/ });
  t.throws(() => new WavStream(path.join(dir, 'absent.wav')), { message: /absent\.wav: cannot read: ENOENT/ });
  const text = path.join(dir, 'text.wav');
  fs.writeFileSync(text, 'hello, this is not audio at all');
  t.throws(() => new WavStream(text), { message: /not a WAV file/ });
  const fifo = path.join(dir, 'fifo.wav');
  execFileSync('mkfifo', [fifo]);
  t.throws(() => readWav16kMono(fifo), { message: /fifo\.wav: not a regular file/ });
});

test('a long file as a source takes bounded memory (no whole-file load)', async (t) => {
  // 160 MB of 16 kHz mono s16 (83 minutes): loaded whole it would take ~480 MB (bytes + floats)
  const file = path.join(dir, 'long.wav');
  const bytes = 160 * 1024 * 1024;
  const h = Buffer.alloc(44);
  h.write('RIFF', 0);
  h.writeUInt32LE(36 + bytes, 4);
  h.write('WAVEfmt ', 8);
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(1, 22);
  h.writeUInt32LE(16000, 24);
  h.writeUInt32LE(32000, 28);
  h.writeUInt16LE(2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36);
  h.writeUInt32LE(bytes, 40);
  fs.writeFileSync(file, h);
  fs.truncateSync(file, 44 + bytes); // sparse zeros: quick to make
  global.gc?.();
  const before = process.memoryUsage().rss;
  let peak = before;
  let samples = 0;
  const source = new FileSource(file, false);
  source.load();
  await new Promise<void>((resolve) => {
    source.on('audio', (s) => {
      samples += s.length;
      if ((samples & 0xfffff) < s.length) peak = Math.max(peak, process.memoryUsage().rss);
    });
    source.on('end', () => resolve());
    source.start();
  });
  t.is(samples, bytes / 2);
  const grew = (peak - before) / 2 ** 20;
  t.true(grew < 100, `RSS grew by ${grew.toFixed(0)} MiB while streaming`);
  t.is(source.state()?.state, 'ended');
});
