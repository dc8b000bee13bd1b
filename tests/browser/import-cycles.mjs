// No import cycles in the web app: walks web/assets from app.js along the static
// `import … from './x.js'` (and `export … from`) statements and fails naming the first
// cycle it finds, or a module that is not there. flows.mjs runs it first; alone:
// `node tests/browser/import-cycles.mjs`.

import { readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ASSETS = fileURLToPath(new URL('../../web/assets/', import.meta.url));
const STATIC = /^\s*(?:import|export)\s[^;]*?\bfrom\s*['"](\.{1,2}\/[^'"]+)['"]|^\s*import\s*['"](\.{1,2}\/[^'"]+)['"]/gm;

/** The first cycle reachable from `entry`, as the modules along it, or null. */
export function findImportCycle(entry = resolve(ASSETS, 'app.js')) {
  const done = new Set();
  const path = [];
  const visit = (file) => {
    const at = path.indexOf(file);
    if (at >= 0) return [...path.slice(at), file];
    if (done.has(file)) return null;
    let source;
    try {
      source = readFileSync(file, 'utf8');
    } catch {
      const by = path.length ? `, imported by ${relative(ASSETS, path.at(-1))}` : '';
      throw new Error(`web/assets has no ${relative(ASSETS, file)}${by}`);
    }
    path.push(file);
    for (const m of source.matchAll(STATIC)) {
      const cycle = visit(resolve(dirname(file), m[1] ?? m[2]));
      if (cycle) return cycle;
    }
    path.pop();
    done.add(file);
    return null;
  };
  const cycle = visit(entry);
  return cycle && cycle.map((f) => relative(ASSETS, f));
}

/** Exits 1, naming the cycle, if there is one. */
export function checkImportCycles() {
  const cycle = findImportCycle();
  if (cycle) {
    console.error(`an import cycle in web/assets: ${cycle.join(' → ')}`);
    process.exit(1);
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  checkImportCycles();
  console.log('web/assets: no import cycles');
}
