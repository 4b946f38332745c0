// The folder format is honest about what can run it: uniform widths → a stock Transformers llama
// checkpoint (attention_bias / mlp_bias with zero tensors for the biases slimllm lacks); layers that
// differ → SlimllmLlamaForCausalLM with slimllm.layers. The reader takes all of these, plus legacy
// LlamaForCausalLM + slimllm.layers folders, and refuses non-zero q/k/v/gate/up biases.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { LayerShape } from '../src/model/config.js';
import { loadModelWeights, openModel } from '../src/model/load.js';
import { SafetensorsFile, writeSafetensors } from '../src/model/safetensors.js';
import type { LayerWeights, ModelWeights } from '../src/model/weights.js';
import { saveModel } from '../src/model/writer.js';
import { randArray } from './helpers.js';
import { syntheticModel } from './synthetic-model.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'slimllm-folder-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
let counter = 0;
const fresh = (name: string) => path.join(tmp, `${name}-${counter++}`);

const D = 16;
const d = 4;
const V = 24;
const model = (layers: LayerShape[], tied = false): ModelWeights => syntheticModel(layers, { tied });

const shape = (nHeads: number, nKvHeads: number, ffnDim: number, oBias = false, downBias = false): LayerShape => ({
  nHeads,
  nKvHeads,
  ffnDim,
  oBias,
  downBias,
});

const KEYS: (keyof LayerWeights)[] = ['attnNorm', 'wq', 'wk', 'wv', 'wo', 'oBias', 'ffnNorm', 'wGate', 'wUp', 'wDown', 'downBias'];

function expectSameWeights(a: ModelWeights, b: ModelWeights): void {
  expect(a.config).toEqual(b.config);
  expect(a.embedding).toEqual(b.embedding);
  expect(a.finalNorm).toEqual(b.finalNorm);
  expect(a.classifier).toEqual(b.classifier);
  a.layers.forEach((l, i) => {
    for (const k of KEYS) expect(l[k], `layer ${i} ${k}`).toEqual(b.layers[i][k]);
  });
}

const readConfig = (dir: string) => JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));

/** name → shape of every tensor in the folder's model.safetensors. */
function tensorTable(dir: string): Map<string, number[]> {
  const st = SafetensorsFile.open(path.join(dir, 'model.safetensors'));
  const m = new Map([...st.tensors.values()].map((t) => [t.name, t.shape]));
  st.close();
  return m;
}

function readTensor(dir: string, name: string): Float32Array {
  const st = SafetensorsFile.open(path.join(dir, 'model.safetensors'));
  const a = st.read(name);
  st.close();
  return a;
}

/** The tensors Transformers' LlamaForCausalLM has for these layer shapes and flags. */
function stockLlamaTensors(layers: LayerShape[], opts: { tied: boolean; attentionBias: boolean; mlpBias: boolean }): Map<string, number[]> {
  const m = new Map<string, number[]>([
    ['model.embed_tokens.weight', [V, D]],
    ['model.norm.weight', [D]],
  ]);
  if (!opts.tied) m.set('lm_head.weight', [V, D]);
  layers.forEach((s, i) => {
    const p = `model.layers.${i}.`;
    const linear = (name: string, out: number, inp: number, bias: boolean) => {
      m.set(`${p}${name}.weight`, [out, inp]);
      if (bias) m.set(`${p}${name}.bias`, [out]);
    };
    m.set(`${p}input_layernorm.weight`, [D]);
    m.set(`${p}post_attention_layernorm.weight`, [D]);
    linear('self_attn.q_proj', s.nHeads * d, D, opts.attentionBias);
    linear('self_attn.k_proj', s.nKvHeads * d, D, opts.attentionBias);
    linear('self_attn.v_proj', s.nKvHeads * d, D, opts.attentionBias);
    linear('self_attn.o_proj', D, s.nHeads * d, opts.attentionBias);
    linear('mlp.gate_proj', s.ffnDim, D, opts.mlpBias);
    linear('mlp.up_proj', s.ffnDim, D, opts.mlpBias);
    linear('mlp.down_proj', D, s.ffnDim, opts.mlpBias);
  });
  return m;
}

