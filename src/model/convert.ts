// Model format conversion: any readable model (llama2.c .bin, Hugging Face folder, GGUF) to a
// Hugging Face folder or a GGUF file. Readers yield q/k rows in the layout their config names;
// each writer permutes them into its own (rotate-half for folders, interleaved for GGUF).
import * as fs from 'node:fs';
import { openModel, type SourceFormat, sourceFormatOf } from './load.js';
import { tokenizerFileFor } from './tokenizer.js';
import { checkSaveTarget, type SaveModelOptions, saveModel } from './writer.js';

export { SOURCE_FORMATS, type SourceFormat, sourceFormatOf } from './load.js';
export const TARGET_FORMATS = ['hf', 'gguf'] as const;
export type TargetFormat = (typeof TARGET_FORMATS)[number];

/**
 * Converts `modelPath` (in format `from`) to `out` (format `to`). The tokenizer found with the
 * model (or `opts.tokenizerFile`) goes along.
 */
/** Throws unless `modelPath` exists and is in format `from`, and `out` can take a `to` model. */
export function checkConversion(from: SourceFormat, to: TargetFormat, modelPath: string, out: string, overwrite?: boolean, dtype?: SaveModelOptions['dtype']): void {
  if (!fs.existsSync(modelPath)) throw new Error(`${modelPath}: no such file or folder`);
  const actual = sourceFormatOf(modelPath);
  if (actual !== from) throw new Error(`${modelPath}: is not a ${from} model (${actual ? `it looks like ${actual}` : 'unknown format'})`);
  checkSaveTarget(out, to, overwrite, dtype);
}

export function convertModel(from: SourceFormat, to: TargetFormat, modelPath: string, out: string, opts: Omit<SaveModelOptions, 'format'> = {}): void {
  checkConversion(from, to, modelPath, out, opts.overwrite, opts.dtype);
  const tokenizerFile = opts.tokenizerFile ?? tokenizerFileFor(modelPath) ?? undefined;
  const src = openModel(modelPath);
  try {
    saveModel(src, out, { ...opts, format: to, tokenizerFile });
  } finally {
    src.close();
  }
}

export function convertLlama2cToHf(binPath: string, outDir: string, tokenizerPath?: string, opts: Omit<SaveModelOptions, 'tokenizerFile' | 'format'> = {}): void {
  convertModel('llama2c', 'hf', binPath, outDir, { ...opts, tokenizerFile: tokenizerPath });
}
