// .ci/deps, which npm test runs first: on a machine without the tools it names each missing Debian
// package and the exact commands that install them. Simulated with a PATH holding only what the
// script itself runs.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { repoRoot, tmpDir } from './helpers/tmp.js';

function deps(tools: string[], env: Record<string, string> = {}, args: string[] = []) {
  const bin = tmpDir('deps-bin');
  for (const t of ['dirname', ...tools]) {
    const found = ['/usr/bin', '/bin', '/usr/local/bin'].map((d) => path.join(d, t)).find((f) => fs.existsSync(f));
    if (!found) throw new Error(`${t} is not installed here`);
    fs.symlinkSync(found, path.join(bin, t));
  }
  return spawnSync('/bin/bash', [path.join(repoRoot, '.ci', 'deps'), ...args], { encoding: 'utf8', env: { PATH: bin, ...env } });
}

test('a bare PATH: every tool-probed package is named, with the apt-get line and .ci/test', (t) => {
  const r = deps([]);
  t.is(r.status, 1, r.stderr);
  const missing = /Missing for the test suite: (.*)/.exec(r.stderr)![1].split(' ');
  for (const pkg of [
    'nodejs',
    'npm',
    'build-essential',
    'cmake',
    'sox',
    'espeak-ng',
    'clang',
    'qemu-user',
    'g++-aarch64-linux-gnu',
    'black',
    'flake8',
  ]) {
    t.true(missing.includes(pkg), `${pkg} in ${missing}`);
  }
  t.false(missing.includes('lintian'), 'packaging tools only with --packaging');
  t.true(r.stderr.includes(`apt-get update && apt-get install --no-install-recommends ${missing.join(' ')}`));
  t.regex(r.stderr, /as root: {2}bash \.ci\/deps --install$/m);
  t.regex(r.stderr, /bash \.ci\/test$/m);
});

test('native stages left out need not have their tools; --packaging adds lintian', (t) => {
  const r = deps([], { EARSHOT_NATIVE_STAGES: 'native' }, ['--packaging']);
  const missing = /Missing for the test suite: (.*)/.exec(r.stderr)![1].split(' ');
  t.false(missing.includes('clang'), 'clang is for the asan and fuzz stages');
  t.false(missing.includes('g++-arm-linux-gnueabihf'));
  t.true(missing.includes('qemu-user'), 'the native stage runs the binaries under qemu-x86_64 too');
  t.true(missing.includes('lintian'));
  t.regex(r.stderr, /bash \.ci\/deps --install --packaging$/m);
});

test('a tool present on PATH is not asked for; bad arguments are refused', (t) => {
  const r = deps(['sox', 'cmake']);
  const missing = /Missing for the test suite: (.*)/.exec(r.stderr)![1].split(' ');
  t.false(missing.includes('sox'));
  t.false(missing.includes('cmake'));
  const bad = deps([], {}, ['--instal']);
  t.is(bad.status, 2);
  t.regex(bad.stderr, /usage: bash \.ci\/deps \[--install\] \[--packaging\]/);
});
