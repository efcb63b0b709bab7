// Binds a unix datagram socket for NOTIFY_SOCKET (Node has none: python3 holds it) and records
// every sd_notify datagram with its arrival time.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

const LISTENER = `
import json, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print(json.dumps({"ready": True}), flush=True)
while True:
    data = s.recv(65536)
    print(json.dumps({"t": time.time(), "msg": data.decode()}), flush=True)
`;

export class NotifySocket {
  readonly datagrams: { t: number; msg: string }[] = [];
  private proc!: ChildProcess;

  constructor(readonly path: string) {}

  static async bind(dir: string): Promise<NotifySocket> {
    const s = new NotifySocket(path.join(dir, 'notify.sock'));
    s.proc = spawn('/usr/bin/python3', ['-c', LISTENER, s.path], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      let buf = '';
      s.proc.stdout!.on('data', (d) => {
        buf += d.toString();
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = JSON.parse(buf.slice(0, nl));
          buf = buf.slice(nl + 1);
          if (line.ready) resolve();
          else s.datagrams.push({ t: line.t * 1000, msg: line.msg });
        }
      });
      s.proc.once('exit', (code) => reject(new Error(`notify socket listener exited with ${code}`)));
    });
    return s;
  }

  messages(): string[] {
    return this.datagrams.map((d) => d.msg);
  }

  count(pred: (msg: string) => boolean): number {
    return this.datagrams.filter((d) => pred(d.msg)).length;
  }

  async until(pred: () => boolean, timeoutMs = 20000, what = 'datagram'): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pred()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.messages().slice(-10))}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  close(): void {
    if (this.proc.exitCode === null) this.proc.kill();
  }
}
