// Audio sources deliver 16 kHz mono float samples as 'audio' events. They differ in pacing and in
// how they fail: a file ends, stdin closes, a microphone can vanish and come back.
import { EventEmitter } from 'node:events';

export type MicStateName = 'starting' | 'capturing' | 'lost' | 'stopped' | 'ended';

export interface MicState {
  state: MicStateName;
  source: 'alsa' | 'file' | 'stdin';
  device: string;
  error?: string;
  /** when lost: the back-off before the next attempt */
  retry_in_ms?: number;
  restarts: number;
}

export interface AudioSourceEvents {
  audio: [samples: Float32Array];
  state: [state: MicState];
  end: [];
}

export abstract class AudioSource extends EventEmitter<AudioSourceEvents> {
  abstract readonly kind: MicState['source'];
  abstract readonly device: string;
  /** true when the source is paced by a clock (microphone, --realtime file): lag is meaningful */
  abstract readonly live: boolean;
  protected current: MicState | undefined;

  abstract start(): void;
  abstract stop(): Promise<void>;

  state(): MicState | undefined {
    return this.current;
  }

  protected setState(state: MicStateName, extra: Partial<MicState> = {}): void {
    this.current = { state, source: this.kind, device: this.device, restarts: this.current?.restarts ?? 0, ...extra };
    this.emit('state', this.current);
  }
}
