import type { GpuContext, GpuTensor } from '../../gpu/context.js';
import type { CovStats } from '../backend.js';
export const COVARIANCE_SHADERS: string[] = [];
export function covInit(_ctx: GpuContext, _dim: number): CovStats<GpuTensor> {
  throw new Error('covariance: not implemented yet');
}
export function covAccumulate(_ctx: GpuContext, _s: CovStats<GpuTensor>, _x: GpuTensor): void {
  throw new Error('covariance: not implemented yet');
}
