// One entry point for every model path a user can give: a llama2.c .bin file, a GGUF file, or a
// folder (or its config.json) holding a Hugging Face / slimllm checkpoint.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openGguf } from './gguf-model.js';
import { openHf } from './hf.js';
import { openLlama2c } from './llama2c.js';
import type { ModelSource, ModelWeights } from './weights.js';

export function openModel(p: string): ModelSource {
  const st = fs.statSync(p, { throwIfNoEntry: false });
  if (!st) throw new Error(`${p}: no such file or folder`);
  if (st.isDirectory()) {
    if (fs.existsSync(path.join(p, 'config.json'))) return openHf(p);
    throw new Error(`${p}: folder has no config.json (expected a Hugging Face checkpoint folder)`);
  }
  if (path.basename(p) === 'config.json') return openHf(path.dirname(p));
  if (p.endsWith('.bin')) return openLlama2c(p);
  if (p.endsWith('.gguf')) return openGguf(p);
  if (p.endsWith('.safetensors')) {
    throw new Error(`${p}: a bare safetensors file has no config; give the folder holding it and its config.json`);
  }
  throw new Error(`${p}: not a model (expected a llama2.c .bin file, a .gguf file or a folder with config.json)`);
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
