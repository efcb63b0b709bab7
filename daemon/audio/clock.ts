// Maps sample positions of the stream to wall-clock time. A live source is anchored to the time
// its samples arrive, re-anchored after a gap (microphone restart); a file read faster than real
// time is given a virtual timeline starting when reading began.
import { samplesToMs } from '../frames.js';

const RESYNC_MS = 500;

export class AudioClock {
  private epochMs: number | undefined;
  private total = 0;

  constructor(private readonly live: boolean) {}

  /** Call with each chunk as it arrives. */
  arrived(samples: number, nowMs = Date.now()): void {
    this.total += samples;
    const expectedEnd = this.epochMs === undefined ? undefined : this.epochMs + samplesToMs(this.total);
    if (expectedEnd === undefined || (this.live && Math.abs(nowMs - expectedEnd) > RESYNC_MS)) {
      this.epochMs = nowMs - samplesToMs(this.total);
    }
  }

  /** Wall-clock ms of a sample position. */
  wallMs(sample: number): number {
    return (this.epochMs ?? Date.now()) + samplesToMs(sample);
  }

  get samples(): number {
    return this.total;
  }
}
