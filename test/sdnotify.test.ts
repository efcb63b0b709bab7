import './helpers/quiet.js';
import test from 'ava';
import { SystemdNotifier } from '../daemon/sdnotify.js';
import { NotifySocket } from './helpers/notify-socket.js';
import { tmpDir } from './helpers/tmp.js';

test.serial('the addon sends READY/STATUS/WATCHDOG/STOPPING datagrams; the watchdog pauses while unhealthy', async (t) => {
  const sock = await NotifySocket.bind(tmpDir('notify'));
  process.env.NOTIFY_SOCKET = sock.path;
  process.env.WATCHDOG_USEC = '100000'; // 100 ms: pings every 50 ms
  process.env.WATCHDOG_PID = String(process.pid);
  const n = new SystemdNotifier();
  n.ready('listening');
  let healthy = true;
  n.startWatchdog(() => (healthy ? null : 'no audio frames for 3000 ms'));
  await sock.until(() => sock.count((m) => m === 'WATCHDOG=1') >= 4, 5000, 'pings');
  healthy = false;
  await sock.until(() => sock.messages().includes('STATUS=unhealthy: no audio frames for 3000 ms'), 5000, 'unhealthy status');
  const pingsAtStall = sock.count((m) => m === 'WATCHDOG=1');
  await new Promise((r) => setTimeout(r, 400));
  t.is(
    sock.count((m) => m === 'WATCHDOG=1'),
    pingsAtStall,
    'no ping while unhealthy',
  );
  healthy = true;
  await sock.until(() => sock.count((m) => m === 'WATCHDOG=1') >= pingsAtStall + 2, 5000, 'pings resume');
  n.stopping();
  await sock.until(() => sock.messages().includes('STOPPING=1'), 2000, 'stopping');
  const after = sock.count((m) => m === 'WATCHDOG=1');
  await new Promise((r) => setTimeout(r, 200));
  t.is(
    sock.count((m) => m === 'WATCHDOG=1'),
    after,
    'no ping after STOPPING=1',
  );
  t.is(sock.messages()[0], 'READY=1\nSTATUS=listening');
  sock.close();
});

test.serial('the watchdog interval is half of WATCHDOG_USEC, and only for our pid', (t) => {
  t.is(SystemdNotifier.watchdogIntervalMs({ WATCHDOG_USEC: '20000000' }), 10000);
  t.is(SystemdNotifier.watchdogIntervalMs({ WATCHDOG_USEC: '20000000', WATCHDOG_PID: '1' }), undefined);
  t.is(SystemdNotifier.watchdogIntervalMs({}), undefined);
});
