// The package version, read once from package.json.
import fs from 'node:fs';
import path from 'node:path';
import { installRoot } from './paths.js';

export const version: string = (() => {
  try {
    return JSON.parse(fs.readFileSync(path.join(installRoot(), 'package.json'), 'utf8')).version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
})();
