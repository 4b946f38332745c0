// Kernel descriptions (src/gpu/program.ts) and WGSL includes (src/gpu/shaders.ts): named uniforms
// are checked against the WGSL struct when a shader loads, includes are resolved once with errors
// reported at the included file's line, and workgroup sizes reach WGSL from the host.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type KernelProgram, runProgram } from '../src/gpu/program.js';
import { shaderText } from '../src/gpu/shaders.js';
import { entryUniform } from '../src/gpu/wgsl-reflect.js';
import { packageRoot } from '../src/paths.js';
import { useBackends } from './helpers.js';

const { gpu } = useBackends();
const shaders = path.join(packageRoot(), 'shaders');
const tag = `${process.pid}-${Date.now()}`;
const written: string[] = [];

/** Writes shaders/NAME.wgsl for one test (removed afterwards); returns NAME. */
function tempShader(name: string, code: string): string {
  const file = path.join(shaders, `${name}.wgsl`);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, code);
  written.push(file);
  return name;
}

afterEach(() => {
  for (const f of written.splice(0)) fs.rmSync(f, { force: true });
});

const sumProgram = (wg: number): KernelProgram<{ n: 'u32' }> => ({
  shader: 'sum',
  entryPoint: 'main',
  uniforms: { n: 'u32' },
  workgroupSize: [wg],
  grid: () => [1],
});

describe('named uniforms', () => {
  it('a field name that differs from the WGSL struct is refused, naming shader, entry point and field', async () => {
    const wrong: KernelProgram<{ count: 'u32' }> = { ...sumProgram(64), uniforms: { count: 'u32' } };
    await expect(gpu().ctx.loadPrograms([wrong])).rejects.toThrow(
      /kernel 'sum\.main' \(.*sum\.wgsl\): uniform field 0 is 'n: u32' in the WGSL \(uniform struct Params\) but 'count: u32' in the kernel description/,
    );
  });

  it('a type or order that differs is refused at the first differing field', async () => {
    const ctx = gpu().ctx;
    const wrongType: KernelProgram<{ n: 'f32' }> = { ...sumProgram(64), uniforms: { n: 'f32' } };
    await expect(ctx.loadPrograms([wrongType])).rejects.toThrow(/uniform field 0 is 'n: u32' in the WGSL .* but 'n: f32'/);
    const swapped: KernelProgram<{ rows: 'u32'; eps: 'f32'; cols: 'u32' }> = {
      shader: 'rmsnorm',
      entryPoint: 'main',
      uniforms: { rows: 'u32', eps: 'f32', cols: 'u32' },
      workgroupSize: [64],
      grid: () => [1],
    };
    await expect(ctx.loadPrograms([swapped])).rejects.toThrow(/kernel 'rmsnorm\.main' .*uniform field 1 is 'cols: u32' in the WGSL .* but 'eps: f32'/);
    const extra: KernelProgram<{ n: 'u32'; more: 'u32' }> = { ...sumProgram(64), uniforms: { n: 'u32', more: 'u32' } };
    await expect(ctx.loadPrograms([extra])).rejects.toThrow(/uniform field 1 is nothing in the WGSL .* but 'more: u32'/);
  });

  it('a kernel that was not loaded is refused when run', () => {
    const ctx = gpu().ctx;
    const x = ctx.tensor([4]);
    expect(() => runProgram(ctx, sumProgram(64), { bindings: [x.buffer, x.buffer], uniforms: { n: 4 }, size: 1 })).toThrow(
      /kernel 'sum\.main' used before loadPrograms\(\)/,
    );
    ctx.free(x);
  });

  it('the uniform struct is found through the functions an entry point calls', () => {
    const code = shaderText('linear_vec4').code; // main reads p.K itself and p.M through fetchX
    expect(entryUniform(code, 'main')).toMatchObject({ variable: 'p', struct: 'Params', binding: 4 });
    expect(entryUniform(shaderText('covariance').code, 'finalize')?.fields.map((f) => `${f.name}: ${f.type}`)).toEqual(['K: u32', 'w: f32']);
    const noUniform = '@group(0) @binding(0) var<storage, read_write> y: array<f32>;\n@compute @workgroup_size(1) fn main() { y[0] = 1.0; }';
    expect(entryUniform(noUniform, 'main')).toBeNull();
    expect(() => entryUniform(noUniform, 'other')).toThrow(/no entry point 'other'/);
  });
});

