import { CpuTensor } from './tensor.js';
export function linear(_x: CpuTensor, _w: CpuTensor, _bias?: CpuTensor | null): CpuTensor {
  throw new Error('linear: not implemented yet');
}
