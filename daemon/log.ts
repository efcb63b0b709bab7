// One pino logger for the whole daemon. Logs go to stderr so that stdout stays clean for the
// JSON lines of `earshot transcribe` / `earshot vad` and the demo's transcript printer.
import { destination, pino, type Logger } from 'pino';

export type { Logger };

let root: Logger = pino({ level: process.env.EARSHOT_LOG_LEVEL ?? 'info', base: undefined }, destination(2));

export function logger(): Logger {
  return root;
}

export function setLogLevel(level: string): void {
  root.level = level;
}

export function childLogger(module: string): Logger {
  return root.child({ module });
}
