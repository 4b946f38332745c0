// Writes a model as a Hugging Face Llama checkpoint folder: config.json + model.safetensors (or
// shards + model.safetensors.index.json), optionally a tokenizer file.
//
// q/k rows of an 'interleaved' (llama2.c) model are permuted into rotate-half order here. What the
// folder claims to be follows what it is (see hfConfigJson):
// - every layer the same widths: a stock Transformers `llama` checkpoint (LlamaForCausalLM loads
//   it as is), with attention_bias / mlp_bias and zero tensors for the biases slimllm lacks when
//   some layer carries an o_proj / down_proj bias;
// - layers that differ: architecture `SlimllmLlamaForCausalLM`, model_type `slimllm_llama`, with
//   the per-layer shapes in config.json's `slimllm.layers` — only slimllm reads it (Transformers
//   refuses the unknown model_type rather than misreading it; GGUF is the format for llama.cpp).
// The folder is built under a temporary name beside `dir` and renamed into place at the end, so an
// interrupted save never leaves a half-written model under the real name.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { removeOnExit, removeStale, TEMP_NAME, tempName } from '../cleanup.js';
import { type LayerShape, type ModelConfig, uniformWidths } from './config.js';
import { checkGgufTarget, type GgufDtype, saveGguf } from './gguf-model.js';
import { writeTokenizerFilesFromGguf } from './gguf-tokenizer.js';
import { hfLayerShapes, hfNames, hfZeroBiasShapes, SLIMLLM_HF_ARCHITECTURE, SLIMLLM_HF_MODEL_TYPE, ZERO_BIAS_KEYS } from './hf.js';
import { finiteForSave, type SafetensorsDtype, type TensorToWrite, tensorBytes, writeSafetensors } from './safetensors.js';
import { Llama2cTokenizer } from './tokenizer.js';
import { writeHfTokenizerFiles } from './tokenizer-export.js';
import { inMemorySource, layersInLayout, type LayerWeights, type ModelSource, type ModelWeights, type StoredTensor, withoutZeroBiases } from './weights.js';

export interface SaveModelOptions {
  /**
   * 'hf': a checkpoint folder (the default); 'gguf': one file llama.cpp runs (see gguf-model.ts).
   * A path ending in .gguf means 'gguf' when no format is given.
   */
  format?: 'hf' | 'gguf';
  /** Replace `dir` (or the .gguf file) if it exists and is not empty (default: refuse). */
  overwrite?: boolean;
  /** Storage type of the weights (default F32); Q8_0 only for GGUF. */
  dtype?: SafetensorsDtype | GgufDtype;
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


/**
 * Transformers' bias flags of a stock folder for `layers` (as they will be written), or null when
 * the layers differ in width and no stock config can describe them. attention_bias gives every
 * layer q/k/v/o_proj biases, mlp_bias gate/up/down_proj ones: the writer fills those slimllm lacks
 * with zeros.
 */
function stockBiasFlags(layers: readonly LayerShape[]): { attentionBias: boolean; mlpBias: boolean } | null {
  if (!uniformWidths(layers)) return null;
  return { attentionBias: layers.some((s) => s.oBias), mlpBias: layers.some((s) => s.downBias) };
}

/**
 * config.json contents for `c` (with `layers` as they will be written, all-zero biases already
 * dropped). Uniform widths: a stock `llama` config. Otherwise `SlimllmLlamaForCausalLM` /
 * `slimllm_llama` with `slimllm.layers`; the top-level fields then describe layer 0.
 */
export function hfConfigJson(c: ModelConfig, dtype: SafetensorsDtype = 'F32'): Record<string, unknown> {
  const l0 = c.layers[0];
  const stock = stockBiasFlags(c.layers);
  const j: Record<string, unknown> = {
    architectures: [stock ? 'LlamaForCausalLM' : SLIMLLM_HF_ARCHITECTURE],
    model_type: stock ? 'llama' : SLIMLLM_HF_MODEL_TYPE,
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
    attention_bias: stock?.attentionBias ?? false,
    mlp_bias: stock?.mlpBias ?? false,
    tie_word_embeddings: c.tieEmbeddings,
    bos_token_id: c.bosTokenId,
    eos_token_id: c.eosTokenId,
    torch_dtype: TORCH_DTYPE[dtype],
  };
  // Layers that differ (a pruned model): Transformers' LlamaConfig cannot say so; the extension
  // can, and it is the truth about every layer's shape and biases.
  if (!stock) {
    delete j.attention_bias;
    delete j.mlp_bias;
    j.slimllm = { layers: c.layers.map((s) => ({ ...s })) };
  }
  return j;
}

/** Throws unless `p` can take a model in `format` (an empty or new folder, a new file; or `overwrite`). */
export function checkSaveTarget(p: string, format: 'hf' | 'gguf', overwrite?: boolean, dtype?: SaveModelOptions['dtype']): void {
  if (format === 'gguf') return checkGgufTarget(p, overwrite);
  if (dtype === 'Q8_0') throw new Error(`${p}: dtype Q8_0 is for GGUF files only (a folder holds F32, F16 or BF16)`);
  if (!fs.existsSync(p)) return;
  if (!fs.statSync(p).isDirectory()) throw new Error(`${p}: exists and is not a folder; refusing to overwrite`);
  if (fs.readdirSync(p).length > 0 && !overwrite) {
    throw new Error(`${p}: folder exists and is not empty; refusing to overwrite (choose another path or pass overwrite)`);
  }
}

/**
 * Saves `model` (materialised or streamed one layer at a time) as an HF checkpoint folder.
 * Throws if `dir` exists and is not empty, unless opts.overwrite.
 */
export function saveModel(model: ModelWeights | ModelSource, dir: string, opts: SaveModelOptions = {}): void {
  const src = isSource(model) ? model : inMemorySource(model);
  const format = opts.format ?? (dir.endsWith('.gguf') ? 'gguf' : 'hf');
  if (format === 'gguf') {
    if (opts.maxShardBytes !== undefined) throw new Error(`${dir}: a GGUF model is one file; maxShardBytes does not apply`);
    saveGguf(src, dir, { dtype: opts.dtype, tokenizerFile: opts.tokenizerFile, overwrite: opts.overwrite });
    return;
  }
  checkSaveTarget(dir, 'hf', opts.overwrite, opts.dtype);
  const dtype = (opts.dtype ?? 'F32') as SafetensorsDtype; // checkSaveTarget refused Q8_0
  if (opts.tokenizerFile !== undefined && !fs.statSync(opts.tokenizerFile, { throwIfNoEntry: false })?.isFile()) {
    throw new Error(`${opts.tokenizerFile}: tokenizer file not found`);
  }
  const parent = path.dirname(path.resolve(dir));
  fs.mkdirSync(parent, { recursive: true });
  removeStale(parent, TEMP_NAME);
  const tmp = tempName(parent, path.basename(dir));
  const keepTmp = removeOnExit(tmp);
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
    keepTmp();
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    keepTmp();
    throw e;
  }
}

