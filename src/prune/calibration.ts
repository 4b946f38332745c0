// Calibration token windows: documents tokenised and concatenated, then N windows of T tokens,
// each [BOS] + T-1 tokens from a seeded position (as the paper's loaders do with C4/WikiText).
import { splitStories } from '../eval/perplexity.js';
import type { ModelConfig } from '../model/config.js';
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
/** Validates calibration token ids against the model. */
export function checkCalibration(c: ModelConfig, calib: number[][]): number {
  if (calib.length === 0) throw new Error('calibration is empty');
  const seqLen = calib[0].length;
  for (const [i, s] of calib.entries()) {
    if (s.length !== seqLen) throw new Error(`calibration sequence ${i} has ${s.length} tokens; all must have ${seqLen}`);
    for (const id of s) {
      if (!(Number.isInteger(id) && id >= 0 && id < c.vocabSize)) {
        throw new Error(`calibration token ${id} is outside the model's vocabulary (${c.vocabSize}): tokenizer and model do not match`);
      }
    }
  }
  if (seqLen > c.maxSeqLen) throw new Error(`calibration length ${seqLen} exceeds the model's maximum sequence length ${c.maxSeqLen}`);
  return seqLen;
}


/**
 * Degenerate calibration: the statistics of a module of width n have rank at most (number of
 * calibration rows − 1), and text with a handful of distinct tokens spans only a few directions.
 * Such a run finishes, but its choices rest on too little: say so.
 */
export function calibrationWarnings(c: ModelConfig, calib: number[][]): string[] {
  const rows = calib.reduce((a, s) => a + s.length, 0);
  const distinct = new Set(calib.flat()).size;
  const width = Math.max(c.hiddenSize, ...c.layers.map((s) => Math.max(s.ffnDim, s.nHeads * c.headDim)));
  const out: string[] = [];
  if (rows - 1 < width) {
    out.push(`calibration has ${rows} token positions, fewer than the widest module's ${width} inputs: its statistics are rank-deficient (use more or longer samples)`);
  }
  if (distinct < Math.min(32, c.vocabSize / 4)) {
    out.push(`calibration uses only ${distinct} distinct token ids: its statistics describe almost nothing of the model's inputs (use real text)`);
  }
  return out;
}
