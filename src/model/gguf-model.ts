// Llama-family models as GGUF files that llama.cpp runs, and GGUF files as ModelSources.
//
// Architecture: a model whose layers all keep the same widths and carry no biases is written as
// llama.cpp's `llama`; any other (a pruned model) as `deci`, whose loader builds every layer from
// per-layer arrays `deci.attention.head_count`, `head_count_kv` and `feed_forward_length`, and
// takes the optional `blk.N.attn_output.bias` / `blk.N.ffn_down.bias` (the regression recovery's
// biases). Both rotate consecutive pairs in RoPE (llama2.c's layout), so Hugging Face q/k rows are
// permuted back on write. Head size, RoPE dimensions and every width are written explicitly.
//
// llama.cpp's deci skips a layer whose FFN width is 0 entirely (attention included) and takes the
// head size from layer 0, so a layer keeping attention without an FFN, or a head-less layer 0, is
// refused here rather than written as a file that computes something else.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { type LayerShape, type ModelConfig, ModelConfigSchema, uniformWidths } from './config.js';
import { type GgmlTypeName, type GgufEntry, GgufFile, type GgufTensorToWrite, GgufType, describeValue, writeGguf } from './gguf.js';
import { ggufTokenizerEntries } from './gguf-tokenizer.js';
import { assertFiniteStored, finiteForSave } from './safetensors.js';
import { checkLayerIndex, layersInLayout, type LayerWeights, type ModelSource, readLayerTensors, type SourceFile, type StoredLayer, type StoredTensor, widenStored, withoutZeroBiases } from './weights.js';

export type GgufDtype = 'F32' | 'F16' | 'BF16' | 'Q8_0';

/** llama.cpp's tensor names. */
export const ggufNames = {
  embedding: 'token_embd.weight',
  finalNorm: 'output_norm.weight',
  classifier: 'output.weight',
  layer(i: number): Record<keyof LayerWeights, string> {
    const p = `blk.${i}.`;
    return {
      attnNorm: `${p}attn_norm.weight`,
      wq: `${p}attn_q.weight`,
      wk: `${p}attn_k.weight`,
      wv: `${p}attn_v.weight`,
      wo: `${p}attn_output.weight`,
      oBias: `${p}attn_output.bias`,
      ffnNorm: `${p}ffn_norm.weight`,
      wGate: `${p}ffn_gate.weight`,
      wUp: `${p}ffn_up.weight`,
      wDown: `${p}ffn_down.weight`,
      downBias: `${p}ffn_down.bias`,
    };
  },
};

/** GGUF dims (innermost first) of every tensor of layer `i`: an [out × in] matrix is [in, out]. */
function layerDims(c: ModelConfig, i: number): Record<keyof LayerWeights, number[] | null> {
  const s = c.layers[i];
  const D = c.hiddenSize;
  const d = c.headDim;
  return {
    attnNorm: [D],
    wq: [D, s.nHeads * d],
    wk: [D, s.nKvHeads * d],
    wv: [D, s.nKvHeads * d],
    wo: [s.nHeads * d, D],
    oBias: s.oBias ? [D] : null,
    ffnNorm: [D],
    wGate: [D, s.ffnDim],
    wUp: [D, s.ffnDim],
    wDown: [s.ffnDim, D],
    downBias: s.downBias ? [D] : null,
  };
}

export function isUniformBiasFree(layers: readonly LayerShape[]): boolean {
  return uniformWidths(layers) && layers.every((s) => !s.oBias && !s.downBias);
}

/** Throws for layer shapes llama.cpp's deci would run differently from slimllm. */
export function checkGgufLayers(layers: readonly LayerShape[], file: string): void {
  layers.forEach((s, i) => {
    if (s.ffnDim === 0 && s.nHeads > 0) {
      throw new Error(`${file}: layer ${i} keeps ${s.nHeads} attention heads but no FFN channels; llama.cpp skips such a layer entirely (attention included), so it cannot be written`);
    }
    if (i === 0 && s.nHeads === 0) throw new Error(`${file}: layer 0 has no attention heads; llama.cpp reads the head size from layer 0, so it cannot be written`);
  });
}

export interface SaveGgufOptions {
  /** Storage type of the matrices (norms and biases stay F32). Q8_0 falls back to F16 for a matrix whose rows are not a multiple of 32 long. */
  dtype?: GgufDtype;
  /** llama2.c tok*.bin or tokenizer.json to embed (llama.cpp needs a vocabulary to run the file). */
  tokenizerFile?: string;
  /** Replace `file` if it exists (default: refuse). */
  overwrite?: boolean;
}

