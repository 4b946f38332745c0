// GPU small kernels: SwiGLU, add, row cosine, NLL, row slices, column gathers.
import type { GpuContext, GpuTensor } from '../../gpu/context.js';
import { flatGrid, rowsCols } from './grid.js';

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

export function sliceRows(ctx: GpuContext, x: GpuTensor, start: number, count: number): GpuTensor {
  const [rows, cols] = rowsCols(x);
  if (start < 0 || count < 0 || start + count > rows) throw new Error(`sliceRows: [${start}, ${start + count}) outside ${rows} rows`);
  const y = ctx.tensor([count, cols]);
  ctx.copy(x.buffer, start * cols * 4, y.buffer, 0, count * cols * 4);
  return y;
}

export function gatherColumns(ctx: GpuContext, x: GpuTensor, cols: readonly number[]): GpuTensor {
  const [rows, K] = rowsCols(x);
  for (const c of cols) if (!(c >= 0 && c < K)) throw new Error(`gatherColumns: column ${c} outside ${K}`);
  const idx = ctx.upload(Float32Array.from(cols), [cols.length]);
  const y = ctx.tensor([rows, cols.length]);
  ctx.dispatch(ctx.pipeline('gather'), [x.buffer, idx.buffer, y.buffer], { u32: [rows, K, cols.length] }, flatGrid(ctx, rows * cols.length, 256));
  ctx.free(idx);
  return y;
}
