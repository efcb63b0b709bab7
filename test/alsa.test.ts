import './helpers/quiet.js';
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { AlsaSource } from '../daemon/audio/alsa-source.js';
import type { MicState } from '../daemon/audio/source.js';
import { chirp, fileMicrophone, s16 } from './helpers/alsa.js';
import { tmpDir } from './helpers/tmp.js';

// arecord reads ~/.asoundrc: give this test process its own HOME with the file microphone.
const home = tmpDir('alsa');
process.env.HOME = home;
const signal = chirp(16000);
const infile = path.join(home, 'mic.raw');
fs.writeFileSync(infile, s16(signal));
const missing = path.join(home, 'unplugged.raw');
fileMicrophone(home, 'earshotmic', infile);
fs.appendFileSync(
  path.join(home, '.asoundrc'),
  `pcm.earshotgone {\n  type file\n  slave.pcm { type null }\n  file "/dev/null"\n  infile "${missing}"\n  format raw\n}\n`,
);

/** Collects audio until `n` samples have arrived since the last (re)start. */
function firstSamples(src: AlsaSource, n: number): Promise<Float32Array> {
  return new Promise((resolve) => {
    const got: number[] = [];
    const onAudio = (x: Float32Array) => {
      for (const v of x) if (got.length < n) got.push(v);
      if (got.length >= n) {
        src.off('audio', onAudio);
        resolve(Float32Array.from(got));
      }
    };
    src.on('audio', onAudio);
  });
}

function waitState(src: AlsaSource, state: MicState['state']): Promise<MicState> {
  return new Promise((resolve) => {
    const on = (s: MicState) => {
      if (s.state === state) {
        src.off('state', on);
        resolve(s);
      }
    };
    src.on('state', on);
  });
}

const maxError = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

test.serial('arecord on a file PCM delivers the file, sample for sample', async (t) => {
  const src = new AlsaSource({ device: 'earshotmic', retry: { initial_ms: 100, max_ms: 400 } });
  const capturing = waitState(src, 'capturing');
  const first = firstSamples(src, 16000);
  src.start();
  t.is((await capturing).device, 'earshotmic');
  t.true(maxError(await first, signal) < 2 / 32768);
  await src.stop();
  t.is(src.state()?.state, 'stopped');
});

test.serial('a killed recorder is reported, retried with back-off, and capture resumes', async (t) => {
  const src = new AlsaSource({ device: 'earshotmic', retry: { initial_ms: 100, max_ms: 400 } });
  const states: MicState[] = [];
  src.on('state', (s) => states.push(s));
  src.start();
  await firstSamples(src, 8000);
  const pid = src.recorderPid!;
  t.truthy(pid);
  const lost = waitState(src, 'lost');
  process.kill(pid, 'SIGKILL');
  const l = await lost;
  t.regex(l.error!, /arecord was killed by SIGKILL/);
  t.is(l.retry_in_ms, 100);
  t.is(l.restarts, 1);
  // The new recorder starts the file again: the resumed audio is the signal from its start.
  const again = firstSamples(src, 16000);
  await waitState(src, 'capturing');
  t.true(maxError(await again, signal) < 2 / 32768);
  t.not(src.recorderPid, pid);
  // Kill it twice more in quick succession: the back-off doubles, capped at max_ms.
  for (const expected of [200, 400]) {
    await firstSamples(src, 1600);
    const next = waitState(src, 'lost');
    process.kill(src.recorderPid!, 'SIGKILL');
    t.is((await next).retry_in_ms, expected);
    await waitState(src, 'capturing');
  }
  await src.stop();
  t.deepEqual(
    states.map((s) => s.state),
    ['starting', 'capturing', 'lost', 'starting', 'capturing', 'lost', 'starting', 'capturing', 'lost', 'starting', 'capturing', 'stopped'],
  );
});

test.serial('a missing device is retried until it appears, then capture starts without a restart', async (t) => {
  fs.rmSync(missing, { force: true });
  const src = new AlsaSource({ device: 'earshotgone', retry: { initial_ms: 100, max_ms: 300 } });
  const lost = waitState(src, 'lost');
  src.start();
  const l = await lost;
  t.regex(l.error!, /arecord exited with code 1.*(No such file|audio open error|unable)/i);
  await waitState(src, 'lost'); // still gone at the next attempt
  const back = firstSamples(src, 16000);
  fs.writeFileSync(missing, s16(signal));
  t.true(maxError(await back, signal) < 2 / 32768);
  t.is(src.state()?.state, 'capturing');
  t.true(src.state()!.restarts >= 2);
  await src.stop();
});
