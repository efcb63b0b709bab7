// A typed event bus over node's EventEmitter. Listeners are registered per owner, so an extension
// that stops removes exactly its own; a listener that throws is logged and does not reach the
// emitter (a bug in one feature never breaks the pipeline that emitted the event).
import { EventEmitter } from 'node:events';
import { childLogger } from './log.js';

const log = childLogger('events');

type Listener = (...args: unknown[]) => void;

export class EventBus<Events extends { [K in keyof Events]: unknown[] }> {
  private readonly emitter = new EventEmitter();
  private readonly byOwner = new Map<object, [event: string, listener: Listener][]>();

  constructor() {
    // every extension may listen to the same event: no "possible leak" warning at 11
    this.emitter.setMaxListeners(0);
  }

  on<K extends keyof Events & string>(owner: object, event: K, fn: (...args: Events[K]) => void): void {
    const guarded: Listener = (...args) => {
      try {
        fn(...(args as Events[K]));
      } catch (err) {
        log.error({ event, err: (err as Error).message }, 'an event listener failed');
      }
    };
    this.emitter.on(event, guarded);
    const owned = this.byOwner.get(owner) ?? [];
    owned.push([event, guarded]);
    this.byOwner.set(owner, owned);
  }

  emit<K extends keyof Events & string>(event: K, ...args: Events[K]): void {
    this.emitter.emit(event, ...args);
  }

  /** Removes every listener the owner registered. */
  off(owner: object): void {
    for (const [event, fn] of this.byOwner.get(owner) ?? []) this.emitter.off(event, fn);
    this.byOwner.delete(owner);
  }

  listenerCount<K extends keyof Events & string>(event: K): number {
    return this.emitter.listenerCount(event);
  }
}
