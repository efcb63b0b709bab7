// The Wyoming speech-to-text server (Home Assistant's Assist pipeline, Rhasspy 3): an extension
// that listens on tcp://HOST:PORT or unix://PATH, gives each client its own session and
// recognizer stream (decoding on the addon's native threads), and advertises itself over zeroconf.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { ConfigError, type Config } from '../config.js';
import type { Engine, Extension, Feature } from '../extension.js';
import { childLogger } from '../log.js';
import { Session } from './session.js';
import { ZeroconfAdvert } from './zeroconf.js';

const log = childLogger('wyoming');

export type WyomingConfig = Config['wyoming'];

export type Listen = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string };

/** tcp://HOST:PORT (IPv6 hosts in brackets) or unix://PATH. */
export function parseUri(uri: string): Listen {
  const tcp = /^tcp:\/\/(\[[^\]]+\]|[^\s:/]+):(\d{1,5})$/.exec(uri);
  if (tcp) {
    const port = Number(tcp[2]);
    if (port > 65535) throw new ConfigError(`wyoming.uri: port ${port} is out of range`, 'wyoming.uri');
    return { kind: 'tcp', host: tcp[1].replace(/^\[|\]$/g, ''), port };
  }
  const unix = /^unix:\/\/(\S+)$/.exec(uri);
  if (unix) return { kind: 'unix', path: unix[1] };
  throw new ConfigError(`wyoming.uri must be tcp://HOST:PORT or unix://PATH, got ${JSON.stringify(uri)}`, 'wyoming.uri');
}

/** Languages the model speaks: its metadata, else the code in its name (earshot-en), else English. */
function modelLanguages(info: { name: string; metadata: Record<string, unknown> }): string[] {
  const meta = info.metadata['general.languages'] ?? info.metadata['general.language'] ?? info.metadata.language;
  if (typeof meta === 'string' && meta) return meta.split(/[,\s]+/).filter(Boolean);
  const m = /-([a-z]{2})(?:[-_]|$)/.exec(info.name);
  return [m ? m[1] : 'en'];
}

export interface WyomingServerOptions {
  cfg: WyomingConfig;
  engine: Engine;
  version: string;
  /** the zeroconf instance name when wyoming.zeroconf_name is not set */
  site: string;
}

export class WyomingServer implements Extension {
  readonly name = 'wyoming';
  private server: net.Server | undefined;
  private readonly sessions = new Set<Session>();
  private readonly zeroconf = new ZeroconfAdvert(log);
  private listen: Listen;
  /** connections accepted and refused since start (tests and the bench read them) */
  accepted = 0;
  refused = 0;

  constructor(private readonly opts: WyomingServerOptions) {
    this.listen = parseUri(opts.cfg.uri);
  }

  /** Where it listens, with the real port when 0 was asked for. */
  get uri(): string {
    if (this.listen.kind === 'unix') return `unix://${this.listen.path}`;
    const addr = this.server?.address();
    const port = addr && typeof addr === 'object' ? addr.port : this.listen.port;
    const host = this.listen.host.includes(':') ? `[${this.listen.host}]` : this.listen.host;
    return `tcp://${host}:${port}`;
  }

  get clients(): number {
    return this.sessions.size;
  }

  info(): Record<string, unknown> {
    const model = this.opts.engine.transducer().info;
    // the project's homepage, as the Debian package names it
    const attribution = { name: 'Earshot', url: 'https://github.com/earshot/earshot' };
    return {
      asr: [
        {
          name: 'earshot',
          description: 'Earshot: streaming on-device speech recognition that knows who spoke',
          attribution,
          installed: true,
          version: this.opts.version,
          models: [
            {
              name: model.name,
              description: `${model.name} (${model.architecture})`,
              attribution,
              installed: true,
              version: this.opts.version,
              languages: modelLanguages(model),
            },
          ],
          supports_transcript_streaming: this.opts.cfg.streaming,
        },
      ],
    };
  }

  async start(): Promise<void> {
    const c = this.opts.cfg;
    const server = net.createServer((socket) => this.onConnection(socket));
    this.server = server;
    if (this.listen.kind === 'unix') {
      // a socket file left by a process that died is in the way; anything else is not ours to remove
      const p = this.listen.path;
      if (fs.existsSync(p)) {
        if (!fs.statSync(p).isSocket()) throw new Error(`cannot listen on unix://${p}: the path exists and is not a socket`);
        fs.rmSync(p);
      }
    }
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) =>
        reject(
          new Error(
            `cannot start the Wyoming server on ${c.uri}: ${err.code === 'EADDRINUSE' ? 'the address is already in use' : err.message}`,
          ),
        ),
      );
      if (this.listen.kind === 'unix') server.listen(this.listen.path, () => resolve());
      else server.listen(this.listen.port, this.listen.host, () => resolve());
    });
    server.on('error', (err) => log.error({ err: err.message }, 'wyoming server error'));
    log.info({ uri: this.uri, streaming: c.streaming, max_clients: c.max_clients }, 'wyoming server listening');
    if (c.zeroconf && this.listen.kind === 'tcp') {
      if (/^(127\.|::1$|localhost$)/.test(this.listen.host))
        log.warn({ uri: this.uri }, 'zeroconf: advertising a server that listens on loopback only: other machines cannot reach it');
      const addr = server.address();
      const port = addr && typeof addr === 'object' ? addr.port : this.listen.port;
      this.zeroconf.start(c.zeroconf_name ?? `earshot-${this.opts.site}-${os.hostname()}`.slice(0, 63), port, {
        version: this.opts.version,
      });
    }
  }

  private onConnection(socket: net.Socket): void {
    const c = this.opts.cfg;
    if (this.sessions.size >= c.max_clients) {
      this.refused++;
      log.warn(
        { remote: socket.remoteAddress ?? 'unix socket', max_clients: c.max_clients },
        'wyoming: too many clients, connection refused',
      );
      socket.destroy();
      return;
    }
    this.accepted++;
    socket.setNoDelay(true);
    socket.setTimeout(c.idle_timeout_s * 1000, () => {
      log.info({ remote: socket.remoteAddress ?? 'unix socket', idle_s: c.idle_timeout_s }, 'wyoming: closing an idle connection');
      socket.destroy();
    });
    const session = new Session(
      socket,
      this.opts.engine,
      {
        limits: { headerBytes: c.max_header_bytes, dataBytes: c.max_data_bytes, payloadBytes: c.max_payload_bytes },
        streaming: c.streaming,
        maxAudioS: c.max_audio_s,
        info: () => this.info(),
        languages: () => modelLanguages(this.opts.engine.transducer().info),
      },
      log,
      (s) => this.sessions.delete(s),
    );
    this.sessions.add(session);
    log.debug({ remote: session.remote, clients: this.sessions.size }, 'wyoming: client connected');
  }

  async stop(): Promise<void> {
    await this.zeroconf.stop();
    const server = this.server;
    this.server = undefined;
    for (const s of [...this.sessions]) s.close();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    if (this.listen.kind === 'unix') fs.rmSync(this.listen.path, { force: true });
    log.info('wyoming server stopped');
  }
}

export const wyoming: Feature = {
  name: 'wyoming',
  configOf: (cfg) => [cfg.site, cfg.wyoming],
  create: (ctx, cfg) =>
    cfg.wyoming.enabled ? new WyomingServer({ cfg: cfg.wyoming, engine: ctx.engine, version: ctx.version, site: cfg.site }) : undefined,
};