function writeFolder(src: ModelSource, out: string, dtype: SafetensorsDtype, opts: SaveModelOptions): void {
  const c = src.config;
  const layer = layersInLayout(src, 'half');
  const layers = withoutZeroBiases(c.layers, layer);
  const outConfig: ModelConfig = { ...c, ropeLayout: 'half', layers };
  // Decided after the zero biases are dropped: a stock folder's bias flags (null: non-uniform).
  const stock = stockBiasFlags(layers);

  const tensors: TensorToWrite[] = [];
  const add = (name: string, shape: number[], get: () => StoredTensor) => tensors.push({ name, shape, data: finiteForSave(src.origin, name, get) });
  add(hfNames.embedding, [c.vocabSize, c.hiddenSize], () => src.storedEmbedding?.() ?? src.embedding());
  const zeros = (n: number) => () => new Float32Array(n);
  for (let i = 0; i < c.nLayers; i++) {
    const names = hfNames.layer(i);
    const shapes = hfLayerShapes(outConfig, i);
    for (const key of Object.keys(shapes) as (keyof LayerWeights)[]) {
      const shape = shapes[key];
      if (shape) add(names[key], shape, () => layer(i)[key] as StoredTensor);
      // attention_bias / mlp_bias: every layer has the bias, zero where slimllm's has none.
      else if ((key === 'oBias' && stock?.attentionBias) || (key === 'downBias' && stock?.mlpBias)) {
        add(names[key], [c.hiddenSize], zeros(c.hiddenSize));
      }
    }
    if (stock?.attentionBias || stock?.mlpBias) {
      const zeroShapes = hfZeroBiasShapes(outConfig, i);
      for (const key of ZERO_BIAS_KEYS) {
        const attn = key === 'qBias' || key === 'kBias' || key === 'vBias';
        if (attn ? stock.attentionBias : stock.mlpBias) add(names.zeroBiases[key], zeroShapes[key], zeros(zeroShapes[key][0]));
      }
    }
  }
  add(hfNames.finalNorm, [c.hiddenSize], () => src.finalNorm());
  if (!c.tieEmbeddings) add(hfNames.classifier, [c.vocabSize, c.hiddenSize], () => src.storedClassifier?.() ?? src.classifier());

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
  if (file.endsWith('.gguf')) {
    writeTokenizerFilesFromGguf(file, out);
    return;
  }
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
