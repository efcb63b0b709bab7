import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import test from 'ava';
import { ConfigError, loadConfig, validateConfig } from '../daemon/config.js';
import { repoRoot, tmpDir } from './helpers/tmp.js';

const bad = (doc: unknown, key: string, phrase: RegExp) => {
  const err = (() => {
    try {
      validateConfig(doc);
    } catch (e) {
      return e as ConfigError;
    }
    throw new Error(`accepted ${JSON.stringify(doc)}`);
  })();
  return { err, key, phrase };
};

test('the shipped config/earshot.yaml is valid and equals the built-in defaults', (t) => {
  const shipped = loadConfig(path.join(repoRoot, 'config', 'earshot.yaml'));
  const defaults = validateConfig({});
  t.deepEqual(shipped, defaults);
  t.is(shipped.site, 'default');
  t.is(shipped.mqtt.url, null);
  t.is(shipped.vad.mode, 'target');
  t.true(shipped.models.transducer.endsWith(path.join('models', 'earshot-en-int4.gguf')));
});

test('every invalid case names its key', (t) => {
  const cases = [
    bad({ site: 'kitchen one' }, 'site', /letters, digits/),
    bad({ sitee: 'x' }, 'sitee', /unknown key "sitee"/),
    bad({ audio: { source: 'pulse' } }, 'audio.source', /must be one of "alsa", "file", "stdin"/),
    bad({ audio: { source: 'file' } }, 'audio.file', /audio.file is not set/),
    bad({ audio: { stdin: { format: 's8' } } }, 'audio.stdin.format', /must be one of/),
    bad({ audio: { retry: { initial_ms: 5000, max_ms: 100 } } }, 'audio.retry.initial_ms', /must not exceed/),
    bad({ audio: { devicee: 'hw:0' } }, 'audio.devicee', /unknown key "audio.devicee"/),
    bad({ segmenter: { trailing_ms: 'long' } }, 'segmenter.trailing_ms', /expected number, got string/),
    bad({ segmenter: { max_segment_ms: 10 } }, 'segmenter.max_segment_ms', /greater than or equal to 500/),
    bad({ vad: { threshold: 1.5 } }, 'vad.threshold', /less than 1/),
    bad({ vad: { threshold: 0.4, close_threshold: 0.6 } }, 'vad.close_threshold', /must not exceed vad.threshold/),
    bad({ vad: { profiles: [{ name: 'a' }] } }, 'vad.profiles.0.file', /is required/),
    bad({ mqtt: { url: 'http://broker' } }, 'mqtt.url', /mqtt:\/\/ or mqtts:\/\//),
    bad({ mqtt: { protocol_version: 3 } }, 'mqtt.protocol_version', /./),
    bad({ mqtt: { cert: 'c.pem' } }, 'mqtt.cert', /together/),
    bad({ mqtt: { password: 'x', password_env: 'PW' } }, 'mqtt.password_env', /not both/),
    bad({ mqtt: { password_env: 'EARSHOT_TEST_UNSET_VARIABLE' } }, 'mqtt.password_env', /is not set/),
    bad({ mqtt: { prefix: 'a/#' } }, 'mqtt.prefix', /wildcards/),
    bad({ recognizer: { beam: 0 } }, 'recognizer.beam', /greater than or equal to 1/),
    bad({ recognizer: { hot_phrases: [{ phrase: '' }] } }, 'recognizer.hot_phrases.0.phrase', /at least 1/),
    bad({ outbox: { max_entries: 0 } }, 'outbox.max_entries', /greater than or equal to 1/),
    bad({ homeassistant: { enabled: 'yes' } }, 'homeassistant.enabled', /expected boolean/),
    bad({ log_level: 'verbose' }, 'log_level', /must be one of/),
  ];
  for (const c of cases) {
    t.true(c.err instanceof ConfigError, c.key);
    t.is(c.err.key, c.key, c.err.message);
    t.true(c.err.message.includes(c.key), `${c.key}: ${c.err.message}`);
    t.regex(c.err.message, c.phrase);
  }
});

test('a file that is not a mapping, or not YAML, is refused clearly', (t) => {
  const dir = tmpDir('cfg');
  const list = path.join(dir, 'list.yaml');
  fs.writeFileSync(list, '- a\n- b\n');
  t.throws(() => loadConfig(list), { message: /must be a YAML mapping/ });
  const broken = path.join(dir, 'broken.yaml');
  fs.writeFileSync(broken, 'site: [unclosed\n');
  t.throws(() => loadConfig(broken), { message: /broken.yaml is not valid YAML/ });
  t.throws(() => loadConfig(path.join(dir, 'missing.yaml')), { message: /cannot read configuration file .*ENOENT/ });
});

test('relative paths resolve against the file; overrides win; the password never prints', (t) => {
  const dir = tmpDir('cfg');
  const file = path.join(dir, 'e.yaml');
  fs.writeFileSync(
    file,
    'site: attic\naudio: {source: file, file: a.wav}\nmqtt: {password: hunter2, ca: certs/ca.pem}\nvad: {profiles: [{file: alice.json}]}\n',
  );
  const cfg = loadConfig(file, { site: 'garage', mqttUrl: 'mqtts://b:8883' });
  t.is(cfg.site, 'garage');
  t.is(cfg.mqtt.url, 'mqtts://b:8883');
  t.is(cfg.audio.file, path.join(dir, 'a.wav'));
  t.is(cfg.mqtt.ca, path.join(dir, 'certs', 'ca.pem'));
  t.is(cfg.vad.profiles[0].file, path.join(dir, 'alice.json'));
  const out = spawnSync(process.execPath, [path.join(repoRoot, 'bin', 'earshot'), 'check-config', file], { encoding: 'utf8' });
  t.is(out.status, 0, out.stderr);
  t.false(out.stdout.includes('hunter2'));
  t.is(JSON.parse(out.stdout).mqtt.password, '(set)');
});

test('check-config exits non-zero naming the bad key', (t) => {
  const dir = tmpDir('cfg');
  const file = path.join(dir, 'bad.yaml');
  fs.writeFileSync(file, 'segmenter:\n  trailing_ms: -5\n');
  const out = spawnSync(process.execPath, [path.join(repoRoot, 'bin', 'earshot'), 'check-config', file], { encoding: 'utf8' });
  t.is(out.status, 2);
  t.regex(out.stderr, /segmenter\.trailing_ms/);
  t.is(out.stdout, '');
});
