// The GPU backend: every kernel dispatches a WGSL shader through the shared GpuContext.
import { GpuContext, type GpuTensor } from '../../gpu/context.js';
import type { AttentionOptions, Backend, HalfDtype, CovStats, DeviceMemory, RopeOptions } from '../backend.js';
import { COVARIANCE_PROGRAMS, columnSumsq, covAccumulate, covInit } from './covariance.js';
import { ELEMENTWISE_PROGRAMS, add, gatherColumns, gatherRows, nll, rowCosineSum, sliceRows, swiglu, transpose } from './elementwise.js';
import { LINALG_PROGRAMS, cholesky, choleskySolve } from './linalg.js';
import { LINEAR_PROGRAMS, linear, symmetricLinear } from './linear.js';
import { MATFUN_PROGRAMS, spectralSigmoid } from './matfun.js';
import { tuneMatmul } from './matmul-tune.js';
import { TRANSFORMER_PROGRAMS, attention, rmsnorm, rope } from './transformer.js';
import { WIDEN_PROGRAMS, widenHalf } from './widen.js';

export type { GpuTensor };

export class GpuBackend implements Backend<GpuTensor> {
  private constructor(readonly ctx: GpuContext) {}

  static async create(ctx?: GpuContext): Promise<GpuBackend> {
    const c = ctx ?? (await GpuContext.create());
    await c.loadPrograms([
      ...LINEAR_PROGRAMS,
      ...COVARIANCE_PROGRAMS,
      ...ELEMENTWISE_PROGRAMS,
      ...TRANSFORMER_PROGRAMS,
      ...LINALG_PROGRAMS,
      ...MATFUN_PROGRAMS,
      ...WIDEN_PROGRAMS,
    ]);
    await tuneMatmul(c);
    return new GpuBackend(c);
  }

  get deviceName(): string {
    return this.ctx.adapterName;
  }
  deviceMemory(): DeviceMemory {
    return { liveBytes: this.ctx.liveBytes, peakBytes: this.ctx.peakBytes };
  }
  upload(data: Float32Array, shape: readonly number[]): GpuTensor {
    return this.ctx.upload(data, shape);
  }
  widenHalf(bits: Uint16Array, dtype: HalfDtype, shape: readonly number[]): GpuTensor {
    return widenHalf(this.ctx, bits, dtype, shape);
  }
  read(t: GpuTensor): Promise<Float32Array> {
    return this.ctx.read(t);
  }
  free(t: GpuTensor): void {
    this.ctx.free(t);
  }
  sync(): Promise<void> {
    return this.ctx.sync();
  }
  dispose(): void {
    this.ctx.dispose();
  }
  linear(x: GpuTensor, w: GpuTensor, bias?: GpuTensor | null): GpuTensor {
    return linear(this.ctx, x, w, bias);
  }
  symmetricLinear(x: GpuTensor, w: GpuTensor): GpuTensor {
    return symmetricLinear(this.ctx, x, w);
  }
  rmsnorm(x: GpuTensor, weight: GpuTensor, eps: number): GpuTensor {
    return rmsnorm(this.ctx, x, weight, eps);
  }
  rope(x: GpuTensor, opts: RopeOptions): GpuTensor {
    return rope(this.ctx, x, opts);
  }
  attention(q: GpuTensor, k: GpuTensor, v: GpuTensor, opts: AttentionOptions): GpuTensor {
    return attention(this.ctx, q, k, v, opts);
  }
  swiglu(gate: GpuTensor, up: GpuTensor): GpuTensor {
    return swiglu(this.ctx, gate, up);
  }
  add(a: GpuTensor, b: GpuTensor): GpuTensor {
    return add(this.ctx, a, b);
  }
  rowCosineSum(a: GpuTensor, b: GpuTensor): GpuTensor {
    return rowCosineSum(this.ctx, a, b);
  }
  nll(logits: GpuTensor, targets: GpuTensor): GpuTensor {
    return nll(this.ctx, logits, targets);
  }
  sliceRows(x: GpuTensor, start: number, count: number): GpuTensor {
    return sliceRows(this.ctx, x, start, count);
  }
  transpose(x: GpuTensor): GpuTensor {
    return transpose(this.ctx, x);
  }
  gatherColumns(x: GpuTensor, cols: readonly number[]): GpuTensor {
    return gatherColumns(this.ctx, x, cols);
  }
  gatherRows(x: GpuTensor, rows: readonly number[]): GpuTensor {
    return gatherRows(this.ctx, x, rows);
  }
  covInit(dim: number): CovStats<GpuTensor> {
    return covInit(this.ctx, dim);
  }
  covAccumulate(stats: CovStats<GpuTensor>, x: GpuTensor): void {
    covAccumulate(this.ctx, stats, x);
  }
  columnSumsq(x: GpuTensor): GpuTensor {
    return columnSumsq(this.ctx, x);
  }
  covFree(stats: CovStats<GpuTensor>): void {
    this.ctx.free(stats.mean);
    this.ctx.free(stats.m2);
    this.ctx.free(stats.sumsq);
  }
  cholesky(a: GpuTensor, name: string): Promise<GpuTensor> {
    return cholesky(this.ctx, a, name);
  }
  choleskySolve(l: GpuTensor, b: GpuTensor): GpuTensor {
    return choleskySolve(this.ctx, l, b);
  }
  spectralSigmoid(a: GpuTensor): Promise<GpuTensor> {
    return spectralSigmoid(this.ctx, a);
  }
}
