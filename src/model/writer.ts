// Writes a model as a Hugging Face Llama checkpoint folder: config.json + model.safetensors (or
// shards + model.safetensors.index.json), optionally a tokenizer file.
//
// Every folder slimllm writes is a standard HF checkpoint: q/k rows of an 'interleaved'
// (llama2.c) model are permuted into rotate-half order here, and the per-layer shapes of a pruned
// model go in config.json's `slimllm.layers` extension (Transformers ignores unknown keys; slimllm
// reads them back). The folder is built under a temporary name beside `dir` and renamed into
// place at the end, so an interrupted save never leaves a half-written model under the real name.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { LayerShape, ModelConfig } from './config.js';
import { hfLayerShapes, hfNames } from './hf.js';
import { permuteInterleavedToHalf } from './rope-layout.js';
import { assertFinite, type SafetensorsDtype, type TensorToWrite, tensorBytes, writeSafetensors } from './safetensors.js';
import { Llama2cTokenizer } from './tokenizer.js';
import { writeHfTokenizerFiles } from './tokenizer-export.js';
import { inMemorySource, type LayerWeights, type ModelSource, type ModelWeights } from './weights.js';

export interface SaveModelOptions {
  /** Replace `dir` if it exists and is not empty (default: refuse). */
  overwrite?: boolean;
  /** Storage type of the weights (default F32). */
  dtype?: SafetensorsDtype;
  /**
   * Copy this tokenizer into the folder: a tokenizer.json (with its tokenizer_config.json), or a
   * llama2.c tokenizer .bin (kept, plus an equivalent tokenizer.json for Transformers).
   */
  tokenizerFile?: string;
  /** Split the weights into shards of at most about this many bytes (default: one file). */
  maxShardBytes?: number;
  /** Extra string pairs for the safetensors `__metadata__` (format: 'pt' is always set). */
  metadata?: Record<string, string>;
}

const TORCH_DTYPE: Record<SafetensorsDtype, string> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' };

function isSource(w: ModelWeights | ModelSource): w is ModelSource {
  return typeof (w as ModelSource).layer === 'function';
}

function allZero(a: Float32Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== 0) return false;
  return true;
}

/** config.json contents for `c` (with `layers` as they will be written). */
export function hfConfigJson(c: ModelConfig, dtype: SafetensorsDtype = 'F32'): Record<string, unknown> {
  const l0 = c.layers[0];
  const uniform = c.layers.every(
    (s) => s.nHeads === l0.nHeads && s.nKvHeads === l0.nKvHeads && s.ffnDim === l0.ffnDim && !s.oBias && !s.downBias,
  );
  const j: Record<string, unknown> = {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    hidden_size: c.hiddenSize,
    intermediate_size: l0.ffnDim,
    num_hidden_layers: c.nLayers,
    num_attention_heads: l0.nHeads,
    num_key_value_heads: l0.nKvHeads,
    head_dim: c.headDim,
    vocab_size: c.vocabSize,
    max_position_embeddings: c.maxSeqLen,
    rms_norm_eps: c.rmsNormEps,
    rope_theta: c.ropeTheta,
    rope_scaling: null,
    hidden_act: 'silu',
    attention_bias: false,
    mlp_bias: false,
    tie_word_embeddings: c.tieEmbeddings,
    bos_token_id: c.bosTokenId,
    eos_token_id: c.eosTokenId,
    torch_dtype: TORCH_DTYPE[dtype],
  };
  // Layers that differ (a pruned model) or carry biases: Transformers' LlamaConfig cannot say
  // so; the extension can. The top-level fields then describe layer 0.
  if (!uniform) j.slimllm = { layers: c.layers.map((s) => ({ ...s })) };
  return j;
}

/**
 * Saves `model` (materialised or streamed one layer at a time) as an HF checkpoint folder.
 * Throws if `dir` exists and is not empty, unless opts.overwrite.
 */
