// The layer reader (model/layer-reader.ts): from a file it reads in a worker thread, and what it
// hands back is what the source's own reads give, bit for bit, for every checkpoint format; a
// corrupt tensor is refused naming the file and tensor, in the reader and in a pruning run (which
// then leaves nothing on disk); pruning through it gives the same model as from memory.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hfNames, openHf } from '../src/model/hf.js';
import { diskLayerStore } from '../src/model/layer-store.js';
import { LayerReader } from '../src/model/layer-reader.js';
import { loadModelWeights, openModel } from '../src/model/load.js';
import { SafetensorsFile } from '../src/model/safetensors.js';
import { inMemorySource, type LayerWeights, type ModelSource, type StoredLayer, type StoredTensor, widenLayer } from '../src/model/weights.js';
import { saveModel } from '../src/model/writer.js';
import { CpuBackend } from '../src/kernels/cpu/index.js';
import { bundled, packageRoot } from '../src/paths.js';
import { pruneModel, type PruneRun } from '../src/prune/orchestrator.js';
import { regressionRecovery } from '../src/prune/recoveries.js';
import { slimllmMethod } from '../src/prune/slimllm.js';

const cpu = new CpuBackend();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'slimllm-layer-reader-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const calib = (JSON.parse(fs.readFileSync(new URL('./fixtures/stories260K-calib-32x128.json', import.meta.url), 'utf8')) as number[][]).slice(0, 4);
const weights = loadModelWeights(bundled.model());

/** The bundled model as an F16 folder, F32 and F16 GGUF files, and its own llama2.c file. */
function checkpoints(): Record<string, string> {
  const hf = path.join(tmp, 'f16');
  if (!fs.existsSync(hf)) saveModel(weights, hf, { dtype: 'F16' });
  const gguf = path.join(tmp, 'model.gguf');
  if (!fs.existsSync(gguf)) saveModel(weights, gguf, { dtype: 'F32', tokenizerFile: bundled.tokenizer() });
  const ggufF16 = path.join(tmp, 'model-f16.gguf');
  if (!fs.existsSync(ggufF16)) saveModel(weights, ggufF16, { dtype: 'F16', tokenizerFile: bundled.tokenizer() });
  return { hf, gguf, 'gguf-f16': ggufF16, llama2c: bundled.model() };
}

