import type { GpuContext, GpuTensor } from '../../gpu/context.js';
export const LINALG_SHADERS: string[] = [];
export function cholesky(_ctx: GpuContext, _a: GpuTensor, _name: string): Promise<GpuTensor> {
  throw new Error('cholesky: not implemented yet');
}
export function choleskySolve(_ctx: GpuContext, _l: GpuTensor, _b: GpuTensor): GpuTensor {
  throw new Error('choleskySolve: not implemented yet');
}
export function eigh(_ctx: GpuContext, _a: GpuTensor): { values: GpuTensor; vectors: GpuTensor } {
  throw new Error('eigh: not implemented yet');
}
