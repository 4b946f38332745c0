// The layers of docs/architecture.md, checked: every import in src/ goes to the same layer or one
// below it. A new upward import (say, a recovery importing the API) fails here with its file.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'src');

/**
 * Rank of a file under src/ (higher = further up). cleanup.ts and paths.ts import only Node and
 * serve every layer; text-files.ts and corpus.ts read through the model layer and serve those above.
 */
function rankOf(rel: string): number {
  const top = rel.split('/')[0];
  const folders: Record<string, number> = { gpu: 1, kernels: 2, model: 3, eval: 5, prune: 5, compare: 6, cli: 7 };
  if (top in folders) return folders[top];
  if (rel === 'api.ts' || rel === 'index.ts') return 7;
  if (rel === 'text-files.ts' || rel === 'corpus.ts') return 4;
  return 0;
}

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sourceFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Relative imports of a file (static `from '…'` and dynamic `import('…')`), resolved under src/. */
function localImports(file: string, text = fs.readFileSync(file, 'utf8')): string[] {
  const specs = [...text.matchAll(/(?:from\s+|import\s*\(\s*)'(\.{1,2}\/[^']+)'/g)].map((m) => m[1]);
  return specs.map((s) => path.relative(SRC, path.resolve(path.dirname(file), s)).replace(/\.js$/, '.ts'));
}

describe('layering', () => {
  it('no import in src/ runs from a lower layer to a higher one', () => {
    const upward: string[] = [];
    for (const file of sourceFiles(SRC)) {
      const rel = path.relative(SRC, file);
      for (const target of localImports(file)) {
        const allowed = rankOf(target) <= rankOf(rel);
        if (!allowed) upward.push(`${rel} imports ${target}`);
      }
    }
    expect(upward).toEqual([]);
  });

  it('the check sees an upward import', () => {
    const file = path.join(SRC, 'prune', 'recoveries.ts');
    const text = "import { prune } from '../api.js';\nconst m = await import('./methods.js');\n";
    const targets = localImports(file, text);
    expect(targets).toEqual(['api.ts', 'prune/methods.ts']);
    expect(rankOf(targets[0])).toBeGreaterThan(rankOf('prune/recoveries.ts'));
  });
});
