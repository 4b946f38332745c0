// The high-level API: load, evaluate and prune models, each call owning its backend unless the
// caller passes one (so a pipeline can share one GPU device across calls).
import { createBackend, type Backend, type DeviceKind } from './kernels/index.js';
import { calibrationFromText, storiesSequences, windowSequences } from './corpus.js';
import { sequencesPerplexity, type PerplexityResult } from './eval/perplexity.js';
import { openModel } from './model/load.js';
import { loadTokenizer, type Tokenizer, tokenizerFileFor } from './model/tokenizer.js';
import { inMemorySource, type ModelSource, type ModelWeights } from './model/weights.js';
import { parsePruneOptions, type PruneOptionsInput } from './prune/options.js';
import type { PruneProgress, PruneReport } from './prune/orchestrator.js';
import { pruneWithOptions } from './prune/run.js';
import * as fs from 'node:fs';

export type ModelInput = string | ModelSource | ModelWeights;

function asSource(m: ModelInput): { src: ModelSource; owned: boolean } {
  if (typeof m === 'string') return { src: openModel(m), owned: true };
  if ('layer' in m && typeof m.layer === 'function') return { src: m, owned: false };
  return { src: inMemorySource(m as ModelWeights), owned: false };
}

/** The tokenizer for a model path: explicit path, or one found beside/inside the model. */
export function tokenizerFor(modelPath: string | null, tokenizerPath?: string): Tokenizer {
  if (modelPath && !fs.existsSync(modelPath)) throw new Error(`${modelPath}: no such file or folder`);
  if (tokenizerPath) return loadTokenizer(tokenizerPath);
  if (modelPath) {
    const found = tokenizerFileFor(modelPath);
    if (found) return loadTokenizer(found);
  }
  throw new Error(`no tokenizer found for ${modelPath ?? 'the model'}: pass one (--tokenizer PATH)`);
}

/** The tokenizer must have exactly one token per row of the model's embedding. */
export function checkVocab(tok: Tokenizer, src: ModelSource): void {
  if (tok.vocabSize !== src.config.vocabSize) {
    throw new Error(`${src.origin}: the tokenizer has ${tok.vocabSize} tokens but the model's vocabulary is ${src.config.vocabSize}: they do not match`);
  }
}

async function withBackend<R>(device: DeviceKind | Backend | undefined, f: (b: Backend) => Promise<R>): Promise<R> {
  if (device && typeof device === 'object') return f(device);
  const b = await createBackend(device ?? 'gpu');
  try {
    return await f(b);
  } finally {
    b.dispose();
  }
}

export interface EvaluateOptions {
  text: string;
  tokenizer: Tokenizer;
  protocol?: 'stories' | 'windows';
  /** Stories protocol: document range 'a:b' (default '1:201'). */
  stories?: string;
  /** Windows protocol: tokens per window (default 128). */
  seqLen?: number;
  device?: DeviceKind | Backend;
  onProgress?: (done: number, total: number, what: string) => void;
}

export async function evaluatePerplexity(model: ModelInput, o: EvaluateOptions): Promise<PerplexityResult & { protocol: string; device: string }> {
  const { src, owned } = asSource(model);
  try {
    checkVocab(o.tokenizer, src);
    const protocol = o.protocol ?? 'stories';
    const seqs =
      protocol === 'stories'
        ? storiesSequences(o.tokenizer, o.text, o.stories ?? '1:201', src.config.maxSeqLen)
        : windowSequences(o.tokenizer, o.text, o.seqLen ?? 128);
    return await withBackend(o.device, async (b) => ({
      ...(await sequencesPerplexity(b, src, seqs, { onProgress: o.onProgress })),
      protocol,
      device: b.deviceName,
    }));
  } finally {
    if (owned) src.close();
  }
}

export interface PruneCallOptions extends PruneOptionsInput {
  /** Needed when calibration is given as text. */
  tokenizer?: Tokenizer;
  device?: DeviceKind | Backend;
  onProgress?: (p: PruneProgress) => void;
}

/**
 * Prunes a model with SlimLLM (or a baseline method); returns the pruned model and the report.
 * The model reads its layers from the layer store (temporary files by default): save or evaluate
 * it, then call `model.close()` to remove them (they are also removed when the process exits).
 */
export async function prune(model: ModelInput, options: PruneCallOptions): Promise<{ model: ModelSource; report: PruneReport }> {
  const { tokenizer, device, onProgress, ...rest } = options;
  const o = parsePruneOptions(rest);
  const { src, owned } = asSource(model);
  try {
    let calib: number[][];
    if ('tokens' in o.calibration) {
      calib = o.calibration.tokens;
    } else {
      if (!tokenizer) throw new Error('calibration from text needs a tokenizer');
      checkVocab(tokenizer, src);
      const cal = o.calibration;
      if (cal.seqLen > src.config.maxSeqLen) {
        throw new Error(`calibration length ${cal.seqLen} exceeds the model's maximum sequence length ${src.config.maxSeqLen}`);
      }
      calib = calibrationFromText(tokenizer, cal.text, cal.samples, cal.seqLen, cal.seed);
    }
    return await withBackend(device, (b) => pruneWithOptions(b, src, calib, o, onProgress));
  } finally {
    if (owned) src.close();
  }
}
