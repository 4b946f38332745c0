// llama2.c checkpoints (github.com/karpathy/llama2.c, export.py) → ModelSource.
//
// Two fp32 formats:
//  - legacy (run.c): 7 int32 {dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size,
//    seq_len} (vocab_size < 0 ⇒ untied classifier), then token_embedding, rms_att (all layers),
//    wq, wk, wv, wo, rms_ffn, w1, w2, w3, rms_final, freq_cis_real, freq_cis_imag
//    (seq_len·head_size/2 each, unused: we compute RoPE), then wcls if untied.
//  - v1: uint32 magic "ak42" (0x616b3432), int32 version 1, the same 7 int32, uint8
//    shared_classifier, zero-padded to 256 bytes; then attention norms, ffn norms, final norm,
//    tok_embeddings, wq, wk, wv, wo, w1, w2, w3 (each for all layers), then wcls if not shared.
// Weights are [out × in] like nn.Linear; q/k rows are in the interleaved RoPE layout.
// Each layer's tensors are read on demand with positioned reads; nothing else is kept.
import * as fs from 'node:fs';
import { type ModelConfig, ModelConfigSchema, uniformLayers } from './config.js';
import { assertFinite } from './safetensors.js';
import { checkLayerIndex, type LayerWeights, type ModelSource, type SourceFile } from './weights.js';
import { openForReading, readFully } from './open-file.js';

export const LLAMA2C_V1_MAGIC = 0x616b3432;
const V1_HEADER_BYTES = 256;

export type Llama2cFormat = 'legacy' | 'v1';

interface Params {
  dim: number;
  hiddenDim: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  vocabSize: number;
  seqLen: number;
  shared: boolean;
}

/** Offsets (in floats from the start of the weights) of every tensor group. */
interface Layout {
  headerBytes: number;
  emb: number;
  attNorm: number;
  ffnNorm: number;
  finalNorm: number;
  wq: number;
  wk: number;
  wv: number;
  wo: number;
  w1: number;
  w2: number;
  w3: number;
  wcls: number | null;
  totalFloats: number;
}

function layoutOf(p: Params, format: Llama2cFormat): Layout {
  const { dim: D, hiddenDim: F, nLayers: L, vocabSize: V } = p;
  const d = D / p.nHeads;
  const qOut = p.nHeads * d;
  const kvOut = p.nKvHeads * d;
  let o = 0;
  const take = (n: number) => {
    const at = o;
    o += n;
    return at;
  };
  if (format === 'legacy') {
    const emb = take(V * D);
    const attNorm = take(L * D);
    const wq = take(L * qOut * D);
    const wk = take(L * kvOut * D);
    const wv = take(L * kvOut * D);
    const wo = take(L * D * qOut);
    const ffnNorm = take(L * D);
    const w1 = take(L * F * D);
    const w2 = take(L * D * F);
    const w3 = take(L * F * D);
    const finalNorm = take(D);
    take(p.seqLen * d); // freq_cis_real + freq_cis_imag: seq_len × head_size/2 each
    const wcls = p.shared ? null : take(V * D);
    return { headerBytes: 28, emb, attNorm, ffnNorm, finalNorm, wq, wk, wv, wo, w1, w2, w3, wcls, totalFloats: o };
  }
  const attNorm = take(L * D);
  const ffnNorm = take(L * D);
  const finalNorm = take(D);
  const emb = take(V * D);
  const wq = take(L * qOut * D);
  const wk = take(L * kvOut * D);
  const wv = take(L * kvOut * D);
  const wo = take(L * D * qOut);
  const w1 = take(L * F * D);
  const w2 = take(L * D * F);
  const w3 = take(L * F * D);
  const wcls = p.shared ? null : take(V * D);
  return { headerBytes: V1_HEADER_BYTES, emb, attNorm, ffnNorm, finalNorm, wq, wk, wv, wo, w1, w2, w3, wcls, totalFloats: o };
}

function readHeader(file: string, fd: number, size: number): { format: Llama2cFormat; p: Params } {
  if (size < 28) throw new Error(`${file}: ${size} bytes, too short for a llama2.c checkpoint header`);
  const head = Buffer.alloc(Math.min(size, V1_HEADER_BYTES));
  fs.readSync(fd, head, 0, head.length, 0);
  let format: Llama2cFormat = 'legacy';
  let at = 0;
  let shared: boolean | null = null;
  if (head.readUInt32LE(0) === LLAMA2C_V1_MAGIC) {
    if (size < V1_HEADER_BYTES) throw new Error(`${file}: ${size} bytes, too short for a llama2.c v1 header (256)`);
    const version = head.readInt32LE(4);
    if (version !== 1) {
      const what = version === 2 ? ' (int8 Q8_0; export with --version 1 for fp32)' : '';
      throw new Error(`${file}: llama2.c checkpoint version ${version} is not supported${what}; only legacy and version 1`);
    }
    format = 'v1';
    at = 8;
    shared = head.readUInt8(8 + 28) !== 0;
  }
  const ints = Array.from({ length: 7 }, (_, i) => head.readInt32LE(at + 4 * i));
  const [dim, hiddenDim, nLayers, nHeads, nKvHeads, rawVocab, seqLen] = ints;
  const vocabSize = Math.abs(rawVocab);
  if (shared === null) shared = rawVocab > 0;
  const ok =
    dim > 0 && hiddenDim > 0 && nLayers > 0 && nHeads > 0 && nKvHeads > 0 && vocabSize > 0 && seqLen > 0 &&
    dim % nHeads === 0 && nHeads % nKvHeads === 0 && (dim / nHeads) % 2 === 0;
  if (!ok) {
    throw new Error(
      `${file}: header [${ints.join(', ')}] is not a llama2.c checkpoint ` +
        '(dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len must be positive, heads dividing dim)',
    );
  }
  return { format, p: { dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabSize, seqLen, shared } };
}

