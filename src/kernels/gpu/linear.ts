import type { GpuContext, GpuTensor } from '../../gpu/context.js';
export const LINEAR_SHADERS: string[] = [];
export function linear(_ctx: GpuContext, _x: GpuTensor, _w: GpuTensor, _bias?: GpuTensor | null): GpuTensor {
  throw new Error('linear: not implemented yet');
}
