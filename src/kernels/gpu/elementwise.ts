// GPU small kernels: SwiGLU, add, row cosine, NLL, row slices, column gathers.
import type { GpuContext, GpuTensor } from '../../gpu/context.js';
import { alignedRowStep, flatGrid, formatBytes, rowsCols } from './grid.js';

export const ELEMENTWISE_SHADERS = ['elementwise', 'rowreduce', 'gather', 'sum'];

function binary(ctx: GpuContext, a: GpuTensor, b: GpuTensor, op: number, name: string): GpuTensor {
  if (a.size !== b.size) throw new Error(`${name}: shapes [${a.shape}] and [${b.shape}] differ`);
  const y = ctx.tensor(a.shape);
  ctx.dispatch(ctx.pipeline('elementwise', 'main', { OP: op }), [a.buffer, b.buffer, y.buffer], { u32: [a.size] }, flatGrid(ctx, a.size, 256));
  return y;
}

export function add(ctx: GpuContext, a: GpuTensor, b: GpuTensor): GpuTensor {
  return binary(ctx, a, b, 0, 'add');
}

export function swiglu(ctx: GpuContext, gate: GpuTensor, up: GpuTensor): GpuTensor {
  return binary(ctx, gate, up, 1, 'swiglu');
}

export function rowCosineSum(ctx: GpuContext, a: GpuTensor, b: GpuTensor): GpuTensor {
  if (a.size !== b.size) throw new Error(`rowCosineSum: shapes [${a.shape}] and [${b.shape}] differ`);
  const [rows, cols] = rowsCols(a);
  const perRow = ctx.tensor([rows]);
  ctx.dispatch(ctx.pipeline('rowreduce', 'cosine'), [a.buffer, b.buffer, perRow.buffer], { u32: [rows, cols] }, flatGrid(ctx, rows, 1));
  const total = ctx.tensor([1]);
  ctx.dispatch(ctx.pipeline('sum'), [perRow.buffer, total.buffer], { u32: [rows] }, [1]);
  ctx.free(perRow);
  return total;
}

export function nll(ctx: GpuContext, logits: GpuTensor, targets: GpuTensor): GpuTensor {
  const [rows, V] = rowsCols(logits);
  if (targets.size !== rows) throw new Error(`nll: ${targets.size} targets for ${rows} rows`);
  const y = ctx.tensor([rows]);
  ctx.dispatch(ctx.pipeline('rowreduce', 'nll'), [logits.buffer, targets.buffer, y.buffer], { u32: [rows, V] }, flatGrid(ctx, rows, 1));
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
  const pipeline = ctx.pipeline('gather');
  for (let r0 = 0; r0 < rows; r0 += chunk) {
    const r = Math.min(chunk, rows - r0);
    ctx.dispatch(
      pipeline,
      [
        { buffer: x.buffer, offset: r0 * K * 4, size: r * K * 4 },
        { buffer: idx.buffer, size: n * 4 },
        { buffer: y.buffer, offset: r0 * n * 4, size: r * n * 4 },
      ],
      { u32: [r, K, n] },
      flatGrid(ctx, r * n, 256),
    );
  }
  ctx.free(idx);
  return y;
}
