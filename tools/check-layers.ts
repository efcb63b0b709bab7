// Checks the import rules of docs/architecture.md ("Who may import whom"): each TypeScript or
// JavaScript file imports only files of its own layer or a lower one; the engine includes nothing
// from the addon; the recipe imports nothing from bench/. The layer table is read from the doc
// itself, so the rule and its statement cannot drift apart.
//   node --import=tsx tools/check-layers.ts [ROOT]      (npm run lint runs it)
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

export interface Layer {
  rank: number;
  name: string;
  patterns: string[];
}

/** The rows between `<!-- layers` and `<!-- /layers -->`: `| N name | \`glob\`, ... |`. */
export function parseLayers(markdown: string): Layer[] {
  const block = /<!-- layers[^>]*-->([\s\S]*?)<!-- \/layers -->/.exec(markdown);
  if (!block) throw new Error('docs/architecture.md: no <!-- layers --> ... <!-- /layers --> table');
  const layers: Layer[] = [];
  for (const line of block[1].split('\n')) {
    const m = /^\|\s*(\d+)\s+([^|]+?)\s*\|([^|]+)\|\s*$/.exec(line.trim());
    if (!m) continue;
    const patterns = [...m[3].matchAll(/`([^`]+)`/g)].map((p) => p[1]);
    if (patterns.length === 0) throw new Error(`layer ${m[1]} ${m[2]}: no \`pattern\` in its row`);
    layers.push({ rank: Number(m[1]), name: m[2], patterns });
  }
  if (layers.length === 0) throw new Error('docs/architecture.md: the layers table has no rows');
  return layers;
}

/** `dir/**` matches everything under dir; `*` matches within one path segment. */
function globToRegExp(glob: string): RegExp {
  const re = glob
    .split('**')
    .map((part) => part.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*'))
    .join('.*');
  return new RegExp(`^${re}$`);
}

export function layerOf(layers: Layer[], file: string): Layer | undefined {
  return layers.find((l) => l.patterns.some((p) => globToRegExp(p).test(file)));
}

/** Relative module specifiers a source file imports (static, dynamic, re-exports, require). */
export function importsOf(source: string): string[] {
  const info = ts.preProcessFile(source, true, true);
  return info.importedFiles.map((f) => f.fileName).filter((s) => s.startsWith('.'));
}

/** The repository file a relative specifier names (`./x.js` is `./x.ts` in the source tree). */
function resolve(root: string, fromFile: string, spec: string): string | undefined {
  const base = path.join(path.dirname(path.join(root, fromFile)), spec);
  const stem = base.replace(/\.(js|mjs|cjs|ts)$/, '');
  const candidates = [base, `${stem}.ts`, `${stem}.mts`, `${stem}.mjs`, `${stem}.cjs`, `${stem}.js`, path.join(base, 'index.ts')];
  const hit = candidates.find((c) => fs.existsSync(c) && fs.statSync(c).isFile());
  return hit && path.relative(root, hit);
}

/** Tracked and new (not ignored) files under the repository, relative paths. */
function sourceFiles(root: string): string[] {
  const out = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], { cwd: root, encoding: 'utf8' });
  return [...new Set(out.split('\n').filter(Boolean))].filter((f) => fs.existsSync(path.join(root, f)));
}

export function check(root: string): string[] {
  const layers = parseLayers(fs.readFileSync(path.join(root, 'docs', 'architecture.md'), 'utf8'));
  const files = sourceFiles(root);
  const problems: string[] = [];
  for (const file of files.filter((f) => /\.(ts|mts|mjs|cjs|js)$/.test(f) && !f.endsWith('.d.ts'))) {
    const own = layerOf(layers, file);
    if (!own) {
      problems.push(`${file}: in no layer of docs/architecture.md (add it to the table)`);
      continue;
    }
    for (const spec of importsOf(fs.readFileSync(path.join(root, file), 'utf8'))) {
      const target = resolve(root, file, spec);
      if (!target) continue; // a missing file is the compiler's error, not this check's
      const other = layerOf(layers, target);
      if (other && other.rank > own.rank) {
        problems.push(
          `${file} (layer ${own.rank} ${own.name}) imports ${target} (layer ${other.rank} ${other.name}): only the same or lower layers`,
        );
      }
    }
  }
  for (const file of files.filter((f) => f.startsWith('native/engine/') && /\.(cpp|h)$/.test(f))) {
    for (const m of fs.readFileSync(path.join(root, file), 'utf8').matchAll(/^\s*#\s*include\s+"([^"]+)"/gm)) {
      const target = path.relative(root, path.join(root, path.dirname(file), m[1]));
      if (target.startsWith('native/addon/')) problems.push(`${file} includes ${target}: the engine must not depend on the addon`);
    }
  }
  for (const file of files.filter((f) => f.startsWith('training/') && f.endsWith('.py'))) {
    const text = fs.readFileSync(path.join(root, file), 'utf8');
    for (const m of text.matchAll(/^\s*(?:from|import)\s+(bench)\b/gm)) {
      problems.push(`${file} imports ${m[1]}: the recipe must not depend on the benchmarks`);
    }
    // One package: a module reached through sys.path would load a second copy of it.
    if (/^\s*sys\.path\.(?:insert|append)\(/m.test(text)) {
      problems.push(`${file} changes sys.path: the recipe runs as modules (python3 -m training.NAME)`);
    }
    for (const m of text.matchAll(/^\s*(?:from|import)\s+(earshot|pvad_\w+)\b/gm)) {
      problems.push(`${file} imports ${m[1]}: import training.${m[1]} (the recipe is one package)`);
    }
  }
  return problems;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = path.resolve(process.argv[2] ?? path.join(path.dirname(fileURLToPath(import.meta.url)), '..'));
  const problems = check(root);
  for (const p of problems) console.error(p);
  if (problems.length) {
    console.error(`${problems.length} import(s) against docs/architecture.md`);
    process.exit(1);
  }
  console.log('layers: every import follows docs/architecture.md');
}
