import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { parseWav, readWav16kMono, WavError } from '../daemon/audio/wav.js';
import { resample, Resampler } from '../daemon/audio/resample.js';
import { tmpDir } from './helpers/tmp.js';

const dir = tmpDir('wav');

/** sox writes the reference files, so the parser is checked against an independent writer. */
function sox(name: string, args: string[], synth = ['synth', '1', 'sine', '1000', 'vol', '0.5']): string {
  const file = path.join(dir, name);
  execFileSync('sox', ['-n', ...args, file, ...synth]);
  return file;
}

/** Amplitude of a frequency component (single-bin DFT) over a span. */
function tone(x: Float32Array, freq: number, rate = 16000, from = 1000, to = x.length - 1000): number {
  let re = 0;
  let im = 0;
  for (let i = from; i < to; i++) {
    re += x[i] * Math.cos((2 * Math.PI * freq * i) / rate);
    im += x[i] * Math.sin((2 * Math.PI * freq * i) / rate);
  }
  return (2 * Math.hypot(re, im)) / (to - from);
}

const formats: [string, string[]][] = [
  ['u8', ['-b', '8', '-e', 'unsigned-integer']],
  ['s16', ['-b', '16', '-e', 'signed-integer']],
  ['s24', ['-b', '24', '-e', 'signed-integer']],
  ['s32', ['-b', '32', '-e', 'signed-integer']],
  ['f32', ['-b', '32', '-e', 'floating-point']],
  ['f64', ['-b', '64', '-e', 'floating-point']],
];
const rates = [8000, 16000, 22050, 44100, 48000];

for (const [fmt, bits] of formats) {
  for (const rate of rates) {
    for (const channels of [1, 2]) {
      test(`${fmt} ${rate} Hz ${channels} ch -> 16 kHz mono, tone and level preserved`, (t) => {
        const file = sox(`${fmt}-${rate}-${channels}.wav`, ['-r', String(rate), '-c', String(channels), ...bits]);
        const { samples, format } = readWav16kMono(file);
        t.is(format.sampleRate, rate);
        t.is(format.channels, channels);
        t.is(samples.length, 16000);
        const level = tone(samples, 1000);
        t.true(Math.abs(level - 0.5) < (fmt === 'u8' ? 0.02 : 0.005), `1 kHz amplitude ${level}`);
        t.true(tone(samples, 3000) < 0.01);
      });
    }
  }
}

test('WAVE_FORMAT_EXTENSIBLE (sox writes it for 6 channels) is read', (t) => {
  const file = sox('ext.wav', ['-r', '16000', '-c', '6', '-b', '24', '-e', 'signed-integer']);
  const buf = fs.readFileSync(file);
  t.is(buf.readUInt16LE(20), 0xfffe);
  const { samples } = readWav16kMono(file);
  t.true(Math.abs(tone(samples, 1000) - 0.5) < 0.005);
});

test('resampling removes what the new rate cannot carry and keeps what it can', (t) => {
  const n = 48000;
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = 0.5 * Math.sin((2 * Math.PI * 6000 * i) / 48000) + 0.5 * Math.sin((2 * Math.PI * 11000 * i) / 48000);
  const y = resample(x, 48000, 16000);
  t.is(y.length, 16000);
  t.true(Math.abs(tone(y, 6000) - 0.5) < 0.01, 'a 6 kHz tone passes');
  // 11 kHz would alias to 5 kHz at 16 kHz: torchaudio's default filter (which the model was trained
  // with) keeps such an alias at least 40 dB down
  t.true(tone(y, 5000) < 0.005, `alias at 5 kHz: ${tone(y, 5000)}`);
});

