// llama2.c .bin → Hugging Face checkpoint folder. The reader yields interleaved-RoPE q/k rows;
// the writer permutes them into rotate-half order, so the result loads in Transformers as is.
import { openLlama2c } from './llama2c.js';
import { type SaveModelOptions, saveModel } from './writer.js';

export function convertLlama2cToHf(
  binPath: string,
  outDir: string,
  tokenizerPath?: string,
  opts: Omit<SaveModelOptions, 'tokenizerFile'> = {},
): void {
  const src = openLlama2c(binPath);
  try {
    saveModel(src, outDir, { ...opts, tokenizerFile: tokenizerPath });
  } finally {
    src.close();
  }
}