function bytesOf(t: StoredTensor | null): Uint8Array | null {
  if (t === null) return null;
  const a = t instanceof Float32Array ? t : t.bits;
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function expectSameLayer(a: StoredLayer | LayerWeights, b: StoredLayer | LayerWeights): void {
  for (const k of Object.keys(b) as (keyof LayerWeights)[]) {
    const [x, y] = [a[k], b[k]];
    if (x !== null && y !== null && !(x instanceof Float32Array)) expect((x as { dtype: string }).dtype, k).toBe((y as { dtype: string }).dtype);
    expect(bytesOf(x), k).toEqual(bytesOf(y));
  }
}

/** The bundled model as an F16 folder `name`, with element 0 of `tensor` set to +Inf. */
function poisonedF16(name: string, tensor: string): { dir: string; file: string } {
  const dir = path.join(tmp, name);
  saveModel(weights, dir, { dtype: 'F16' });
  const file = path.join(dir, 'model.safetensors');
  const f = SafetensorsFile.open(file);
  const { begin } = f.info(tensor);
  f.close();
  const fd = fs.openSync(file, 'r+');
  try {
    const head = Buffer.alloc(8);
    fs.readSync(fd, head, 0, 8, 0);
    const dataStart = 8 + Number(head.readBigUInt64LE(0));
    fs.writeSync(fd, Buffer.from([0x00, 0x7c]), 0, 2, dataStart + begin); // f16 +Inf, little-endian
  } finally {
    fs.closeSync(fd);
  }
  return { dir, file };
}

describe('LayerReader', () => {
  for (const format of ['hf', 'gguf', 'gguf-f16', 'llama2c'] as const) {
    it(`reads ${format} layers in a worker thread, bit for bit what the source reads (stored and widened)`, async () => {
      const src = openModel(checkpoints()[format]);
      const reader = new LayerReader(src);
      try {
        expect(reader.threaded).toBe(true);
        const L = src.config.nLayers;
        reader.request(1, true); // asked ahead, taken out of order
        for (const l of [0, 1, L - 1]) {
          const got = await reader.take(l, true);
          const want = src.storedLayer ? src.storedLayer(l) : src.layer(l);
          expectSameLayer(got.stored, want);
          expectSameLayer(got.widened!, widenLayer(want));
        }
        expect((await reader.take(2, false)).widened).toBeNull();
      } finally {
        reader.close();
        src.close();
      }
    });
  }

  it('reads a source without a file in this thread, the same values', async () => {
    const reader = new LayerReader(inMemorySource(weights));
    try {
      expect(reader.threaded).toBe(false);
      const got = await reader.take(3, true);
      expectSameLayer(got.stored, weights.layers[3]);
      expectSameLayer(got.widened!, weights.layers[3]);
    } finally {
      reader.close();
    }
  });

  it('refuses a non-finite weight naming the file and tensor; the other layers still read', async () => {
    const { dir, file } = poisonedF16('poisoned-reader', hfNames.layer(2).wGate);
    const src = openHf(dir);
    const reader = new LayerReader(src);
    try {
      await expect(reader.take(2, true)).rejects.toThrow(`${file}: tensor '${hfNames.layer(2).wGate}': element 0 is Infinity (weights must be finite)`);
      expectSameLayer((await reader.take(3, false)).stored, src.storedLayer(3));
    } finally {
      reader.close();
      src.close();
    }
  });

  it('a take after close is refused, and a read asked for and never taken does not end the process', async () => {
    const src = openModel(bundled.model());
    const reader = new LayerReader(src);
    reader.request(4, true);
    reader.close();
    await expect(reader.take(0, true)).rejects.toThrow('the layer reader was closed');
    expect(() => reader.take(5, true)).toThrow(`${bundled.model()}: layer 5 out of range (0..4)`);
    src.close();
  });
});

describe('the layer reader in a script of its own', () => {
  it('a script whose only pending work is a read gets it (the thread is held while a read is owed), and ends when closed', () => {
    const root = packageRoot();
    const js = (p: string) => JSON.stringify(path.join(root, 'dist/src/model', p));
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', `import { LayerReader } from ${js('layer-reader.js')};
      import { openModel } from ${js('load.js')};
      const src = openModel(${JSON.stringify(bundled.model())});
      const reader = new LayerReader(src);
      const r = await reader.take(2, true);
      console.log('read', reader.threaded, r.widened.wq.length);
      reader.close();
      src.close();`], { encoding: 'utf8', timeout: 60_000 });
    expect(out.trim()).toBe(`read true ${weights.layers[2].wq.length}`);
  });
});

describe('pruning through the layer reader', () => {
  const run = (store = diskLayerStore(tmp)): PruneRun => ({
    method: slimllmMethod({ keepLowest: 0.01 }),
    recovery: regressionRecovery,
    ratios: { kind: 'layer-based', p: 0.25, K: 5, alpha: 10 },
    layerStore: store,
  });

  async function prunedLayers(src: ModelSource): Promise<StoredLayer[]> {
    const { model } = await pruneModel(cpu, src, calib, run());
    try {
      return Array.from({ length: model.config.nLayers }, (_, l) => model.storedLayer!(l));
    } finally {
      model.close();
    }
  }

  it('gives the same pruned weights from the file (worker thread) as from memory', async () => {
    const src = openModel(bundled.model());
    try {
      const fromFile = await prunedLayers(src);
      const fromMemory = await prunedLayers(inMemorySource(weights));
      expect(fromFile.length).toBe(fromMemory.length);
      fromFile.forEach((l, i) => expectSameLayer(l, fromMemory[i]));
    } finally {
      src.close();
    }
  });

  it('stops at a non-finite weight with the reader\'s message and leaves no layer store behind', async () => {
    const { dir, file } = poisonedF16('poisoned-run', hfNames.layer(3).wDown);
    const parent = path.join(tmp, 'store-parent');
    const src = openHf(dir);
    try {
      await expect(pruneModel(cpu, src, calib, run(diskLayerStore(parent)))).rejects.toThrow(`${file}: tensor '${hfNames.layer(3).wDown}': element 0 is Infinity (weights must be finite)`);
      expect(fs.readdirSync(parent)).toEqual([]);
    } finally {
      src.close();
    }
  });
});
