// The host side of reading and saving a checkpoint, which no GPU speeds up: every layer read as
// stored and checked for non-finite values (what the layer reader does for each layer of a prune),
// the whole model saved as an F16 folder and as an F16 GGUF (what `prune --out` does last), and
// the same model held as f32 in memory saved as an F16 folder (every value narrowed: what a pruned
// model's recovered output projections, f32, go through).
//
//   npm run build && node dist/bench/save.js [--shape tinyllama] [--layers 4] [--reps 3] [--model PATH]
//
// The checkpoint is a synthetic f16 one of the shape (bench/synth.ts), written once into a temp
// folder and removed at the end, or an existing model (--model: a folder such as synth.js writes,
// or a GGUF or llama2.c file). Each
// rep runs the three steps in turn; the page cache holds the source after the first rep, so the
// reads measure the host's work rather than the disk. Outputs go to the temp folder and are removed
// after each step.
//
// The f32 copy is read once, before the first rep, and is not timed.
//
// Progress goes to stderr; the last stdout line is the JSON result: provenance, the model's bytes,
// and per step the runs (ms), their median and MB/s of the source's bytes.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadModelWeights, openModel } from '../src/model/load.js';
import type { ModelWeights } from '../src/model/weights.js';
import { saveModel } from '../src/model/writer.js';
import { readLayer } from '../src/model/layer-reader.js';
import { choiceFlag, intFlag, isMain, log, median, parseFlags, provenance } from './common.js';
import { SHAPES, writeSyntheticCheckpoint } from './synth.js';

const STEPS = ['read', 'save-hf', 'save-gguf', 'save-hf-from-f32'] as const;
type Step = (typeof STEPS)[number];

/** Every layer of the checkpoint in `dir` read as stored and checked, as the layer reader does. */
function readAllLayers(model: string): void {
  const src = openModel(model);
  try {
    for (let l = 0; l < src.config.nLayers; l++) readLayer(src, l, false);
  } finally {
    src.close();
  }
}

function runStep(step: Step, modelDir: string, outDir: string, f32: () => ModelWeights): number {
  const weights = step === 'save-hf-from-f32' ? f32() : null;
  const t0 = performance.now();
  if (step === 'read') readAllLayers(modelDir);
  else if (weights) saveModel(weights, outDir, { dtype: 'F16' });
  else {
    const src = openModel(modelDir);
    try {
      saveModel(src, step === 'save-hf' ? outDir : `${outDir}.gguf`, { dtype: 'F16' });
    } finally {
      src.close();
    }
  }
  const ms = performance.now() - t0;
  fs.rmSync(outDir, { recursive: true, force: true });
  fs.rmSync(`${outDir}.gguf`, { force: true });
  return ms;
}

function modelBytes(p: string): number {
  if (!fs.statSync(p).isDirectory()) return fs.statSync(p).size;
  return fs.readdirSync(p).reduce((a, f) => a + fs.statSync(path.join(p, f)).size, 0);
}

function main(argv: string[]): void {
  const f = parseFlags(argv, { shape: 'string', layers: 'string', reps: 'string', seed: 'string', model: 'string' });
  const shape = choiceFlag(f.shape, 'shape', SHAPES, 'tinyllama');
  const layers = intFlag(f.layers, 'layers', 4);
  const reps = intFlag(f.reps, 'reps', 3);
  const seed = intFlag(f.seed, 'seed', 0, 0);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'slimllm-bench-save-'));
  const cleanup = () => fs.rmSync(tmp, { recursive: true, force: true });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      cleanup();
      process.exit(sig === 'SIGINT' ? 130 : 143);
    });
  }
  try {
    let modelDir: string;
    if (typeof f.model === 'string') modelDir = f.model;
    else {
      const t0 = performance.now();
      modelDir = writeSyntheticCheckpoint(path.join(tmp, 'model'), { shape, layers, seed }).dir;
      log(`synthetic ${shape} × ${layers} layers in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    }
    const bytes = modelBytes(modelDir);
    const src = openModel(modelDir);
    const nLayers = src.config.nLayers;
    src.close();
    const ms: Record<Step, number[]> = { read: [], 'save-hf': [], 'save-gguf': [], 'save-hf-from-f32': [] };
    let f32: ModelWeights | null = null;
    const inMemory = () => (f32 ??= loadModelWeights(modelDir));
    for (let r = 0; r < reps; r++) {
      for (const step of STEPS) {
        const t = runStep(step, modelDir, path.join(tmp, 'out'), inMemory);
        ms[step].push(Number(t.toFixed(1)));
        log(`rep ${r + 1}/${reps} ${step}: ${(t / 1000).toFixed(2)} s`);
      }
    }
    const steps = Object.fromEntries(
      STEPS.map((s) => {
        const m = median(ms[s]);
        return [s, { runs: ms[s], median: m, mbPerS: Number((bytes / 2 ** 20 / (m / 1000)).toFixed(1)) }];
      }),
    );
    const model = typeof f.model === 'string' ? f.model : shape;
    process.stdout.write(`${JSON.stringify({ ...provenance(), model, layers: nLayers, bytes, reps, steps })}\n`);
  } finally {
    cleanup();
  }
}

if (isMain(import.meta.url)) {
  try {
    main(process.argv.slice(2));
  } catch (e) {
    log(`bench:save: ${(e as Error).message}`);
    process.exitCode = 1;
  }
}
