// Band-limited resampling (windowed sinc, polyphase table for the rational ratio).
// Streaming: push() any number of samples, get what can be computed; flush() pads the tail.
//
// The filter is torchaudio.functional.resample's default (Hann-windowed sinc, 6 zero crossings,
// cut-off at 0.99 of the lower Nyquist), because the model's training audio was resampled with it:
// a sharper filter here removes the images above 4 kHz that 8 kHz training audio carried, and the
// recognizer then errs several times more often on 8 kHz input (bench/RESULTS.md measured it).
const ZERO_CROSSINGS = 6; // torchaudio's lowpass_filter_width
const ROLLOFF = 0.99;

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

export class Resampler {
  private readonly up: number; // L
  private readonly down: number; // M
  private readonly halfTaps: number; // input samples each side of the centre
  private readonly table: Float32Array[]; // [phase][tap]
  private buffer = new Float32Array(0);
  /** input index (in buffer coordinates) of the next output's integer position, times L plus phase */
  private nextPos = 0; // in units of 1/L input samples, relative to buffer[0]
  private readonly passthrough: boolean;

  constructor(
    readonly inRate: number,
    readonly outRate: number,
  ) {
    if (!(inRate > 0 && outRate > 0 && Number.isInteger(inRate) && Number.isInteger(outRate))) {
      throw new Error(`cannot resample from ${inRate} Hz to ${outRate} Hz`);
    }
    const g = gcd(inRate, outRate);
    this.up = outRate / g;
    this.down = inRate / g;
    this.passthrough = inRate === outRate;
    const cutoff = Math.min(1, outRate / inRate) * ROLLOFF; // of the input Nyquist
    this.halfTaps = Math.ceil(ZERO_CROSSINGS / cutoff) + 1;
    const taps = 2 * this.halfTaps;
    this.table = [];
    for (let phase = 0; phase < this.up; phase++) {
      const frac = phase / this.up;
      const row = new Float32Array(taps);
      for (let t = 0; t < taps; t++) {
        const x = t - (this.halfTaps - 1) - frac; // distance from the output position, in input samples
        const r = Math.max(-1, Math.min(1, (x * cutoff) / ZERO_CROSSINGS));
        const window = Math.cos((Math.PI / 2) * r) ** 2;
        const arg = Math.PI * cutoff * x;
        const sinc = x === 0 ? 1 : Math.sin(arg) / arg;
        row[t] = cutoff * sinc * window;
      }
      this.table.push(row);
    }
    // Start with halfTaps-1 zeros of history so the first output lines up with input sample 0.
    this.buffer = new Float32Array(this.halfTaps - 1);
    this.nextPos = (this.halfTaps - 1) * this.up;
  }

  push(input: Float32Array): Float32Array {
    if (this.passthrough) return input; // the input itself, not a copy
    const merged = new Float32Array(this.buffer.length + input.length);
    merged.set(this.buffer);
    merged.set(input, this.buffer.length);
    const taps = 2 * this.halfTaps;
    const out: number[] = [];
    for (;;) {
      const base = Math.floor(this.nextPos / this.up);
      const phase = this.nextPos - base * this.up;
      const first = base - (this.halfTaps - 1);
      if (first + taps > merged.length) break;
      const row = this.table[phase];
      let acc = 0;
      for (let t = 0; t < taps; t++) acc += row[t] * merged[first + t];
      out.push(acc);
      this.nextPos += this.down;
    }
    // Keep only the history the next output needs.
    const keepFrom = Math.max(0, Math.floor(this.nextPos / this.up) - (this.halfTaps - 1));
    this.buffer = merged.slice(keepFrom);
    this.nextPos -= keepFrom * this.up;
    return Float32Array.from(out);
  }

  /** Pads with silence so the last input samples produce their outputs. */
  flush(totalIn: number, producedSoFar: number): Float32Array {
    if (this.passthrough) return new Float32Array(0);
    const expected = Math.ceil((totalIn * this.up) / this.down);
    const tail = this.push(new Float32Array(2 * this.halfTaps));
    return tail.subarray(0, Math.max(0, expected - producedSoFar));
  }
}

/** Whole-buffer convenience: exactly ceil(n * out / in) samples. */
export function resample(input: Float32Array, inRate: number, outRate: number): Float32Array {
  if (inRate === outRate) return input;
  const r = new Resampler(inRate, outRate);
  const head = r.push(input);
  const tail = r.flush(input.length, head.length);
  const out = new Float32Array(head.length + tail.length);
  out.set(head);
  out.set(tail, head.length);
  return out;
}