describe('WGSL includes', () => {
  it('an included file is inserted once, and every line keeps its file and line', () => {
    const lib = tempShader(`lib/test-inc-${tag}`, 'const A: u32 = 1u;\nconst B2: u32 = 2u;\n');
    const name = tempShader(`test-main-${tag}`, `// main\n#include "${lib}"\n#include "${lib}"\nconst C: u32 = A + B2;\n`);
    const t = shaderText(name);
    expect(t.code.match(/const A: u32/g)).toHaveLength(1);
    const cLine = t.code.split('\n').findIndex((l) => l.startsWith('const C'));
    expect(t.lines[cLine]).toEqual({ file: path.join(shaders, `${name}.wgsl`), line: 4 });
    const bLine = t.code.split('\n').findIndex((l) => l.startsWith('const B2'));
    expect(t.lines[bLine]).toEqual({ file: path.join(shaders, `${lib}.wgsl`), line: 2 });
  });

  it('an include cycle and a missing include are clear errors', () => {
    const a = `lib/test-cycle-a-${tag}`;
    const b = `lib/test-cycle-b-${tag}`;
    tempShader(a, `#include "${b}"\n`);
    tempShader(b, `#include "${a}"\n`);
    expect(() => shaderText(a)).toThrow(/shader include cycle: .*test-cycle-a.* → .*test-cycle-b.* → .*test-cycle-a/);
    const missing = tempShader(`test-missing-${tag}`, '// one\n#include "lib/no-such-file"\n');
    expect(() => shaderText(missing)).toThrow(new RegExp(`no shader named 'lib/no-such-file' .*included from .*test-missing-${tag}\\.wgsl:2\\)`));
  });

  it('a compile error inside an included file names that file and line, also after host defines', async () => {
    const lib = tempShader(`lib/test-broken-${tag}`, '// helper\nfn helper() -> f32 {\n  return undefined_thing;\n}\n');
    const name = tempShader(
      `test-includer-${tag}`,
      `// includer\n#include "${lib}"\n@compute @workgroup_size(1)\nfn main() {\n  _ = helper();\n}\n`,
    );
    const where = new RegExp(`lib/test-broken-${tag}\\.wgsl:3:\\d+: .*undefined_thing`);
    await expect(gpu().ctx.loadShader(name)).rejects.toThrow(where);
    await expect(gpu().ctx.loadShader(name, { HD: 4, EXTRA: 2 })).rejects.toThrow(where);
  });

  it('a compile error after an include is reported at the includer’s own line', async () => {
    const lib = tempShader(`lib/test-ok-${tag}`, 'const ONE: f32 = 1.0;\nconst TWO: f32 = 2.0;\nconst THREE: f32 = 3.0;\n');
    const name = tempShader(`test-after-${tag}`, `#include "${lib}"\n@compute @workgroup_size(1)\nfn main() {\n  let x: f32 = ONE + missing_name;\n}\n`);
    await expect(gpu().ctx.loadShader(name)).rejects.toThrow(new RegExp(`test-after-${tag}\\.wgsl:4:\\d+: .*missing_name`));
  });
});

describe('workgroup sizes from the host', () => {
  it('the WG override a shader is compiled with is the program’s workgroup size', async () => {
    const ctx = gpu().ctx;
    const name = tempShader(
      `test-wg-${tag}`,
      [
        'override WG: u32;',
        '@group(0) @binding(0) var<storage, read_write> out: array<f32>;',
        '@compute @workgroup_size(WG)',
        'fn main(@builtin(local_invocation_index) li: u32) {',
        '  if (li == 0u) { out[0] = f32(WG); }',
        '  out[li + 1u] = 1.0;',
        '}',
      ].join('\n'),
    );
    for (const wg of [16, 48]) {
      const probe: KernelProgram<Record<string, never>> = { shader: name, entryPoint: 'main', uniforms: {}, workgroupSize: [wg], grid: () => [1] };
      await ctx.loadPrograms([probe]);
      const out = ctx.upload(new Float32Array(65), [65]);
      runProgram(ctx, probe, { bindings: [out.buffer], uniforms: {}, size: 1 });
      const got = await ctx.read(out);
      ctx.free(out);
      expect(got[0]).toBe(wg);
      expect(got.slice(1).reduce((a, b) => a + b, 0)).toBe(wg); // exactly WG invocations ran
    }
  });

  it('a real kernel gives the same result with another workgroup size (the reduction follows WG)', async () => {
    const ctx = gpu().ctx;
    const n = 1000;
    const data = Float32Array.from({ length: n }, (_, i) => (i % 7) - 3);
    const x = ctx.upload(data, [n]);
    const expected = data.reduce((a, b) => a + b, 0);
    for (const wg of [32, 128]) {
      const prog = sumProgram(wg);
      await ctx.loadPrograms([prog]);
      const y = ctx.tensor([1]);
      runProgram(ctx, prog, { bindings: [x.buffer, y.buffer], uniforms: { n }, size: 1 });
      expect((await ctx.read(y))[0]).toBe(expected);
      ctx.free(y);
    }
    ctx.free(x);
  });
});
