// WGSL sources live in <package root>/shaders/NAME.wgsl and are loaded by name, once.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../paths.js';

const sources = new Map<string, string>();
let shaderDir: string | null = null;

export function shaderPath(name: string): string {
  shaderDir ??= join(packageRoot(), 'shaders');
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
