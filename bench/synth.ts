// Synthetic Llama checkpoints with real shapes (Hugging Face folder: config.json + f16
// model.safetensors) for the benchmarks. Weights are seeded random numbers scaled so that the
// forward pass stays finite and non-degenerate through many layers:
//   - every linear weight ~ N(0, 0.02²) (the Llama/GPT init std; q/k/v/gate/up outputs of an
//     RMS-normalised input then have std ≈ 0.02·√D ≈ 0.9 for D = 2048);
//   - o_proj and down_proj ~ N(0, (0.02/√(2·L))²) for the full model's L (GPT-2's residual scaling),
//     so the residual stream grows slowly and layer scores cos(h_in, h_out) are in (0, 1), rising
//     with depth like a trained model's;
//   - RMSNorm weights = 1; embedding ~ N(0, 0.5²) (hidden states start at RMS ≈ 0.5, the order
//     of one layer's update); lm_head ~ N(0, 0.02²).
// Each tensor has its own random stream (seed × tensor name), so layer l is the same whatever
// `layers` keeps. Tensors are generated and written in 1 Mi-element chunks: memory stays a few
// MB whatever the shape (a 7B embedding is 131 M values).
//
// CLI: node dist/bench/synth.js --shape tinyllama|llama2-7b|tiny [--layers n] [--seed s] --out DIR
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ModelConfig } from '../src/model/config.js';
import { f32ToF16Bits } from '../src/model/half.js';
import { hfConfigJson } from '../src/model/writer.js';
import { hfLayerShapes, hfNames } from '../src/model/hf.js';
import type { LayerWeights } from '../src/model/weights.js';
import { choiceFlag, hashSeed, intFlag, isMain, log, normalSampler, parseFlags, rng } from './common.js';

export const SHAPES = ['tinyllama', 'llama2-7b', 'tiny'] as const;
export type ShapeName = (typeof SHAPES)[number];

interface ShapeSpec {
  hidden: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  ffn: number;
  vocab: number;
  layers: number;
  rmsNormEps: number;
  maxSeqLen: number;
}

/** Published shapes: TinyLlama-1.1B (v1.0) and Llama-2-7B; `tiny` is a test-sized model. */
export const SHAPE_SPECS: Record<ShapeName, ShapeSpec> = {
  tinyllama: { hidden: 2048, heads: 32, kvHeads: 4, headDim: 64, ffn: 5632, vocab: 32000, layers: 22, rmsNormEps: 1e-5, maxSeqLen: 2048 },
  'llama2-7b': { hidden: 4096, heads: 32, kvHeads: 32, headDim: 128, ffn: 11008, vocab: 32000, layers: 32, rmsNormEps: 1e-5, maxSeqLen: 4096 },
  tiny: { hidden: 128, heads: 8, kvHeads: 4, headDim: 16, ffn: 344, vocab: 512, layers: 4, rmsNormEps: 1e-5, maxSeqLen: 256 },
};

export interface SynthOptions {
  shape: ShapeName;
  /** Keep only the first n layers (default: all of the shape's). */
  layers?: number;
  seed?: number;
}

export interface SynthResult {
  dir: string;
  config: ModelConfig;
  /** Bytes of model.safetensors. */
  bytes: number;
}

export const WEIGHT_STD = 0.02;
export const EMBED_STD = 0.5;

/** The ModelConfig a synthetic checkpoint of `shape` with `layers` layers has. */
export function syntheticConfig(shape: ShapeName, layers?: number): ModelConfig {
  const s = SHAPE_SPECS[shape];
  const L = layers ?? s.layers;
  if (!Number.isInteger(L) || L < 1) throw new Error(`layers must be a positive integer, got ${L}`);
  return {
    architecture: 'LlamaForCausalLM',
    hiddenSize: s.hidden,
    nLayers: L,
    headDim: s.headDim,
    vocabSize: s.vocab,
    rmsNormEps: s.rmsNormEps,
    ropeTheta: 10000,
    ropeLayout: 'half',
    tieEmbeddings: false,
    maxSeqLen: s.maxSeqLen,
    bosTokenId: 1,
    eosTokenId: 2,
    layers: Array.from({ length: L }, () => ({ nHeads: s.heads, nKvHeads: s.kvHeads, ffnDim: s.ffn, oBias: false, downBias: false })),
  };
}

interface TensorPlan {
  name: string;
  shape: number[];
  /** std of N(0, std²) values, or a constant when `value` is set. */
  std: number;
  value?: number;
}

