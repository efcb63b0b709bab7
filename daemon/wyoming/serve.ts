// `earshot serve`: the Wyoming speech-to-text server alone, without microphone or MQTT. It loads
// the recognizer (the speaker encoder when profiles are given, recognizer.sentences when listed),
// serves until SIGTERM/SIGINT.
import fs from 'node:fs';
import { loadConfig } from '../config.js';
import type { Engine } from '../extension.js';
import { loadSentencesFor, resolveIntent, streamOptions } from '../intents.js';
import { loadLmFor } from '../lm.js';
import { childLogger, setLogLevel } from '../log.js';
import { loadSpeakerEncoder, loadTransducer, type LoadedSpeakerEncoder } from '../models.js';
import { loadProfile, type Profile } from '../profiles.js';
import { recognizerOptions } from '../recognizer-options.js';
import { version } from '../version.js';
import { parseUri, WyomingServer } from './server.js';

const log = childLogger('serve');

export interface ServeOptions {
  config?: string;
  uri?: string;
  zeroconf?: boolean;
  profile: string[];
}

export async function runServe(o: ServeOptions): Promise<void> {
  const cfg = loadConfig(o.config);
  if (o.uri !== undefined) cfg.wyoming.uri = o.uri;
  if (o.zeroconf !== undefined) cfg.wyoming.zeroconf = o.zeroconf;
  parseUri(cfg.wyoming.uri); // a bad --uri fails before the models load
  setLogLevel(process.env.EARSHOT_LOG_LEVEL ?? cfg.log_level);
  const profileFiles = [
    ...cfg.vad.profiles.map((p) => ({ file: p.file, name: p.name })),
    ...o.profile.map((file) => ({ file, name: undefined })),
  ];
  const transducer = await loadTransducer(cfg.models.transducer);
  let encoder: LoadedSpeakerEncoder | undefined;
  if (profileFiles.length) {
    if (!fs.existsSync(cfg.models.speaker_encoder))
      throw new Error(`cannot match speakers: the speaker encoder model ${cfg.models.speaker_encoder} does not exist`);
    encoder = await loadSpeakerEncoder(cfg.models.speaker_encoder);
  }
  const profiles: Profile[] = profileFiles.map((p) => loadProfile(p.file, encoder, undefined, p.name));
  const sentences = loadSentencesFor(cfg, transducer);
  const base = recognizerOptions(cfg, loadLmFor(cfg, transducer, sentences));
  const options = sentences ? { ...base, ...streamOptions(sentences) } : base;
  transducer.createStream(options).dispose(); // a hot phrase the model cannot spell fails here, not at the first client
  const engine: Engine = {
    transducer: () => transducer,
    recognizerOptions: () => options,
    speakerEncoder: () => encoder?.encoder,
    profiles: () => profiles,
    resolve: (result) => (sentences ? resolveIntent(sentences, result) : { text: result.text, intent: undefined }),
  };
  const server = new WyomingServer({ cfg: cfg.wyoming, engine, version, site: cfg.site });
  await server.start();
  log.info({ uri: server.uri, model: transducer.info.name, profiles: profiles.map((p) => p.name) }, 'earshot serve running');
  await new Promise<void>((resolve) => {
    const stop = (sig: NodeJS.Signals) => {
      log.info({ signal: sig }, 'shutting down');
      void server.stop().then(resolve);
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  transducer.dispose();
  encoder?.encoder.dispose();
}
