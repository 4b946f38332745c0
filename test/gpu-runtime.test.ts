// The GPU runtime itself: a missing adapter is a clear error (never a silent fallback), WGSL
// compile errors name the file and line, pooled buffers are reused and accounted.
// (`npm test` builds first: the subprocess checks run the compiled package, as users do.)
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { gentleWait } from '../src/gpu/poll.js';
import { type KernelProgram, runProgram } from '../src/gpu/program.js';
import { packageRoot } from '../src/paths.js';
import { useBackends } from './helpers.js';

const { gpu } = useBackends();
const root = packageRoot();

describe('GPU runtime', () => {
  it('with no Vulkan driver, the GPU path fails with an error that says what to install', () => {
    const out = execFileSync(
      process.execPath,
      ['--input-type=module', '-e', `import { GpuBackend } from ${JSON.stringify(path.join(root, 'dist/src/kernels/gpu/index.js'))};
        try { const b = await GpuBackend.create(); b.dispose(); console.log('ADAPTER FOUND'); } catch (e) { console.log(e.message); }`],
      { env: { ...process.env, VK_DRIVER_FILES: '/nonexistent.json', VK_ICD_FILENAMES: '/nonexistent.json' }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
    );
    expect(out).toMatch(/No WebGPU adapter found/);
    expect(out).toMatch(/mesa-vulkan-drivers/);
    expect(out).toMatch(/--device cpu/);
  });

  it('GPU waits poll gently and restore setImmediate, also when nested or rejected', async () => {
    const real = globalThis.setImmediate;
    const ctx = gpu().ctx;
    const x = ctx.upload(new Float32Array([1, 2, 3]), [3]);
    let inside: typeof setImmediate | null = null;
    // Two concurrent reads: one installation, removed when the last one settles.
    const [a, b] = await Promise.all([
      ctx.read(x),
      gentleWait(new Promise<Float32Array>((res) => setTimeout(() => {
        inside = globalThis.setImmediate;
        res(new Float32Array(1));
      }, 5)), 1),
    ]);
    expect(Array.from(a)).toEqual([1, 2, 3]);
    expect(b.length).toBe(1);
    expect(inside).not.toBe(real);
    expect(globalThis.setImmediate).toBe(real);
    await expect(gentleWait(Promise.reject(new Error('boom')), 1)).rejects.toThrow('boom');
    expect(globalThis.setImmediate).toBe(real);
    // The deferred form still runs its callback with its arguments.
    const got = await gentleWait(new Promise<number>((res) => setTimeout(() => globalThis.setImmediate((v: number) => res(v), 7), 2)), 1);
    expect(got).toBe(7);
    ctx.free(x);
  });

  it('a WGSL compile error names the shader file and line', async () => {
    const name = `broken-${process.pid}`;
    const file = path.join(root, 'shaders', `${name}.wgsl`);
    fs.writeFileSync(file, '// a deliberately broken shader\n@compute @workgroup_size(1)\nfn main() {\n  let x: f32 = undefined_thing;\n}\n');
    try {
      await expect(gpu().ctx.loadShader(name)).rejects.toThrow(new RegExp(`${name}\\.wgsl:4:\\d+: .*undefined_thing`));
    } finally {
      fs.rmSync(file, { force: true });
    }
  });

  it('pooled buffers are reused and live bytes return to zero after frees', async () => {
    const ctx = gpu().ctx;
    const before = ctx.liveBytes;
    const a = ctx.tensor([1000]);
    const bufA = a.buffer;
    ctx.free(a);
    const b = ctx.tensor([1000]);
    expect(b.buffer).toBe(bufA);
    ctx.free(b);
    expect(ctx.liveBytes).toBe(before);
  });

  it('a binding above the device limit is refused with a message, not a device error', async () => {
    const ctx = gpu().ctx;
    const limit = ctx.limits.maxStorageBufferBindingSize;
    const big = { buffer: { size: limit + 4 } } as unknown as GPUBufferBinding;
    const add: KernelProgram<{ n: 'u32' }> = {
      shader: 'elementwise',
      entryPoint: 'main',
      uniforms: { n: 'u32' },
      workgroupSize: [64],
      constants: () => ({ OP: 0 }),
      grid: () => [1],
    };
    await ctx.loadPrograms([add]);
    expect(() => runProgram(ctx, add, { bindings: [big, big, big], uniforms: { n: 1 }, size: 1 })).toThrow(/above maxStorageBufferBindingSize/);
  });
});
