// Y = X·Wᵀ (+ b) on the GPU: shaders/linear.wgsl (tiled in workgroup memory, register-tiled).
import type { GpuContext, GpuTensor } from '../../gpu/context.js';
import { linearDims } from '../cpu/linear.js';

export const LINEAR_SHADERS: string[] = ['linear'];

/** Tile configuration of the linear and covariance kernels (override constants of the shaders). */
export interface MatmulConfig {
  WG_X: number;
  WG_Y: number;
  BK: number;
  /** 16×16 register tile per thread (true) or 8×8. */
  WIDE: boolean;
}

/**
 * CPU-backed adapters (lavapipe/llvmpipe, SwiftShader) pay one scalar load per SIMD lane for every
 * workgroup-memory read, so they want the largest register tile; real GPUs want 8×8 per thread with
 * 256 threads. Both give 128×128 workgroup tiles.
 */
export function matmulConfig(ctx: GpuContext): MatmulConfig {
  const cpuBacked = /llvmpipe|lavapipe|swiftshader/i.test(ctx.adapterName);
  const cfg: MatmulConfig = cpuBacked
    ? { WG_X: 8, WG_Y: 8, BK: 32, WIDE: true }
    : { WG_X: 16, WG_Y: 16, BK: 16, WIDE: false };
  const tile = cfg.WG_Y * (cfg.WIDE ? 16 : 8);
  // Two BK×tile f32 tiles must fit in workgroup memory.
  while (cfg.BK > 4 && 2 * cfg.BK * tile * 4 > ctx.limits.maxComputeWorkgroupStorageSize) cfg.BK /= 2;
  return cfg;
}

/** Test and tuning hooks; production code passes nothing. */
export interface MatmulOptions {
  /** Tile configuration instead of the adapter's default (e.g. to test the 8×8 tile on lavapipe). */
  config?: MatmulConfig;
  /** Pretend storage bindings are at most this many bytes (exercises the row-chunked path). */
  maxBindingBytes?: number;
  /** Work cap per dispatch instead of MAX_DISPATCH_FLOP (exercises the split). */
  maxDispatchFlop?: number;
}

/**
 * Work of one matmul dispatch, at most (2 flops per multiply-add): about 1 s on lavapipe (2 cores,
 * ~20 GFLOP/s), ~10 ms on an H200 (enough tiles to fill it). Larger products are split into
 * several dispatches so that none runs for seconds (OS GPU watchdogs, e.g. Windows' 2 s TDR).
 */
export const MAX_DISPATCH_FLOP = 16e9;

/** Largest multiple of `tile` (≥ tile) whose `perUnit`-flop units fit the dispatch cap. */
export function unitsPerDispatch(perUnit: number, tile: number, cap: number): number {
  return Math.max(tile, Math.floor(cap / perUnit / tile) * tile);
}

export function matmulTile(cfg: MatmulConfig): number {
  return cfg.WG_Y * (cfg.WIDE ? 16 : 8);
}

export function matmulConstants(cfg: MatmulConfig): Record<string, number> {
  return { WG_X: cfg.WG_X, WG_Y: cfg.WG_Y, BK: cfg.BK, WIDE: cfg.WIDE ? 1 : 0 };
}

const MiB = 1024 * 1024;

export function linear(
  ctx: GpuContext,
  x: GpuTensor,
  w: GpuTensor,
  bias?: GpuTensor | null,
  opts: MatmulOptions = {},
): GpuTensor {
  const [M, K, N] = linearDims(x, w, bias);
  const y = ctx.tensor([...x.shape.slice(0, -1), N]);
  if (M === 0 || N === 0) return y;

  const cfg = opts.config ?? matmulConfig(ctx);
  const tile = matmulTile(cfg);
  const maxBind = Math.min(ctx.limits.maxStorageBufferBindingSize, opts.maxBindingBytes ?? Infinity);
  const maxGroups = ctx.limits.maxComputeWorkgroupsPerDimension;
  // W larger than one binding (e.g. a 32000-row classifier): bind it in row ranges, each computing
  // a block of output columns (Y stride ldy = N). Ranges are whole tiles, so offsets stay aligned.
  const wRowBytes = K * 4;
  let nChunk = N;
  if (N * wRowBytes > maxBind) {
    nChunk = Math.floor(maxBind / wRowBytes / tile) * tile;
    if (nChunk < tile) {
      throw new Error(`linear: ${tile} rows of W [${w.shape}] do not fit a ${(maxBind / MiB).toFixed(1)} MiB storage binding`);
    }
  }
  if (Math.ceil(Math.min(N, nChunk) / tile) > maxGroups) {
    throw new Error(`linear: N=${N} needs ${Math.ceil(N / tile)} workgroups along N, over the device limit ${maxGroups}`);
  }
  const pipeline = ctx.pipeline('linear', K % 4 === 0 ? 'linear_vec4' : 'linear_scalar', matmulConstants(cfg));
  const cap = opts.maxDispatchFlop ?? MAX_DISPATCH_FLOP;
  const run = (xb: GPUBuffer, yb: GPUBuffer, rows: number) => {
    // Output columns per dispatch: within the W binding and the work cap.
    const nStep = Math.min(nChunk, unitsPerDispatch(2 * rows * K, tile, cap));
    for (let n0 = 0; n0 < N; n0 += nStep) {
      const nc = Math.min(nStep, N - n0);
      const wBind = { buffer: w.buffer, offset: n0 * wRowBytes, size: nc * wRowBytes };
      // Without a bias the slot still needs a valid (read-only, never read) binding.
      const bBind = bias ? { buffer: bias.buffer, size: N * 4 } : { buffer: w.buffer, size: 4 * Math.min(K * N, 64) };
      ctx.dispatch(pipeline, [xb, wBind, bBind, yb], { u32: [rows, K, nc, bias ? 1 : 0, N, n0] }, [
        Math.ceil(nc / tile),
        Math.ceil(rows / tile),
      ]);
    }
  };

  // One dispatch when X and Y can be bound whole; otherwise row chunks copied through temporaries
  // (bindings cover whole buffers here), each within the binding and workgroup-count limits.
  const rowBytes = Math.max(K, N) * 4;
  if (x.buffer.size <= maxBind && y.buffer.size <= maxBind && Math.ceil(M / tile) <= maxGroups) {
    run(x.buffer, y.buffer, M);
    return y;
  }
  // Pooled buffers round sizes up by at most 25 %: leave that headroom.
  let chunk = Math.min(Math.floor((maxBind * 0.75) / rowBytes), maxGroups * tile);
  if (chunk >= tile) chunk = Math.floor(chunk / tile) * tile; // whole tiles per chunk
  if (chunk < 1) {
    throw new Error(
      `linear: one row of X or Y (${(rowBytes / MiB).toFixed(1)} MiB) does not fit a ` +
        `${(maxBind / MiB).toFixed(1)} MiB storage binding`,
    );
  }
  for (let r0 = 0; r0 < M; r0 += chunk) {
    const rows = Math.min(chunk, M - r0);
    const xc = ctx.tensor([rows, K]);
    const yc = ctx.tensor([rows, N]);
    ctx.copy(x.buffer, r0 * K * 4, xc.buffer, 0, rows * K * 4);
    run(xc.buffer, yc.buffer, rows);
    ctx.copy(yc.buffer, 0, y.buffer, r0 * N * 4, rows * N * 4);
    ctx.free(xc);
    ctx.free(yc);
  }
  return y;
}
