import './helpers/quiet.js';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { DaemonProcess } from './helpers/daemon.js';
import { freePort, Mosquitto } from './helpers/mosquitto.js';
import { Subscriber } from './helpers/subscriber.js';
import { repoRoot, tmpDir } from './helpers/tmp.js';
import { normalize, percentile, readTruth, wer } from './helpers/truth.js';

// The bundled sample through the shipped models, exactly as a user runs it.
const sample = path.join(repoRoot, 'samples', 'sample.wav');
const truth = readTruth(path.join(repoRoot, 'samples', 'sample.json'));
/** corpus WER the shipped model reaches on the sample with margin (see models/ cards) */
const MAX_WER = 0.35;

test('end to end: samples/sample.wav through `earshot run --input --realtime` arrives on a subscriber as the expected transcripts', async (t) => {
  const dir = tmpDir('e2e');
  const port = await freePort();
  const mq = new Mosquitto(path.join(dir, 'broker'), port);
  await mq.start();
  t.teardown(() => mq.kill());
  const sub = await Subscriber.connect(mq.url, ['earshot/e2e/#']);
  t.teardown(() => sub.close());
  const d = DaemonProcess.start([
    'run',
    '--input',
    sample,
    '--realtime',
    '--mqtt-url',
    mq.url,
    '--site',
    'e2e',
    '--state-dir',
    path.join(dir, 'state'),
  ]);
  t.teardown(() => d.kill('SIGKILL'));
  await d.waitForLog(/earshot running/, 60000);
  // the file starts playing just before the daemon logs that it runs: take that log line's time
  const playing = JSON.parse(d.stderr.split('\n').find((l) => l.includes('earshot running'))!).time as number;
  const exit = await d.exit(truth.at(-1)!.end * 1000 + 60000);
  t.is(exit.code, 0, d.stderr.slice(-2000));
  const got = sub.json('earshot/e2e/transcript');
  t.is(new Set(got.map((m) => m.id)).size, got.length, 'no duplicates on a healthy broker');
  t.is(got.length, truth.length, `transcripts: ${JSON.stringify(got.map((g) => g.text))}`);
  const arrivals = sub.on('earshot/e2e/transcript').map((m) => m.at);
  const latencies: number[] = [];
  let errors = 0;
  let words = 0;
  truth.forEach((seg, i) => {
    const tr = got[i];
    const start = (Date.parse(tr.start) - playing) / 1000;
    const end = (Date.parse(tr.end) - playing) / 1000;
    t.true(start < seg.end && end > seg.start, `segment ${i}: ${start.toFixed(2)}-${end.toFixed(2)} s against ${seg.start}-${seg.end} s`);
    t.is(tr.site, 'e2e');
    t.is(tr.model, got[0].model);
    t.true(tr.tokens.length > 0 && tr.tokens.every((k: any) => typeof k.text === 'string' && k.conf >= 0 && k.conf <= 1));
    const ref = normalize(seg.text);
    errors += wer(ref, normalize(tr.text)) * ref.length;
    words += ref.length;
    latencies.push(arrivals[i] - (playing + seg.end * 1000));
  });
  const corpusWer = errors / words;
  t.log(
    `WER ${(corpusWer * 100).toFixed(1)}% over ${words} words; speech end -> MQTT delivery p50 ${percentile(latencies, 50)} ms, p90 ${percentile(latencies, 90)} ms`,
  );
  t.true(
    corpusWer <= MAX_WER,
    `WER ${corpusWer}: ${JSON.stringify(got.map((g) => g.text))} vs ${JSON.stringify(truth.map((s) => s.text))}`,
  );
  t.deepEqual(
    sub
      .on('earshot/e2e/status')
      .map((m) => m.text)
      .slice(-1),
    ['offline'],
  );
});

test('npm run demo: the bundled sample, embedded broker, transcripts printed as they arrive', async (t) => {
  const d = DaemonProcess.start(['run', '--demo', '--state-dir', tmpDir('demo')]);
  t.teardown(() => d.kill('SIGKILL'));
  const exit = await d.exit(truth.at(-1)!.end * 1000 + 60000);
  t.is(exit.code, 0, d.stderr.slice(-2000));
  const lines = d.stdout.trim().split('\n');
  t.regex(
    lines[0],
    /^Listening to .*sample\.wav in real time; transcripts arrive on mqtt:\/\/127\.0\.0\.1:\d+ topic earshot\/demo\/transcript$/,
  );
  const printed = lines
    .slice(1)
    .filter((l) => /^\d\d:\d\d:\d\d\.\d{3} demo: ".*" {3}\(\d+\.\d\d s of speech; delivered -?\d+ ms after it ended\)$/.test(l));
  t.is(printed.length, truth.length, d.stdout);
});

test('earshot transcribe (and --model): one JSON line per segment, exactly the documented fields; a segment open at the end of the file is closed and transcribed', async (t) => {
  const dir = tmpDir('transcribe');
  // cut the sample inside its last command: that segment is still open when the file ends
  const last = truth.at(-1)!;
  const cut = path.join(dir, 'cut.wav');
  const cutAt = last.start + (last.end - last.start) * 0.7;
  execFileSync('sox', [sample, cut, 'trim', '0', cutAt.toFixed(2)]);
  // --model takes the file it is given (a copy here; a missing one is named in the error)
  const copy = path.join(dir, 'copy-of-int4.gguf');
  fs.copyFileSync(path.join(repoRoot, 'models', 'earshot-en-int4.gguf'), copy);
  const missing = DaemonProcess.start(['transcribe', '--model', path.join(dir, 'absent.gguf'), sample]);
  t.is((await missing.exit()).code, 1);
  t.regex(missing.stderr, /absent\.gguf does not exist/);
  for (const model of [[], ['--model', copy]]) {
    const p = DaemonProcess.start(['transcribe', ...model, sample, cut]);
    t.is((await p.exit(60000)).code, 0, p.stderr);
    const lines = p.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    for (const l of lines) {
      t.deepEqual(Object.keys(l), ['file', 'segment', 'start', 'end', 'text', 'tokens', 'closed_by']);
      for (const k of l.tokens) t.deepEqual(Object.keys(k), ['text', 'start', 'conf']);
      t.true(l.tokens.every((k: any) => k.start >= l.start - 0.5 && k.start <= l.end + 1));
    }
    const whole = lines.filter((l) => l.file === sample);
    const partial = lines.filter((l) => l.file === cut);
    t.deepEqual(
      whole.map((l) => l.segment),
      truth.map((_, i) => i),
    );
    const corpus = (ls: any[]) => normalize(ls.map((l) => l.text).join(' '));
    t.true(wer(normalize(truth.map((s) => s.text).join(' ')), corpus(whole)) <= MAX_WER, JSON.stringify(whole.map((l) => l.text)));
    t.is(partial.length, truth.length, 'the cut command is still transcribed');
    t.true(partial.at(-1).end <= cutAt + 0.01);
    t.true(partial.at(-1).text.length > 0);
    // the sample's commands end in quiet (the model's end-of-utterance head or the silence rule
    // closes them); the cut one ends with the file
    t.true(
      whole.every((l) => l.closed_by === 'end_of_utterance' || l.closed_by === 'silence'),
      JSON.stringify(whole.map((l) => l.closed_by)),
    );
    t.is(partial.at(-1).closed_by, 'end_of_input');
  }
});
