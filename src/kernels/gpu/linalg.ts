// Dense linear algebra on the GPU: blocked Cholesky (with failure detection) and Cholesky solves.
// Shapes are row-major; see shaders/cholesky.wgsl and cholesky_solve.wgsl for the algorithms.
import type { GpuContext, GpuTensor } from '../../gpu/context.js';
import { flatGrid, squareOrder } from './grid.js';

export const LINALG_SHADERS: string[] = ['cholesky', 'cholesky_solve'];

/** Block size of the Cholesky kernels (the shaders' `B`). */
const B = 32;
/** Formats a failed pivot like the CPU twin does. */
export function pivotText(v: number): string {
  return Number.isFinite(v) ? String(Number(v.toPrecision(4))) : String(v);
}

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
  const bufs = [l.buffer, status.buffer];
  ctx.dispatch(ctx.pipeline('cholesky', 'prep'), bufs, { u32: [n, 0] }, flatGrid(ctx, n * n, 256));
  const diag = ctx.pipeline('cholesky', 'diag');
  const panel = ctx.pipeline('cholesky', 'panel');
  const syrk = ctx.pipeline('cholesky', 'syrk');
  for (let k = 0; k < n; k += B) {
    ctx.dispatch(diag, bufs, { u32: [n, k] }, [1]);
    const below = n - k - B;
    if (below <= 0) break;
    ctx.dispatch(panel, bufs, { u32: [n, k] }, [Math.ceil(below / 64)]);
    const tiles = Math.ceil(below / B);
    ctx.dispatch(syrk, bufs, { u32: [n, k] }, [tiles, tiles]);
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
  let tc = 1;
  while (tc < m && tc < 16) tc *= 2;
  const tr = 256 / tc;
  const block = ctx.pipeline('cholesky_solve', 'block');
  const update = ctx.pipeline('cholesky_solve', 'update', { TC: tc });
  const bufs = [l.buffer, x.buffer];
  const colGroups = Math.ceil(m / 64);
  const tileCols = Math.ceil(m / tc);
  // Forward: L·Y = B.
  for (let k = 0; k < n; k += B) {
    ctx.dispatch(block, bufs, { u32: [n, m, k, 0] }, [colGroups]);
    const below = n - k - B;
    if (below > 0) ctx.dispatch(update, bufs, { u32: [n, m, k, 0] }, [tileCols, Math.ceil(below / tr)]);
  }
  // Backward: Lᵀ·X = Y, last block first.
  for (let k = Math.floor((n - 1) / B) * B; k >= 0; k -= B) {
    ctx.dispatch(block, bufs, { u32: [n, m, k, 1] }, [colGroups]);
    if (k > 0) ctx.dispatch(update, bufs, { u32: [n, m, k, 1] }, [tileCols, Math.ceil(k / tr)]);
  }
  return x;
}
