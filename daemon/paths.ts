// Where the installation lives, and the default state directory.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The directory holding package.json (works from daemon/ under tsx and from dist/daemon/). */
export function installRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('cannot find the Earshot installation root (no package.json above the daemon)');
    dir = parent;
  }
  return dir;
}

/** systemd's StateDirectory= sets $STATE_DIRECTORY; otherwise the XDG state home. */
export function defaultStateDir(): string {
  if (process.env.STATE_DIRECTORY) return process.env.STATE_DIRECTORY.split(':')[0];
  const base = process.env.XDG_STATE_HOME ?? path.join(os.homedir(), '.local', 'state');
  return path.join(base, 'earshot');
}
