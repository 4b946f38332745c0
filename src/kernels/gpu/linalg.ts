// Dense linear algebra on the GPU: blocked Cholesky (with failure detection) and Cholesky solves.
// Shapes are row-major; see shaders/cholesky.wgsl and cholesky_solve.wgsl for the algorithms.
import type { GpuContext, GpuTensor } from '../../gpu/context.js';
import { type KernelProgram, runProgram } from '../../gpu/program.js';
import { CHOLESKY_BLOCK as B, CHOLESKY_DIAG_WG, CHOLESKY_SYRK_WG, FLAT_WG, ROW_ITEM_WG, SOLVE_MAX_TILE_COLS, SOLVE_UPDATE_WG } from '../../gpu/tuning.js';
import { pivotText, squareOrder } from '../shapes.js';
import { alongX, perInvocation } from './grid.js';

/** The block size reaches the shaders as a define: it sizes register arrays, which overrides cannot. */
const blockDefine = () => ({ B });

type FactorUniforms = { n: 'u32'; k: 'u32' };
const FACTOR_UNIFORMS: FactorUniforms = { n: 'u32', k: 'u32' };
/** Zero the upper triangle, find non-finite entries; size = elements. */
const PREP: KernelProgram<FactorUniforms> = {
  shader: 'cholesky',
  entryPoint: 'prep',
  uniforms: FACTOR_UNIFORMS,
  workgroupSize: [FLAT_WG],
  defines: blockDefine,
  grid: perInvocation,
};
/** Factor the diagonal block: one workgroup. */
const DIAG: KernelProgram<FactorUniforms> = { ...PREP, entryPoint: 'diag', workgroupSize: [CHOLESKY_DIAG_WG], grid: () => [1] };
/** Panel solve, one invocation per row below the block; size = rows. */
const PANEL: KernelProgram<FactorUniforms> = { ...PREP, entryPoint: 'panel', workgroupSize: [ROW_ITEM_WG], grid: alongX };
/** Trailing update in block tiles; size = tiles per side. */
const SYRK: KernelProgram<FactorUniforms> = { ...PREP, entryPoint: 'syrk', workgroupSize: CHOLESKY_SYRK_WG, grid: (tiles) => [tiles, tiles] };

type SolveUniforms = { n: 'u32'; m: 'u32'; k: 'u32'; mode: 'u32' };
/** Solve the diagonal block, one invocation per right-hand-side column; size = columns. */
const SOLVE_BLOCK: KernelProgram<SolveUniforms> = {
  shader: 'cholesky_solve',
  entryPoint: 'block',
  uniforms: { n: 'u32', m: 'u32', k: 'u32', mode: 'u32' },
  workgroupSize: [ROW_ITEM_WG],
  defines: blockDefine,
  grid: alongX,
};
/** The other rows lose the block's contribution; variant = tile columns; size = [columns, rows]. */
const SOLVE_UPDATE: KernelProgram<SolveUniforms, number, readonly [number, number]> = {
  shader: 'cholesky_solve',
  entryPoint: 'update',
  uniforms: SOLVE_BLOCK.uniforms,
  defines: blockDefine,
  workgroupSize: [SOLVE_UPDATE_WG],
  constants: (tileCols) => ({ TC: tileCols }),
  sampleVariant: SOLVE_MAX_TILE_COLS,
  grid: ([cols, rows], at) => [Math.ceil(cols / at.variant), Math.ceil(rows / (at.workgroupSize[0] / at.variant))],
};

export const LINALG_PROGRAMS = [PREP, DIAG, PANEL, SYRK, SOLVE_BLOCK, SOLVE_UPDATE];

/**
 * Lower Cholesky factor L of A (A = L·Lᵀ, strict upper triangle zero). Rejects, naming `name`,
 * when A holds a non-finite value or a pivot is not positive (one readback per call).
 */
export async function cholesky(ctx: GpuContext, a: GpuTensor, name: string): Promise<GpuTensor> {
  const n = squareOrder(a, 'cholesky');
  const l = ctx.tensor([n, n]);
  if (n === 0) return l;
  // status: [first non-finite index (n² = none), 1 + first bad pivot, its value bits, unused]
  const status = ctx.upload(new Float32Array(new Uint32Array([n * n, 0, 0, 0]).buffer), [4]);
  ctx.copy(a.buffer, 0, l.buffer, 0, n * n * 4);
  const bindings = [l.buffer, status.buffer];
  runProgram(ctx, PREP, { bindings, uniforms: { n, k: 0 }, size: n * n });
  for (let k = 0; k < n; k += B) {
    runProgram(ctx, DIAG, { bindings, uniforms: { n, k }, size: 1 });
    const below = n - k - B;
    if (below <= 0) break;
    runProgram(ctx, PANEL, { bindings, uniforms: { n, k }, size: below });
    runProgram(ctx, SYRK, { bindings, uniforms: { n, k }, size: Math.ceil(below / B) });
  }
  const raw = await ctx.readBuffer(status.buffer, 4);
  ctx.free(status);
  const u = new Uint32Array(raw.buffer, raw.byteOffset, 4);
  if (u[0] < n * n) {
    ctx.free(l);
    const i = Math.floor(u[0] / n);
    throw new Error(`cholesky failed for '${name}': matrix has a non-finite value at [${i}, ${u[0] - i * n}]`);
  }
  if (u[1] !== 0) {
    ctx.free(l);
    throw new Error(`cholesky failed for '${name}': matrix is not positive definite (pivot ${u[1] - 1} = ${pivotText(raw[2])})`);
  }
  return l;
}

/** X = A⁻¹·B given A's Cholesky factor L [n×n]; B [n×m] (or [n], one right-hand side). */
export function choleskySolve(ctx: GpuContext, l: GpuTensor, b: GpuTensor): GpuTensor {
  const n = squareOrder(l, 'choleskySolve');
  if ((b.shape[0] ?? 0) !== n || b.shape.length > 2) {
    throw new Error(`choleskySolve: right-hand side [${b.shape}] does not match L [${l.shape}]`);
  }
  const m = b.shape.length === 2 ? b.shape[1] : 1;
  const x = ctx.tensor(b.shape);
  if (x.size === 0) return x;
  ctx.copy(b.buffer, 0, x.buffer, 0, x.size * 4);
  // Columns per update tile: the smallest power of two covering m, at most the widest tile.
  let tc = 1;
  while (tc < m && tc < SOLVE_MAX_TILE_COLS) tc *= 2;
  const bindings = [l.buffer, x.buffer];
  const step = (k: number, mode: number, rowsToUpdate: number) => {
    runProgram(ctx, SOLVE_BLOCK, { bindings, uniforms: { n, m, k, mode }, size: m });
    if (rowsToUpdate > 0) runProgram(ctx, SOLVE_UPDATE, { bindings, uniforms: { n, m, k, mode }, size: [m, rowsToUpdate], variant: tc });
  };
  // Forward: L·Y = B.
  for (let k = 0; k < n; k += B) step(k, 0, n - k - B);
  // Backward: Lᵀ·X = Y, last block first.
  for (let k = Math.floor((n - 1) / B) * B; k >= 0; k -= B) step(k, 1, k);
  return x;
}
