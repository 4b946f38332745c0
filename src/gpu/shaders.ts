// WGSL sources live in <package root>/shaders/NAME.wgsl and are loaded by name, once. A line
// `#include "lib/NAME"` is replaced by shaders/lib/NAME.wgsl, so code two shaders share is written
// once; each file is included at most once per shader (a second include of it is dropped) and a
// cycle is an error. Every line of the result remembers its file and line, so that a compile error
// inside an included file (or after host-prepended defines) is reported where it was written.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../paths.js';

/** Where one line of an assembled shader was written. */
export interface SourceLine {
  readonly file: string;
  readonly line: number;
}

/** A shader with its includes resolved: the code and, per line (0-based), its origin. */
export interface ShaderText {
  readonly code: string;
  readonly lines: readonly SourceLine[];
}

const INCLUDE = /^\s*#include\s+"([^"]+)"\s*$/;

const files = new Map<string, string>();
const assembled = new Map<string, ShaderText>();
let shaderDir: string | null = null;

export function shaderPath(name: string): string {
  shaderDir ??= join(packageRoot(), 'shaders');
  return join(shaderDir, `${name}.wgsl`);
}

function fileText(name: string, includedFrom?: SourceLine): string {
  let src = files.get(name);
  if (src === undefined) {
    const path = shaderPath(name);
    if (!existsSync(path)) {
      const where = includedFrom ? ` (included from ${includedFrom.file}:${includedFrom.line})` : '';
      throw new Error(`slimllm: no shader named '${name}' (${path})${where}`);
    }
    src = readFileSync(path, 'utf8');
    files.set(name, src);
  }
  return src;
}

/** Appends `name`'s lines to `out`, expanding includes depth-first. `stack` detects cycles. */
function expand(name: string, out: { text: string[]; lines: SourceLine[] }, seen: Set<string>, stack: string[], from?: SourceLine): void {
  if (stack.includes(name)) throw new Error(`slimllm: shader include cycle: ${[...stack, name].join(' → ')}`);
  seen.add(name);
  stack.push(name);
  const path = shaderPath(name);
  fileText(name, from)
    .split('\n')
    .forEach((text, i) => {
      const here = { file: path, line: i + 1 };
      const inc = INCLUDE.exec(text);
      if (!inc) {
        out.text.push(text);
        out.lines.push(here);
      } else if (seen.has(inc[1]) && !stack.includes(inc[1])) {
        out.text.push(''); // already included: the line stays, empty, so numbering holds
        out.lines.push(here);
      } else {
        expand(inc[1], out, seen, stack, here);
      }
    });
  stack.pop();
}

/** The shader `name` with its includes resolved (cached). */
export function shaderText(name: string): ShaderText {
  let t = assembled.get(name);
  if (!t) {
    const out = { text: [] as string[], lines: [] as SourceLine[] };
    expand(name, out, new Set(), []);
    t = { code: out.text.join('\n'), lines: out.lines };
    assembled.set(name, t);
  }
  return t;
}

/** The shader `name` as WGSL code, includes resolved. */
export function shaderSource(name: string): string {
  return shaderText(name).code;
}
