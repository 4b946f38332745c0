// Runs whole models over many token sequences, streaming one layer's weights at a time:
// layer-major order (every sequence of a pass goes through layer l before layer l+1 is read),
// so device memory holds one layer's weights plus the hidden states of the pass.
import type { Backend, Tensor } from '../kernels/backend.js';
import type { ModelConfig } from './config.js';
import { decoderLayer, embedTokens, freeLayer, uploadLayer } from './forward.js';
import type { ModelSource } from './weights.js';

/** Equal-length sequences run together: rows = sequences × seqLen. */
export interface Batch<T extends Tensor = Tensor> {
  /** Indices of the sequences (in the caller's list) in this batch. */
  members: number[];
  seqLen: number;
  hidden: T;
}

export interface RunnerOptions {
  /** Upper bound on the rows of one batch (bounds every intermediate tensor). */
  maxBatchRows?: number;
  /** Upper bound on the tokens whose hidden states one pass holds. */
  maxPassTokens?: number;
  onProgress?: (done: number, total: number, what: string) => void;
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

/**
 * Runs all decoder layers over the sequences of one pass, then hands each batch's final hidden
 * states (before the final norm) to `consume`.
 */
export async function runDecoder<T extends Tensor>(
  b: Backend<T>,
  src: ModelSource,
  seqs: readonly (readonly number[])[],
  consume: (batch: Batch<T>) => Promise<void>,
  opts: RunnerOptions = {},
): Promise<void> {
  const c = src.config;
  const maxRows = opts.maxBatchRows ?? defaultBatchRows(c);
  const maxPass = opts.maxPassTokens ?? Math.max(maxRows, Math.floor((512 * 2 ** 20) / (4 * c.hiddenSize)));
  const lengths = seqs.map((s) => s.length);
  for (const s of seqs) {
    if (s.length > c.maxSeqLen) throw new Error(`a sequence of ${s.length} tokens exceeds the model's maximum length ${c.maxSeqLen}`);
  }
  const passes = planBatches(lengths, maxRows, maxPass);
  const table = src.embedding();
  const steps = passes.length * (c.nLayers + 1);
  let step = 0;
  for (const pass of passes) {
    const batches: Batch<T>[] = pass.map((members) => {
      const seqLen = lengths[members[0]];
      const ids = members.flatMap((m) => seqs[m] as number[]);
      return { members, seqLen, hidden: b.upload(embedTokens(c, table, ids), [ids.length, c.hiddenSize]) };
    });
    for (let l = 0; l < c.nLayers; l++) {
      const dl = uploadLayer(b, c, l, src.layer(l));
      for (const batch of batches) {
        const next = decoderLayer(b, c, dl, batch.hidden, batch.seqLen);
        b.free(batch.hidden);
        batch.hidden = next;
      }
      freeLayer(b, dl);
      opts.onProgress?.(++step, steps, `layer ${l}`);
      await yieldToEventLoop(); // lets a signal (Ctrl-C) be handled between layers on the CPU backend too
    }
    for (const batch of batches) {
      await consume(batch);
      b.free(batch.hidden);
    }
    opts.onProgress?.(++step, steps, 'logits');
  }
}

/** Final norm and classifier over hidden states, in row chunks; calls `each` with each chunk's logits. */
export async function withLogits<T extends Tensor>(
  b: Backend<T>,
  c: ModelConfig,
  head: { norm: T; classifier: T },
  hidden: T,
  each: (logits: T, firstRow: number, rows: number) => Promise<void>,
): Promise<void> {
  const rows = hidden.size / c.hiddenSize;
  const chunk = Math.max(1, Math.floor((64 * 2 ** 20) / (4 * c.vocabSize)));
  for (let r0 = 0; r0 < rows; r0 += chunk) {
    const n = Math.min(chunk, rows - r0);
    const part = n === rows ? hidden : b.sliceRows(hidden, r0, n);
    const x = b.rmsnorm(part, head.norm, c.rmsNormEps);
    if (part !== hidden) b.free(part);
    const logits = b.linear(x, head.classifier);
    b.free(x);
    await each(logits, r0, n);
    b.free(logits);
  }
}

export function uploadHead<T extends Tensor>(b: Backend<T>, src: ModelSource): { norm: T; classifier: T } {
  const c = src.config;
  return {
    norm: b.upload(src.finalNorm(), [c.hiddenSize]),
    classifier: b.upload(src.classifier(), [c.vocabSize, c.hiddenSize]),
  };
}

/** Logits [len × V] of every sequence (tests, generation). */
export async function sequenceLogits<T extends Tensor>(
  b: Backend<T>,
  src: ModelSource,
  seqs: readonly (readonly number[])[],
  opts: RunnerOptions = {},
): Promise<Float32Array[]> {
  const c = src.config;
  const out: Float32Array[] = seqs.map(() => new Float32Array(0));
  const head = uploadHead(b, src);
  try {
    await runDecoder(
      b,
      src,
      seqs,
      async (batch) => {
        const all = new Float32Array(batch.members.length * batch.seqLen * c.vocabSize);
        await withLogits(b, c, head, batch.hidden, async (logits, r0) => {
          all.set(await b.read(logits), r0 * c.vocabSize);
        });
        batch.members.forEach((m, i) => {
          out[m] = all.slice(i * batch.seqLen * c.vocabSize, (i + 1) * batch.seqLen * c.vocabSize);
        });
      },
      opts,
    );
  } finally {
    b.free(head.norm);
    b.free(head.classifier);
  }
  return out;
}

/** Resolves on the next turn of the event loop (after pending I/O and signal callbacks). */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