const GENERAL_FILE_TYPE: Record<GgufDtype, number> = { F32: 0, F16: 1, Q8_0: 7, BF16: 32 };

/** Throws unless `file` can be written as a new GGUF file (or replaced, with `overwrite`). */
export function checkGgufTarget(file: string, overwrite?: boolean): void {
  const st = fs.statSync(file, { throwIfNoEntry: false });
  if (st?.isDirectory()) throw new Error(`${file}: is a folder; a GGUF model is one file (give a path ending in .gguf)`);
  if (st && !overwrite) throw new Error(`${file}: exists; refusing to overwrite (choose another path or pass overwrite)`);
}

/** Saves `src` as one GGUF file (written beside `file` under a temporary name, then renamed). */
export function saveGguf(src: ModelSource, file: string, opts: SaveGgufOptions = {}): void {
  checkGgufTarget(file, opts.overwrite);
  if (opts.tokenizerFile !== undefined && !fs.statSync(opts.tokenizerFile, { throwIfNoEntry: false })?.isFile()) {
    throw new Error(`${opts.tokenizerFile}: tokenizer file not found`);
  }
  const c = src.config;
  checkGgufLayers(c.layers, file);
  const dtype = opts.dtype ?? 'F32';

  const layer = layersInLayout(src, 'interleaved');
  // Zero biases dropped, so that they do not force `deci`.
  const layers = withoutZeroBiases(c.layers, layer);
  const out: ModelConfig = { ...c, layers, ropeLayout: 'interleaved' };
  const arch = isUniformBiasFree(layers) ? 'llama' : 'deci';

  const metadata = modelEntries(out, arch, dtype, path.basename(file, '.gguf'));
  if (opts.tokenizerFile !== undefined) for (const [k, v] of ggufTokenizerEntries(opts.tokenizerFile, c.vocabSize, { bos: c.bosTokenId, eos: c.eosTokenId })) metadata.set(k, v);

  const tensors: GgufTensorToWrite[] = [];
  const matrixType = (dims: number[]): GgmlTypeName => (dtype === 'Q8_0' && dims[0] % 32 !== 0 ? 'F16' : dtype);
  const add = (name: string, dims: number[], get: () => StoredTensor) => {
    const type = dims.length === 1 ? 'F32' : matrixType(dims);
    tensors.push({ name, dims, type, data: finiteForSave(src.origin, name, get) });
  };
  // 16-bit weights are handed over as stored: an F16 save of an F16 checkpoint copies their bits.
  add(ggufNames.embedding, [c.hiddenSize, c.vocabSize], () => src.storedEmbedding?.() ?? src.embedding());
  for (let i = 0; i < c.nLayers; i++) {
    const names = ggufNames.layer(i);
    const dims = layerDims(out, i);
    for (const key of Object.keys(dims) as (keyof LayerWeights)[]) {
      const d = dims[key];
      if (d) add(names[key], d, () => layer(i)[key] as StoredTensor);
    }
  }
  add(ggufNames.finalNorm, [c.hiddenSize], () => src.finalNorm());
  if (!c.tieEmbeddings) add(ggufNames.classifier, [c.hiddenSize, c.vocabSize], () => src.storedClassifier?.() ?? src.classifier());
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  writeGguf(file, metadata, tensors);
}

function modelEntries(c: ModelConfig, arch: 'llama' | 'deci', dtype: GgufDtype, name: string): Map<string, GgufEntry> {
  const u32 = (value: number): GgufEntry => ({ type: GgufType.UINT32, value });
  const f32 = (value: number): GgufEntry => ({ type: GgufType.FLOAT32, value });
  const perLayer = (get: (s: LayerShape) => number): GgufEntry =>
    arch === 'llama' ? u32(get(c.layers[0])) : { type: GgufType.ARRAY, elemType: GgufType.INT32, value: Int32Array.from(c.layers.map(get)) };
  const m = new Map<string, GgufEntry>([
    ['general.architecture', { type: GgufType.STRING, value: arch }],
    ['general.name', { type: GgufType.STRING, value: name }],
    ['general.file_type', u32(GENERAL_FILE_TYPE[dtype])],
    [`${arch}.context_length`, u32(c.maxSeqLen)],
    [`${arch}.embedding_length`, u32(c.hiddenSize)],
    [`${arch}.block_count`, u32(c.nLayers)],
    [`${arch}.feed_forward_length`, perLayer((s) => s.ffnDim)],
    [`${arch}.attention.head_count`, perLayer((s) => s.nHeads)],
    [`${arch}.attention.head_count_kv`, perLayer((s) => s.nKvHeads)],
    [`${arch}.attention.key_length`, u32(c.headDim)],
    [`${arch}.attention.value_length`, u32(c.headDim)],
    [`${arch}.attention.layer_norm_rms_epsilon`, f32(c.rmsNormEps)],
    [`${arch}.rope.freq_base`, f32(c.ropeTheta)],
    [`${arch}.rope.dimension_count`, u32(c.headDim)],
    [`${arch}.vocab_size`, u32(c.vocabSize)],
  ]);
  if (dtype === 'Q8_0') m.set('general.quantization_version', u32(2));
  return m;
}

