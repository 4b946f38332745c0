import type { GpuContext } from '../../gpu/context.js';
import type { GridContext } from '../../gpu/program.js';
import type { Workgroups } from '../../gpu/submission.js';

/**
 * Workgroup counts for `items` work items, `perGroup` per workgroup, folded into 2-D when the
 * count exceeds the per-dimension limit. Shaders recover the flat index as x + y·nwg.x (·WG).
 */
export function flatGrid(ctx: GpuContext, items: number, perGroup: number): [number, number] {
  const groups = Math.ceil(items / perGroup);
  const max = ctx.limits.maxComputeWorkgroupsPerDimension;
  if (groups <= max) return [groups, 1];
  const y = Math.ceil(groups / max);
  return [Math.ceil(groups / y), y];
}

/** Grid of a kernel with one invocation per item: `items` spread over workgroups of the program's size. */
export function perInvocation(items: number, at: GridContext<unknown>): Workgroups {
  return flatGrid(at.ctx, items, at.workgroupSize[0]);
}

/**
 * Grid of a kernel with one invocation per item that indexes by workgroup x only: one row of
 * workgroups (a dispatch over the per-dimension limit is refused, never folded).
 */
export function alongX(items: number, at: GridContext<unknown>): Workgroups {
  return [Math.ceil(items / at.workgroupSize[0])];
}

/** Grid of a kernel with one workgroup per item (a row reduction: one workgroup per row). */
export function perWorkgroup(items: number, at: GridContext<unknown>): Workgroups {
  return flatGrid(at.ctx, items, 1);
}

const MiB = 1024 * 1024;

/** "485.0 MiB", or "4096 B" below 1 MiB (pretend limits in tests). */
export function formatBytes(bytes: number): string {
  return bytes >= MiB ? `${(bytes / MiB).toFixed(1)} MiB` : `${bytes} B`;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/**
 * The smallest row count that is a multiple of `multiple` and whose byte size is a multiple of
 * `align` for every row size in `rowBytes`: a row range of such length can start a storage binding
 * (offsets must meet minStorageBufferOffsetAlignment) at any multiple of it.
 */
export function alignedRowStep(align: number, multiple: number, ...rowBytes: number[]): number {
  let step = multiple;
  for (const b of rowBytes) {
    const s = align / gcd(b, align);
    step = (step * s) / gcd(step, s);
  }
  return step;
}

