// Y = X·Wᵀ (+ b) on the GPU: shaders/linear_vec4.wgsl and linear_scalar.wgsl (lib/linear.wgsl,
// tiled in workgroup memory and register-tiled by lib/matmul_tile.wgsl).
import type { GpuContext, GpuTensor } from '../../gpu/context.js';
import { type GridContext, type KernelProgram, runProgram, type UniformValues } from '../../gpu/program.js';
import type { Workgroups } from '../../gpu/submission.js';
import {
  MATMUL_CPU_BACKED,
  MATMUL_GPU,
  MATMUL_KIND_ENV,
  MATMUL_KINDS,
  MATMUL_RR_GPU,
  MATMUL_RR_GPU_SMALL,
  MATMUL_RR_MIN_WORKGROUPS,
  MAX_DISPATCH_FLOP,
  type MatmulConfig,
  type MatmulKind,
} from '../../gpu/tuning.js';
import { linearDims } from '../shapes.js';
import { perItemKernel } from './programs.js';
import { type OperandLayout, type RegisterTileConfig, registerTileMain, registerTileWorkgroupBytes, tileCols, tileRows } from './matmul-gen.js';

export { MAX_DISPATCH_FLOP, type MatmulConfig };

/**
 * The adapter's tile configuration (src/gpu/tuning.ts says why CPU-backed adapters and real GPUs
 * differ); BK is halved until two BK×tile f32 tiles fit the device's workgroup memory.
 */
export function matmulConfig(ctx: GpuContext): MatmulConfig {
  const cfg: MatmulConfig = { ...(cpuBackedAdapter(ctx) ? MATMUL_CPU_BACKED : MATMUL_GPU) };
  const tile = matmulTile(cfg);
  while (cfg.BK > 4 && 2 * cfg.BK * tile * 4 > ctx.limits.maxComputeWorkgroupStorageSize) cfg.BK /= 2;
  return cfg;
}

/** Mesa's lavapipe/llvmpipe or SwiftShader: Vulkan on the CPU's cores. */
export function cpuBackedAdapter(ctx: GpuContext): boolean {
  return /llvmpipe|lavapipe|swiftshader/i.test(ctx.adapterName);
}

/** The linear kernel the environment names (SLIMLLM_MATMUL), or null; anything else is one clear error. */
export function environmentMatmulKind(): MatmulKind | null {
  const v = process.env[MATMUL_KIND_ENV];
  if (v === undefined || v === '') return null;
  if (!(MATMUL_KINDS as readonly string[]).includes(v)) {
    throw new Error(`slimllm: ${MATMUL_KIND_ENV}=${v} is not a linear kernel (${MATMUL_KINDS.join(' or ')})`);
  }
  return v as MatmulKind;
}

/** The core one product runs on: what its options pin (a configuration or a kind), else matmulKind(ctx). */
export function requestedKind(ctx: GpuContext, opts: MatmulOptions): MatmulKind {
  return opts.registerTile ? 'register' : opts.config ? 'tiled' : (opts.kind ?? matmulKind(ctx));
}

/** The linear kernel products on `ctx` run on: the environment's, else the context's choice (src/kernels/gpu/matmul-tune.ts). */
export function matmulKind(ctx: GpuContext): MatmulKind {
  return environmentMatmulKind() ?? ctx.matmul.kind;
}

/**
 * The register-resident configuration for an M×N product (`triangle`: only the upper tiles of a
 * square one, as the covariance Gram launches): 128×128 tiles, or 64×64 when those would be too
 * few workgroups to fill the GPU; the prefetch's second buffer, then BK, give way when the tiles
 * do not fit the device's workgroup memory.
 */
export function registerTileFor(ctx: GpuContext, M: number, N: number, triangle = false): RegisterTileConfig {
  const [tm, tn] = [Math.ceil(M / tileRows(MATMUL_RR_GPU)), Math.ceil(N / tileCols(MATMUL_RR_GPU))];
  const big = triangle ? (tm * (tm + 1)) / 2 : tm * tn;
  let cfg: RegisterTileConfig = big < MATMUL_RR_MIN_WORKGROUPS ? MATMUL_RR_GPU_SMALL : MATMUL_RR_GPU;
  const room = ctx.limits.maxComputeWorkgroupStorageSize;
  if (registerTileWorkgroupBytes(cfg) > room) cfg = { ...cfg, prefetch: false };
  while (cfg.BK > 4 && registerTileWorkgroupBytes(cfg) > room) cfg = { ...cfg, BK: cfg.BK / 2 };
  return cfg;
}

