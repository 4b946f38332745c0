// The two common shapes of a kernel description, so each kernel file states only what is its own.
import type { KernelProgram, UniformSpec } from '../../gpu/program.js';
import { FLAT_WG, ROW_REDUCE_WG } from '../../gpu/tuning.js';
import { perInvocation, perWorkgroup } from './grid.js';

/** A kernel with one invocation per item (size = items), `workgroupSize` threads per workgroup. */
export function perItemKernel<U extends UniformSpec, V = void>(shader: string, entryPoint: string, uniforms: U, workgroupSize = FLAT_WG): KernelProgram<U, V> {
  return { shader, entryPoint, uniforms, workgroupSize: [workgroupSize], grid: perInvocation };
}

/** A row reduction: one workgroup per row (size = rows), reducing over ROW_REDUCE_WG partial sums. */
export function perRowKernel<U extends UniformSpec>(shader: string, entryPoint: string, uniforms: U): KernelProgram<U> {
  return { shader, entryPoint, uniforms, workgroupSize: [ROW_REDUCE_WG], grid: perWorkgroup };
}
