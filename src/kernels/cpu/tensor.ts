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

// One copy of the shape helper for both kernel sides; re-exported where it always lived.
export { dims2 } from '../shapes.js';