export function saveModel(model: ModelWeights | ModelSource, dir: string, opts: SaveModelOptions = {}): void {
  const src = isSource(model) ? model : inMemorySource(model);
  const dtype = opts.dtype ?? 'F32';
  if (fs.existsSync(dir)) {
    if (!fs.statSync(dir).isDirectory()) throw new Error(`${dir}: exists and is not a folder; refusing to overwrite`);
    if (fs.readdirSync(dir).length > 0 && !opts.overwrite) {
      throw new Error(`${dir}: folder exists and is not empty; refusing to overwrite (choose another path or pass overwrite)`);
    }
  }
  if (opts.tokenizerFile !== undefined && !fs.statSync(opts.tokenizerFile, { throwIfNoEntry: false })?.isFile()) {
    throw new Error(`${opts.tokenizerFile}: tokenizer file not found`);
  }
  const parent = path.dirname(path.resolve(dir));
  fs.mkdirSync(parent, { recursive: true });
  const tmp = path.join(parent, `.${path.basename(dir)}.tmp-${process.pid}-${Date.now()}`);
  fs.mkdirSync(tmp);
  try {
    writeFolder(src, tmp, dtype, opts);
    if (fs.existsSync(dir)) {
      // Move the old folder aside first so that a failure here leaves one of the two in place.
      const old = `${tmp}.old`;
      fs.renameSync(dir, old);
      fs.renameSync(tmp, dir);
      fs.rmSync(old, { recursive: true, force: true });
    } else {
      fs.renameSync(tmp, dir);
    }
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

function writeFolder(src: ModelSource, out: string, dtype: SafetensorsDtype, opts: SaveModelOptions): void {
  const c = src.config;
  const interleaved = c.ropeLayout === 'interleaved';

  // One layer is read at a time and kept while its tensors are written; q/k rows are permuted into
  // rotate-half order on the way.
  let cached: { i: number; w: LayerWeights } | null = null;
  const layer = (i: number): LayerWeights => {
    if (cached?.i !== i) {
      const w = src.layer(i);
      const s = c.layers[i];
      cached = {
        i,
        w: interleaved
          ? {
              ...w,
              wq: permuteInterleavedToHalf(w.wq, s.nHeads, c.headDim, c.hiddenSize),
              wk: permuteInterleavedToHalf(w.wk, s.nKvHeads, c.headDim, c.hiddenSize),
            }
          : w,
      };
    }
    return cached.w;
  };

  // Biases that are exactly zero carry nothing: drop them (one pass over the layers' biases).
  const layers: LayerShape[] = c.layers.map((s, i) => {
    if (!s.oBias && !s.downBias) return { ...s };
    const w = layer(i);
    return {
      ...s,
      oBias: s.oBias && w.oBias !== null && !allZero(w.oBias),
      downBias: s.downBias && w.downBias !== null && !allZero(w.downBias),
    };
  });
  const outConfig: ModelConfig = { ...c, ropeLayout: 'half', layers };

  const tensors: TensorToWrite[] = [];
  const add = (name: string, shape: number[], get: () => Float32Array) =>
    tensors.push({
      name,
      shape,
      data: () => {
        const a = get();
        assertFinite(a, `${src.origin}: tensor '${name}' to save`);
        return a;
      },
    });
  add(hfNames.embedding, [c.vocabSize, c.hiddenSize], () => src.embedding());
  for (let i = 0; i < c.nLayers; i++) {
    const names = hfNames.layer(i);
    const shapes = hfLayerShapes(outConfig, i);
    for (const key of Object.keys(shapes) as (keyof LayerWeights)[]) {
      const shape = shapes[key];
      if (shape) add(names[key], shape, () => layer(i)[key] as Float32Array);
    }
  }
  add(hfNames.finalNorm, [c.hiddenSize], () => src.finalNorm());
  if (!c.tieEmbeddings) add(hfNames.classifier, [c.vocabSize, c.hiddenSize], () => src.classifier());

  fs.writeFileSync(path.join(out, 'config.json'), `${JSON.stringify(hfConfigJson(outConfig, dtype), null, 2)}\n`);
  const metadata = { format: 'pt', ...opts.metadata };
  writeShards(out, tensors, dtype, metadata, opts.maxShardBytes);

  if (opts.tokenizerFile !== undefined) copyTokenizer(opts.tokenizerFile, out);
}

function writeShards(
  out: string,
  tensors: TensorToWrite[],
  dtype: SafetensorsDtype,
  metadata: Record<string, string>,
  maxShardBytes: number | undefined,
): void {
  const total = tensors.reduce((a, t) => a + tensorBytes(t.shape, dtype), 0);
  if (maxShardBytes === undefined || total <= maxShardBytes) {
    writeSafetensors(path.join(out, 'model.safetensors'), tensors, { dtype, metadata });
    return;
  }
  // Greedy split in file order, as Transformers' save_pretrained does; a tensor larger than the
  // limit gets a shard of its own.
  const shards: TensorToWrite[][] = [[]];
  let size = 0;
  for (const t of tensors) {
    const b = tensorBytes(t.shape, dtype);
    if (size > 0 && size + b > maxShardBytes) {
      shards.push([]);
      size = 0;
    }
    shards[shards.length - 1].push(t);
    size += b;
  }
  const n = shards.length;
  const pad = (k: number) => String(k).padStart(5, '0');
  const weightMap: Record<string, string> = {};
  shards.forEach((ts, k) => {
    const name = `model-${pad(k + 1)}-of-${pad(n)}.safetensors`;
    writeSafetensors(path.join(out, name), ts, { dtype, metadata });
    for (const t of ts) weightMap[t.name] = name;
  });
  fs.writeFileSync(
    path.join(out, 'model.safetensors.index.json'),
    `${JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2)}\n`,
  );
}

// A .json tokenizer is stored as tokenizer.json (the name loaders look for) and brings its
// tokenizer_config.json / special_tokens_map.json along when they sit beside it (they say which
// special tokens to add). A llama2.c .bin keeps its name (tok512.bin, tokenizer.bin) and gets an
// equivalent tokenizer.json + tokenizer_config.json beside it, for Transformers.
function copyTokenizer(file: string, out: string): void {
  if (file.endsWith('.json')) {
    fs.copyFileSync(file, path.join(out, 'tokenizer.json'));
    for (const extra of ['tokenizer_config.json', 'special_tokens_map.json']) {
      const p = path.join(path.dirname(file), extra);
      if (fs.existsSync(p)) fs.copyFileSync(p, path.join(out, extra));
    }
    return;
  }
  const tok = Llama2cTokenizer.fromFile(file); // parses it: a wrong file fails here, not later
  fs.copyFileSync(file, path.join(out, path.basename(file)));
  writeHfTokenizerFiles(tok, out);
}