export class Llama2cSource implements ModelSource {
  readonly config: ModelConfig;
  readonly reopen: SourceFile;
  readonly format: Llama2cFormat;
  private fd: number | null;
  private readonly layout: Layout;
  private readonly p: Params;

  constructor(readonly origin: string) {
    const fd = openForReading(origin, 'llama2.c checkpoint');
    try {
      const size = fs.fstatSync(fd).size;
      const { format, p } = readHeader(origin, fd, size);
      const layout = layoutOf(p, format);
      const expected = layout.headerBytes + 4 * layout.totalFloats;
      if (size !== expected) {
        throw new Error(
          `${origin}: ${size} bytes, but a llama2.c ${format} checkpoint with dim ${p.dim}, hidden_dim ${p.hiddenDim}, ` +
            `${p.nLayers} layers, ${p.nHeads}/${p.nKvHeads} heads, vocab ${p.vocabSize}, seq_len ${p.seqLen}` +
            `${p.shared ? '' : ', untied classifier'} is ${expected} bytes` +
            (size < expected ? ' (truncated?)' : ''),
        );
      }
      this.format = format;
      this.p = p;
      this.layout = layout;
      this.fd = fd;
      const parsed = ModelConfigSchema.safeParse({
        architecture: 'LlamaForCausalLM',
        hiddenSize: p.dim,
        nLayers: p.nLayers,
        headDim: p.dim / p.nHeads,
        vocabSize: p.vocabSize,
        rmsNormEps: 1e-5, // run.c's rmsnorm
        ropeTheta: 10000, // run.c's RoPE base
        ropeLayout: 'interleaved',
        tieEmbeddings: p.shared,
        maxSeqLen: p.seqLen,
        bosTokenId: 1, // sentencepiece ids used by run.c
        eosTokenId: 2,
        layers: uniformLayers(p.nLayers, p.nHeads, p.nKvHeads, p.hiddenDim),
      });
      if (!parsed.success) throw new Error(`${origin}: ${parsed.error.message}`);
      this.config = parsed.data;
    } catch (e) {
      fs.closeSync(fd);
      throw e;
    }
    this.reopen = { format: 'llama2c', path: origin };
  }

  private read(what: string, offsetFloats: number, count: number): Float32Array {
    if (this.fd === null) throw new Error(`${this.origin}: read of ${what} after close`);
    const out = new Float32Array(count);
    const buf = new Uint8Array(out.buffer);
    const pos = this.layout.headerBytes + 4 * offsetFloats;
    readFully(this.fd, buf, pos, `${this.origin}: ${what}`);
    assertFinite(out, `${this.origin}: ${what}`);
    return out;
  }

  embedding(): Float32Array {
    return this.read('token_embedding', this.layout.emb, this.p.vocabSize * this.p.dim);
  }

  layer(i: number): LayerWeights {
    const { dim: D, hiddenDim: F, nLayers, nHeads, nKvHeads } = this.p;
    checkLayerIndex(this.origin, nLayers, i);
    const d = D / nHeads;
    const q = nHeads * d * D;
    const kv = nKvHeads * d * D;
    const L = this.layout;
    const at = (name: string) => `layer ${i} ${name}`;
    return {
      attnNorm: this.read(at('rms_att_weight'), L.attNorm + i * D, D),
      wq: this.read(at('wq'), L.wq + i * q, q),
      wk: this.read(at('wk'), L.wk + i * kv, kv),
      wv: this.read(at('wv'), L.wv + i * kv, kv),
      wo: this.read(at('wo'), L.wo + i * q, q),
      oBias: null,
      ffnNorm: this.read(at('rms_ffn_weight'), L.ffnNorm + i * D, D),
      wGate: this.read(at('w1'), L.w1 + i * F * D, F * D),
      wDown: this.read(at('w2'), L.w2 + i * F * D, F * D),
      wUp: this.read(at('w3'), L.w3 + i * F * D, F * D),
      downBias: null,
    };
  }

  finalNorm(): Float32Array {
    return this.read('rms_final_weight', this.layout.finalNorm, this.p.dim);
  }

  classifier(): Float32Array {
    if (this.layout.wcls === null) return this.embedding();
    return this.read('wcls', this.layout.wcls, this.p.vocabSize * this.p.dim);
  }

  close(): void {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }
}

/** Opens a llama2.c legacy or v1 fp32 checkpoint. */
export function openLlama2c(file: string): Llama2cSource {
  return new Llama2cSource(file);
}
