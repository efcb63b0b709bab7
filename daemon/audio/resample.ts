// Band-limited resampling (windowed sinc, Kaiser window, polyphase table for the rational ratio).
// Streaming: push() any number of samples, get what can be computed; flush() pads the tail.

const ZERO_CROSSINGS = 32; // per side, at the lower of the two rates: a narrow transition band, ~-80 dB stop band
const KAISER_BETA = 8.6;

function besselI0(x: number): number {
  let sum = 1;
  let term = 1;
  for (let k = 1; k < 50; k++) {
    term *= (x / (2 * k)) ** 2;
    sum += term;
    if (term < 1e-12 * sum) break;
  }
  return sum;
}

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
    const cutoff = Math.min(1, outRate / inRate) * 0.95; // of the input Nyquist: the transition band ends near the new Nyquist
    this.halfTaps = Math.ceil(ZERO_CROSSINGS / cutoff);
    const taps = 2 * this.halfTaps;
    const i0Beta = besselI0(KAISER_BETA);
    this.table = [];
    for (let phase = 0; phase < this.up; phase++) {
      const frac = phase / this.up;
      const row = new Float32Array(taps);
      let sum = 0;
      for (let t = 0; t < taps; t++) {
        const x = t - (this.halfTaps - 1) - frac; // distance from the output position, in input samples
        const r = x / this.halfTaps;
        const window = Math.abs(r) >= 1 ? 0 : besselI0(KAISER_BETA * Math.sqrt(1 - r * r)) / i0Beta;
        const arg = Math.PI * cutoff * x;
        const sinc = x === 0 ? 1 : Math.sin(arg) / arg;
        row[t] = cutoff * sinc * window;
        sum += row[t];
      }
      // unity DC gain per phase, so a constant stays constant
      for (let t = 0; t < taps; t++) row[t] /= sum;
      this.table.push(row);
    }
    // Start with halfTaps-1 zeros of history so the first output lines up with input sample 0.
    this.buffer = new Float32Array(this.halfTaps - 1);
    this.nextPos = (this.halfTaps - 1) * this.up;
  }

  push(input: Float32Array): Float32Array {
    if (this.passthrough) return input.slice();
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
