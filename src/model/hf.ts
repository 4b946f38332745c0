// Hugging Face Llama/Mistral checkpoint folders → ModelSource.
//
// A folder holds config.json and either model.safetensors or model.safetensors.index.json
// (weight_map: tensor name → shard file). Three kinds are read:
//
// - Stock Llama/Mistral checkpoints (every layer the same width). `attention_bias` / `mlp_bias`
//   may be true: o_proj / down_proj biases are then read as slimllm's oBias / downBias (dropped
//   where all zero), and the q/k/v/gate/up biases those flags also bring must be all zero —
//   slimllm's forward pass has none, so a non-zero one is refused, naming the tensor. This is
//   what slimllm writes for a model whose layers all keep the same widths.
// - `SlimllmLlamaForCausalLM` (model_type `slimllm_llama`): what slimllm writes for a pruned model
//   whose layers differ. The per-layer truth is config.json's `"slimllm": {"layers": [{nHeads,
//   nKvHeads, ffnDim, oBias, downBias}, …]}` (Transformers' LlamaConfig cannot express it); the
//   top-level fields describe layer 0. The architecture name is deliberately not one Transformers
//   knows, so that it refuses the folder instead of misreading it.
// - Legacy slimllm folders: `LlamaForCausalLM` plus the same `slimllm.layers` block.
//
// Everything that can be checked without reading weights is checked when the folder is opened —
// config fields, every tensor's presence and shape — so a bad checkpoint fails at once with the
// file, tensor and layer named, not halfway through a pruning run.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { type LayerShape, LayerShapeSchema, type ModelConfig, ModelConfigSchema } from './config.js';
import { assertFiniteStored, duplicateJsonKey, SafetensorsFile, type TensorInfo } from './safetensors.js';
import { allZero, checkLayerIndex, type LayerWeights, type ModelSource, readLayerTensors, type SourceFile, type StoredLayer, type StoredTensor, widenStored } from './weights.js';

/** Largest widths (hidden, FFN, heads, vocabulary, positions) and layer count a config may give. */
const MAX_WIDTH = 1 << 24;
const MAX_LAYERS = 4096;

export const SUPPORTED_HF_ARCHITECTURES = ['LlamaForCausalLM', 'MistralForCausalLM'] as const;

/**
 * Architecture and model_type of the folders slimllm writes when layers differ in width: a Llama
 * whose per-layer shapes are in config.json's `slimllm.layers`. Only slimllm reads them (it loads
 * them as 'LlamaForCausalLM', the forward pass they need).
 */
export const SLIMLLM_HF_ARCHITECTURE = 'SlimllmLlamaForCausalLM';
export const SLIMLLM_HF_MODEL_TYPE = 'slimllm_llama';

const MODEL_TYPE_ARCH: Record<string, string> = {
  llama: 'LlamaForCausalLM',
  mistral: 'MistralForCausalLM',
  [SLIMLLM_HF_MODEL_TYPE]: SLIMLLM_HF_ARCHITECTURE,
};

/** Biases a Llama checkpoint can hold that slimllm's model lacks: read only to check they are zero. */
export const ZERO_BIAS_KEYS = ['qBias', 'kBias', 'vBias', 'gateBias', 'upBias'] as const;
export type ZeroBiasKey = (typeof ZERO_BIAS_KEYS)[number];

/** Hugging Face tensor names of a Llama model. */
export const hfNames = {
  embedding: 'model.embed_tokens.weight',
  finalNorm: 'model.norm.weight',
  classifier: 'lm_head.weight',
  layer(i: number) {
    const p = `model.layers.${i}.`;
    return {
      attnNorm: `${p}input_layernorm.weight`,
      wq: `${p}self_attn.q_proj.weight`,
      wk: `${p}self_attn.k_proj.weight`,
      wv: `${p}self_attn.v_proj.weight`,
      wo: `${p}self_attn.o_proj.weight`,
      oBias: `${p}self_attn.o_proj.bias`,
      ffnNorm: `${p}post_attention_layernorm.weight`,
      wGate: `${p}mlp.gate_proj.weight`,
      wUp: `${p}mlp.up_proj.weight`,
      wDown: `${p}mlp.down_proj.weight`,
      downBias: `${p}mlp.down_proj.bias`,
      /** Biases Llama can carry that slimllm's model does not: accepted only when all zero. */
      zeroBiases: {
        qBias: `${p}self_attn.q_proj.bias`,
        kBias: `${p}self_attn.k_proj.bias`,
        vBias: `${p}self_attn.v_proj.bias`,
        gateBias: `${p}mlp.gate_proj.bias`,
        upBias: `${p}mlp.up_proj.bias`,
      } satisfies Record<ZeroBiasKey, string>,
    };
  },
};

