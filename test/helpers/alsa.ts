// A sound card that is a file: an .asoundrc with a `type file` PCM whose `infile` is raw
// S16_LE audio makes `arecord -D <name>` read that file (the null slave supplies no clock, so
// arecord reads as fast as it is consumed).
import fs from 'node:fs';
import path from 'node:path';

export function fileMicrophone(home: string, pcmName: string, infile: string): void {
  fs.mkdirSync(home, { recursive: true });
  fs.writeFileSync(
    path.join(home, '.asoundrc'),
    `pcm.${pcmName} {\n  type file\n  slave.pcm { type null }\n  file "/dev/null"\n  infile "${infile}"\n  format raw\n}\n`,
  );
}

/** Raw S16_LE of a float signal. */
export function s16(samples: Float32Array): Buffer {
  const b = Buffer.alloc(samples.length * 2);
  for (let i = 0; i < samples.length; i++) b.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(samples[i] * 32767))), i * 2);
  return b;
}

export function chirp(n: number, rate = 16000): Float32Array {
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = 0.4 * Math.sin(2 * Math.PI * (200 + (1800 * i) / n) * (i / rate));
  return x;
}