const sorted = (m: Map<string, number[]>) => [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

/** Rewrites model.safetensors with `change` applied to the tensor list. */
function rewrite(dir: string, change: (ts: { name: string; shape: number[]; data: Float32Array }[]) => typeof ts): void {
  const f = path.join(dir, 'model.safetensors');
  const st = SafetensorsFile.open(f);
  const ts = [...st.tensors.values()].map((t) => ({ name: t.name, shape: t.shape, data: st.read(t.name) }));
  st.close();
  writeSafetensors(f, change(ts));
}

describe('uniform widths: a stock Transformers llama checkpoint', () => {
  it('bias-free: LlamaForCausalLM, no slimllm block, exactly the stock tensor set', () => {
    const layers = [shape(4, 2, 24), shape(4, 2, 24), shape(4, 2, 24)];
    const m = model(layers);
    const dir = fresh('plain');
    saveModel(m, dir);
    const cfg = readConfig(dir);
    expect(cfg).toMatchObject({
      architectures: ['LlamaForCausalLM'],
      model_type: 'llama',
      num_attention_heads: 4,
      num_key_value_heads: 2,
      intermediate_size: 24,
      head_dim: d,
      attention_bias: false,
      mlp_bias: false,
    });
    expect(cfg.slimllm).toBeUndefined();
    expect(sorted(tensorTable(dir))).toEqual(sorted(stockLlamaTensors(layers, { tied: false, attentionBias: false, mlpBias: false })));
    expectSameWeights(loadModelWeights(dir), m);
  });

  it('o_proj bias on some layers: attention_bias, q/k/v/o biases on every layer (zero where slimllm has none), exact round trip', () => {
    const layers = [shape(2, 1, 8, true), shape(2, 1, 8), shape(2, 1, 8, true)];
    const m = model(layers, true);
    const dir = fresh('obias');
    saveModel(m, dir);
    const cfg = readConfig(dir);
    expect(cfg).toMatchObject({ architectures: ['LlamaForCausalLM'], model_type: 'llama', attention_bias: true, mlp_bias: false });
    expect(cfg.slimllm).toBeUndefined();
    expect(sorted(tensorTable(dir))).toEqual(sorted(stockLlamaTensors(layers, { tied: true, attentionBias: true, mlpBias: false })));
    const zero = (n: number) => new Float32Array(n);
    for (let i = 0; i < 3; i++) {
      const p = `model.layers.${i}.self_attn.`;
      expect(readTensor(dir, `${p}q_proj.bias`)).toEqual(zero(2 * d));
      expect(readTensor(dir, `${p}k_proj.bias`)).toEqual(zero(d));
      expect(readTensor(dir, `${p}v_proj.bias`)).toEqual(zero(d));
      expect(readTensor(dir, `${p}o_proj.bias`)).toEqual(m.layers[i].oBias ?? zero(D));
    }
    expectSameWeights(loadModelWeights(dir), m);
  });

  it('down_proj bias (and o_proj) on some layers: mlp_bias, gate/up/down biases on every layer, exact round trip', () => {
    const layers = [shape(2, 2, 12), shape(2, 2, 12, false, true), shape(2, 2, 12, true, true)];
    const m = model(layers);
    const dir = fresh('downbias');
    saveModel(m, dir);
    expect(readConfig(dir)).toMatchObject({ architectures: ['LlamaForCausalLM'], attention_bias: true, mlp_bias: true });
    expect(sorted(tensorTable(dir))).toEqual(sorted(stockLlamaTensors(layers, { tied: false, attentionBias: true, mlpBias: true })));
    expect(readTensor(dir, 'model.layers.0.mlp.down_proj.bias')).toEqual(new Float32Array(D));
    expect(readTensor(dir, 'model.layers.2.mlp.gate_proj.bias')).toEqual(new Float32Array(12));
    expectSameWeights(loadModelWeights(dir), m);
  });

  it('uniformity is decided after all-zero biases are dropped', () => {
    const m = model([shape(2, 1, 8, true), shape(2, 1, 8)]);
    m.layers[0].oBias = new Float32Array(D);
    const dir = fresh('zerobias');
    saveModel(m, dir);
    expect(readConfig(dir)).toMatchObject({ architectures: ['LlamaForCausalLM'], attention_bias: false });
    expect(tensorTable(dir).has('model.layers.0.self_attn.o_proj.bias')).toBe(false);
    const back = loadModelWeights(dir);
    expect(back.config.layers[0].oBias).toBe(false);
    expect(back.layers[0].oBias).toBeNull();
  });
});

describe('layers that differ: SlimllmLlamaForCausalLM', () => {
  const layers = [shape(4, 2, 40, true), shape(3, 3, 24, false, true), shape(2, 1, 8)];

  it('does not claim to be a Transformers llama, keeps slimllm.layers, reads back exactly', () => {
    const m = model(layers);
    const dir = fresh('pruned');
    saveModel(m, dir);
    const cfg = readConfig(dir);
    expect(cfg.architectures).toEqual(['SlimllmLlamaForCausalLM']);
    expect(cfg.model_type).toBe('slimllm_llama');
    expect(cfg.slimllm.layers).toEqual(layers);
    expect(tensorTable(dir).has('model.layers.0.self_attn.q_proj.bias')).toBe(false);
    const src = openModel(dir);
    expect(src.config.architecture).toBe('LlamaForCausalLM'); // runs as the Llama it is
    src.close();
    expectSameWeights(loadModelWeights(dir), m);
  });

  it('is named by model_type alone too, and needs its slimllm.layers block', () => {
    const dir = fresh('bytype');
    saveModel(model(layers), dir);
    const cfg = readConfig(dir);
    delete cfg.architectures;
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(cfg));
    expect(openModel(dir).config.layers).toEqual(layers);
    delete cfg.slimllm;
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(cfg));
    expect(() => openModel(dir)).toThrow(
      `${path.join(dir, 'config.json')}: architecture SlimllmLlamaForCausalLM needs the slimllm.layers block (the per-layer shapes), which is missing`,
    );
  });
});

