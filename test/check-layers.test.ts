import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { check, importsOf, layerOf, parseLayers } from '../tools/check-layers.js';
import { tmpDir } from './helpers/tmp.js';

const TABLE = `# x
<!-- layers: test -->
| layer | files |
|---|---|
| 0 base | \`daemon/log.ts\`, \`daemon/audio/**\` |
| 3 top | \`daemon/daemon.ts\` |
| 6 bench | \`bench/**\` |
<!-- /layers -->
`;

function repo(files: Record<string, string>): string {
  const dir = tmpDir('layers');
  for (const [name, text] of Object.entries({ 'docs/architecture.md': TABLE, ...files })) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), text);
  }
  execFileSync('git', ['init', '-q'], { cwd: dir });
  return dir;
}

test('the table: ranks, names, first matching row', (t) => {
  const layers = parseLayers(TABLE);
  t.deepEqual(
    layers.map((l) => [l.rank, l.name]),
    [
      [0, 'base'],
      [3, 'top'],
      [6, 'bench'],
    ],
  );
  t.is(layerOf(layers, 'daemon/audio/wav.ts')?.rank, 0);
  t.is(layerOf(layers, 'bench/lib/x.ts')?.rank, 6);
  t.is(layerOf(layers, 'daemon/other.ts'), undefined);
  t.throws(() => parseLayers('no table'), { message: /no <!-- layers -->/ });
});

test('imports: static, type-only, re-exports, dynamic and require; packages are not ours', (t) => {
  const src = `import a from './a.js';\nimport type { B } from '../b.js';\nexport * from './c.js';\nconst d = await import('./d.js');\nconst e = require('./e.cjs');\nimport fs from 'node:fs';\nimport z from 'zod';`;
  t.deepEqual(importsOf(src).sort(), ['../b.js', './a.js', './c.js', './d.js', './e.cjs']);
});

test('an import up the layers, a file in no layer, the engine on the addon, the recipe on bench/', (t) => {
  const dir = repo({
    'daemon/log.ts': "import { run } from './daemon.js';\nexport const log = run;\n",
    'daemon/daemon.ts': "import { log } from './log.js';\nimport { wav } from './audio/wav.js';\nexport const run = () => [log, wav];\n",
    'daemon/audio/wav.ts': 'export const wav = 1;\n',
    'daemon/stray.ts': 'export {};\n',
    'bench/b.ts': "import { run } from '../daemon/daemon.js';\nrun();\n",
    'native/engine/x.cpp': '#include "x.h"\n#include "../addon/addon.h"\n',
    'training/t.py': 'import os\nfrom bench.pvad_eval import f\n',
  });
  t.deepEqual(check(dir), [
    'daemon/log.ts (layer 0 base) imports daemon/daemon.ts (layer 3 top): only the same or lower layers',
    'daemon/stray.ts: in no layer of docs/architecture.md (add it to the table)',
    'native/engine/x.cpp includes native/addon/addon.h: the engine must not depend on the addon',
    'training/t.py imports bench: the recipe must not depend on the benchmarks',
  ]);
});

test('the recipe is one package: no sys.path changes, no module imported outside training.', (t) => {
  const dir = repo({
    'training/a.py': 'import sys\nsys.path.insert(0, "x")\nimport pvad_data\nfrom earshot.features import fbank\n',
    'training/b.py': 'from training import pvad_data\nfrom training.earshot.features import fbank\nfrom .earshot import gguf\n',
  });
  t.deepEqual(check(dir), [
    'training/a.py changes sys.path: the recipe runs as modules (python3 -m training.NAME)',
    'training/a.py imports pvad_data: import training.pvad_data (the recipe is one package)',
    'training/a.py imports earshot: import training.earshot (the recipe is one package)',
  ]);
});
