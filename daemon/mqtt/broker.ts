// The embedded broker (aedes) used when no broker URL is configured: it listens on the loopback
// interface only, so local clients (Node-RED, the demo printer) can subscribe with no set-up.
import net from 'node:net';
import aedesModule from 'aedes';
import { childLogger } from '../log.js';

const log = childLogger('broker');

export interface EmbeddedBroker {
  url: string;
  port: number;
  close(): Promise<void>;
}

type AedesInstance = { handle: (s: net.Socket) => unknown; close(cb?: () => void): void };

export async function startEmbeddedBroker(host: string, port: number): Promise<EmbeddedBroker> {
  const broker = (aedesModule as unknown as { createBroker(): AedesInstance }).createBroker();
  const server = net.createServer((socket) => broker.handle(socket));
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new Error(err.code === 'EADDRINUSE' ? `cannot start the embedded MQTT broker: ${host}:${port} is already in use (set mqtt.embedded.port, or mqtt.url to use that broker)` : `cannot start the embedded MQTT broker on ${host}:${port}: ${err.message}`)),
    );
    server.listen(port, host, () => resolve());
  });
  const actual = (server.address() as net.AddressInfo).port;
  log.info({ host, port: actual }, 'embedded MQTT broker listening');
  const sockets = new Set<net.Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  let closing: Promise<void> | undefined;
  return {
    url: `mqtt://${host === '0.0.0.0' ? '127.0.0.1' : host}:${actual}`,
    port: actual,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => broker.close(() => resolve()));
      })),
  };
}
