// Picks the linear kernel for the GPU at hand by timing both on one product: which matmul core is
// faster depends on the GPU (registers, workgroup memory, how a driver treats an indexed register
// tile), and measuring once costs less than being wrong for a whole prune. CPU-backed adapters are
// not measured (the tiled kernel is known to be the faster there, and the generated one compiles
// slowly); SLIMLLM_MATMUL overrides everything.
import type { GpuContext, MatmulChoice } from '../../gpu/context.js';
import { MATMUL_KINDS, MATMUL_TUNE_REPS, MATMUL_TUNE_SHAPE, type MatmulKind } from '../../gpu/tuning.js';
import { cpuBackedAdapter, environmentMatmulKind, linear } from './linear.js';

export interface TuneOptions {
  /** Measure even on a CPU-backed adapter (tests). */
  force?: boolean;
  /** The product to time instead of MATMUL_TUNE_SHAPE (tests). */
  shape?: readonly [number, number, number];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

/** Median time of one product with `kind`, after one untimed run (which compiles its pipelines). */
async function timeKind(ctx: GpuContext, kind: MatmulKind, x: Parameters<typeof linear>[1], w: Parameters<typeof linear>[2]) {
  ctx.free(linear(ctx, x, w, null, { kind }));
  await ctx.sync();
  const spans: number[] = [];
  let timing: 'timestamp' | 'wall' = 'timestamp';
  for (let r = 0; r < MATMUL_TUNE_REPS; r++) {
    const t0 = performance.now();
    const ns = await ctx.timeGpu(`matmul tuning: ${kind}`, () => ctx.free(linear(ctx, x, w, null, { kind })));
    if (ns === null) {
      await ctx.sync();
      timing = 'wall';
    }
    spans.push(ns === null ? performance.now() - t0 : ns / 1e6);
  }
  return { ms: median(spans), timing };
}

/** Sets ctx.matmul: from the environment, the adapter, or by timing both kernels; returns it. */
export async function tuneMatmul(ctx: GpuContext, opts: TuneOptions = {}): Promise<MatmulChoice> {
  const fromEnv = environmentMatmulKind();
  if (fromEnv) return (ctx.matmul = { kind: fromEnv, source: 'environment' });
  if (cpuBackedAdapter(ctx) && !opts.force) return (ctx.matmul = { kind: ctx.matmul.kind, source: 'adapter' });
  const [M, K, N] = opts.shape ?? MATMUL_TUNE_SHAPE;
  const x = ctx.upload(new Float32Array(M * K).fill(1 / K), [M, K]);
  const w = ctx.upload(new Float32Array(N * K).fill(1), [N, K]);
  try {
    const ms = {} as Record<MatmulKind, number>;
    let timing: 'timestamp' | 'wall' = 'timestamp';
    for (const kind of MATMUL_KINDS) {
      const t = await timeKind(ctx, kind, x, w);
      ms[kind] = Number(t.ms.toFixed(4));
      if (t.timing === 'wall') timing = 'wall';
    }
    const kind = MATMUL_KINDS.reduce((best, k) => (ms[k] < ms[best] ? k : best));
    return (ctx.matmul = { kind, source: 'measured', ms, timing });
  } finally {
    ctx.free(x);
    ctx.free(w);
  }
}

