// Runs whole models over many token sequences, streaming one layer's weights at a time:
// layer-major order (every sequence of a pass goes through layer l before layer l+1 is read),
// so device memory holds one layer's weights plus the hidden states of the pass.
import type { Backend, Tensor } from '../kernels/backend.js';
import type { ModelConfig } from './config.js';
import { freeLayer, uploadLayer } from './forward.js';
import { defaultBatchRows, HiddenStream, planBatches, type Batch } from './stream.js';
import type { ModelSource } from './weights.js';

export type { Batch };

export interface RunnerOptions {
  /** Upper bound on the rows of one batch (bounds every intermediate tensor). */
  maxBatchRows?: number;
  /** Upper bound on the tokens whose hidden states one pass holds. */
  maxPassTokens?: number;
  onProgress?: (done: number, total: number, what: string) => void;
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
  // As stored where the source keeps 16-bit weights: only the tokens' rows are widened, and layers widen on the device.
  const table = src.storedEmbedding?.() ?? src.embedding();
  const steps = passes.length * (c.nLayers + 1);
  let step = 0;
  for (const pass of passes) {
    const stream = HiddenStream.embed(b, c, table, seqs, pass);
    try {
      for (let l = 0; l < c.nLayers; l++) {
        const dl = uploadLayer(b, c, l, src.storedLayer?.(l) ?? src.layer(l));
        stream.throughLayer(dl);
        freeLayer(b, dl);
        opts.onProgress?.(++step, steps, `layer ${l}`);
        await yieldToEventLoop(); // lets a signal (Ctrl-C) be handled between layers on the CPU backend too
      }
      for (const batch of stream.batches) await consume(batch);
    } finally {
      stream.free();
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
