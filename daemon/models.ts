// Loading the three models through the engine addon, with errors that say which file and why.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { ConfigError } from './config.js';
import { native, type HotPhrase, type ModelInfo, type PvadModel, type SpeakerEncoder, type TransducerModel } from './native.js';

export class ModelError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelError';
  }
}

function checkReadable(file: string, what: string): void {
  try {
    fs.accessSync(file, fs.constants.R_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ModelError(`${what} model ${file} ${code === 'ENOENT' ? 'does not exist' : `cannot be read (${code})`}`);
  }
  // /dev/zero or a FIFO would be read forever
  if (!fs.statSync(file).isFile()) throw new ModelError(`${what} model ${file} is not a regular file`);
}

/** A hot phrase the model cannot spell fails when a segment opens: refuse it at start, on reload
 * and in check-config instead. */
export function checkHotPhrases(transducer: TransducerModel, hotPhrases: HotPhrase[]): void {
  if (!hotPhrases.length) return;
  try {
    transducer.createStream({ hotPhrases }).dispose();
  } catch (err) {
    throw new ConfigError(`recognizer.hot_phrases: ${(err as Error).message.replace(/^createStream: /, '')}`, 'recognizer.hot_phrases');
  }
}

async function load<T>(file: string, what: string, loader: (f: string) => Promise<T>): Promise<T> {
  checkReadable(file, what);
  try {
    return await loader(file);
  } catch (err) {
    throw new ModelError(`cannot load the ${what} model ${file}: ${(err as Error).message}`);
  }
}

export const loadTransducer = (file: string): Promise<TransducerModel> =>
  load(file, 'speech recognition', (f) => native().loadTransducer(f));
export const loadPvad = (file: string): Promise<PvadModel> => load(file, 'personal VAD', (f) => native().loadPvad(f));

export interface LoadedSpeakerEncoder {
  encoder: SpeakerEncoder;
  /** sha256 of the file: a profile belongs to exactly this model */
  sha256: string;
  file: string;
}

export async function loadSpeakerEncoder(file: string): Promise<LoadedSpeakerEncoder> {
  const encoder = await load(file, 'speaker encoder', (f) => native().loadSpeakerEncoder(f));
  const sha256 = crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
  return { encoder, sha256, file };
}

/** A model metadata value, whether the addon reports it bare ("embed_dim") or as in the file ("earshot.embed_dim"). */
function meta(info: ModelInfo, key: string): string | number | boolean | undefined {
  return info.metadata[key] ?? info.metadata[`earshot.${key}`];
}

/** The speaker-encoder name a pVAD model was trained with (its embeddings must come from it). */
export function pvadSpeakerEncoderName(pvad: PvadModel): string | undefined {
  const v = meta(pvad.info, 'spkenc_name');
  return typeof v === 'string' && v ? v : undefined;
}

/** The embedding size the pVAD expects. */
export function pvadEmbedDim(pvad: PvadModel): number | undefined {
  const v = Number(meta(pvad.info, 'embed_dim'));
  return Number.isFinite(v) && v > 0 ? v : undefined;
}