/** Rows (and columns) of the output tile one workgroup computes. */
export function matmulTile(cfg: MatmulConfig): number {
  return cfg.WG_Y * (cfg.WIDE ? 16 : 8);
}

export function matmulConstants(cfg: MatmulConfig): Record<string, number> {
  return { WG_X: cfg.WG_X, WG_Y: cfg.WG_Y, BK: cfg.BK, WIDE: cfg.WIDE ? 1 : 0 };
}

/** Output [columns, rows] of one matmul dispatch → one workgroup per output tile. */
function matmulGrid([cols, rows]: readonly [number, number], at: GridContext<MatmulConfig>): Workgroups {
  const tile = matmulTile(at.variant);
  return [Math.ceil(cols / tile), Math.ceil(rows / tile)];
}

/** What the matmul kernels (linear_*, gram_*) share: the tile config is their variant. */
export const MATMUL_KERNEL = {
  workgroupSize: (cfg: MatmulConfig) => [cfg.WG_X, cfg.WG_Y] as const,
  constants: (cfg: MatmulConfig) => ({ BK: cfg.BK, WIDE: cfg.WIDE ? 1 : 0 }),
  grid: matmulGrid,
};

const LINEAR_UNIFORMS = { M: 'u32', K: 'u32', N: 'u32', hasBias: 'u32', ldy: 'u32', yCol: 'u32', row0: 'u32', upper: 'u32' } as const;
type LinearProgram = KernelProgram<typeof LINEAR_UNIFORMS, MatmulConfig, readonly [number, number]>;

/** X and W read as vec4 (K % 4 == 0) or as f32 (any K). */
const LINEAR_VEC4: LinearProgram = { shader: 'linear_vec4', entryPoint: 'main', uniforms: LINEAR_UNIFORMS, ...MATMUL_KERNEL };
const LINEAR_SCALAR: LinearProgram = { ...LINEAR_VEC4, shader: 'linear_scalar' };

type LinearRrProgram = KernelProgram<typeof LINEAR_UNIFORMS, RegisterTileConfig, readonly [number, number]>;

/** What the register-resident kernels (linear_rr_*, gram_rr_*) share: src/kernels/gpu/matmul-gen.ts writes their `main`. */
export function registerTileKernel(layout: OperandLayout) {
  return {
    entryPoint: 'main',
    workgroupSize: (cfg: RegisterTileConfig) => [cfg.WG_X, cfg.WG_Y] as const,
    generate: (cfg: RegisterTileConfig) => registerTileMain(cfg, layout),
    sampleVariant: MATMUL_RR_GPU,
  };
}

const LINEAR_RR_VEC4: LinearRrProgram = {
  shader: 'linear_rr_vec4',
  uniforms: LINEAR_UNIFORMS,
  ...registerTileKernel('rows'),
  grid: ([cols, rows], at) => [Math.ceil(cols / tileCols(at.variant)), Math.ceil(rows / tileRows(at.variant))],
};
const LINEAR_RR_SCALAR: LinearRrProgram = { ...LINEAR_RR_VEC4, shader: 'linear_rr_scalar' };

/** The lower triangle of a square matrix copied from its upper one, in place; size = n². */
const MIRROR = perItemKernel('mirror', 'main', { n: 'u32', size: 'u32' } as const);

export const LINEAR_PROGRAMS = [LINEAR_VEC4, LINEAR_SCALAR, LINEAR_RR_VEC4, LINEAR_RR_SCALAR, MIRROR];

/** Test and tuning hooks; production code passes nothing. */
export interface MatmulOptions {
  /** Tile configuration instead of the adapter's default (e.g. to test the 8×8 tile on lavapipe). */
  config?: MatmulConfig;
  /** Run the register-resident kernel with this configuration (linear and the covariance Gram). */
  registerTile?: RegisterTileConfig;
  /** Run this kernel with its default configuration instead of the default kernel (linear and the covariance Gram). */
  kind?: MatmulKind;
  /** Pretend storage bindings are at most this many bytes (exercises the row-chunked path). */
  maxBindingBytes?: number;
  /** Work cap per dispatch instead of MAX_DISPATCH_FLOP (exercises the split). */
  maxDispatchFlop?: number;
}

