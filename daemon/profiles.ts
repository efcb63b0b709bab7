// Speaker profiles: an enrolled voice's embedding, tied to the speaker-encoder model (name and
// sha256) that produced it; an embedding from another model would be meaningless to the pVAD.
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { LoadedSpeakerEncoder } from './models.js';

export const PROFILE_FORMAT = 'earshot-speaker-profile';

/** How well an enrollment's speech hangs together (daemon/enroll.ts rates it; the profile keeps it). */
export interface EnrollmentQuality {
  /** seconds of speech the embedding was made from */
  speech_seconds: number;
  /** pieces of the speech (enroll.ts QUALITY_PIECE_SECONDS long) that were compared */
  pieces: number;
  /**
   * mean cosine of each piece's embedding with the embedding of all the other pieces: about how well
   * a short command of this speaker will match the profile (same speaker, same room: 0.6-0.9)
   */
  consistency: number;
  /** what would make a better profile; empty when nothing would */
  advice: string[];
}

const profileFileSchema = z
  .object({
    format: z.literal(PROFILE_FORMAT),
    version: z.literal(1),
    name: z.string().min(1),
    created: z.string().datetime(),
    model: z.object({ name: z.string().min(1), sha256: z.string().regex(/^[0-9a-f]{64}$/) }),
    speech_seconds: z.number().nonnegative(),
    embedding: z.array(z.number().finite()).min(8),
    // profiles enrolled before the quality figure existed have none
    quality: z
      .object({
        speech_seconds: z.number().nonnegative(),
        pieces: z.number().int().positive(),
        consistency: z.number().min(-1).max(1),
        advice: z.array(z.string()),
      })
      .optional(),
  })
  .passthrough();

export type ProfileFile = z.infer<typeof profileFileSchema>;

export interface Profile {
  name: string;
  file: string;
  embedding: Float32Array;
  data: ProfileFile;
}

export class ProfileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProfileError';
  }
}

export function l2normalize(v: Float32Array): Float32Array {
  let s = 0;
  for (const x of v) s += x * x;
  const n = Math.sqrt(s) || 1;
  return v.map((x) => x / n);
}

export function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return na && nb ? dot / Math.sqrt(na * nb) : 0;
}

export function makeProfile(
  name: string,
  embedding: Float32Array,
  encoder: LoadedSpeakerEncoder,
  speechSeconds: number,
  sources: string[],
  quality?: EnrollmentQuality,
): ProfileFile {
  return {
    format: PROFILE_FORMAT,
    version: 1,
    name,
    created: new Date().toISOString(),
    model: { name: encoder.encoder.info.name, sha256: encoder.sha256 },
    speech_seconds: Math.round(speechSeconds * 100) / 100,
    embedding: Array.from(l2normalize(embedding), (x) => Math.round(x * 1e6) / 1e6),
    sources: sources.map((s) => path.basename(s)),
    ...(quality ? { quality } : {}),
  };
}

/** A profile is a few KiB (an embedding of a few hundred numbers). */
const MAX_PROFILE_BYTES = 1024 * 1024;

/** Reads and checks a profile against the speaker encoder in use; refuses another model's. */
export function loadProfile(file: string, encoder: LoadedSpeakerEncoder | undefined, embedDim: number | undefined, name?: string): Profile {
  let doc: unknown;
  let text: string;
  try {
    // a device, a FIFO or a huge file is refused before it is read
    const st = fs.statSync(file);
    if (!st.isFile()) throw new ProfileError(`speaker profile ${file} is not a regular file`);
    if (st.size > MAX_PROFILE_BYTES)
      throw new ProfileError(`speaker profile ${file} is ${st.size} bytes; a profile is at most ${MAX_PROFILE_BYTES}`);
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if (err instanceof ProfileError) throw err;
    throw new ProfileError(`speaker profile ${file} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  try {
    doc = JSON.parse(text);
  } catch {
    // JSON.parse's message quotes the text: a profile linked to a secret file must not print it
    throw new ProfileError(`speaker profile ${file} is corrupted (not JSON)`);
  }
  const parsed = profileFileSchema.safeParse(doc);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ProfileError(`speaker profile ${file} is corrupted or not a profile: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  const data = parsed.data;
  if (encoder) {
    const ours = encoder.encoder.info.name;
    if (data.model.name !== ours || data.model.sha256 !== encoder.sha256) {
      throw new ProfileError(
        `speaker profile ${file} was made with speaker encoder "${data.model.name}" (sha256 ${data.model.sha256.slice(0, 12)}…), ` +
          `but the configured one is "${ours}" (sha256 ${encoder.sha256.slice(0, 12)}…): enroll again with this model`,
      );
    }
  }
  if (embedDim !== undefined && data.embedding.length !== embedDim) {
    throw new ProfileError(
      `speaker profile ${file} has a ${data.embedding.length}-dimensional embedding, the personal VAD expects ${embedDim}`,
    );
  }
  return { name: name ?? data.name, file, embedding: Float32Array.from(data.embedding), data };
}

export function saveProfile(file: string, profile: ProfileFile): void {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, JSON.stringify(profile, null, 2) + '\n');
  fs.renameSync(tmp, file);
}
