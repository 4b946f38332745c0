// GPU small kernels: SwiGLU, add, row cosine, NLL, row slices, row and column gathers.
import type { GpuContext, GpuTensor } from '../../gpu/context.js';
import { type KernelProgram, runProgram } from '../../gpu/program.js';
import { SUM_WG } from '../../gpu/tuning.js';
import { rowsCols } from '../shapes.js';
import { alignedRowStep, formatBytes } from './grid.js';
import { perItemKernel, perRowKernel } from './programs.js';

/** Which binary op elementwise.wgsl computes (its override OP). */
const enum BinaryOp {
  Add = 0,
  Swiglu = 1,
}

/** y = a ∘ b elementwise; size = elements; the variant picks the op. */
const BINARY: KernelProgram<{ n: 'u32' }, BinaryOp> = {
  ...perItemKernel<{ n: 'u32' }, BinaryOp>('elementwise', 'main', { n: 'u32' }),
  constants: (op) => ({ OP: op }),
};
/** Row reductions of [rows × cols]; size = rows. */
const ROW_COSINE = perRowKernel('rowreduce', 'cosine', { rows: 'u32', cols: 'u32' } as const);
const ROW_NLL = perRowKernel('rowreduce', 'nll', ROW_COSINE.uniforms);
/** Sum of a short vector by one workgroup; size is unused (always one workgroup). */
const SUM: KernelProgram<{ n: 'u32' }> = {
  shader: 'sum',
  entryPoint: 'main',
  uniforms: { n: 'u32' },
  workgroupSize: [SUM_WG],
  grid: () => [1],
};
/** y = x[:, cols]; size = elements of y. */
const GATHER = perItemKernel('gather', 'main', { rows: 'u32', inCols: 'u32', outCols: 'u32' } as const);
const TRANSPOSE = perItemKernel('transpose', 'main', { R: 'u32', C: 'u32', r0: 'u32', c0: 'u32', h: 'u32', w: 'u32' } as const);

export const ELEMENTWISE_PROGRAMS = [BINARY, ROW_COSINE, ROW_NLL, SUM, GATHER, TRANSPOSE];

function binary(ctx: GpuContext, a: GpuTensor, b: GpuTensor, op: BinaryOp, name: string): GpuTensor {
  if (a.size !== b.size) throw new Error(`${name}: shapes [${a.shape}] and [${b.shape}] differ`);
  const y = ctx.tensor(a.shape);
  runProgram(ctx, BINARY, { bindings: [a.buffer, b.buffer, y.buffer], uniforms: { n: a.size }, size: a.size, variant: op });
  return y;
}

export function add(ctx: GpuContext, a: GpuTensor, b: GpuTensor): GpuTensor {
  return binary(ctx, a, b, BinaryOp.Add, 'add');
}

export function swiglu(ctx: GpuContext, gate: GpuTensor, up: GpuTensor): GpuTensor {
  return binary(ctx, gate, up, BinaryOp.Swiglu, 'swiglu');
}

export function rowCosineSum(ctx: GpuContext, a: GpuTensor, b: GpuTensor): GpuTensor {
  if (a.size !== b.size) throw new Error(`rowCosineSum: shapes [${a.shape}] and [${b.shape}] differ`);
  const [rows, cols] = rowsCols(a);
  const perRow = ctx.tensor([rows]);
  runProgram(ctx, ROW_COSINE, { bindings: [a.buffer, b.buffer, perRow.buffer], uniforms: { rows, cols }, size: rows });
  const total = ctx.tensor([1]);
  runProgram(ctx, SUM, { bindings: [perRow.buffer, total.buffer], uniforms: { n: rows }, size: 1 });
  ctx.free(perRow);
  return total;
}

export function nll(ctx: GpuContext, logits: GpuTensor, targets: GpuTensor): GpuTensor {
  const [rows, V] = rowsCols(logits);
  if (targets.size !== rows) throw new Error(`nll: ${targets.size} targets for ${rows} rows`);
  const y = ctx.tensor([rows]);
  runProgram(ctx, ROW_NLL, { bindings: [logits.buffer, targets.buffer, y.buffer], uniforms: { rows, cols: V }, size: rows });
  return y;
}

/** A buffer copy, not a binding: works at any size (e.g. rows of a 485 MB M2). */
export function sliceRows(ctx: GpuContext, x: GpuTensor, start: number, count: number): GpuTensor {
  const [rows, cols] = rowsCols(x);
  if (start < 0 || count < 0 || start + count > rows) throw new Error(`sliceRows: [${start}, ${start + count}) outside ${rows} rows`);
  const y = ctx.tensor([count, cols]);
  ctx.copy(x.buffer, start * cols * 4, y.buffer, 0, count * cols * 4);
  return y;
}

/**
 * y = x[rows, :]: each run of consecutive rows is one buffer copy, so no binding limit applies
 * (an M2 of any size) and the values are copied bit for bit.
 */
