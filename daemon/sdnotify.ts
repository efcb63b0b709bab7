// systemd integration (Type=notify): READY=1 once the models are loaded, STATUS= lines,
// STOPPING=1, and WATCHDOG=1 only while the pipeline is healthy, so systemd restarts a daemon
// whose microphone went silent or whose pipeline fell behind. Node cannot send unix datagrams;
// the engine addon's sdNotify() does.
import { childLogger } from './log.js';
import { native } from './native.js';

const log = childLogger('systemd');

export type Sender = (state: string) => boolean;

function addonSender(): Sender {
  if (!process.env.NOTIFY_SOCKET) return () => false;
  return (state) => native().sdNotify(state);
}

export class SystemdNotifier {
  private timer: NodeJS.Timeout | undefined;
  private lastUnhealthy: string | null = null;

  constructor(private readonly send: Sender = addonSender()) {}

  /** The watchdog interval systemd asked for (half of WatchdogSec), or undefined. */
  static watchdogIntervalMs(env = process.env): number | undefined {
    const usec = Number(env.WATCHDOG_USEC);
    if (!Number.isFinite(usec) || usec <= 0) return undefined;
    if (env.WATCHDOG_PID && Number(env.WATCHDOG_PID) !== process.pid) return undefined;
    return Math.max(10, Math.floor(usec / 2000));
  }

  notify(state: string): void {
    try {
      this.send(state);
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'sd_notify failed');
    }
  }

  ready(status: string): void {
    this.notify(`READY=1\nSTATUS=${status}`);
  }

  status(status: string): void {
    this.notify(`STATUS=${status}`);
  }

  stopping(): void {
    this.stopWatchdog();
    this.notify('STOPPING=1');
  }

  /** `problem` returns null when healthy, else why not (logged once per change). */
  startWatchdog(problem: () => string | null): void {
    const interval = SystemdNotifier.watchdogIntervalMs();
    if (interval === undefined) return;
    log.info({ interval_ms: interval }, 'systemd watchdog enabled');
    this.timer = setInterval(() => {
      const why = problem();
      if (why === null) {
        if (this.lastUnhealthy !== null) log.info('pipeline healthy again: watchdog pings resume');
        this.lastUnhealthy = null;
        this.notify('WATCHDOG=1');
      } else if (this.lastUnhealthy === null || why.replace(/\d+/g, '') !== this.lastUnhealthy.replace(/\d+/g, '')) {
        // once per kind of problem, not on every tick as its figures change
        this.lastUnhealthy = why;
        log.warn({ reason: why }, 'withholding the watchdog ping');
        this.notify(`STATUS=unhealthy: ${why}`);
      }
    }, interval);
  }

  stopWatchdog(): void {
    clearInterval(this.timer);
  }
}
