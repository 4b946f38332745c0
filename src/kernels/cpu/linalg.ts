import { CpuTensor } from './tensor.js';
export function cholesky(_a: CpuTensor, _name: string): Promise<CpuTensor> {
  throw new Error('cholesky: not implemented yet');
}
export function choleskySolve(_l: CpuTensor, _b: CpuTensor): CpuTensor {
  throw new Error('choleskySolve: not implemented yet');
}
export function eigh(_a: CpuTensor): { values: CpuTensor; vectors: CpuTensor } {
  throw new Error('eigh: not implemented yet');
}
