// Checks of the calibration token ids a pruning run is given: refused when they cannot fit the
// model, warned about when they are too poor to rest choices on. (Turning text into calibration
// windows is in src/corpus.ts.)
import type { ModelConfig } from '../model/config.js';

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
