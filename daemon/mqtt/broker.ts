// The embedded broker (aedes) used when no broker URL is configured: it listens on the loopback
// interface by default, so local clients (Node-RED, the demo printer) can subscribe with no set-up.
// With mqtt.username and a password, every client (the daemon too) must give them.
import crypto from 'node:crypto';
import net from 'node:net';
import aedesModule from 'aedes';
import { childLogger } from '../log.js';

const log = childLogger('broker');

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

export interface EmbeddedBroker {
  url: string;
  port: number;
  close(): Promise<void>;
}

type AedesInstance = { handle: (s: net.Socket) => unknown; close(cb?: () => void): void };
type Authenticate = (
  client: unknown,
  username: string | undefined,
  password: Buffer | undefined,
  done: (err: (Error & { returnCode: number }) | null, ok: boolean | null) => void,
) => void;

export interface BrokerAuth {
  username: string;
  password: string;
}

const same = (a: Buffer, b: Buffer) => a.length === b.length && crypto.timingSafeEqual(a, b);

export async function startEmbeddedBroker(host: string, port: number, auth?: BrokerAuth): Promise<EmbeddedBroker> {
  const authenticate: Authenticate | undefined = auth
    ? (_client, username, password, done) => {
        if (
          username !== undefined &&
          same(Buffer.from(username), Buffer.from(auth.username)) &&
          password !== undefined &&
          same(password, Buffer.from(auth.password))
        )
          return done(null, true);
        log.warn({ user: username ?? null }, 'embedded broker: a client gave a wrong username or password');
        done(Object.assign(new Error('bad user name or password'), { returnCode: 4 }), null);
      }
    : undefined;
  const broker = (aedesModule as unknown as { createBroker(o: { authenticate?: Authenticate }): AedesInstance }).createBroker(
    authenticate ? { authenticate } : {},
  );
  if (!auth && !isLoopback(host))
    log.warn(
      { host },
      'the embedded MQTT broker listens beyond this machine without authentication: anyone on the network can send commands and read transcripts (set mqtt.username and mqtt.password_env)',
    );
  const server = net.createServer((socket) => broker.handle(socket));
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new Error(
          err.code === 'EADDRINUSE'
            ? `cannot start the embedded MQTT broker: ${host}:${port} is already in use (set mqtt.embedded.port, or mqtt.url to use that broker)`
            : `cannot start the embedded MQTT broker on ${host}:${port}: ${err.message}`,
        ),
      ),
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
