// node-record-lpcm16 ships no types; this is the part Earshot uses.
declare module 'node-record-lpcm16' {
  import type { ChildProcess } from 'node:child_process';
  interface RecordOptions {
    sampleRate?: number;
    channels?: number;
    recorder?: 'sox' | 'rec' | 'arecord';
    device?: string;
    audioType?: string;
    threshold?: number;
    endOnSilence?: boolean;
  }
  interface Recording {
    process: ChildProcess;
    stream(): NodeJS.ReadableStream;
    stop(): void;
    pause(): void;
    resume(): void;
  }
  const recorder: { record(options?: RecordOptions): Recording };
  export default recorder;
}
