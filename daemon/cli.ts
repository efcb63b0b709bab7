// The `earshot` command line. Exact forms are relied on by the benchmarks and outside checks:
//   earshot run [--config FILE] [--input FILE.wav] [--realtime] [--mqtt-url URL] [--site NAME]
//   earshot transcribe [--model FILE] [--profile FILE] [--sentences FILE] FILE...
//   earshot vad [--profile FILE] [--frames] FILE...
//   earshot enroll --out PROFILE FILE...
//   earshot check-config FILE
//   earshot serve [--config FILE] [--uri URI] [--no-zeroconf] [--profile FILE]...
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import mqtt from 'mqtt';
import { readWav16kMono } from './audio/wav.js';
import { ConfigError, loadConfig, redactedConfig, type ConfigOverrides } from './config.js';
import { Daemon } from './daemon.js';
import { enroll, GOOD_SPEECH_SECONDS, MIN_SPEECH_SECONDS } from './enroll.js';
import { logger, setLogLevel } from './log.js';
import { checkHotPhrases, loadPvad, loadSpeakerEncoder, loadTransducer } from './models.js';
import { lmLines, lmSourceOf } from './lm.js';
import { runTranscribe, runVad } from './offline.js';
import { installRoot } from './paths.js';
import { makeProfile, saveProfile } from './profiles.js';
import { loadSentences, SentenceError } from './sentences.js';
import type { Transcript } from './transcript.js';
import { version } from './version.js';
import { runServe } from './wyoming/serve.js';

const collect = (value: string, previous: string[]) => [...previous, value];
const port = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('must be a port number');
  return n;
};