// ---------------------------------------------------------------------------------------------
// Reading

const ARCHITECTURES = ['llama', 'deci'] as const;

function configFromGguf(g: GgufFile): ModelConfig {
  const arch = g.str('general.architecture');
  if (!(ARCHITECTURES as readonly string[]).includes(arch)) {
    throw new Error(`${g.file}: architecture '${arch}' is not supported (${ARCHITECTURES.join(', ')})`);
  }
  const k = (s: string) => `${arch}.${s}`;
  const D = g.int(k('embedding_length'));
  const L = g.int(k('block_count'));
  if (D === 0 || L === 0) throw new Error(`${g.file}: metadata '${k(D === 0 ? 'embedding_length' : 'block_count')}' is 0`);
  const heads = g.perLayer(k('attention.head_count'), L);
  const kvHeads = g.metadata.get(k('attention.head_count_kv')) === undefined ? heads : g.perLayer(k('attention.head_count_kv'), L);
  const ffn = g.perLayer(k('feed_forward_length'), L);
  heads.forEach((h, i) => {
    if (h === 0 || kvHeads[i] === 0) throw new Error(`${g.file}: layer ${i} has no attention heads (${k('attention.head_count')}); slimllm runs layers with attention only`);
    if (ffn[i] === 0) throw new Error(`${g.file}: layer ${i} has no FFN channels (${k('feed_forward_length')})`);
  });
  if (D % heads[0] !== 0 && g.metadata.get(k('attention.key_length')) === undefined) {
    throw new Error(`${g.file}: ${k('embedding_length')} ${D} is not divisible by layer 0's ${heads[0]} heads and '${k('attention.key_length')}' is not given`);
  }
  const headDim = g.int(k('attention.key_length'), D / heads[0]);
  const valueDim = g.int(k('attention.value_length'), headDim);
  const ropeDim = g.int(k('rope.dimension_count'), headDim);
  if (valueDim !== headDim) throw new Error(`${g.file}: '${k('attention.value_length')}' ${valueDim} differs from the key length ${headDim} (not supported)`);
  if (ropeDim !== headDim) throw new Error(`${g.file}: '${k('rope.dimension_count')}' ${ropeDim} differs from the head size ${headDim} (partial RoPE is not supported)`);
  const scaling = g.metadata.get(k('rope.scaling.type'));
  if (scaling !== undefined && !(scaling.type === GgufType.STRING && scaling.value === 'none')) {
    throw new Error(`${g.file}: metadata '${k('rope.scaling.type')}' is ${describeValue(scaling)}; RoPE scaling is not supported`);
  }
  const emb = g.tensors.get(ggufNames.embedding);
  if (!emb) throw new Error(`${g.file}: tensor '${ggufNames.embedding}' is missing`);
  const vocabSize = emb.dims.length === 2 ? emb.dims[1] : 0;
  const tokens = g.metadata.get('tokenizer.ggml.tokens');
  const nTok = tokens?.type === GgufType.ARRAY ? tokens.value.length : vocabSize;
  const draft = {
    architecture: arch,
    hiddenSize: D,
    nLayers: L,
    headDim,
    vocabSize,
    rmsNormEps: g.num(k('attention.layer_norm_rms_epsilon'), 1e-5),
    ropeTheta: g.num(k('rope.freq_base'), 10000),
    ropeLayout: 'interleaved' as const,
    tieEmbeddings: !g.has(ggufNames.classifier),
    maxSeqLen: g.int(k('context_length')),
    bosTokenId: g.tokenId('tokenizer.ggml.bos_token_id', nTok, 1),
    eosTokenId: g.tokenId('tokenizer.ggml.eos_token_id', nTok, 2),
    layers: heads.map((nHeads, i) => ({
      nHeads,
      nKvHeads: kvHeads[i],
      ffnDim: ffn[i],
      oBias: g.has(ggufNames.layer(i).oBias),
      downBias: g.has(ggufNames.layer(i).downBias),
    })),
  };
  const parsed = ModelConfigSchema.safeParse(draft);
  if (!parsed.success) throw new Error(`${g.file}: ${z.prettifyError(parsed.error)}`);
  if (tokens !== undefined && nTok !== vocabSize) {
    throw new Error(`${g.file}: 'tokenizer.ggml.tokens' has ${nTok} tokens, tensor '${ggufNames.embedding}' has ${vocabSize} rows`);
  }
  return parsed.data;
}

