// Issue 18 item 7: values that can never work are refused by the schema (so by check-config and by
// a reload too), each naming its key; and check-config never prints a password or reads a FIFO.
import './helpers/quiet.js';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { ConfigError, validateConfig } from '../daemon/config.js';
import { fixtureModels, writeConfig } from './helpers/daemon.js';
import { repoRoot, tmpDir } from './helpers/tmp.js';

const checkConfig = (file: string) =>
  spawnSync(process.execPath, [path.join(repoRoot, 'bin', 'earshot'), 'check-config', file], { encoding: 'utf8', timeout: 30000 });

const refused = (doc: Record<string, unknown>): ConfigError => {
  try {
    validateConfig(doc);
  } catch (e) {
    return e as ConfigError;
  }
  throw new Error(`accepted ${JSON.stringify(doc).slice(0, 200)}`);
};

test('timers, expiry, sizes, ports and names that can never work are refused, naming the key', (t) => {
  const dir = tmpDir('bounds');
  const file = path.join(dir, 'a-file');
  fs.writeFileSync(file, '');
  const cases: [Record<string, unknown>, string][] = [
    [{ mqtt: { message_expiry_s: 1e10 } }, 'mqtt.message_expiry_s'],
    [{ mqtt: { reconnect_ms: 3e9 } }, 'mqtt.reconnect_ms'],
    [{ outbox: { retry_ms: 3e9 } }, 'outbox.retry_ms'],
    [{ outbox: { drain_timeout_ms: 3e9 } }, 'outbox.drain_timeout_ms'],
    [{ outbox: { max_entries: 1e9 } }, 'outbox.max_entries'],
    [{ audio: { retry: { initial_ms: 3e9, max_ms: 3e9 } } }, 'audio.retry.initial_ms'],
    [{ audio: { retry: { max_ms: 3e9 } } }, 'audio.retry.max_ms'],
    [{ recognizer: { partial_interval_ms: 3e9 } }, 'recognizer.partial_interval_ms'],
    [{ watchdog: { max_lag_ms: 3e9 } }, 'watchdog.max_lag_ms'],
    [{ segmenter: { trailing_ms: 3e9 } }, 'segmenter.trailing_ms'],
    [{ mqtt: { prefix: 'ear\u0000shot' } }, 'mqtt.prefix'],
    [{ mqtt: { prefix: 'x'.repeat(200) } }, 'mqtt.prefix'],
    [{ site: 's'.repeat(1024 * 1024) }, 'site'],
    [{ hermes: { site_id: 'a/b' } }, 'hermes.site_id'],
    [{ homeassistant: { discovery_prefix: 'home/#' } }, 'homeassistant.discovery_prefix'],
    [{ mqtt: { url: 'mqtt://127.0.0.1:99999' } }, 'mqtt.url'],
    [{ mqtt: { url: 'mqtt://:1883' } }, 'mqtt.url'],
    [{ mqtt: { client_id: 'a\nb' } }, 'mqtt.client_id'],
    [{ recognizer: { hot_phrases: Array.from({ length: 101 }, () => ({ phrase: 'x' })) } }, 'recognizer.hot_phrases'],
    [{ state_dir: file }, 'state_dir'],
    [{ vad: { max_profiles: 2, profiles: [{ file: 'a' }, { file: 'b' }, { file: 'c' }] } }, 'vad.profiles'],
    [{ vad: { max_profiles: 100 } }, 'vad.max_profiles'],
  ];
  for (const [doc, key] of cases) {
    const err = refused(doc);
    t.true(err instanceof ConfigError, key);
    t.is(err.key, key, err.message);
    t.true(err.message.startsWith(key), err.message);
  }
  // the edges that do work are still accepted
  const ok = validateConfig({
    mqtt: { message_expiry_s: 2_592_000, reconnect_ms: 3_600_000, url: 'mqtt://broker:65535' },
    site: 's'.repeat(64),
    state_dir: dir,
  });
  t.is(ok.mqtt.reconnect_ms, 3_600_000);
});

test('check-config: refuses a hot phrase the model cannot spell, a FIFO and an oversized file; redacts user:password in mqtt.url', (t) => {
  const dir = tmpDir('cc');
  const models = fixtureModels();
  const hot = writeConfig(path.join(dir, 'hot.yaml'), {
    models: { transducer: models.transducer },
    recognizer: { hot_phrases: [{ phrase: '厨房的灯' }] },
  });
  const r = checkConfig(hot);
  t.is(r.status, 2, r.stderr);
  t.regex(r.stderr, /recognizer\.hot_phrases: .*cannot be spelled/);
  t.is(r.stdout, '');

  const fifo = path.join(dir, 'fifo.yaml');
  execFileSync('mkfifo', [fifo]);
  const f = checkConfig(fifo);
  t.is(f.status, 2, f.stderr);
  t.regex(f.stderr, /not a regular file/);

  const big = path.join(dir, 'big.yaml');
  fs.writeFileSync(big, `# ${'x'.repeat(2 * 1024 * 1024)}\n`);
  const b = checkConfig(big);
  t.is(b.status, 2, b.stderr);
  t.regex(b.stderr, /at most 1048576 are read/);

  const secret = writeConfig(path.join(dir, 'url.yaml'), { mqtt: { url: 'mqtt://alice:hunter2@broker.lan:1883' } });
  const s = checkConfig(secret);
  t.is(s.status, 0, s.stderr);
  t.false(s.stdout.includes('hunter2'));
  t.is(JSON.parse(s.stdout).mqtt.url, 'mqtt://alice:(set)@broker.lan:1883');
});