/** Largest multiple of `tile` (≥ tile) whose `perUnit`-flop units fit the dispatch cap. */
export function unitsPerDispatch(perUnit: number, tile: number, cap: number): number {
  return Math.max(tile, Math.floor(cap / perUnit / tile) * tile);
}

const MiB = 1024 * 1024;

/**
 * Rows of W bound per dispatch: all of them, or (W larger than one binding, e.g. a large
 * classifier) whole tiles of rows within the binding limit, each range computing a block of
 * output columns (Y stride ldy = N), so offsets stay aligned.
 */
function wRowsPerBinding(w: GpuTensor, N: number, K: number, tile: number, maxBind: number): number {
  if (N * K * 4 <= maxBind) return N;
  const rows = Math.floor(maxBind / (K * 4) / tile) * tile;
  if (rows < tile) throw new Error(`linear: ${tile} rows of W [${w.shape}] do not fit a ${(maxBind / MiB).toFixed(1)} MiB storage binding`);
  return rows;
}

/** Rows of X per chunk when X or Y cannot be bound whole: whole tiles within the limits. */
function xRowsPerChunk(K: number, N: number, tile: number, maxBind: number, maxGroups: number): number {
  const rowBytes = Math.max(K, N) * 4;
  // Pooled buffers round sizes up by at most a quarter: leave that headroom.
  let chunk = Math.min(Math.floor((maxBind * 0.75) / rowBytes), maxGroups * tile);
  if (chunk >= tile) chunk = Math.floor(chunk / tile) * tile;
  if (chunk < 1) {
    throw new Error(
      `linear: one row of X or Y (${(rowBytes / MiB).toFixed(1)} MiB) does not fit a ` +
        `${(maxBind / MiB).toFixed(1)} MiB storage binding`,
    );
  }
  return chunk;
}

type LinearCall = { bindings: (GPUBuffer | GPUBufferBinding)[]; uniforms: UniformValues<typeof LINEAR_UNIFORMS>; size: readonly [number, number] };

/** The kernel one product runs on: its output tile and a dispatch of it. */
interface LinearKernel {
  readonly tileM: number;
  readonly tileN: number;
  run(call: LinearCall): void;
}

function linearKernel(ctx: GpuContext, [M, K, N]: readonly number[], opts: MatmulOptions): LinearKernel {
  if (requestedKind(ctx, opts) === 'register') {
    const variant = opts.registerTile ?? registerTileFor(ctx, M, N);
    const program = K % 4 === 0 ? LINEAR_RR_VEC4 : LINEAR_RR_SCALAR;
    return { tileM: tileRows(variant), tileN: tileCols(variant), run: (call) => runProgram(ctx, program, { ...call, variant }) };
  }
  const variant = opts.config ?? matmulConfig(ctx);
  const program = K % 4 === 0 ? LINEAR_VEC4 : LINEAR_SCALAR;
  const tile = matmulTile(variant);
  return { tileM: tile, tileN: tile, run: (call) => runProgram(ctx, program, { ...call, variant }) };
}

export function linear(
  ctx: GpuContext,
  x: GpuTensor,
  w: GpuTensor,
  bias?: GpuTensor | null,
  opts: MatmulOptions = {},
): GpuTensor {
  return product(ctx, x, w, bias ?? null, opts, false);
}

/**
 * X·Wᵀ of two [n × K] matrices whose product the caller knows to be symmetric (W = X, commuting
 * symmetric X and W, or A·M·Aᵀ): workgroups whose tile lies wholly below the diagonal return at
 * once and the lower triangle is then copied from the upper one, so about half the work is done
 * and the result is exactly symmetric. Where the [n × n] result does not fit one storage binding
 * (the copy binds it whole), the whole product is computed instead.
 */
