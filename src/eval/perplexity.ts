// Perplexity: mean next-token NLL over documents (stories protocol) or fixed windows.
import type { Backend, Tensor } from '../kernels/backend.js';
import { runDecoder, type RunnerOptions, uploadHead, withLogits } from '../model/runner.js';
import type { ModelSource } from '../model/weights.js';

export interface PerplexityResult {
  nll: number;
  ppl: number;
  tokens: number;
}

/**
 * Mean NLL of tokens 1..n-1 of every sequence given tokens 0..t-1. The sum is kept in float64 on
 * the host; per-token NLLs come from the backend.
 */
export async function sequencesPerplexity<T extends Tensor>(
  b: Backend<T>,
  src: ModelSource,
  seqs: readonly (readonly number[])[],
  opts: RunnerOptions = {},
): Promise<PerplexityResult> {
  const c = src.config;
  const head = uploadHead(b, src);
  let sum = 0;
  let count = 0;
  try {
    await runDecoder(
      b,
      src,
      seqs,
      async (batch) => {
        const T = batch.seqLen;
        // Target of row r is the next token of its sequence; the last row of each has none (0, ignored).
        const targets = new Float32Array(batch.members.length * T);
        batch.members.forEach((m, i) => {
          const s = seqs[m];
          for (let t = 0; t + 1 < T; t++) targets[i * T + t] = s[t + 1];
        });
        await withLogits(b, c, head, batch.hidden, async (logits, r0, n) => {
          const tg = b.upload(targets.subarray(r0, r0 + n), [n]);
          const nllT = b.nll(logits, tg);
          const v = await b.read(nllT);
          b.free(tg);
          b.free(nllT);
          for (let r = 0; r < n; r++) {
            if ((r0 + r) % T === T - 1) continue;
            if (!Number.isFinite(v[r])) throw new Error(`non-finite NLL at token ${(r0 + r) % T} of sequence ${batch.members[Math.floor((r0 + r) / T)]}`);
            sum += v[r];
            count++;
          }
        });
      },
      opts,
    );
  } finally {
    b.free(head.norm);
    b.free(head.classifier);
  }
  if (count === 0) throw new Error('no tokens to score: every sequence is shorter than 2 tokens');
  const nll = sum / count;
  return { nll, ppl: Math.exp(nll), tokens: count };
}
