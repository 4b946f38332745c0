// Files shipped with the package (shaders, the bundled demo model), found from this module's
// location so they work from src/ (tests) and dist/src/ (the built package).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | null = null;

export function packageRoot(): string {
  if (root) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'shaders'))) return (root = dir);
    dir = dirname(dir);
  }
  throw new Error('slimllm: cannot find the package folder (package.json beside shaders/)');
}

export const bundled = {
  model: () => join(packageRoot(), 'assets', 'stories260K', 'stories260K.bin'),
  tokenizer: () => join(packageRoot(), 'assets', 'stories260K', 'tok512.bin'),
  stories: () => join(packageRoot(), 'assets', 'tinystories', 'tinystories_valid_first1000.txt'),
};