/** Shapes of layer `i`'s q/k/v/gate/up biases (attention_bias / mlp_bias checkpoints). */
export function hfZeroBiasShapes(c: ModelConfig, i: number): Record<ZeroBiasKey, number[]> {
  const s = c.layers[i];
  return {
    qBias: [s.nHeads * c.headDim],
    kBias: [s.nKvHeads * c.headDim],
    vBias: [s.nKvHeads * c.headDim],
    gateBias: [s.ffnDim],
    upBias: [s.ffnDim],
  };
}

const ZERO_BIAS_PROJ: Record<ZeroBiasKey, string> = { qBias: 'q_proj', kBias: 'k_proj', vBias: 'v_proj', gateBias: 'gate_proj', upBias: 'up_proj' };

/** Shape [out, in] (or [n]) of every tensor of layer `i`, from the config. */
export function hfLayerShapes(c: ModelConfig, i: number): Record<keyof LayerWeights, number[] | null> {
  const s = c.layers[i];
  const D = c.hiddenSize;
  const d = c.headDim;
  return {
    attnNorm: [D],
    wq: [s.nHeads * d, D],
    wk: [s.nKvHeads * d, D],
    wv: [s.nKvHeads * d, D],
    wo: [D, s.nHeads * d],
    oBias: s.oBias ? [D] : null,
    ffnNorm: [D],
    wGate: [s.ffnDim, D],
    wUp: [s.ffnDim, D],
    wDown: [D, s.ffnDim],
    downBias: s.downBias ? [D] : null,
  };
}

const SlimllmExtensionSchema = z.object({ layers: z.array(LayerShapeSchema) });

/** The parts of config.json slimllm reads, before biases are known from the weights. */
export interface HfConfigRead {
  config: Omit<ModelConfig, 'layers'> & { layers: LayerShape[] };
  /** True when config.json carries slimllm.layers (biases are then declared, not detected). */
  hasLayerExtension: boolean;
}

/** Parses a config.json object (`file` is for messages). Biases are false unless declared. */
export function parseHfConfig(raw: unknown, file: string): HfConfigRead {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error(`${file}: not a JSON object`);
  const j = raw as Record<string, unknown>;
  const { arch, slimllmArch } = hfArchitecture(j, file);
  refuseUnsupported(j, file);
  const f = configFields(j, file);
  const D = f.posInt('hidden_size');
  const nLayers = f.posInt('num_hidden_layers', undefined, MAX_LAYERS);
  const nHeads = f.posInt('num_attention_heads');
  const nKvHeads = f.posInt('num_key_value_heads', nHeads);
  if (j.head_dim === null) delete j.head_dim;
  if (j.head_dim === undefined && D % nHeads !== 0) {
    throw new Error(`${file}: hidden_size ${D} is not divisible by num_attention_heads ${nHeads} and head_dim is not given`);
  }
  const headDim = f.posInt('head_dim', D / nHeads);
  const ffnDim = f.posInt('intermediate_size');
  let maxSeqLen = f.posInt('max_position_embeddings', 2048); // LlamaConfig's default
  // Mistral's sliding window: within it attention is ordinary causal attention, which is all the
  // forward pass implements, so sequences are limited to the window.
  if (typeof j.sliding_window === 'number' && j.sliding_window > 0) maxSeqLen = Math.min(maxSeqLen, j.sliding_window);
  return {
    config: {
      // A slimllm folder runs as the Llama it is; the name only keeps Transformers away.
      architecture: slimllmArch ? 'LlamaForCausalLM' : arch,
      hiddenSize: D,
      nLayers,
      headDim,
      vocabSize: f.posInt('vocab_size'),
      rmsNormEps: f.posNum('rms_norm_eps', 1e-6), // LlamaConfig's default
      ropeTheta: f.posNum('rope_theta', 10000),
      ropeLayout: 'half',
      tieEmbeddings: (j.tie_word_embeddings as boolean | undefined) ?? false, // LlamaConfig's default
      maxSeqLen,
      bosTokenId: f.tokenId('bos_token_id', 1),
      eosTokenId: f.tokenId('eos_token_id', 2),
      layers: configLayerShapes(j.slimllm, file, nLayers, { nHeads, nKvHeads, ffnDim, oBias: false, downBias: false }),
    },
    hasLayerExtension: j.slimllm !== undefined,
  };
}

