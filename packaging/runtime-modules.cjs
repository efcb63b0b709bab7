// Prints, one per line, the node_modules folders the installed daemon needs at run time: the closure
// of package.json's dependencies, minus the build-only ones (the package ships a prebuilt addon).
'use strict';
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const BUILD_ONLY = new Set(['cmake-js', 'node-addon-api']);
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));

// Node's lookup: the nearest node_modules/<name> walking up from the requiring package.
function locate(name, fromDir) {
  for (let dir = fromDir; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'node_modules', name);
    if (fs.existsSync(path.join(candidate, 'package.json'))) return candidate;
    if (dir === root || dir === path.dirname(dir)) return null;
  }
}

const seen = new Set();
const queue = Object.keys(pkg.dependencies || {})
  .filter((n) => !BUILD_ONLY.has(n))
  .map((n) => [n, root, false]);
while (queue.length) {
  const [name, from, optional] = queue.shift();
  const dir = locate(name, from);
  if (!dir) {
    if (optional) continue; // e.g. another platform's optional package
    throw new Error(`${name} (needed by ${path.relative(root, from) || 'earshot'}) is not installed: run npm ci`);
  }
  if (seen.has(dir)) continue;
  seen.add(dir);
  const p = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
  for (const dep of Object.keys(p.dependencies || {})) queue.push([dep, dir, false]);
  for (const dep of Object.keys(p.optionalDependencies || {})) queue.push([dep, dir, true]);
}
for (const dir of [...seen].sort()) console.log(path.relative(root, dir));