export function symmetricLinear(ctx: GpuContext, x: GpuTensor, w: GpuTensor, opts: MatmulOptions = {}): GpuTensor {
  const [M, , N] = linearDims(x, w, null);
  if (M !== N || x.shape.length !== 2) throw new Error(`symmetricLinear: expected two [n × K] matrices, got [${x.shape}] and [${w.shape}]`);
  const bytes = N * N * 4;
  const fits = bytes <= Math.min(ctx.limits.maxStorageBufferBindingSize, opts.maxBindingBytes ?? Infinity);
  const y = product(ctx, x, w, null, opts, fits);
  if (fits && N > 1) runProgram(ctx, MIRROR, { bindings: [{ buffer: y.buffer, size: bytes }], uniforms: { n: N, size: N * N }, size: N * N });
  return y;
}

/** X·Wᵀ (+ b); `upper`: tiles wholly below the diagonal are skipped (symmetricLinear mirrors them). */
function product(ctx: GpuContext, x: GpuTensor, w: GpuTensor, bias: GpuTensor | null, opts: MatmulOptions, upper: boolean): GpuTensor {
  const [M, K, N] = linearDims(x, w, bias);
  const y = ctx.tensor([...x.shape.slice(0, -1), N]);
  if (M === 0 || N === 0) return y;

  const kernel = linearKernel(ctx, [M, K, N], opts);
  const { tileM, tileN } = kernel;
  const maxBind = Math.min(ctx.limits.maxStorageBufferBindingSize, opts.maxBindingBytes ?? Infinity);
  const maxGroups = ctx.limits.maxComputeWorkgroupsPerDimension;
  const nChunk = wRowsPerBinding(w, N, K, tileN, maxBind);
  if (Math.ceil(Math.min(N, nChunk) / tileN) > maxGroups) {
    throw new Error(`linear: N=${N} needs ${Math.ceil(N / tileN)} workgroups along N, over the device limit ${maxGroups}`);
  }
  const cap = opts.maxDispatchFlop ?? MAX_DISPATCH_FLOP;
  // Rows r0 … r0 + rows of the product, X and Y bound from their first row.
  const run = (xb: GPUBuffer, yb: GPUBuffer, r0: number, rows: number) => {
    // Output columns per dispatch: within the W binding and the work cap.
    const nStep = Math.min(nChunk, unitsPerDispatch(2 * rows * K, tileN, cap));
    // A symmetric product's blocks of columns that end before the rows begin are all below the diagonal.
    const first = upper ? Math.floor(r0 / nStep) * nStep : 0;
    for (let n0 = first; n0 < N; n0 += nStep) {
      const nc = Math.min(nStep, N - n0);
      const wBind = { buffer: w.buffer, offset: n0 * K * 4, size: nc * K * 4 };
      // Without a bias the slot still needs a valid (read-only, never read) binding.
      const bBind = bias ? { buffer: bias.buffer, size: N * 4 } : { buffer: w.buffer, size: 4 * Math.min(K * N, 64) };
      kernel.run({
        bindings: [xb, wBind, bBind, yb],
        uniforms: { M: rows, K, N: nc, hasBias: bias ? 1 : 0, ldy: N, yCol: n0, row0: r0, upper: upper ? 1 : 0 },
        size: [nc, rows],
      });
    }
  };

  // One dispatch when X and Y can be bound whole; otherwise row chunks copied through temporaries
  // (bindings cover whole buffers here), each within the binding and workgroup-count limits.
  if (x.buffer.size <= maxBind && y.buffer.size <= maxBind && Math.ceil(M / tileM) <= maxGroups) {
    run(x.buffer, y.buffer, 0, M);
    return y;
  }
  const chunk = xRowsPerChunk(K, N, tileM, maxBind, maxGroups);
  for (let r0 = 0; r0 < M; r0 += chunk) {
    const rows = Math.min(chunk, M - r0);
    const xc = ctx.tensor([rows, K]);
    const yc = ctx.tensor([rows, N]);
    ctx.copy(x.buffer, r0 * K * 4, xc.buffer, 0, rows * K * 4);
    run(xc.buffer, yc.buffer, r0, rows);
    ctx.copy(yc.buffer, 0, y.buffer, r0 * N * 4, rows * N * 4);
    ctx.free(xc);
    ctx.free(yc);
  }
  return y;
}