/** The architecture named by config.json (or implied by model_type), refused unless supported. */
function hfArchitecture(j: Record<string, unknown>, file: string): { arch: string; slimllmArch: boolean } {
  let arch: unknown = Array.isArray(j.architectures) ? j.architectures[0] : undefined;
  if (arch === undefined) {
    arch = typeof j.model_type === 'string' ? MODEL_TYPE_ARCH[j.model_type] : undefined;
    if (arch === undefined) {
      throw new Error(`${file}: no architectures and model_type ${JSON.stringify(j.model_type)} is not llama or mistral`);
    }
  }
  const slimllmArch = arch === SLIMLLM_HF_ARCHITECTURE;
  if (!slimllmArch && !(SUPPORTED_HF_ARCHITECTURES as readonly unknown[]).includes(arch)) {
    throw new Error(`${file}: architecture ${JSON.stringify(arch)} is not supported (${SUPPORTED_HF_ARCHITECTURES.join(', ')})`);
  }
  if (slimllmArch && j.slimllm === undefined) {
    throw new Error(`${file}: architecture ${SLIMLLM_HF_ARCHITECTURE} needs the slimllm.layers block (the per-layer shapes), which is missing`);
  }
  return { arch: arch as string, slimllmArch };
}

/** Settings the forward pass does not implement, and flags of the wrong type. */
function refuseUnsupported(j: Record<string, unknown>, file: string): void {
  if (j.rope_scaling !== undefined && j.rope_scaling !== null) {
    throw new Error(`${file}: rope_scaling ${JSON.stringify(j.rope_scaling)} is not supported (only null)`);
  }
  if (j.hidden_act !== undefined && j.hidden_act !== 'silu') {
    throw new Error(`${file}: hidden_act ${JSON.stringify(j.hidden_act)} is not supported (only silu)`);
  }
  // attention_bias / mlp_bias true are read: which biases exist is decided by the tensors present
  // (q/k/v/gate/up ones must then be all zero, checked when the folder is opened).
  for (const key of ['attention_bias', 'mlp_bias', 'tie_word_embeddings']) {
    if (j[key] !== undefined && typeof j[key] !== 'boolean') throw new Error(`${file}: ${key} ${JSON.stringify(j[key])} is not a boolean`);
  }
}

/** Typed readers of config.json's fields, each error naming the file and the field. */
function configFields(j: Record<string, unknown>, file: string) {
  return {
    // Bounds well above any real model's, so that a corrupt value fails here, not as an allocation.
    posInt(key: string, dflt?: number, max = MAX_WIDTH): number {
      const v = j[key] ?? dflt;
      if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
        throw new Error(`${file}: ${key} ${v === undefined ? 'is missing' : `${JSON.stringify(v)} is not a positive integer`}`);
      }
      if (v > max) throw new Error(`${file}: ${key} ${v} is larger than ${max} (corrupt config?)`);
      return v;
    },
    posNum(key: string, dflt: number): number {
      const v = j[key] ?? dflt;
      if (typeof v !== 'number' || !(v > 0)) throw new Error(`${file}: ${key} ${JSON.stringify(v)} is not a positive number`);
      return v;
    },
    tokenId(key: string, dflt: number): number {
      let v = j[key] ?? dflt;
      if (Array.isArray(v)) v = v[0]; // Llama 3 lists several EOS ids; the first is the main one
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new Error(`${file}: ${key} ${JSON.stringify(v)} is not a token id`);
      return v;
    },
  };
}

/** Per-layer shapes: slimllm's extension block when present, else every layer alike. */
function configLayerShapes(ext: unknown, file: string, nLayers: number, uniform: LayerShape): LayerShape[] {
  if (ext === undefined) return Array.from({ length: nLayers }, () => ({ ...uniform }));
  const parsed = SlimllmExtensionSchema.safeParse(ext);
  if (!parsed.success) throw new Error(`${file}: slimllm extension is malformed: ${z.prettifyError(parsed.error)}`);
  const layers = parsed.data.layers;
  if (layers.length !== nLayers) {
    throw new Error(`${file}: slimllm.layers has ${layers.length} entries, num_hidden_layers is ${nLayers}`);
  }
  return layers;
}

