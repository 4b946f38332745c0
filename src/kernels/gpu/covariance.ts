// Streaming column covariance on the GPU (shaders/covariance.wgsl). Everything stays on the device:
// per chunk, column statistics → centred Gram with the Chan merge fused into its epilogue → new
// mean and Σx². Only the row count lives in JS. M2 larger than one storage binding (a 7B FFN's
// 11008² is 485 MB) is updated in row blocks, one Gram dispatch per pair of blocks.
import type { GpuContext, GpuTensor } from '../../gpu/context.js';
import { type KernelProgram, runProgram, type UniformValues } from '../../gpu/program.js';
import { COLSTATS_WG, type MatmulConfig, ROW_ITEM_WG } from '../../gpu/tuning.js';
import type { CovStats } from '../backend.js';
import { dims2 } from '../shapes.js';
import { alignedRowStep, alongX, formatBytes } from './grid.js';
import { add } from './elementwise.js';
import { perItemKernel } from './programs.js';
import { MATMUL_KERNEL, MAX_DISPATCH_FLOP, type MatmulOptions, matmulConfig, matmulTile, registerTileFor, registerTileKernel, requestedKind } from './linear.js';
import { type RegisterTileConfig, tileCols, tileRows } from './matmul-gen.js';

/** Zero fill of a range; size = elements. */
const ZERO = perItemKernel('covariance', 'zero', { n: 'u32' } as const);
/** Chunk mean and Σx² per column; size = columns. */
const COLSTATS: KernelProgram<{ M: 'u32'; K: 'u32' }> = {
  shader: 'covariance',
  entryPoint: 'colstats',
  uniforms: { M: 'u32', K: 'u32' },
  workgroupSize: COLSTATS_WG,
  grid: alongX,
};
/** New mean and Σx² of the merged statistics, one invocation per column; size = columns. */
const FINALIZE = { ...perItemKernel('covariance', 'finalize', { K: 'u32', w: 'f32' } as const, ROW_ITEM_WG), grid: alongX };
const GRAM_UNIFORMS = { M: 'u32', K: 'u32', ti0: 'u32', tj0: 'u32', rowA: 'u32', rowB: 'u32', pair: 'u32', tiles: 'u32', f: 'f32' } as const;
type GramProgram = KernelProgram<typeof GRAM_UNIFORMS, MatmulConfig, readonly [number, number]>;
/** Gram + Chan merge over one pair of M2 row blocks, X read as vec4 (K % 4 == 0) or f32; size = [columns, rows] of the pair. */
const GRAM_VEC4: GramProgram = { shader: 'gram_vec4', entryPoint: 'main', uniforms: GRAM_UNIFORMS, ...MATMUL_KERNEL };
const GRAM_SCALAR: GramProgram = { ...GRAM_VEC4, shader: 'gram_scalar' };

/** A register-resident Gram dispatch: a triangle of tiles of one row block, or all tiles of a pair of blocks. */
interface GramRrSize {
  readonly cols: number;
  readonly rows: number;
  readonly triangle: boolean;
}
type GramRrProgram = KernelProgram<typeof GRAM_UNIFORMS, RegisterTileConfig, GramRrSize>;
/** The Gram on the register-resident core (src/kernels/gpu/matmul-gen.ts writes its `main`); only upper tiles are launched. */
const GRAM_RR_VEC4: GramRrProgram = {
  shader: 'gram_rr_vec4',
  uniforms: GRAM_UNIFORMS,
  ...registerTileKernel('cols'),
  grid: ({ cols, rows, triangle }, at) => {
    const t = Math.ceil(rows / tileRows(at.variant));
    return triangle ? [(t * (t + 1)) / 2, 1] : [Math.ceil(cols / tileCols(at.variant)), t];
  },
};
const GRAM_RR_SCALAR: GramRrProgram = { ...GRAM_RR_VEC4, shader: 'gram_rr_scalar' };

export const COVARIANCE_PROGRAMS = [ZERO, COLSTATS, FINALIZE, GRAM_VEC4, GRAM_SCALAR, GRAM_RR_VEC4, GRAM_RR_SCALAR];


/** Test hooks of covAccumulate; production code passes nothing. */
export interface CovOptions extends MatmulOptions {
  /** Pretend M2 bindings are at most this many bytes (exercises the row-block Gram update). */
  maxM2BindingBytes?: number;
}

/** Zeroes a tensor, one dispatch per binding-sized range (M2 may exceed one binding). */
function zeroFill(ctx: GpuContext, t: GpuTensor, maxBind: number): void {
  if (t.size === 0) return;
  const align = ctx.limits.minStorageBufferOffsetAlignment;
  const per = (Math.floor(maxBind / align) * align) / 4; // elements per range, aligned offsets
  if (per < 1) throw new Error(`zeroFill: a ${maxBind}-byte storage binding is below the ${align}-byte offset alignment`);
  for (let e0 = 0; e0 < t.size; e0 += per) {
    const n = Math.min(per, t.size - e0);
    runProgram(ctx, ZERO, { bindings: [{ buffer: t.buffer, offset: e0 * 4, size: n * 4 }], uniforms: { n }, size: n });
  }
}