/** Every tensor present with the dims the metadata imply, and no other tensor. */
function checkGgufTensors(g: GgufFile, c: ModelConfig): void {
  const expected = new Map<string, number[]>();
  expected.set(ggufNames.embedding, [c.hiddenSize, c.vocabSize]);
  expected.set(ggufNames.finalNorm, [c.hiddenSize]);
  if (!c.tieEmbeddings) expected.set(ggufNames.classifier, [c.hiddenSize, c.vocabSize]);
  for (let i = 0; i < c.nLayers; i++) {
    const names = ggufNames.layer(i);
    const dims = layerDims(c, i);
    for (const key of Object.keys(dims) as (keyof LayerWeights)[]) {
      const d = dims[key];
      if (d) expected.set(names[key], d);
    }
  }
  for (const [name, dims] of expected) {
    const t = g.tensors.get(name);
    if (!t) throw new Error(`${g.file}: tensor '${name}' is missing`);
    if (t.dims.length !== dims.length || t.dims.some((v, j) => v !== dims[j])) {
      throw new Error(`${g.file}: tensor '${name}': dims [${t.dims.join(', ')}], the metadata imply [${dims.join(', ')}]`);
    }
  }
  for (const name of g.tensors.keys()) {
    if (!expected.has(name)) throw new Error(`${g.file}: tensor '${name}' is not part of a ${c.architecture} model slimllm can run`);
  }
}

/** A GGUF model file (`llama` or `deci`) read one tensor at a time. */
export class GgufSource implements ModelSource {
  readonly config: ModelConfig;
  readonly reopen: SourceFile;

  constructor(
    readonly gguf: GgufFile,
    readonly origin = gguf.file,
  ) {
    try {
      this.config = configFromGguf(gguf);
      checkGgufTensors(gguf, this.config);
    } catch (e) {
      gguf.close();
      throw e;
    }
    this.reopen = { format: 'gguf', path: gguf.file };
  }

  /** A tensor as stored (16-bit floats as their bits), checked for non-finite values. */
  private readStored(name: string): StoredTensor {
    const a = this.gguf.readStored(name);
    assertFiniteStored(a, `${this.origin}: tensor '${name}'`);
    return a;
  }

  private read(name: string): Float32Array {
    return widenStored(this.readStored(name));
  }

  embedding(): Float32Array {
    return this.read(ggufNames.embedding);
  }

  storedEmbedding(): StoredTensor {
    return this.readStored(ggufNames.embedding);
  }

  layer(i: number): LayerWeights {
    checkLayerIndex(this.origin, this.config.nLayers, i);
    return readLayerTensors(ggufNames.layer(i), this.config.layers[i], (name) => this.read(name));
  }

  /** Layer i as stored: an F16 or BF16 model's matrices stay 16-bit (uploaded as they are, kept so by the layer store). */
  storedLayer(i: number): StoredLayer {
    checkLayerIndex(this.origin, this.config.nLayers, i);
    return readLayerTensors(ggufNames.layer(i), this.config.layers[i], (name) => this.readStored(name));
  }

  finalNorm(): Float32Array {
    return this.read(ggufNames.finalNorm);
  }

  classifier(): Float32Array {
    return this.config.tieEmbeddings ? this.embedding() : this.read(ggufNames.classifier);
  }

  storedClassifier(): StoredTensor {
    return this.config.tieEmbeddings ? this.storedEmbedding() : this.readStored(ggufNames.classifier);
  }

  close(): void {
    this.gguf.close();
  }
}

export function openGguf(file: string): GgufSource {
  return new GgufSource(GgufFile.open(file));
}