function readJson(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`${file}: cannot read (${(e as Error).message})`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message})`);
  }
  // JSON.parse keeps the last of two equal keys silently: a config must say each thing once.
  const dup = duplicateJsonKey(text);
  if (dup !== null) throw new Error(`${file}: key ${JSON.stringify(dup)} appears twice in one object`);
  return value;
}

/** Where each tensor lives: one file, or the shards of an index. */
class TensorIndex {
  private constructor(
    /** The file to name in "missing tensor" messages. */
    readonly describe: string,
    private readonly where: Map<string, SafetensorsFile>,
    private readonly files: SafetensorsFile[],
  ) {}

  static open(dir: string): TensorIndex {
    const single = path.join(dir, 'model.safetensors');
    const indexFile = path.join(dir, 'model.safetensors.index.json');
    if (fs.existsSync(indexFile)) {
      const raw = readJson(indexFile) as { weight_map?: unknown };
      const wm = raw?.weight_map;
      if (typeof wm !== 'object' || wm === null || Array.isArray(wm)) throw new Error(`${indexFile}: weight_map is missing or not an object`);
      const shards = new Map<string, SafetensorsFile>();
      const where = new Map<string, SafetensorsFile>();
      try {
        for (const [name, shard] of Object.entries(wm as Record<string, unknown>)) {
          if (typeof shard !== 'string' || shard.includes('/') || shard.includes('\\')) {
            throw new Error(`${indexFile}: tensor '${name}' maps to ${JSON.stringify(shard)}, not a file name in the folder`);
          }
          let f = shards.get(shard);
          if (!f) {
            const p = path.join(dir, shard);
            if (!fs.existsSync(p)) throw new Error(`${indexFile}: shard '${shard}' (holding tensor '${name}') does not exist`);
            f = SafetensorsFile.open(p);
            shards.set(shard, f);
          }
          if (!f.has(name)) throw new Error(`${f.file}: tensor '${name}' is listed in ${path.basename(indexFile)} but not in this shard`);
          where.set(name, f);
        }
      } catch (e) {
        for (const f of shards.values()) f.close();
        throw e;
      }
      return new TensorIndex(indexFile, where, [...shards.values()]);
    }
    if (fs.existsSync(single)) {
      const f = SafetensorsFile.open(single);
      return new TensorIndex(single, new Map([...f.tensors.keys()].map((n) => [n, f])), [f]);
    }
    throw new Error(`${dir}: neither model.safetensors nor model.safetensors.index.json (only safetensors checkpoints are read)`);
  }

  has(name: string): boolean {
    return this.where.has(name);
  }

  names(): IterableIterator<string> {
    return this.where.keys();
  }

  info(name: string): { file: string; info: TensorInfo } | null {
    const f = this.where.get(name);
    return f ? { file: f.file, info: f.info(name) } : null;
  }

  /** A tensor widened to f32 (checked finite on its stored bits). */
  read(name: string): Float32Array {
    return widenStored(this.readStored(name));
  }

  /** `read`, with f16/bf16 tensors left as their bits (checked finite all the same). */
  readStored(name: string): StoredTensor {
    const f = this.where.get(name);
    if (!f) throw new Error(`${this.describe}: tensor '${name}' is missing`);
    const a = f.readStored(name);
    assertFiniteStored(a, `${f.file}: tensor '${name}'`);
    return a;
  }

  close(): void {
    for (const f of this.files) f.close();
  }
}

export class HfSource implements ModelSource {
  readonly config: ModelConfig;
  readonly reopen: SourceFile;
  private readonly index: TensorIndex;

  constructor(readonly origin: string) {
    const configFile = path.join(origin, 'config.json');
    const { config: draft, hasLayerExtension } = parseHfConfig(readJson(configFile), configFile);
    const index = TensorIndex.open(origin);
    try {
      // Without the extension, biases are whatever the checkpoint holds.
      if (!hasLayerExtension) {
        draft.layers.forEach((s, i) => {
          const n = hfNames.layer(i);
          s.oBias = index.has(n.oBias);
          s.downBias = index.has(n.downBias);
        });
      }
      const parsed = ModelConfigSchema.safeParse(draft);
      if (!parsed.success) throw new Error(`${configFile}: ${z.prettifyError(parsed.error)}`);
      this.config = parsed.data;
      checkTensors(this.config, index);
      checkBiasValues(this.config, index, !hasLayerExtension);
    } catch (e) {
      index.close();
      throw e;
    }
    this.index = index;
    this.reopen = { format: 'hf', path: origin };
  }

  embedding(): Float32Array {
    return this.index.read(hfNames.embedding);
  }

  layer(i: number): LayerWeights {
    checkLayerIndex(this.origin, this.config.nLayers, i);
    return readLayerTensors(hfNames.layer(i), this.config.layers[i], (name) => this.index.read(name));
  }

  storedLayer(i: number): StoredLayer {
    checkLayerIndex(this.origin, this.config.nLayers, i);
    return readLayerTensors(hfNames.layer(i), this.config.layers[i], (name) => this.index.readStored(name));
  }

  storedEmbedding(): StoredTensor {
    return this.index.readStored(hfNames.embedding);
  }

  storedClassifier(): StoredTensor {
    return this.config.tieEmbeddings ? this.storedEmbedding() : this.index.readStored(hfNames.classifier);
  }

  finalNorm(): Float32Array {
    return this.index.read(hfNames.finalNorm);
  }

  classifier(): Float32Array {
    return this.config.tieEmbeddings ? this.embedding() : this.index.read(hfNames.classifier);
  }

  close(): void {
    this.index.close();
  }
}

function checkTensors(c: ModelConfig, index: TensorIndex): void {
  const check = (name: string, shape: number[], layer: number | null, why?: string) => {
    const at = layer === null ? `tensor '${name}'` : `tensor '${name}' (layer ${layer})`;
    const t = index.info(name);
    if (!t) throw new Error(`${index.describe}: ${at} is missing${why ? ` (${why})` : ''}`);
    const got = t.info.shape;
    if (got.length !== shape.length || got.some((v, k) => v !== shape[k])) {
      throw new Error(`${t.file}: ${at}: shape [${got.join(', ')}], expected [${shape.join(', ')}]`);
    }
  };
  const D = c.hiddenSize;
  // A checkpoint holding more layers than the config declares would be evaluated truncated.
  for (const name of index.names()) {
    const m = /^model\.layers\.(\d+)\./.exec(name);
    if (m && Number(m[1]) >= c.nLayers) {
      const t = index.info(name)!;
      throw new Error(`${t.file}: tensor '${name}' belongs to layer ${m[1]}, but num_hidden_layers is ${c.nLayers}`);
    }
  }
  check(hfNames.embedding, [c.vocabSize, D], null);
  check(hfNames.finalNorm, [D], null);
  if (!c.tieEmbeddings) check(hfNames.classifier, [c.vocabSize, D], null, 'tie_word_embeddings is false');
  for (let i = 0; i < c.nLayers; i++) {
    const n = hfNames.layer(i);
    const shapes = hfLayerShapes(c, i);
    for (const key of Object.keys(shapes) as (keyof LayerWeights)[]) {
      const shape = shapes[key];
      if (shape) check(n[key], shape, i, key === 'oBias' || key === 'downBias' ? 'config.json declares it' : undefined);
      else if (index.has(n[key])) {
        const t = index.info(n[key])!;
        throw new Error(`${t.file}: tensor '${n[key]}' (layer ${i}) is present but config.json's slimllm.layers[${i}].${key} is false`);
      }
    }
    const zeroShapes = hfZeroBiasShapes(c, i);
    for (const key of ZERO_BIAS_KEYS) {
      if (index.has(n.zeroBiases[key])) check(n.zeroBiases[key], zeroShapes[key], i);
    }
  }
}

