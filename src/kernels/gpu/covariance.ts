// Streaming column covariance on the GPU (shaders/covariance.wgsl). Everything stays on the device:
// per chunk, column statistics → centred Gram with the Chan merge fused into its epilogue → new
// mean and Σx². Only the row count lives in JS.
import type { GpuContext, GpuTensor } from '../../gpu/context.js';
import type { CovStats } from '../backend.js';
import { dims2 } from '../cpu/tensor.js';
import { type MatmulOptions, matmulConfig, matmulConstants, matmulTile } from './linear.js';

export const COVARIANCE_SHADERS: string[] = ['covariance'];

const MiB = 1024 * 1024;

function zeroFill(ctx: GpuContext, t: GpuTensor): void {
  if (t.size === 0) return;
  const groups = Math.ceil(t.size / 256);
  const gx = Math.min(groups, ctx.limits.maxComputeWorkgroupsPerDimension);
  const gy = Math.ceil(groups / gx);
  ctx.dispatch(ctx.pipeline('covariance', 'zero'), [t.buffer], { u32: [t.size, gx * 256] }, [gx, gy]);
}

export function covInit(ctx: GpuContext, dim: number): CovStats<GpuTensor> {
  if (!Number.isInteger(dim) || dim < 1) throw new Error(`covInit: dim must be a positive integer, got ${dim}`);
  const maxBind = ctx.limits.maxStorageBufferBindingSize;
  if (dim * dim * 4 > maxBind) {
    throw new Error(
      `covInit: a ${dim}×${dim} f32 Gram matrix is ${((dim * dim * 4) / MiB).toFixed(1)} MiB, over the device's ` +
        `maxStorageBufferBindingSize of ${(maxBind / MiB).toFixed(1)} MiB (splitting it is not implemented)`,
    );
  }
  const stats: CovStats<GpuTensor> = {
    dim,
    count: 0,
    mean: ctx.tensor([dim]),
    m2: ctx.tensor([dim, dim]),
    sumsq: ctx.tensor([dim]),
  };
  zeroFill(ctx, stats.mean);
  zeroFill(ctx, stats.m2);
  zeroFill(ctx, stats.sumsq);
  return stats;
}

export function covAccumulate(
  ctx: GpuContext,
  stats: CovStats<GpuTensor>,
  x: GpuTensor,
  opts: MatmulOptions = {},
): void {
  const [M, K] = dims2(x);
  if (K !== stats.dim) {
    throw new Error(`covAccumulate: x [${x.shape}] has ${K} columns, the statistics have dim ${stats.dim}`);
  }
  if (M === 0) return;
  const maxBind = Math.min(ctx.limits.maxStorageBufferBindingSize, opts.maxBindingBytes ?? Infinity);
  if (x.buffer.size > maxBind) {
    // Chunks are merged exactly like separate calls, so a too-large X is fed in row blocks.
    const rows = Math.max(1, Math.floor((maxBind * 0.75) / (K * 4)));
    for (let r0 = 0; r0 < M; r0 += rows) {
      const n = Math.min(rows, M - r0);
      const xc = ctx.tensor([n, K]);
      ctx.copy(x.buffer, r0 * K * 4, xc.buffer, 0, n * K * 4);
      covAccumulate(ctx, stats, xc, { config: opts.config });
      ctx.free(xc);
    }
    return;
  }

  const na = stats.count;
  const nb = M;
  const n = na + nb;
  const cfg = opts.config ?? matmulConfig(ctx);
  const tile = matmulTile(cfg);
  if (cfg.WG_X !== cfg.WG_Y || (cfg.WG_X * cfg.WG_Y) % (tile / 4) !== 0) {
    throw new Error(`covAccumulate: tile config ${JSON.stringify(cfg)} needs WG_X == WG_Y and a multiple of ${tile / 4} threads`);
  }
  const blocks = Math.ceil(K / tile);
  if (blocks > ctx.limits.maxComputeWorkgroupsPerDimension) {
    throw new Error(`covAccumulate: dim ${K} needs ${blocks}² workgroups, over the device limit`);
  }

  // cs = [chunk mean | chunk Σx²]
  const cs = ctx.tensor([2 * K]);
  ctx.dispatch(ctx.pipeline('covariance', 'colstats'), [x.buffer, cs.buffer], { u32: [M, K] }, [Math.ceil(K / 64)]);
  ctx.dispatch(
    ctx.pipeline('covariance', K % 4 === 0 ? 'gram_vec4' : 'gram_scalar', matmulConstants(cfg)),
    [x.buffer, cs.buffer, stats.mean.buffer, stats.m2.buffer],
    { u32: [M, K], f32: [(na * nb) / n] },
    [blocks, blocks],
  );
  ctx.dispatch(
    ctx.pipeline('covariance', 'finalize'),
    [cs.buffer, stats.mean.buffer, stats.sumsq.buffer],
    { u32: [K], f32: [nb / n] },
    [Math.ceil(K / 64)],
  );
  ctx.free(cs);
  stats.count = n;
}
