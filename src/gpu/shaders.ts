// WGSL sources live in <package root>/shaders/NAME.wgsl and are loaded by name, once.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findShaderDir(): string {
  // Works from src/gpu (tests, tsx) and from dist/src/gpu (the built package).
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'shaders');
    if (existsSync(join(dir, 'package.json')) && existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  throw new Error('slimllm: cannot find the shaders/ folder of the package');
}

const sources = new Map<string, string>();
let shaderDir: string | null = null;

export function shaderPath(name: string): string {
  shaderDir ??= findShaderDir();
  return join(shaderDir, `${name}.wgsl`);
}

export function shaderSource(name: string): string {
  let src = sources.get(name);
  if (src === undefined) {
    const path = shaderPath(name);
    if (!existsSync(path)) throw new Error(`slimllm: no shader named '${name}' (${path})`);
    src = readFileSync(path, 'utf8');
    sources.set(name, src);
  }
  return src;
}
