import type { CovStats } from '../backend.js';
import { CpuTensor } from './tensor.js';
export function covInit(_dim: number): CovStats<CpuTensor> {
  throw new Error('covariance: not implemented yet');
}
export function covAccumulate(_s: CovStats<CpuTensor>, _x: CpuTensor): void {
  throw new Error('covariance: not implemented yet');
}
