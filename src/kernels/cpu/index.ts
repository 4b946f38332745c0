// The CPU backend: plain TypeScript over Float32Array. The reference twin of every GPU kernel
// and the baseline of the benchmarks.
import type { AttentionOptions, Backend, HalfDtype, CovStats, RopeOptions } from '../backend.js';
import { columnSumsq, covAccumulate, covInit } from './covariance.js';
import { attention, rope, rmsnorm } from './transformer.js';
import { add, gatherColumns, gatherRows, nll, rowCosineSum, sliceRows, swiglu, transpose } from './elementwise.js';
import { cholesky, choleskySolve } from './linalg.js';
import { linear, symmetricLinear } from './linear.js';
import { spectralSigmoid } from './matfun.js';
import { CpuTensor } from './tensor.js';
import { widenHalf } from './widen.js';

export { CpuTensor };

export class CpuBackend implements Backend<CpuTensor> {
  readonly deviceName = 'cpu';
  deviceMemory(): null {
    return null;
  }
  upload(data: Float32Array, shape: readonly number[]): CpuTensor {
    return new CpuTensor(data, shape);
  }
  widenHalf(bits: Uint16Array, dtype: HalfDtype, shape: readonly number[]): CpuTensor {
    return widenHalf(bits, dtype, shape);
  }
  async read(t: CpuTensor): Promise<Float32Array> {
    return t.data;
  }
  free(_t: CpuTensor): void {}
  async sync(): Promise<void> {}
  dispose(): void {}
  linear(x: CpuTensor, w: CpuTensor, bias?: CpuTensor | null): CpuTensor {
    return linear(x, w, bias);
  }
  symmetricLinear(x: CpuTensor, w: CpuTensor): CpuTensor {
    return symmetricLinear(x, w);
  }
  rmsnorm(x: CpuTensor, weight: CpuTensor, eps: number): CpuTensor {
    return rmsnorm(x, weight, eps);
  }
  rope(x: CpuTensor, opts: RopeOptions): CpuTensor {
    return rope(x, opts);
  }
  attention(q: CpuTensor, k: CpuTensor, v: CpuTensor, opts: AttentionOptions): CpuTensor {
    return attention(q, k, v, opts);
  }
  swiglu(gate: CpuTensor, up: CpuTensor): CpuTensor {
    return swiglu(gate, up);
  }
  add(a: CpuTensor, b: CpuTensor): CpuTensor {
    return add(a, b);
  }
  rowCosineSum(a: CpuTensor, b: CpuTensor): CpuTensor {
    return rowCosineSum(a, b);
  }
  nll(logits: CpuTensor, targets: CpuTensor): CpuTensor {
    return nll(logits, targets);
  }
  sliceRows(x: CpuTensor, start: number, count: number): CpuTensor {
    return sliceRows(x, start, count);
  }
  transpose(x: CpuTensor): CpuTensor {
    return transpose(x);
  }
  gatherColumns(x: CpuTensor, cols: readonly number[]): CpuTensor {
    return gatherColumns(x, cols);
  }
  gatherRows(x: CpuTensor, rows: readonly number[]): CpuTensor {
    return gatherRows(x, rows);
  }
  covInit(dim: number): CovStats<CpuTensor> {
    return covInit(dim);
  }
  covAccumulate(stats: CovStats<CpuTensor>, x: CpuTensor): void {
    covAccumulate(stats, x);
  }
  covFree(_stats: CovStats<CpuTensor>): void {}
  columnSumsq(x: CpuTensor): CpuTensor {
    return columnSumsq(x);
  }
  cholesky(a: CpuTensor, name: string): Promise<CpuTensor> {
    return cholesky(a, name);
  }
  choleskySolve(l: CpuTensor, b: CpuTensor): CpuTensor {
    return choleskySolve(l, b);
  }
  async spectralSigmoid(a: CpuTensor): Promise<CpuTensor> {
    return spectralSigmoid(a);
  }
}
