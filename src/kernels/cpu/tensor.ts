import type { Tensor } from '../backend.js';

export class CpuTensor implements Tensor {
  readonly size: number;
  constructor(
    readonly data: Float32Array,
    readonly shape: readonly number[],
  ) {
    this.size = shape.reduce((a, b) => a * b, 1);
    if (data.length !== this.size) throw new Error(`CpuTensor: ${data.length} values for shape [${shape}]`);
  }
  static zeros(shape: readonly number[]): CpuTensor {
    return new CpuTensor(new Float32Array(shape.reduce((a, b) => a * b, 1)), shape);
  }
}

/** Rows and columns of a tensor seen as a matrix (last dimension = columns). */
export function dims2(t: Tensor): [number, number] {
  const cols = t.shape[t.shape.length - 1] ?? 1;
  return [cols === 0 ? 0 : t.size / cols, cols];
}
