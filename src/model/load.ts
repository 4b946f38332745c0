// One entry point for every model path a user can give: a llama2.c .bin file, a GGUF file, or a
// folder (or its config.json) holding a Hugging Face / slimllm checkpoint.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openGguf } from './gguf-model.js';
import { openHf } from './hf.js';
import { openLlama2c } from './llama2c.js';
import type { ModelSource, ModelWeights, SourceFile } from './weights.js';

export const SOURCE_FORMATS = ['llama2c', 'hf', 'gguf'] as const;
export type SourceFormat = (typeof SOURCE_FORMATS)[number];

/** The format a model path is in, from what it is (a folder, its config.json) or its extension. */
export function sourceFormatOf(p: string): SourceFormat | null {
  if (fs.statSync(p, { throwIfNoEntry: false })?.isDirectory() || path.basename(p) === 'config.json') return 'hf';
  if (p.endsWith('.bin')) return 'llama2c';
  if (p.endsWith('.gguf')) return 'gguf';
  return null;
}

/**
 * Opens a checkpoint (folder, llama2.c file or GGUF) without reading its weights: layers are read
 * when asked for, so a model larger than memory can be pruned. close() releases the file.
 */
export function openModel(p: string): ModelSource {
  const st = fs.statSync(p, { throwIfNoEntry: false });
  if (!st) throw new Error(`${p}: no such file or folder`);
  switch (sourceFormatOf(p)) {
    case 'hf': {
      if (!st.isDirectory()) return openHf(path.dirname(p));
      if (fs.existsSync(path.join(p, 'config.json'))) return openHf(p);
      throw new Error(`${p}: folder has no config.json (expected a Hugging Face checkpoint folder)`);
    }
    case 'llama2c':
      return openLlama2c(p);
    case 'gguf':
      return openGguf(p);
  }
  if (p.endsWith('.safetensors')) {
    throw new Error(`${p}: a bare safetensors file has no config; give the folder holding it and its config.json`);
  }
  throw new Error(`${p}: not a model (expected a llama2.c .bin file, a .gguf file or a folder with config.json)`);
}

/** Opens a source's file again (in another thread: layer-reader.ts), with the same reader. */
export function openSourceFile(f: SourceFile): ModelSource {
  switch (f.format) {
    case 'hf':
      return openHf(f.path);
    case 'llama2c':
      return openLlama2c(f.path);
    case 'gguf':
      return openGguf(f.path);
  }
}

/** Reads every tensor of `src` into memory (small models, tests, the pruner's output). */
export function readAllWeights(src: ModelSource): ModelWeights {
  const layers = Array.from({ length: src.config.nLayers }, (_, i) => src.layer(i));
  return {
    config: src.config,
    embedding: src.embedding(),
    layers,
    finalNorm: src.finalNorm(),
    classifier: src.config.tieEmbeddings ? null : src.classifier(),
  };
}

/** Opens `p`, reads everything, closes it. */
export function loadModelWeights(p: string): ModelWeights {
  const src = openModel(p);
  try {
    return readAllWeights(src);
  } finally {
    src.close();
  }
}
