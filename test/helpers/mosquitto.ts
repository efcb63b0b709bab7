// A real mosquitto on a free port, started and stopped by the test (plain, TLS, or with a password file).
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

async function waitForPort(port: number, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`mosquitto did not listen on ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface TlsFiles {
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

/** A throw-away CA, a server certificate for 127.0.0.1/localhost and a client certificate, made by openssl. */
export function makeTestCa(dir: string): TlsFiles {
  const f = (n: string) => path.join(dir, n);
  const ossl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  ossl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '2',
    '-subj',
    '/CN=Earshot Test CA',
    '-keyout',
    f('ca.key'),
    '-out',
    f('ca.pem'),
  );
  for (const who of ['server', 'client']) {
    ossl(
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      `/CN=${who === 'server' ? 'localhost' : 'earshot-client'}`,
      '-keyout',
      f(`${who}.key`),
      '-out',
      f(`${who}.csr`),
    );
    fs.writeFileSync(f(`${who}.ext`), who === 'server' ? 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' : 'extendedKeyUsage=clientAuth\n');
    ossl(
      'x509',
      '-req',
      '-in',
      f(`${who}.csr`),
      '-CA',
      f('ca.pem'),
      '-CAkey',
      f('ca.key'),
      '-CAcreateserial',
      '-days',
      '2',
      '-extfile',
      f(`${who}.ext`),
      '-out',
      f(`${who}.pem`),
    );
  }
  return {
    ca: f('ca.pem'),
    serverCert: f('server.pem'),
    serverKey: f('server.key'),
    clientCert: f('client.pem'),
    clientKey: f('client.key'),
  };
}

export class Mosquitto {
  private proc: ChildProcess | undefined;
  private readonly conf: string;
  log = '';

  constructor(
    readonly dir: string,
    readonly port: number,
    opts: { tls?: TlsFiles; users?: Record<string, string>; acl?: string } = {},
  ) {
    fs.mkdirSync(dir, { recursive: true });
    // Started as root, mosquitto would switch to its own user, which cannot read our 0700 temp dirs.
    const lines = [
      `user ${os.userInfo().username}`,
      `listener ${port} 127.0.0.1`,
      'persistence false',
      'log_dest stderr',
      'log_type error',
      'log_type warning',
    ];
    if (opts.users) {
      const pw = path.join(dir, 'passwd');
      fs.writeFileSync(pw, '');
      for (const [u, p] of Object.entries(opts.users)) execFileSync('mosquitto_passwd', ['-b', pw, u, p]);
      lines.push('allow_anonymous false', `password_file ${pw}`);
    } else lines.push('allow_anonymous true');
    if (opts.acl) {
      const acl = path.join(dir, 'acl');
      fs.writeFileSync(acl, opts.acl);
      lines.push(`acl_file ${acl}`);
    }
    if (opts.tls)
      lines.push(`cafile ${opts.tls.ca}`, `certfile ${opts.tls.serverCert}`, `keyfile ${opts.tls.serverKey}`, 'require_certificate true');
    this.conf = path.join(dir, 'mosquitto.conf');
    fs.writeFileSync(this.conf, lines.join('\n') + '\n');
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const proc = spawn('/usr/sbin/mosquitto', ['-c', this.conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    proc.stderr!.on('data', (d) => (this.log += d.toString()));
    this.proc = proc;
    try {
      await waitForPort(this.port);
    } catch (err) {
      throw new Error(`${(err as Error).message}: ${this.log.trim()}`);
    }
  }

  /** Kills the broker (SIGKILL: no clean disconnects, nothing saved). */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise((r) => proc.once('exit', r));
    proc.kill(signal);
    await gone;
    this.proc = undefined;
  }
}
