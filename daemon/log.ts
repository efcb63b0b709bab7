// One pino logger for the whole daemon. Logs go to stderr so that stdout stays clean for the
// JSON lines of `earshot transcribe` / `earshot vad` and the demo's transcript printer.
import { destination, pino, type Logger } from 'pino';

export type { Logger };

const root: Logger = pino({ level: process.env.EARSHOT_LOG_LEVEL ?? 'info', base: undefined }, destination(2));
// pino children keep the level they were made with: remember them so log_level reaches them all.
const children: Logger[] = [];

export function logger(): Logger {
  return root;
}

export function setLogLevel(level: string): void {
  root.level = level;
  for (const c of children) c.level = level;
}

export function childLogger(module: string): Logger {
  const child = root.child({ module });
  children.push(child);
  return child;
}
