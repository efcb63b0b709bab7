import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { repoRoot, tmpDir } from './helpers/tmp.js';

function exposure(unitFile: string): number {
  const out = spawnSync('systemd-analyze', ['security', '--offline=true', unitFile], { encoding: 'utf8' });
  const m = /Overall exposure level for .*: (\d+\.\d+)/.exec(out.stdout + out.stderr);
  if (!m) throw new Error(`no exposure level in: ${out.stdout}${out.stderr}`);
  return Number(m[1]);
}

const unit = (name: string) => fs.readFileSync(path.join(repoRoot, 'systemd', name), 'utf8');

test('earshot.service is hardened to an exposure of 1.0 or lower', (t) => {
  const score = exposure(path.join(repoRoot, 'systemd', 'earshot.service'));
  t.true(score <= 1.0, `exposure ${score}`);
});

test('the network drop-in opens the private networks and netlink, and nothing else', (t) => {
  const dir = tmpDir('dropin');
  fs.copyFileSync(path.join(repoRoot, 'systemd', 'earshot.service'), path.join(dir, 'earshot.service'));
  fs.mkdirSync(path.join(dir, 'earshot.service.d'));
  fs.copyFileSync(path.join(repoRoot, 'systemd', 'earshot-network.conf'), path.join(dir, 'earshot.service.d', 'network.conf'));
  const out = spawnSync('systemd-analyze', ['security', '--offline=true', path.join(dir, 'earshot.service')], { encoding: 'utf8' }).stdout;
  t.regex(out, /✗ RestrictAddressFamilies=~AF_NETLINK/);
  t.regex(out, /IP address allow list with non-localhost entries/);
  // still far from an open service
  t.true(Number(/Overall exposure level for .*: (\d+\.\d+)/.exec(out)![1]) <= 1.5);
  const text = fs.readFileSync(path.join(repoRoot, 'systemd', 'earshot-network.conf'), 'utf8');
  t.deepEqual(
    text
      .split('\n')
      .filter((l) => /^[A-Z]/.test(l))
      .map((l) => l.split('=')[0]),
    ['IPAddressAllow', 'RestrictAddressFamilies'],
  );
});

test('an earshot@ instance is hardened the same way', (t) => {
  const dir = tmpDir('unit');
  const inst = path.join(dir, 'earshot@kitchen.service');
  fs.copyFileSync(path.join(repoRoot, 'systemd', 'earshot@.service'), inst);
  t.true(exposure(inst) <= 1.0);
});

test('the units are Type=notify with a watchdog, in group audio, with state and configuration directories', (t) => {
  for (const name of ['earshot.service', 'earshot@.service']) {
    const text = unit(name);
    for (const line of [
      'Type=notify',
      'NotifyAccess=main',
      'DynamicUser=yes',
      'SupplementaryGroups=audio',
      'DeviceAllow=char-alsa rw',
      'ProtectSystem=strict',
      'ConfigurationDirectory=earshot',
      'ExecReload=/bin/kill -HUP $MAINPID',
    ]) {
      t.true(text.split('\n').includes(line), `${name}: ${line}`);
    }
    t.regex(text, /^WatchdogSec=\d+s$/m);
    t.regex(text, /^StateDirectory=earshot/m);
    t.notRegex(text, /^MemoryDenyWriteExecute=yes/m, 'V8 needs writable+executable memory');
  }
  t.regex(unit('earshot@.service'), /--config \$\{CONFIGURATION_DIRECTORY\}\/%i\.yaml --site %i/);
  t.regex(unit('earshot@.service'), /^StateDirectory=earshot\/%i$/m);
});

test("the units cap V8's young generation and glibc's arenas (bench/e2e.ts measures memory with them), and Node takes the option from NODE_OPTIONS", (t) => {
  for (const name of ['earshot.service', 'earshot@.service']) {
    const text = unit(name);
    t.true(text.split('\n').includes('Environment=NODE_OPTIONS=--max-semi-space-size=1'), name);
    t.true(text.split('\n').includes('Environment=MALLOC_ARENA_MAX=2'), name);
  }
  // Node refuses V8 options it does not allow in NODE_OPTIONS (and the unit would then fail to start):
  // this one is allowed, and the young generation stays within 3 semi-spaces of 1 MiB under load.
  const script =
    'const a = []; for (let i = 0; i < 2e6; i++) { a.push({ i }); if (a.length > 1e4) a.length = 0; } const s = require("v8").getHeapSpaceStatistics().find((x) => x.space_name === "new_space"); console.log(s.space_size);';
  const capped = spawnSync(process.execPath, ['-e', script], {
    encoding: 'utf8',
    env: { ...process.env, NODE_OPTIONS: '--max-semi-space-size=1' },
  });
  t.is(capped.status, 0, capped.stderr);
  t.true(Number(capped.stdout) <= 3 * 2 ** 20, `new space ${capped.stdout.trim()} bytes`);
});
