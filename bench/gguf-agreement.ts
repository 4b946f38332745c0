// How closely llama.cpp runs slimllm's GGUF files: the user's route (`slimllm prune` to a folder,
// `slimllm convert hf gguf`), then llama.cpp (node-llama-cpp 3.21.1 from interop/, CPU, F32 KV
// cache, no flash attention) against slimllm's CPU forward pass on the same tokens:
//  - greedy continuations of the first sentence of validation stories (identical or not);
//  - next-token probabilities at every position of several stories (max absolute difference);
//  - `slimllm eval` perplexity of the folder and of the .gguf (relative difference);
// for the dense model and the pruned one (f32), and the pruned one stored as f16 / q8_0.
// Usage: node dist/bench/gguf-agreement.js [--ratio 0.3] [--prompts 20] [--tokens 32] [--out FILE.json]
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CpuBackend } from '../src/kernels/cpu/index.js';
import { greedyContinuation, nextTokenProbabilities } from '../src/model/generate.js';
import { openModel } from '../src/model/load.js';
import { loadTokenizer } from '../src/model/tokenizer.js';
import { bundled, packageRoot } from '../src/paths.js';
import { closeLlama, loadGguf } from '../test/interop-llama.js';
import { isMain, parseFlags, provenance } from './common.js';

const cli = path.join(packageRoot(), 'bin', 'slimllm.js');

interface Step {
  command: string;
  seconds: number;
}

function slimllm(steps: Step[], args: string[]): string {
  const t0 = performance.now();
  const out = execFileSync(process.execPath, [cli, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  steps.push({ command: `slimllm ${args.join(' ')}`, seconds: Math.round((performance.now() - t0) / 100) / 10 });
  return out;
}

const lastJson = (s: string) => JSON.parse(s.trim().split('\n').pop()!);

async function agreement(file: string, reference: string, prompts: string[], tokens: number, probStories: string[]) {
  const tok = loadTokenizer(bundled.tokenizer());
  const cpu = new CpuBackend();
  const src = openModel(reference);
  const llama = await loadGguf(file);
  try {
    let identical = 0;
    const mismatches: { prompt: string; slimllm: string; llamaCpp: string }[] = [];
    for (const p of prompts) {
      const ids = tok.encode(p, { bos: true });
      const ours = await greedyContinuation(cpu, src, ids, tokens);
      const theirs = await llama.greedy(ids, tokens);
      if (JSON.stringify(ours) === JSON.stringify(theirs)) identical++;
      else mismatches.push({ prompt: p, slimllm: tok.decode(ours), llamaCpp: tok.decode(theirs) });
    }
    let maxAbsDiff = 0;
    let positions = 0;
    for (const story of probStories) {
      const ids = tok.encode(story, { bos: true }).slice(0, 256);
      const ours = await nextTokenProbabilities(cpu, src, ids);
      const theirs = await llama.nextTokenProbs(ids);
      ours.forEach((row, i) => row.forEach((q, j) => (maxAbsDiff = Math.max(maxAbsDiff, Math.abs(q - theirs[i][j])))));
      positions += ids.length;
    }
    return { greedy: { prompts: prompts.length, tokens, identical, mismatches }, probabilities: { stories: probStories.length, positions, maxAbsDiff } };
  } finally {
    await llama.dispose();
    src.close();
  }
}

export async function main(argv: string[]): Promise<void> {
  const f = parseFlags(argv, { ratio: 'string', prompts: 'string', tokens: 'string', out: 'string' });
  const ratio = Number(f.ratio ?? 0.3);
  const nPrompts = Number(f.prompts ?? 20);
  const tokens = Number(f.tokens ?? 32);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'slimllm-gguf-agreement-'));
  const steps: Step[] = [];
  try {
    const stories = fs.readFileSync(bundled.stories(), 'utf8').split('<|endoftext|>').map((s) => s.trim());
    const calib = path.join(dir, 'calib.txt');
    fs.writeFileSync(calib, stories.slice(500).join('<|endoftext|>'));
    // Prompts: the first sentence of validation stories 1.. (story 0 is partial).
    const prompts = stories.slice(1, 1 + nPrompts).map((s) => s.split(/(?<=[.!?])\s/)[0]);
    const probStories = stories.slice(1, 6);

    const pruned = path.join(dir, 'pruned');
    const prunedGguf = path.join(dir, 'pruned.gguf');
    const denseGguf = path.join(dir, 'dense.gguf');
    slimllm(steps, ['prune', '--model', bundled.model(), '--ratio', String(ratio), '--calib-text', calib, '--out', pruned, '--device', 'cpu']);
    slimllm(steps, ['convert', 'hf', 'gguf', '--model', pruned, '--out', prunedGguf, '--dtype', 'f32']);
    slimllm(steps, ['convert', 'llama2c', 'gguf', '--model', bundled.model(), '--out', denseGguf, '--dtype', 'f32']);
    const eval_ = (m: string) => lastJson(slimllm(steps, ['eval', '--model', m, '--text', bundled.stories(), '--stories', '1:201', '--device', 'cpu', '--json']));
    const pplFolder = eval_(pruned);
    const pplGguf = eval_(prunedGguf);
    const info = lastJson(slimllm(steps, ['info', '--model', prunedGguf, '--json']));

    const dtypes: Record<string, unknown> = {};
    for (const dtype of ['f16', 'q8_0']) {
      const file = path.join(dir, `pruned-${dtype}.gguf`);
      slimllm(steps, ['convert', 'hf', 'gguf', '--model', pruned, '--out', file, '--dtype', dtype]);
      dtypes[dtype] = { bytes: fs.statSync(file).size, ppl: eval_(file).ppl, ...(await agreement(file, file, prompts, tokens, probStories)) };
    }
    const result = {
      bench: 'gguf-agreement',
      ...provenance(),
      llamaCpp: 'node-llama-cpp 3.21.1 (prebuilt linux-x64 CPU), flashAttention false, KV cache F32',
      reference: 'slimllm CpuBackend forward pass; probabilities: softmax in float64',
      steps,
      pruned: {
        architecture: info.architecture,
        layers: info.layers.map((l: { nHeads: number; nKvHeads: number; ffnDim: number; oBias: boolean; downBias: boolean }) => [l.nHeads, l.nKvHeads, l.ffnDim, l.oBias, l.downBias]),
        layersLegend: '[heads, KV heads, FFN width, o_proj bias, down_proj bias]',
        bytesF32: fs.statSync(prunedGguf).size,
      },
      perplexity: { folder: pplFolder.ppl, gguf: pplGguf.ppl, relDiff: Math.abs(pplGguf.ppl - pplFolder.ppl) / pplFolder.ppl, tokens: pplFolder.tokens, stories: '1:201' },
      f32: { dense: await agreement(denseGguf, bundled.model(), prompts, tokens, probStories), pruned: await agreement(prunedGguf, pruned, prompts, tokens, probStories) },
      // The stored weights are the reference here (slimllm reads the f16/q8_0 file); llama.cpp's
      // CPU matmuls also round the activations (to f16 / q8_0), slimllm's do not.
      storedAs: dtypes,
    };
    const json = `${JSON.stringify(result, null, 1)}\n`;
    if (typeof f.out === 'string') fs.writeFileSync(f.out, json);
    process.stdout.write(json);
  } finally {
    await closeLlama();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (isMain(import.meta.url)) {
  main(process.argv.slice(2)).catch((e) => {
    process.stderr.write(`gguf-agreement: ${(e as Error).message}\n`);
    process.exit(1);
  });
}