export function covInit(ctx: GpuContext, dim: number, opts: { maxBindingBytes?: number } = {}): CovStats<GpuTensor> {
  if (!Number.isInteger(dim) || dim < 1) throw new Error(`covInit: dim must be a positive integer, got ${dim}`);
  const maxBind = Math.min(ctx.limits.maxStorageBufferBindingSize, opts.maxBindingBytes ?? Infinity);
  let m2: GpuTensor;
  try {
    m2 = ctx.tensor([dim, dim]);
  } catch (e) {
    // Only maxBufferSize limits M2: above a binding it is processed in row blocks.
    throw new Error(`covInit: the ${dim}×${dim} f32 Gram matrix (${formatBytes(dim * dim * 4)}) cannot be allocated: ${(e as Error).message}`);
  }
  const stats: CovStats<GpuTensor> = { dim, count: 0, mean: ctx.tensor([dim]), m2, sumsq: ctx.tensor([dim]) };
  zeroFill(ctx, stats.mean, maxBind);
  zeroFill(ctx, stats.m2, maxBind);
  zeroFill(ctx, stats.sumsq, maxBind);
  return stats;
}

/**
 * First rows of the M2 row blocks bound per Gram dispatch ([0] when M2 fits one binding and has
 * at most `maxRows` rows, the work cap). Blocks are whole Gram tiles (no workgroup straddles two)
 * with offsets on the storage alignment; a block is never below one such step.
 */
export function gramRowBlocks(ctx: GpuContext, K: number, tile: number, maxBind: number, maxRows = Infinity): number[] {
  if (K * K * 4 <= maxBind && K <= maxRows) return [0];
  const step = alignedRowStep(ctx.limits.minStorageBufferOffsetAlignment, tile, K * 4);
  const fit = Math.floor(maxBind / (K * 4) / step) * step;
  if (fit < step) {
    throw new Error(
      `covAccumulate: ${step} rows of the ${K}×${K} Gram matrix (${formatBytes(step * K * 4)}) do not fit a ` +
        `${formatBytes(maxBind)} storage binding`,
    );
  }
  const rows = Math.max(step, Math.min(fit, Math.floor(maxRows / step) * step));
  const starts: number[] = [];
  for (let r = 0; r < K; r += rows) starts.push(r);
  return starts;
}

type GramCall = {
  bindings: (GPUBuffer | GPUBufferBinding)[];
  /** All but `tiles`, which the kernel derives. */
  uniforms: Omit<UniformValues<typeof GRAM_UNIFORMS>, 'tiles'>;
  /** Rows of M2 in blocks Q and P. */
  cols: number;
  rows: number;
};

/** The Gram kernel of a covariance update: its (square) tile and a dispatch over a pair of M2 row blocks. */
interface GramKernel {
  readonly tile: number;
  run(call: GramCall): void;
}

function gramKernel(ctx: GpuContext, K: number, opts: CovOptions): GramKernel {
  if (requestedKind(ctx, opts) === 'register') {
    const variant = opts.registerTile ?? registerTileFor(ctx, K, K, true);
    const tile = tileRows(variant);
    if (tileCols(variant) !== tile) throw new Error(`covAccumulate: tile config ${JSON.stringify(variant)} needs square tiles`);
    const program = K % 4 === 0 ? GRAM_RR_VEC4 : GRAM_RR_SCALAR;
    return {
      tile,
      run: ({ bindings, uniforms, cols, rows }) => {
        const triangle = uniforms.pair === 0;
        const tiles = Math.ceil(rows / tile);
        if (triangle && (tiles * (tiles + 1)) / 2 > ctx.limits.maxComputeWorkgroupsPerDimension) {
          throw new Error(`covAccumulate: ${tiles} tiles per side of a Gram block need ${(tiles * (tiles + 1)) / 2} workgroups, over the device limit`);
        }
        runProgram(ctx, program, { bindings, uniforms: { ...uniforms, tiles }, size: { cols, rows, triangle }, variant });
      },
    };
  }
  const variant = opts.config ?? matmulConfig(ctx);
  const tile = matmulTile(variant);
  if (variant.WG_X !== variant.WG_Y || (variant.WG_X * variant.WG_Y) % (tile / 4) !== 0) {
    throw new Error(`covAccumulate: tile config ${JSON.stringify(variant)} needs WG_X == WG_Y and a multiple of ${tile / 4} threads`);
  }
  const program = K % 4 === 0 ? GRAM_VEC4 : GRAM_SCALAR;
  return {
    tile,
    run: ({ bindings, uniforms, cols, rows }) =>
      runProgram(ctx, program, { bindings, uniforms: { ...uniforms, tiles: Math.ceil(rows / tile) }, size: [cols, rows], variant }),
  };
}

