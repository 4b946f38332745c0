// Calibration token windows: documents tokenised and concatenated, then N windows of T tokens,
// each [BOS] + T-1 tokens from a seeded position (as the paper's loaders do with C4/WikiText).
import { splitStories } from '../eval/perplexity.js';
import type { Tokenizer } from '../model/tokenizer.js';

/** Mulberry32: a small seeded generator, so calibration is reproducible across runs and machines. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function calibrationFromText(tok: Tokenizer, text: string, samples: number, seqLen: number, seed: number): number[][] {
  const stream: number[] = [];
  for (const doc of splitStories(text)) for (const id of tok.encode(doc, { bos: false })) stream.push(id);
  const body = seqLen - 1;
  if (stream.length < body) {
    throw new Error(`calibration text has ${stream.length} tokens, fewer than one window of ${seqLen}`);
  }
  const rand = seededRandom(seed);
  const out: number[][] = [];
  for (let i = 0; i < samples; i++) {
    const start = Math.floor(rand() * (stream.length - body + 1));
    out.push([tok.bos, ...stream.slice(start, start + body)]);
  }
  return out;
}