/**
 * Reads the biases present (small vectors) once, at open: q/k/v/gate/up ones must be all zero —
 * slimllm's forward pass has none — and, when `dropZero` (no slimllm.layers declaring them), an
 * all-zero o_proj / down_proj bias is no bias (what attention_bias / mlp_bias checkpoints hold for
 * the layers slimllm wrote without one), so `c.layers` is updated.
 */
function checkBiasValues(c: ModelConfig, index: TensorIndex, dropZero: boolean): void {
  for (let i = 0; i < c.nLayers; i++) {
    const n = hfNames.layer(i);
    for (const key of ZERO_BIAS_KEYS) {
      const name = n.zeroBiases[key];
      if (!index.has(name)) continue;
      const a = index.read(name);
      const k = a.findIndex((v) => v !== 0);
      if (k >= 0) {
        throw new Error(
          `${index.info(name)!.file}: tensor '${name}' (layer ${i}): non-zero bias on ${ZERO_BIAS_PROJ[key]} is not supported ` +
            `(element ${k} is ${a[k]}; slimllm's Llama has no q/k/v/gate/up biases)`,
        );
      }
    }
    if (dropZero) {
      const s = c.layers[i];
      if (s.oBias && allZero(index.read(n.oBias))) s.oBias = false;
      if (s.downBias && allZero(index.read(n.downBias))) s.downBias = false;
    }
  }
}


/** Opens a Hugging Face checkpoint folder (config.json + safetensors). */
export function openHf(dir: string): HfSource {
  return new HfSource(dir);
}
