// The register-resident linear kernel (src/kernels/gpu/matmul-gen.ts writes its `main`): the
// GPU result against the CPU twin and a float64 reference on shapes that are not multiples of the
// tile or of 4 (the scalar-load path), 1 row, 1 column, binding-limit and work-cap splits, for
// the real-GPU configurations and a non-square one without prefetch; how a configuration is
// picked; and the kernel choice from the environment.
import { afterEach, describe, expect, it } from 'vitest';
import type { GpuContext } from '../src/gpu/context.js';
import { MATMUL_KIND_ENV, MATMUL_RR_GPU, MATMUL_RR_GPU_SMALL } from '../src/gpu/tuning.js';
import { cpuBackedAdapter, linear as gpuLinear, type MatmulOptions, matmulKind, registerTileFor } from '../src/kernels/gpu/linear.js';
import { tuneMatmul } from '../src/kernels/gpu/matmul-tune.js';
import { type RegisterTileConfig, registerTileMain, registerTileProblem, registerTileWorkgroupBytes } from '../src/kernels/gpu/matmul-gen.js';
import { randArray, useBackends } from './helpers.js';

const { gpu, cpu } = useBackends();

/** max |gpu − f64| / (rtol·Σ|x·w|) over the outputs, and the same for the CPU twin's result. */
async function errors(M: number, K: number, N: number, bias: boolean, opts: MatmulOptions, seed: number) {
  const x = randArray(M * K, seed);
  const w = randArray(N * K, seed + 1);
  const b = bias ? randArray(N, seed + 2) : null;
  const g = gpu();
  const y = await g.read(gpuLinear(g.ctx, g.upload(x, [M, K]), g.upload(w, [N, K]), b ? g.upload(b, [N]) : null, opts));
  const yc = cpu.linear(cpu.upload(x, [M, K]), cpu.upload(w, [N, K]), b ? cpu.upload(b, [N]) : null).data;
  let gpuWorst = 0;
  let twinWorst = 0;
  // f32 accumulation over K terms: ≤ K·2⁻²⁴ of Σ|x·w| per output (K ≤ 300 here).
  const rtol = 2e-5;
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = b ? b[n] : 0;
      let mag = b ? Math.abs(b[n]) : 0;
      for (let k = 0; k < K; k++) {
        s += x[m * K + k] * w[n * K + k];
        mag += Math.abs(x[m * K + k] * w[n * K + k]);
      }
      const i = m * N + n;
      gpuWorst = Math.max(gpuWorst, Math.abs(y[i] - s) / (rtol * mag + 1e-30));
      twinWorst = Math.max(twinWorst, Math.abs(y[i] - yc[i]) / (rtol * mag + 1e-30));
    }
  }
  expect(y.length).toBe(M * N);
  return { gpuWorst, twinWorst };
}

const NON_SQUARE: RegisterTileConfig = { WG_X: 8, WG_Y: 4, TM: 4, TN: 8, BK: 8, prefetch: false };

const SHAPES: [number, number, number, boolean][] = [
  [1, 8, 1, true], // one row, one column
  [150, 20, 70, true],
  [150, 19, 70, false], // K % 4 != 0: scalar loads
  [3, 37, 300, true],
  [257, 64, 129, false], // one past the tiles
  [129, 44, 1, true],
];