test('resampling equals torchaudio.functional.resample, which made the training audio', (t) => {
  const n = 12345;
  const x = new Float32Array(n);
  let seed = 7;
  for (let i = 0; i < n; i++) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    x[i] = 0.3 * Math.sin(i / 7) + 0.2 * (seed / 2 ** 31 - 0.5);
  }
  const input = path.join(dir, 'resample-in.f32');
  fs.writeFileSync(input, Buffer.from(x.buffer));
  for (const rate of [8000, 22050, 44100, 48000]) {
    const output = path.join(dir, `resample-${rate}.f32`);
    const script = `import sys, numpy as np, torch, torchaudio
x = torch.from_numpy(np.fromfile(sys.argv[1], dtype=np.float32))
torchaudio.functional.resample(x, int(sys.argv[2]), 16000).numpy().astype(np.float32).tofile(sys.argv[3])`;
    execFileSync('/usr/bin/python3', ['-c', script, input, String(rate), output]);
    const ref = new Float32Array(new Uint8Array(fs.readFileSync(output)).buffer);
    const y = resample(x, rate, 16000);
    t.is(y.length, ref.length, `${rate} Hz: length`);
    let worst = 0;
    for (let i = 0; i < y.length; i++) worst = Math.max(worst, Math.abs(y[i] - ref[i]));
    t.true(worst < 1e-4, `${rate} Hz -> 16 kHz differs from torchaudio by ${worst}`);
  }
});

test('streaming resampler gives the same samples whatever the chunking', (t) => {
  const x = new Float32Array(44100);
  for (let i = 0; i < x.length; i++) x[i] = Math.sin(i * 0.01) * 0.3 + Math.sin(i * 0.37) * 0.2;
  const whole = resample(x, 44100, 16000);
  const r = new Resampler(44100, 16000);
  const parts: number[] = [];
  for (let i = 0; i < x.length; i += 333) parts.push(...r.push(x.subarray(i, Math.min(x.length, i + 333))));
  parts.push(...r.flush(x.length, parts.length));
  t.is(parts.length, whole.length);
  let maxDiff = 0;
  for (let i = 0; i < whole.length; i++) maxDiff = Math.max(maxDiff, Math.abs(whole[i] - parts[i]));
  t.true(maxDiff < 1e-6);
});

test('malformed and unsupported files give errors that say what is wrong', (t) => {
  const good = fs.readFileSync(sox('good.wav', ['-r', '16000', '-c', '1', '-b', '16']));
  const write = (name: string, data: Buffer) => {
    const f = path.join(dir, name);
    fs.writeFileSync(f, data);
    return f;
  };
  t.throws(() => readWav16kMono(write('trunc.wav', good.subarray(0, 1000))), {
    instanceOf: WavError,
    message: /trunc\.wav: truncated: the data chunk declares 32000 bytes but only 956 follow/,
  });
  t.throws(() => readWav16kMono(write('tiny.wav', good.subarray(0, 8))), { message: /too short to be a WAV file/ });
  t.throws(() => readWav16kMono(write('text.wav', Buffer.from('hello, this is not audio at all'))), { message: /not a WAV file/ });
  const alaw = sox('alaw.wav', ['-r', '8000', '-c', '1', '-e', 'a-law']);
  t.throws(() => readWav16kMono(alaw), { message: /unsupported encoding \(format tag 6\)/ });
  const noData = Buffer.from(good.subarray(0, 36));
  noData.writeUInt32LE(28, 4);
  t.throws(() => readWav16kMono(write('nodata.wav', noData)), { message: /no data chunk/ });
  const odd = Buffer.from(good.subarray(0, 44 + 101));
  odd.writeUInt32LE(101, 40);
  t.throws(() => readWav16kMono(write('odd.wav', odd)), { message: /not a whole number of 2-byte frames/ });
  const twelveBit = Buffer.from(good);
  twelveBit.writeUInt16LE(12, 34);
  t.throws(() => parseWav(twelveBit, 'x.wav'), { message: /unsupported sample width: 12-bit PCM/ });
  t.throws(() => readWav16kMono(path.join(dir, 'absent.wav')), { message: /absent\.wav: cannot read: ENOENT/ });
});

test('a data chunk with the streaming length 0xFFFFFFFF is read to the end of the file', (t) => {
  const good = Buffer.from(fs.readFileSync(sox('stream.wav', ['-r', '16000', '-c', '1', '-b', '16'])));
  good.writeUInt32LE(0xffffffff, 40);
  const { samples } = parseWav(good) && readWav16kMono(path.join(dir, 'stream.wav'));
  t.is(parseWav(good).channels[0].length, 16000);
  t.is(samples.length, 16000);
});
