// Memory telemetry, a debugging aid (bench/e2e.ts uses it): EARSHOT_MEMORY_LOG_MS=N logs the
// process's memory every N ms at info level ("memory": rss, V8 heap, external and ArrayBuffer bytes
// in MiB, the audio received so far in seconds, and the V8 heap in use just after the last full
// garbage collection, the live JS heap, which a leak in JS would make grow). An extension, on when
// the variable is set.
import { PerformanceObserver, constants as perfConstants } from 'node:perf_hooks';
import v8 from 'node:v8';
import type { Extension, ExtensionContext, Feature } from './extension.js';
import { samplesToSeconds } from './frames.js';
import { childLogger } from './log.js';

const log = childLogger('daemon');
const mib = (n: number) => Math.round((n / 2 ** 20) * 100) / 100;

export class MemoryLog implements Extension {
  readonly name = 'memory-log';
  private timer: NodeJS.Timeout | undefined;
  private gcObserver: PerformanceObserver | undefined;
  private majorGcs = 0;
  private liveHeap = NaN;

  constructor(
    private readonly ctx: ExtensionContext,
    private readonly everyMs: number,
  ) {}

  async start(): Promise<void> {
    this.gcObserver = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        if (((e as { detail?: unknown }).detail as { kind?: number } | undefined)?.kind !== perfConstants.NODE_PERFORMANCE_GC_MAJOR)
          continue;
        this.majorGcs++;
        this.liveHeap = v8.getHeapStatistics().used_heap_size;
      }
    });
    this.gcObserver.observe({ entryTypes: ['gc'] });
    this.sample();
    this.timer = setInterval(() => this.sample(), this.everyMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.gcObserver?.disconnect();
  }

  private sample(): void {
    const m = process.memoryUsage();
    const s = this.ctx.status();
    log.info(
      {
        rss: mib(m.rss),
        heap_total: mib(m.heapTotal),
        heap_used: mib(m.heapUsed),
        external: mib(m.external),
        array_buffers: mib(m.arrayBuffers),
        heap_after_major_gc: this.majorGcs ? mib(this.liveHeap) : null,
        major_gcs: this.majorGcs,
        audio_s: Math.round(samplesToSeconds(s.audioSamples) * 100) / 100,
        transcripts: s.transcripts,
        outbox: s.outbox.pending,
      },
      'memory',
    );
  }
}

export const memoryLog: Feature = {
  name: 'memory-log',
  create: (ctx) => {
    const everyMs = Number(process.env.EARSHOT_MEMORY_LOG_MS ?? 0);
    return everyMs > 0 ? new MemoryLog(ctx, everyMs) : undefined;
  },
};