describe('register-resident linear kernel', () => {
  it.each([
    ['128×128 with prefetch', MATMUL_RR_GPU, SHAPES],
    ['64×64 with prefetch', MATMUL_RR_GPU_SMALL, SHAPES.filter(([, K]) => K % 4 === 0)],
    ['non-square, no prefetch', NON_SQUARE, SHAPES.slice(0, 3)],
  ] as const)('%s matches the f64 reference and the CPU twin', async (_name, cfg, shapes) => {
    for (const [M, K, N, bias] of shapes) {
      const e = await errors(M, K, N, bias, { registerTile: cfg }, M + K + N);
      expect(e.gpuWorst, `${M}×${K}×${N}`).toBeLessThanOrEqual(1);
      expect(e.twinWorst, `${M}×${K}×${N}`).toBeLessThanOrEqual(1);
    }
  });

  it('splits over binding limits and the work cap as the tiled kernel does', async () => {
    for (const opts of [{ maxBindingBytes: 16 * 1024 }, { maxDispatchFlop: 2 * 150 * 20 * 128 }]) {
      for (const [M, K, N, bias] of [[150, 20, 300, true], [3, 20, 300, false]] as const) {
        const e = await errors(M, K, N, bias, { ...opts, registerTile: MATMUL_RR_GPU }, 5);
        expect(e.gpuWorst, `${JSON.stringify(opts)} ${M}×${K}×${N}`).toBeLessThanOrEqual(1);
      }
    }
  });

  it('the generated code holds no accumulator array, and every accumulator is used in the epilogue', () => {
    const code = registerTileMain(MATMUL_RR_GPU, 'rows');
    expect(code).not.toMatch(/var\s+\w+\s*:\s*array/);
    const accs = [...code.matchAll(/var (c\d+_\d_\d+) = vec4<f32>\(0\.0\);/g)].map((m) => m[1]);
    expect(accs.length).toBe((MATMUL_RR_GPU.TM * MATMUL_RR_GPU.TN) / 4);
    for (const a of accs) expect(code).toContain(`, ${a});\n`);
  });

  it('refuses configurations it cannot generate, naming why', () => {
    expect(registerTileProblem({ ...MATMUL_RR_GPU, TM: 6 })).toMatch(/multiples of 4/);
    expect(registerTileProblem({ ...MATMUL_RR_GPU, BK: 4 })).toMatch(/128×4 slice/);
    expect(() => registerTileMain({ ...MATMUL_RR_GPU, BK: 4 }, 'rows')).toThrow(/register-tile matmul: a 128×4 slice/);
  });

  it('takes 64×64 tiles for products with few 128×128 tiles, and fits the workgroup memory', () => {
    const room = (bytes: number) => ({ limits: { maxComputeWorkgroupStorageSize: bytes } }) as unknown as GpuContext;
    expect(registerTileFor(room(48 * 1024), 4096, 5632)).toEqual(MATMUL_RR_GPU);
    expect(registerTileFor(room(48 * 1024), 1024, 1024)).toEqual(MATMUL_RR_GPU_SMALL);
    // A Gram's upper triangle: 2048² has 256 tiles of 128², of which 136 are launched.
    expect(registerTileFor(room(48 * 1024), 2048, 2048)).toEqual(MATMUL_RR_GPU);
    expect(registerTileFor(room(48 * 1024), 2048, 2048, true)).toEqual(MATMUL_RR_GPU_SMALL);
    expect(registerTileFor(room(48 * 1024), 4096, 4096, true)).toEqual(MATMUL_RR_GPU);
    const tight = registerTileFor(room(16 * 1024), 4096, 5632);
    expect(registerTileWorkgroupBytes(tight)).toBeLessThanOrEqual(16 * 1024);
    expect(tight).toEqual({ ...MATMUL_RR_GPU, prefetch: false });
    expect(registerTileProblem(registerTileFor(room(8 * 1024), 4096, 5632))).toBeNull();
  });
});

describe('linear kernel choice', () => {
  const saved = process.env[MATMUL_KIND_ENV];
  afterEach(() => {
    if (saved === undefined) delete process.env[MATMUL_KIND_ENV];
    else process.env[MATMUL_KIND_ENV] = saved;
    gpu().ctx.matmul = { kind: 'tiled', source: 'default' };
  });

  it(`${MATMUL_KIND_ENV} picks the kernel over the context's choice; anything else is one clear error`, async () => {
    const g = gpu();
    delete process.env[MATMUL_KIND_ENV];
    expect(matmulKind(g.ctx)).toBe(g.ctx.matmul.kind);
    process.env[MATMUL_KIND_ENV] = 'register';
    expect(matmulKind(g.ctx)).toBe('register');
    expect(await tuneMatmul(g.ctx)).toEqual({ kind: 'register', source: 'environment' });
    const before = g.ctx.dispatchCount;
    const e = await errors(40, 16, 24, true, {}, 9);
    expect(e.gpuWorst).toBeLessThanOrEqual(1);
    expect(g.ctx.dispatchCount - before).toBe(1);
    process.env[MATMUL_KIND_ENV] = 'fast';
    expect(() => matmulKind(g.ctx)).toThrow(`slimllm: ${MATMUL_KIND_ENV}=fast is not a linear kernel (tiled or register)`);
    await expect(tuneMatmul(g.ctx)).rejects.toThrow(`${MATMUL_KIND_ENV}=fast`);
  });

  it('a CPU-backed adapter keeps the tiled kernel unmeasured; measuring picks the faster of the two', async () => {
    delete process.env[MATMUL_KIND_ENV];
    const g = gpu();
    expect(cpuBackedAdapter(g.ctx)).toBe(/llvmpipe|lavapipe|swiftshader/i.test(g.ctx.adapterName));
    if (cpuBackedAdapter(g.ctx)) expect(await tuneMatmul(g.ctx)).toEqual({ kind: 'tiled', source: 'adapter' });
    const measured = await tuneMatmul(g.ctx, { force: true, shape: [256, 64, 256] });
    expect(measured.source).toBe('measured');
    const ms = measured.ms as Record<string, number>;
    expect(Object.keys(ms).sort()).toEqual(['register', 'tiled']);
    for (const k of ['register', 'tiled']) expect(ms[k]).toBeGreaterThan(0);
    expect(measured.kind).toBe(ms.register < ms.tiled ? 'register' : 'tiled');
    expect(g.ctx.matmul).toBe(measured);
    expect(matmulKind(g.ctx)).toBe(measured.kind);
  });
});
