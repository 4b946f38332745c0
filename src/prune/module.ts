// What the orchestrator hands a pruning method for one sub-module (attention or MLP) of one layer,
// and what a method / a recovery returns. Methods choose which units to keep; recoveries rebuild the
// output projection (o_proj or down_proj) over the kept input columns.
import type { Backend, Tensor } from '../kernels/backend.js';
import type { LayerWeights } from '../model/weights.js';
import type { PhaseTimer } from './timer.js';

export type ModuleKind = 'attention' | 'mlp';

/** Streaming statistics of the output projection's input (Z before o_proj, Hh before down_proj). */
export interface InputStats<T extends Tensor = Tensor> {
  count: number;
  mean: Float32Array;
  sumsq: Float32Array;
  /** Centred Gram matrix [n × n], left on the device (products run there). */
  m2: T;
}

export interface ModuleContext<T extends Tensor = Tensor> {
  b: Backend<T>;
  kind: ModuleKind;
  layer: number;
  /** The layer's original weights. */
  w: LayerWeights;
  /**
   * The module's output projection (o_proj or down_proj) on the backend, [D × n] f32: the values of
   * `w.wo` / `w.wDown`, already there for the layer's forward, so products gather its columns on the
   * device instead of uploading host copies.
   */
  wOut: T;
  D: number;
  /** Prunable units: KV groups (attention) or channels (MLP). */
  units: number;
  /** Input columns of the output projection per unit: q·d (attention) or 1 (MLP). */
  colsPerUnit: number;
  /** How many units to remove. */
  nPrune: number;
  /**
   * Units come in blocks of this many consecutive units that must each lose the same number: the
   * query heads of one KV group when query heads are pruned (so every group keeps as many). Equal to
   * `units` when there is no such constraint.
   */
  blockSize: number;
  stats: InputStats<T>;
  /** MLP only: column sums of squares of the MLP input X (after RMSNorm). */
  inputSumsq?: Float32Array;
  timer: PhaseTimer;
}

export interface Selection {
  /** Kept units, ascending. */
  kept: number[];
  /** True when a method-specific bound reduced the cut. */
  bounded?: boolean;
  /** Method details for the report (scores, swaps, …). */
  details?: Record<string, unknown>;
}

export interface Recovered {
  /** New output projection [D × kept columns]. */
  weight: Float32Array;
  /** New bias [D], or null for none. */
  bias: Float32Array | null;
  summary?: Record<string, number>;
}

export interface PruningMethod {
  readonly name: string;
  select<T extends Tensor>(ctx: ModuleContext<T>): Promise<Selection>;
}

export interface Recovery {
  readonly name: string;
  recover<T extends Tensor>(ctx: ModuleContext<T>, keptCols: number[]): Promise<Recovered>;
}

/** Output-projection weight and bias of a module. */
export function outputProjection(ctx: ModuleContext): { w: Float32Array; bias: Float32Array | null; n: number } {
  const w = ctx.kind === 'attention' ? ctx.w.wo : ctx.w.wDown;
  const bias = ctx.kind === 'attention' ? ctx.w.oBias : ctx.w.downBias;
  return { w, bias, n: ctx.units * ctx.colsPerUnit };
}

export function unitColumns(units: readonly number[], colsPerUnit: number): number[] {
  const cols: number[] = [];
  for (const u of units) for (let j = 0; j < colsPerUnit; j++) cols.push(u * colsPerUnit + j);
  return cols;
}
