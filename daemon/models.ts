// Loading the three models through the engine addon, with errors that say which file and why.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { native, type PvadModel, type SpeakerEncoder, type TransducerModel } from './native.js';

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
}

async function load<T>(file: string, what: string, loader: (f: string) => Promise<T>): Promise<T> {
  checkReadable(file, what);
  try {
    return await loader(file);
  } catch (err) {
    throw new ModelError(`cannot load the ${what} model ${file}: ${(err as Error).message}`);
  }
}

export const loadTransducer = (file: string): Promise<TransducerModel> => load(file, 'speech recognition', (f) => native().loadTransducer(f));
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

/** The speaker-encoder name a pVAD model was trained with (its embeddings must come from it). */
export function pvadSpeakerEncoderName(pvad: PvadModel): string | undefined {
  const v = pvad.info.metadata['earshot.spkenc_name'];
  return typeof v === 'string' ? v : undefined;
}
