// Greedy continuation and next-token distributions of a model: what `slimllm generate` prints and
// what the interop checks compare with llama.cpp.
import type { Backend, Tensor } from '../kernels/index.js';
import { sequenceLogits } from './runner.js';
import type { ModelSource } from './weights.js';

function argmax(row: Float32Array): number {
  let best = 0;
  for (let j = 1; j < row.length; j++) if (row[j] > row[best]) best = j;
  return best;
}

/**
 * Up to `n` tokens after `prompt`, each the most likely (the lowest id on ties). Stops after the
 * model's EOS token (included) or at its maximum sequence length. The whole prefix is recomputed
 * at each step: simple and exact; generation is a check, not a product.
 */
export async function greedyContinuation<T extends Tensor>(
  b: Backend<T>,
  src: ModelSource,
  prompt: readonly number[],
  n: number,
  onToken?: (prev: number, id: number) => void,
): Promise<number[]> {
  const ids = [...prompt];
  const V = src.config.vocabSize;
  while (ids.length < prompt.length + n && ids.length < src.config.maxSeqLen) {
    const [logits] = await sequenceLogits(b, src, [ids]);
    const next = argmax(logits.subarray((ids.length - 1) * V, ids.length * V));
    onToken?.(ids[ids.length - 1], next);
    ids.push(next);
    if (next === src.config.eosTokenId) break;
  }
  return ids.slice(prompt.length);
}

/** The next-token distribution after every prefix of `ids` (softmax of the logits in float64). */
export async function nextTokenProbabilities<T extends Tensor>(b: Backend<T>, src: ModelSource, ids: readonly number[]): Promise<Float64Array[]> {
  const [logits] = await sequenceLogits(b, src, [ids]);
  const V = src.config.vocabSize;
  return ids.map((_, i) => {
    const row = logits.subarray(i * V, (i + 1) * V);
    let max = -Infinity;
    for (const x of row) max = Math.max(max, x);
    const e = Float64Array.from(row, (x) => Math.exp(x - max));
    const sum = e.reduce((a, v) => a + v, 0);
    return e.map((x) => x / sum);
  });
}