describe('reading other folders', () => {
  it('legacy slimllm folders (LlamaForCausalLM + slimllm.layers) still read', () => {
    const layers = [shape(4, 2, 40, true), shape(3, 3, 24, false, true)];
    const m = model(layers);
    const dir = fresh('legacy');
    saveModel(m, dir);
    const cfg = readConfig(dir);
    fs.writeFileSync(
      path.join(dir, 'config.json'),
      JSON.stringify({ ...cfg, architectures: ['LlamaForCausalLM'], model_type: 'llama', attention_bias: false, mlp_bias: false }),
    );
    expectSameWeights(loadModelWeights(dir), m);
    // Uniform widths with biases, as earlier versions wrote them.
    const u = model([shape(2, 1, 8, true), shape(2, 1, 8, false, true)]);
    const legacy = fresh('legacy-uniform');
    fs.mkdirSync(legacy);
    fs.writeFileSync(
      path.join(legacy, 'config.json'),
      JSON.stringify({ ...cfg, num_hidden_layers: 2, num_attention_heads: 2, num_key_value_heads: 1, intermediate_size: 8, architectures: ['LlamaForCausalLM'], model_type: 'llama', slimllm: { layers: u.config.layers } }),
    );
    const written = fresh('u');
    saveModel(u, written);
    fs.copyFileSync(path.join(written, 'model.safetensors'), path.join(legacy, 'model.safetensors'));
    rewrite(legacy, (ts) => ts.filter((t) => !(t.name.endsWith('.bias') && t.data.every((v) => v === 0))));
    expectSameWeights(loadModelWeights(legacy), u);
  });

  it('a non-zero q_proj (or up_proj) bias is refused, naming file, tensor and layer', () => {
    const dir = fresh('qbias');
    saveModel(model([shape(2, 1, 8, true), shape(2, 1, 8)]), dir);
    const file = path.join(dir, 'model.safetensors');
    rewrite(dir, (ts) =>
      ts.map((t) => (t.name === 'model.layers.1.self_attn.q_proj.bias' ? { ...t, data: Float32Array.from(t.data, (_, k) => (k === 3 ? 0.5 : 0)) } : t)),
    );
    expect(() => openModel(dir)).toThrow(
      `${file}: tensor 'model.layers.1.self_attn.q_proj.bias' (layer 1): non-zero bias on q_proj is not supported (element 3 is 0.5; slimllm's Llama has no q/k/v/gate/up biases)`,
    );
    // A Transformers checkpoint with mlp_bias true and a real up_proj bias.
    const dir2 = fresh('upbias');
    saveModel(model([shape(2, 1, 8, false, true), shape(2, 1, 8)]), dir2);
    rewrite(dir2, (ts) => ts.map((t) => (t.name === 'model.layers.0.mlp.up_proj.bias' ? { ...t, data: randArray(8, 9) } : t)));
    expect(() => openModel(dir2)).toThrow(
      `${path.join(dir2, 'model.safetensors')}: tensor 'model.layers.0.mlp.up_proj.bias' (layer 0): non-zero bias on up_proj is not supported`,
    );
  });

  it('a zero bias tensor of the wrong shape is named', () => {
    const dir = fresh('badshape');
    saveModel(model([shape(2, 1, 8, true), shape(2, 1, 8)]), dir);
    rewrite(dir, (ts) => ts.map((t) => (t.name === 'model.layers.0.self_attn.k_proj.bias' ? { ...t, shape: [8], data: new Float32Array(8) } : t)));
    expect(() => openModel(dir)).toThrow(
      `${path.join(dir, 'model.safetensors')}: tensor 'model.layers.0.self_attn.k_proj.bias' (layer 0): shape [8], expected [4]`,
    );
  });
});
