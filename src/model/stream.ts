// The one place token sequences become hidden states on a backend and move through decoder layers.
// Evaluation, the pruner's dense pass and statistics, and FLAP's pre-pass all run their batches
// through a HiddenStream and watch the inside of a layer through taps (forward.ts's LayerTaps).
import type { Backend, Tensor } from '../kernels/backend.js';
import type { ModelConfig } from './config.js';
import { decoderLayer, embedTokens, type DeviceLayer, type LayerTaps } from './forward.js';
import type { ModelSource, StoredTensor } from './weights.js';

/** Equal-length sequences run together: rows = sequences × seqLen. */
export interface Batch<T extends Tensor = Tensor> {
  /** Indices of the sequences (in the caller's list) in this batch. */
  members: number[];
  seqLen: number;
  hidden: T;
}

/**
 * Row budget of one batch so that the widest intermediate (FFN hidden, attention heads or logits
 * rows) stays under the device's binding limit and a fixed 64 MiB working size.
 */
export function defaultBatchRows(c: ModelConfig): number {
  const widest = Math.max(c.hiddenSize, c.vocabSize, ...c.layers.map((l) => Math.max(l.ffnDim, l.nHeads * c.headDim)));
  return Math.max(1, Math.floor((64 * 2 ** 20) / (4 * widest)));
}

/** Groups sequences into passes and equal-length batches (order inside a batch = input order). */
export function planBatches(lengths: number[], maxBatchRows: number, maxPassTokens: number): number[][][] {
  const passes: number[][][] = [];
  let pass: number[][] = [];
  let passTokens = 0;
  const open = new Map<number, number[]>(); // seqLen → current batch in this pass
  for (let i = 0; i < lengths.length; i++) {
    const n = lengths[i];
    if (n === 0) continue;
    if (passTokens + n > maxPassTokens && pass.length > 0) {
      passes.push(pass);
      pass = [];
      passTokens = 0;
      open.clear();
    }
    let batch = open.get(n);
    if (!batch || (batch.length + 1) * n > maxBatchRows) {
      batch = [];
      pass.push(batch);
      open.set(n, batch);
    }
    batch.push(i);
    passTokens += n;
  }
  if (pass.length > 0) passes.push(pass);
  return passes;
}

export class HiddenStream<T extends Tensor> {
  private constructor(
    private readonly b: Backend<T>,
    private readonly c: ModelConfig,
    readonly batches: Batch<T>[],
  ) {}

  /** Embeds the sequences of each planned batch (lists of indices into `seqs`, equal lengths). */
  static embed<T extends Tensor>(
    b: Backend<T>,
    c: ModelConfig,
    table: StoredTensor,
    seqs: readonly (readonly number[])[],
    plan: number[][],
  ): HiddenStream<T> {
    const batches: Batch<T>[] = [];
    const stream = new HiddenStream(b, c, batches);
    try {
      for (const members of plan) {
        const seqLen = seqs[members[0]].length;
        const ids = members.flatMap((m) => seqs[m] as number[]);
        batches.push({ members, seqLen, hidden: b.upload(embedTokens(c, table, ids), [ids.length, c.hiddenSize]) });
      }
    } catch (e) {
      stream.free();
      throw e;
    }
    return stream;
  }

  /**
   * Calibration sequences (all of one length) as a single pass: batches of at most `batchRows` rows,
   * at least one sequence each. `table`: the embedding when the caller already holds it (reading
   * it widens the whole vocabulary, the largest read of a prune).
   */
  static calibration<T extends Tensor>(b: Backend<T>, src: ModelSource, calib: number[][], batchRows?: number, table?: StoredTensor): HiddenStream<T> {
    const c = src.config;
    const rows = Math.max(batchRows ?? defaultBatchRows(c), calib[0].length);
    const plan = planBatches(calib.map((s) => s.length), rows, Number.MAX_SAFE_INTEGER)[0];
    return HiddenStream.embed(b, c, table ?? src.embedding(), calib, plan);
  }

  /** Token positions in the stream. */
  get rows(): number {
    return this.batches.reduce((n, x) => n + x.members.length * x.seqLen, 0);
  }

  /** Replaces every batch's hidden states by `step(hidden, seqLen, batch index)` (the old states are freed). */
  advance(step: (h: T, seqLen: number, batch: number) => T): void {
    for (const [i, batch] of this.batches.entries()) {
      const next = step(batch.hidden, batch.seqLen, i);
      this.b.free(batch.hidden);
      batch.hidden = next;
    }
  }

  /** Runs every batch through one decoder layer, with taps watching inside it. */
  throughLayer(dl: DeviceLayer<T>, taps: LayerTaps<T> = {}): void {
    this.advance((h, seqLen) => decoderLayer(this.b, this.c, dl, h, seqLen, taps));
  }

  /** Hands every batch's hidden states to `watch` without changing them. */
  observe(watch: (h: T, seqLen: number) => void): void {
    for (const batch of this.batches) watch(batch.hidden, batch.seqLen);
  }

  free(): void {
    for (const batch of this.batches) this.b.free(batch.hidden);
    this.batches.length = 0;
  }
}