export function gatherRows(ctx: GpuContext, x: GpuTensor, rows: readonly number[]): GpuTensor {
  const [n, K] = rowsCols(x);
  for (const r of rows) if (!(Number.isInteger(r) && r >= 0 && r < n)) throw new Error(`gatherRows: row ${r} outside ${n}`);
  const y = ctx.tensor([rows.length, K]);
  for (let i = 0; i < rows.length; ) {
    let j = i + 1;
    while (j < rows.length && rows[j] === rows[j - 1] + 1) j++;
    ctx.copy(x.buffer, rows[i] * K * 4, y.buffer, i * K * 4, (j - i) * K * 4);
    i = j;
  }
  return y;
}

/**
 * y = x[:, cols]. X and Y (e.g. a 485 MB M2 and its kept columns) may exceed one storage binding:
 * they are then bound in row ranges whose offsets meet the storage alignment, one dispatch each.
 * `opts.maxBindingBytes` pretends a smaller binding limit (test hook).
 */
export function gatherColumns(
  ctx: GpuContext,
  x: GpuTensor,
  cols: readonly number[],
  opts: { maxBindingBytes?: number } = {},
): GpuTensor {
  const [rows, K] = rowsCols(x);
  for (const c of cols) if (!(c >= 0 && c < K)) throw new Error(`gatherColumns: column ${c} outside ${K}`);
  const n = cols.length;
  const y = ctx.tensor([rows, n]);
  if (rows === 0 || n === 0) return y;
  const maxBind = Math.min(ctx.limits.maxStorageBufferBindingSize, opts.maxBindingBytes ?? Infinity);
  let chunk = rows;
  if (rows * Math.max(K, n) * 4 > maxBind) {
    const step = alignedRowStep(ctx.limits.minStorageBufferOffsetAlignment, 1, K * 4, n * 4);
    chunk = Math.floor(maxBind / (Math.max(K, n) * 4) / step) * step;
    if (chunk < step) {
      throw new Error(
        `gatherColumns: ${step} rows of x [${x.shape}] gathered to ${n} columns ` +
          `(${formatBytes(step * Math.max(K, n) * 4)}) do not fit a ${formatBytes(maxBind)} storage binding`,
      );
    }
  }
  const idx = ctx.upload(Float32Array.from(cols), [n]);
  for (let r0 = 0; r0 < rows; r0 += chunk) {
    const r = Math.min(chunk, rows - r0);
    runProgram(ctx, GATHER, {
      bindings: [
        { buffer: x.buffer, offset: r0 * K * 4, size: r * K * 4 },
        { buffer: idx.buffer, size: n * 4 },
        { buffer: y.buffer, offset: r0 * n * 4, size: r * n * 4 },
      ],
      uniforms: { rows: r, inCols: K, outCols: n },
      size: r * n,
    });
  }
  ctx.free(idx);
  return y;
}

/**
 * xᵀ [C × R] of a 2-D x [R × C]. Over the storage-binding limit it works in blocks of input rows ×
 * input columns, each binding only its rows of x and of y (offsets aligned as the device requires).
 */
export function transpose(ctx: GpuContext, x: GpuTensor, opts: { maxBindingBytes?: number } = {}): GpuTensor {
  const [R, C] = rowsCols(x);
  const y = ctx.tensor([C, R]);
  if (R === 0 || C === 0) return y;
  const maxBind = Math.min(ctx.limits.maxStorageBufferBindingSize, opts.maxBindingBytes ?? Infinity);
  const align = ctx.limits.minStorageBufferOffsetAlignment;
  const fit = R * C * 4 <= maxBind;
  const h = fit ? R : blockRows(align, C, maxBind, x.shape, 'input');
  const w = fit ? C : blockRows(align, R, maxBind, x.shape, 'output');
  for (let r0 = 0; r0 < R; r0 += h) {
    const hb = Math.min(h, R - r0);
    for (let c0 = 0; c0 < C; c0 += w) {
      const wb = Math.min(w, C - c0);
      runProgram(ctx, TRANSPOSE, {
        bindings: [
          { buffer: x.buffer, offset: r0 * C * 4, size: hb * C * 4 },
          { buffer: y.buffer, offset: c0 * R * 4, size: wb * R * 4 },
        ],
        uniforms: { R, C, r0, c0, h: hb, w: wb },
        size: hb * wb,
      });
    }
  }
  return y;
}

/** Rows of `width` floats per transpose block: as many as a binding holds, in steps whose byte offsets stay aligned. */
function blockRows(align: number, width: number, maxBind: number, shape: readonly number[], side: string): number {
  const step = alignedRowStep(align, 1, width * 4);
  const rows = Math.floor(maxBind / (width * 4) / step) * step;
  if (rows < step) {
    throw new Error(`transpose: ${step} ${side} rows of ${width} values of [${shape}] (${formatBytes(step * width * 4)}) do not fit a ${formatBytes(maxBind)} storage binding`);
  }
  return rows;
}