function plan(c: ModelConfig, fullLayers: number): TensorPlan[] {
  const D = c.hiddenSize;
  const out: TensorPlan[] = [{ name: hfNames.embedding, shape: [c.vocabSize, D], std: EMBED_STD }];
  const residualStd = WEIGHT_STD / Math.sqrt(2 * fullLayers);
  const stdOf: Record<keyof LayerWeights, number> = {
    attnNorm: 0, ffnNorm: 0, oBias: 0, downBias: 0,
    wq: WEIGHT_STD, wk: WEIGHT_STD, wv: WEIGHT_STD, wGate: WEIGHT_STD, wUp: WEIGHT_STD,
    wo: residualStd, wDown: residualStd,
  };
  for (let i = 0; i < c.nLayers; i++) {
    const names = hfNames.layer(i);
    const shapes = hfLayerShapes(c, i);
    for (const key of Object.keys(shapes) as (keyof LayerWeights)[]) {
      const shape = shapes[key];
      if (!shape) continue;
      const isNorm = key === 'attnNorm' || key === 'ffnNorm';
      out.push({ name: names[key], shape, std: stdOf[key], value: isNorm ? 1 : undefined });
    }
  }
  out.push({ name: hfNames.finalNorm, shape: [D], std: 0, value: 1 });
  out.push({ name: hfNames.classifier, shape: [c.vocabSize, D], std: WEIGHT_STD });
  return out;
}

const CHUNK = 1 << 20;

function writeAll(fd: number, buf: Uint8Array): void {
  let done = 0;
  while (done < buf.length) done += fs.writeSync(fd, buf, done, buf.length - done);
}

/** Writes the f16 safetensors file tensor by tensor, chunk by chunk. */
function writeStreamed(file: string, tensors: TensorPlan[], seed: number): number {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt', generator: 'slimllm bench/synth', seed: String(seed) } };
  let offset = 0;
  for (const t of tensors) {
    const bytes = t.shape.reduce((a, b) => a * b, 1) * 2;
    header[t.name] = { dtype: 'F16', shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json, 'utf8') % 8)) % 8);
  const headerBuf = Buffer.from(json, 'utf8');
  const fd = fs.openSync(file, 'w');
  try {
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(headerBuf.length));
    writeAll(fd, len);
    writeAll(fd, headerBuf);
    const bits = new Uint16Array(CHUNK);
    for (const t of tensors) {
      const n = t.shape.reduce((a, b) => a * b, 1);
      const normal = normalSampler(hashSeed(seed, t.name));
      const constBits = t.value !== undefined ? f32ToF16Bits(t.value) : 0;
      for (let start = 0; start < n; start += CHUNK) {
        const m = Math.min(CHUNK, n - start);
        if (t.value !== undefined) bits.fill(constBits, 0, m);
        else for (let i = 0; i < m; i++) bits[i] = f32ToF16Bits(normal() * t.std);
        writeAll(fd, new Uint8Array(bits.buffer, 0, m * 2));
      }
    }
  } finally {
    fs.closeSync(fd);
  }
  return 8 + headerBuf.length + offset;
}

/**
 * Writes a synthetic Hugging Face Llama checkpoint into `dir` (created; must be empty or absent).
 * Same seed and shape → the same bytes for every layer kept.
 */
export function writeSyntheticCheckpoint(dir: string, o: SynthOptions): SynthResult {
  if (!SHAPES.includes(o.shape)) throw new Error(`unknown shape '${o.shape}' (${SHAPES.join(', ')})`);
  const seed = o.seed ?? 0;
  const config = syntheticConfig(o.shape, o.layers);
  if (fs.existsSync(dir) && fs.readdirSync(dir).length > 0) throw new Error(`${dir}: exists and is not empty`);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'config.json'), `${JSON.stringify(hfConfigJson(config, 'F16'), null, 2)}\n`);
  const bytes = writeStreamed(path.join(dir, 'model.safetensors'), plan(config, SHAPE_SPECS[o.shape].layers), seed);
  return { dir, config, bytes };
}

/** Seeded calibration: `samples` sequences of BOS + uniform random token ids (not BOS/EOS). */
export function syntheticCalibration(vocab: number, samples: number, seqLen: number, seed: number): number[][] {
  const next = rng(hashSeed(seed, 'calibration'));
  return Array.from({ length: samples }, () => [1, ...Array.from({ length: seqLen - 1 }, () => 3 + Math.floor(next() * (vocab - 3)))]);
}

function main(): void {
  const f = parseFlags(process.argv.slice(2), { shape: 'string', layers: 'string', seed: 'string', out: 'string' });
  const shape = choiceFlag(f.shape, 'shape', SHAPES, 'tinyllama');
  const layers = f.layers === undefined ? undefined : intFlag(f.layers, 'layers', 1);
  const seed = intFlag(f.seed, 'seed', 0, 0);
  if (typeof f.out !== 'string') throw new Error('--out DIR is required');
  const t0 = performance.now();
  const r = writeSyntheticCheckpoint(f.out, { shape, layers, seed });
  log(`wrote ${r.dir}: ${shape}, ${r.config.nLayers} layers, ${(r.bytes / 2 ** 20).toFixed(1)} MiB in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  process.stdout.write(`${JSON.stringify({ dir: path.resolve(r.dir), shape, layers: r.config.nLayers, bytes: r.bytes })}\n`);
}

if (isMain(import.meta.url)) {
  try {
    main();
  } catch (e) {
    log(`synth: ${(e as Error).message}`);
    process.exitCode = 1;
  }
}