export function covAccumulate(
  ctx: GpuContext,
  stats: CovStats<GpuTensor>,
  x: GpuTensor,
  opts: CovOptions = {},
): void {
  const [M, K] = dims2(x);
  if (K !== stats.dim) {
    throw new Error(`covAccumulate: x [${x.shape}] has ${K} columns, the statistics have dim ${stats.dim}`);
  }
  if (M === 0) return;
  const maxBind = Math.min(ctx.limits.maxStorageBufferBindingSize, opts.maxBindingBytes ?? Infinity);
  if (x.buffer.size > maxBind) {
    // Chunks are merged exactly like separate calls, so a too-large X is fed in row blocks.
    forRowBlocks(ctx, x, maxBind, (xc) => covAccumulate(ctx, stats, xc, { ...opts, maxBindingBytes: undefined }));
    return;
  }

  const na = stats.count;
  const nb = M;
  const n = na + nb;
  const gram = gramKernel(ctx, K, opts);
  const tile = gram.tile;
  const blocks = Math.ceil(K / tile);
  if (blocks > ctx.limits.maxComputeWorkgroupsPerDimension) {
    throw new Error(`covAccumulate: dim ${K} needs ${blocks}² workgroups, over the device limit`);
  }
  const m2Max = Math.min(ctx.limits.maxStorageBufferBindingSize, opts.maxM2BindingBytes ?? Infinity);
  // A block pair of R rows each costs 2·R²·M flops: R ≤ √(cap / 2M) keeps every dispatch under the cap.
  const cap = opts.maxDispatchFlop ?? MAX_DISPATCH_FLOP;
  const starts = gramRowBlocks(ctx, K, tile, m2Max, Math.sqrt(cap / (2 * M)));

  // cs = [chunk mean | chunk Σx²]
  const cs = ctx.tensor([2 * K]);
  runProgram(ctx, COLSTATS, { bindings: [x.buffer, cs.buffer], uniforms: { M, K }, size: K });
  // The mirror binding m2b is only written for P ≠ Q; otherwise it gets this never-touched stand-in.
  const dummy = ctx.tensor([1]);
  const f = (na * nb) / n;
  const range = (b: number) => {
    const r0 = starts[b];
    const rows = (starts[b + 1] ?? K) - r0;
    return { r0, rows, bind: { buffer: stats.m2.buffer, offset: r0 * K * 4, size: rows * K * 4 } };
  };
  for (let p = 0; p < starts.length; p++) {
    const P = range(p);
    for (let q = p; q < starts.length; q++) {
      const Q = range(q);
      const pair = q !== p;
      gram.run({
        bindings: [x.buffer, cs.buffer, stats.mean.buffer, P.bind, pair ? Q.bind : { buffer: dummy.buffer, size: 4 }],
        uniforms: { M, K, ti0: P.r0 / tile, tj0: Q.r0 / tile, rowA: P.r0, rowB: Q.r0, pair: pair ? 1 : 0, f },
        cols: Q.rows,
        rows: P.rows,
      });
    }
  }
  runProgram(ctx, FINALIZE, { bindings: [cs.buffer, stats.mean.buffer, stats.sumsq.buffer], uniforms: { K, w: nb / n }, size: K });
  ctx.free(cs);
  ctx.free(dummy);
  stats.count = n;
}

/** See Backend.columnSumsq: the chunk statistics' Σx² half; an X over one binding goes in row blocks, their sums added. */
export function columnSumsq(ctx: GpuContext, x: GpuTensor, opts: { maxBindingBytes?: number } = {}): GpuTensor {
  const [M, K] = dims2(x);
  if (M === 0 || K === 0) return ctx.upload(new Float32Array(K), [K]);
  const maxBind = Math.min(ctx.limits.maxStorageBufferBindingSize, opts.maxBindingBytes ?? Infinity);
  if (x.buffer.size <= maxBind) return blockSumsq(ctx, x);
  let sum: GpuTensor | null = null;
  forRowBlocks(ctx, x, maxBind, (xc) => {
    const part = blockSumsq(ctx, xc);
    if (sum === null) sum = part;
    else {
      const next = add(ctx, sum, part);
      ctx.free(sum);
      ctx.free(part);
      sum = next;
    }
  });
  return sum!;
}

/** Σx² per column of an X bound whole. */
function blockSumsq(ctx: GpuContext, x: GpuTensor): GpuTensor {
  const [M, K] = dims2(x);
  const cs = ctx.tensor([2 * K]); // [chunk mean | chunk Σx²]
  runProgram(ctx, COLSTATS, { bindings: [x.buffer, cs.buffer], uniforms: { M, K }, size: K });
  const out = ctx.tensor([K]);
  ctx.copy(cs.buffer, K * 4, out.buffer, 0, K * 4);
  ctx.free(cs);
  return out;
}

/** `each` on copies of x's rows in blocks that fit a `maxBind`-byte binding (with the pool's rounding headroom). */
function forRowBlocks(ctx: GpuContext, x: GpuTensor, maxBind: number, each: (block: GpuTensor) => void): void {
  const [M, K] = dims2(x);
  const rows = Math.max(1, Math.floor((maxBind * 0.75) / (K * 4)));
  for (let r0 = 0; r0 < M; r0 += rows) {
    const n = Math.min(rows, M - r0);
    const xc = ctx.tensor([n, K]);
    ctx.copy(x.buffer, r0 * K * 4, xc.buffer, 0, n * K * 4);
    each(xc);
    ctx.free(xc);
  }
}