function printLine(obj: unknown): void {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

/** The demo's subscriber: prints transcripts as they arrive on the broker. */
function startPrinter(url: string, prefix: string): Promise<mqtt.MqttClient> {
  const client = mqtt.connect(url, { clientId: `earshot-demo-printer-${process.pid}`, reconnectPeriod: 500 });
  client.on('message', (_topic, payload) => {
    const t = JSON.parse(payload.toString()) as Transcript;
    const who = t.speaker ? ` [${t.speaker.name} ${t.speaker.score.toFixed(2)}]` : '';
    const delivered = Date.now() - Date.parse(t.end);
    process.stdout.write(
      `${t.end.slice(11, 23)} ${t.site}${who}: "${t.text}"   (${t.duration_s.toFixed(2)} s of speech; delivered ${delivered} ms after it ended)\n`,
    );
  });
  return new Promise((resolve) => {
    client.once('connect', () => client.subscribe(`${prefix}/+/transcript`, { qos: 1 }, () => resolve(client)));
  });
}

async function runCommand(opts: {
  config?: string;
  input?: string;
  realtime?: boolean;
  mqttUrl?: string;
  site?: string;
  demo?: boolean;
  port?: number;
  stateDir?: string;
}): Promise<void> {
  const overrides: ConfigOverrides = {
    input: opts.input,
    realtime: opts.realtime,
    mqttUrl: opts.mqttUrl,
    site: opts.site,
    embeddedPort: opts.port,
    stateDir: opts.stateDir,
  };
  let demoState: string | undefined;
  if (opts.demo) {
    // The README's first command: bundled sample, real time, embedded broker, and a printer.
    overrides.input ??= path.join(installRoot(), 'samples', 'sample.wav');
    overrides.realtime = true;
    overrides.site ??= 'demo';
    demoState = fs.mkdtempSync(path.join(os.tmpdir(), 'earshot-demo-'));
    overrides.stateDir ??= demoState;
    overrides.embeddedPort ??= 0;
    // the printed transcripts are the show; the JSON log only for problems (unless configured)
    if (!opts.config) overrides.logLevel = process.env.EARSHOT_LOG_LEVEL ?? 'warn';
  }
  const daemon = new Daemon({ configFile: opts.config, overrides, exitAtEnd: opts.input !== undefined || opts.demo });
  let printer: mqtt.MqttClient | undefined;
  const onSignal = (sig: NodeJS.Signals) => void daemon.shutdown(sig);
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  process.on('SIGHUP', () => daemon.requestReload());
  await daemon.start();
  if (opts.demo && daemon.link) {
    printer = await startPrinter(daemon.brokerUrl, daemon.cfg.mqtt.prefix);
    process.stdout.write(
      `Listening to ${daemon.cfg.audio.file} in real time; transcripts arrive on ${daemon.brokerUrl} topic ${daemon.link.topics.transcript}\n`,
    );
  }
  await daemon.finished();
  if (printer) await new Promise((r) => setTimeout(r, 300)).then(() => printer!.endAsync());
  if (demoState) fs.rmSync(demoState, { recursive: true, force: true });
  // Shutdown is complete (capture stopped, outbox drained or journalled): do not let a stray
  // handle (stdin, a native worker) keep a stopped daemon alive.
  process.exit(process.exitCode ?? 0);
}

export function buildProgram(): Command {
  const program = new Command('earshot').description('Personal-VAD speech front-end: microphone -> transcripts over MQTT').version(version);
  program.showHelpAfterError();

  program
    .command('run')
    .description('run the daemon')
    .option('--config <file>', 'YAML configuration file')
    .option('--input <file.wav>', 'read this WAV file instead of the microphone; exits when it is done')
    .option('--realtime', 'pace --input in real time')
    .option('--mqtt-url <url>', 'mqtt:// or mqtts:// broker (default: the embedded broker)')
    .option('--site <name>', 'site name used in topics')
    .addOption(new Option('--port <n>', 'embedded broker port').argParser(port))
    .addOption(new Option('--state-dir <dir>', 'state directory (outbox, profiles)'))
    .addOption(new Option('--demo', 'the bundled sample, in real time, with a transcript printer').hideHelp(false))
    .action(runCommand);

  program
    .command('transcribe')
    .description('transcribe WAV files offline; one JSON line per segment on stdout')
    .option('--config <file>', 'YAML configuration file (models, segmenter, recognizer)')
    .option('--model <file>', 'transducer model (default from the configuration)')
    .option('--profile <file>', 'speaker profile (repeatable): only that speaker is transcribed', collect, [])
    .option('--sentences <file>', 'Home Assistant sentence file (repeatable): text is the matched sentence, plus "intent"', collect, [])
    .argument('<files...>')
    .action(async (files: string[], o: { config?: string; model?: string; profile: string[]; sentences: string[] }) => {
      const cfg = loadConfig(o.config);
      if (o.model) cfg.models.transducer = path.resolve(o.model);
      cfg.recognizer.sentences.push(...o.sentences.map((f) => path.resolve(f)));
      await runTranscribe(
        files,
        cfg,
        o.profile.map((p) => path.resolve(p)),
        printLine,
      );
    });

  program
    .command('vad')
    .description('personal VAD over WAV files: segments, or per-frame posteriors with --frames')
    .option('--config <file>', 'YAML configuration file')
    .option('--profile <file>', 'speaker profile (repeatable)', collect, [])
    .option('--frames', 'print per-frame posteriors [non-speech, target speech, other speech]')
    .argument('<files...>')
    .action(async (files: string[], o: { config?: string; profile: string[]; frames?: boolean }) => {
      const cfg = loadConfig(o.config);
      await runVad(
        files,
        cfg,
        o.profile.map((p) => path.resolve(p)),
        !!o.frames,
        printLine,
      );
    });

  program
    .command('enroll')
    .description(
      `make a speaker profile from recordings (at least ${MIN_SPEECH_SECONDS} s of speech in total, ${GOOD_SPEECH_SECONDS} s or more is better)`,
    )
    .requiredOption('--out <profile.json>', 'where to write the profile')
    .option('--name <name>', 'speaker name (default: the profile file name)')
    .option('--config <file>', 'YAML configuration file (model paths)')
    .option('--min-speech <seconds>', 'speech needed', (v) => Number(v), MIN_SPEECH_SECONDS)
    .argument('<files...>')
    .action(async (files: string[], o: { out: string; name?: string; config?: string; minSpeech: number }) => {
      const cfg = loadConfig(o.config);
      const recordings = files.map((f) => readWav16kMono(f).samples);
      const [pvad, encoder] = await Promise.all([loadPvad(cfg.models.pvad), loadSpeakerEncoder(cfg.models.speaker_encoder)]);
      const res = await enroll(recordings, pvad, encoder, { minSpeechSeconds: o.minSpeech, threshold: cfg.vad.threshold });
      const name = o.name ?? path.basename(o.out).replace(/\.json$/i, '');
      saveProfile(o.out, makeProfile(name, res.embedding, encoder, res.speechSeconds, files, res.quality));
      process.stderr.write(
        `enrolled "${name}": ${res.speechSeconds.toFixed(1)} s of speech from ${files.length} file(s), consistency ${res.quality.consistency.toFixed(2)} -> ${o.out}\n`,
      );
      for (const a of res.quality.advice) process.stderr.write(`note: ${a}\n`);
    });

  program
    .command('serve')
    .description('Wyoming speech-to-text server only (Home Assistant Assist): no microphone, no MQTT')
    .option('--config <file>', 'YAML configuration file (models, recognizer, vad.profiles, wyoming)')
    .option('--uri <uri>', 'tcp://HOST:PORT or unix://PATH (default: wyoming.uri, tcp://0.0.0.0:10300)')
    .option('--no-zeroconf', 'do not advertise the server over mDNS')
    .option('--profile <file>', 'speaker profile (repeatable): transcripts say who spoke', collect, [])
    .action(async (o: { config?: string; uri?: string; zeroconf: boolean; profile: string[] }) => {
      await runServe({
        config: o.config,
        uri: o.uri,
        zeroconf: o.zeroconf ? undefined : false,
        profile: o.profile.map((p) => path.resolve(p)),
      });
      process.exit(process.exitCode ?? 0);
    });

  program
    .command('check-config')
    .description('validate a configuration file and print the effective configuration')
    .argument('<file>')
    .action(async (file: string) => {
      const cfg = loadConfig(file);
      // hot phrases are spelled with the model's tokens: checked when the model is there to ask
      if (cfg.recognizer.hot_phrases.length && fs.existsSync(cfg.models.transducer)) {
        const transducer = await loadTransducer(cfg.models.transducer);
        try {
          checkHotPhrases(transducer, cfg.recognizer.hot_phrases);
        } finally {
          transducer.dispose();
        }
      }
      // sentence files and LM texts are read and compiled as the daemon would (exit 2 naming the file and line)
      try {
        if (cfg.recognizer.sentences.length) loadSentences(cfg.recognizer.sentences);
        const lmSource = lmSourceOf(cfg);
        if (lmSource) lmLines(lmSource);
      } catch (err) {
        if (err instanceof SentenceError) throw new ConfigError(`recognizer: ${err.message}`, 'recognizer');
        throw err;
      }
      process.stdout.write(JSON.stringify(redactedConfig(cfg), null, 2) + '\n');
    });

  return program;
}

export async function main(argv = process.argv): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    const e = err as Error;
    // Known user errors get one clear line; anything else its stack, for a bug report.
    const known =
      e instanceof ConfigError ||
      ['WavError', 'ModelError', 'ProfileError', 'EnrollmentError', 'SentenceError'].includes(e.name) ||
      /^cannot /.test(e.message);
    if (known) process.stderr.write(`earshot: ${e.message}\n`);
    else {
      setLogLevel('error');
      logger().error({ err: e }, 'fatal');
      process.stderr.write(`earshot: ${e.message}\n`);
    }
    process.exitCode = e instanceof ConfigError ? 2 : 1;
  }
}
