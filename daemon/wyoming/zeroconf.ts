// Zeroconf (mDNS/DNS-SD) advertisement of the Wyoming server as _wyoming._tcp, the service type Home
// Assistant's Wyoming integration discovers. bonjour-service does the multicast DNS; a failure
// there is logged and never stops the server.
import { Bonjour, type Service } from 'bonjour-service';
import type { Logger } from '../log.js';

export class ZeroconfAdvert {
  private bonjour: Bonjour | undefined;
  private service: Service | undefined;

  constructor(private readonly log: Logger) {}

  start(name: string, port: number, txt: Record<string, string>): void {
    try {
      this.bonjour = new Bonjour({}, (err: Error) => this.log.warn({ err: err.message }, 'zeroconf: multicast DNS error'));
      this.service = this.bonjour.publish({ name, type: 'wyoming', protocol: 'tcp', port, txt });
      this.service.on('error', (err: Error) => this.log.warn({ err: err.message, name }, 'zeroconf: advertisement failed'));
      this.log.info({ name, type: '_wyoming._tcp', port }, 'zeroconf: advertising the Wyoming server');
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'zeroconf: cannot advertise the Wyoming server');
    }
  }

  /** Sends the goodbye packets, then closes the multicast socket. */
  stop(): Promise<void> {
    const b = this.bonjour;
    this.bonjour = undefined;
    this.service = undefined;
    if (!b) return Promise.resolve();
    return new Promise((resolve) => {
      const done = setTimeout(resolve, 1000); // goodbyes are best effort
      b.unpublishAll(() =>
        b.destroy(() => {
          clearTimeout(done);
          resolve();
        }),
      );
    });
  }
}
